import { join } from 'node:path';
import { repoRoot, undocumentedConfigKeys } from '@singularity/testing';
import { agentConfigSchema } from './agent-config';

describe('docs/configuration.md', () => {
  it('documents every key of the agent configuration', () => {
    expect(undocumentedConfigKeys(agentConfigSchema, join(repoRoot(), 'docs', 'configuration.md'), 'Agent')).toEqual([]);
  });
});
