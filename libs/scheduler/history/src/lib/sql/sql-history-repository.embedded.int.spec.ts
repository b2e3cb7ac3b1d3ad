import { expectMatchesSchema } from '@singularity/testing';
import { describeWithServer, embeddedPostgresUnavailable, emptyHistoryTables, scratchDir, testLogger, type ScratchDir } from '../../testing/test-postgres';
import { createHistoryDatabase, type HistoryDatabase } from '../database/history-database';
import { describeHistoryRepositoryContract } from '../history-repository.contract';
import { SqlHistoryRepository } from './sql-history-repository';

// `npm test` runs every project together, where the preset's testTimeout does not apply (jest's 5 s does):
// initdb and the large batches need more under load.
jest.setTimeout(30_000);

/*
 * SqlHistoryRepository on the embedded PostgreSQL 18: one server for this file (started in beforeAll,
 * stopped in afterAll), its database emptied between cases.
 */
describeWithServer('SqlHistoryRepository on the embedded PostgreSQL', embeddedPostgresUnavailable(), () => {
  const logger = testLogger();
  let dir: ScratchDir;
  let database: HistoryDatabase;

  beforeAll(async () => {
    dir = scratchDir('history-embedded-');
    database = await createHistoryDatabase({ embedded: { dataDir: dir.path, unsafeNoFsync: true }, logger });
  }, 60_000);

  afterAll(async () => {
    await database?.close();
    await dir?.cleanup();
  });

  const open = () => SqlHistoryRepository.open({ url: database.url, logger, poolSize: 3 });

  describeHistoryRepositoryContract('SqlHistoryRepository (embedded PostgreSQL 18)', {
    durable: true,
    create: async () => {
      const repository = await open();
      await emptyHistoryTables(database.url);
      return { repository, reopen: open };
    },
    checkShape: expectMatchesSchema,
  });
});
