import { join } from 'node:path';
import { repoRoot, undocumentedConfigKeys } from '@singularity/testing';
import { executorCleanupConfigSchema } from './executor-cleanup-config';

describe('docs/configuration.md', () => {
  it('documents every key of the executor cleanup configuration', () => {
    expect(undocumentedConfigKeys(executorCleanupConfigSchema, join(repoRoot(), 'docs', 'configuration.md'), 'Executor')).toEqual([]);
  });
});
