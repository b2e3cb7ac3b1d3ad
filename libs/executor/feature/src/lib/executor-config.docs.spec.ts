import { join } from 'node:path';
import { repoRoot, undocumentedConfigKeys } from '@singularity/testing';
import { executorConfigSchema } from './executor-config';

describe('docs/configuration.md', () => {
  it('documents every key of the executor configuration', () => {
    expect(undocumentedConfigKeys(executorConfigSchema, join(repoRoot(), 'docs', 'configuration.md'), 'Executor')).toEqual([]);
  });
});
