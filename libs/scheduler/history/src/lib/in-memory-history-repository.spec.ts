import { expectMatchesSchema } from '@singularity/testing';
import { describeHistoryRepositoryContract } from './history-repository.contract';
import { InMemoryHistoryRepository } from './in-memory-history-repository';

describeHistoryRepositoryContract('InMemoryHistoryRepository', {
  durable: false,
  create: async () => ({ repository: new InMemoryHistoryRepository() }),
  checkShape: expectMatchesSchema,
});
