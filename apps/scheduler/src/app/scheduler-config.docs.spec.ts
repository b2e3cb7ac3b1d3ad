import { join } from 'node:path';
import { repoRoot, undocumentedConfigKeys } from '@singularity/testing';
import { schedulerConfigSchema } from './scheduler-config';

describe('docs/configuration.md', () => {
  it('documents every key of the scheduler configuration', () => {
    expect(undocumentedConfigKeys(schedulerConfigSchema, join(repoRoot(), 'docs', 'configuration.md'), 'Scheduler')).toEqual([]);
  });
});
