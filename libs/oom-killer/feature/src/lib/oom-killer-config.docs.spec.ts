import { join } from 'node:path';
import { repoRoot, undocumentedConfigKeys } from '@singularity/testing';
import { oomKillerSectionSchema } from './oom-killer-config';

describe('docs/oom-killer.md', () => {
  it('documents every key of the oomKiller section', () => {
    expect(undocumentedConfigKeys(oomKillerSectionSchema, join(repoRoot(), 'docs', 'oom-killer.md'), 'Configuration')).toEqual([]);
  });
});
