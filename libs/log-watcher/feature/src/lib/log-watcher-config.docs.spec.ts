import { join } from 'node:path';
import { repoRoot, undocumentedConfigKeys } from '@singularity/testing';
import { logWatcherSectionSchema } from './log-watcher-config';

describe('docs/log-watcher.md', () => {
  it('documents every key of the logWatcher section', () => {
    expect(undocumentedConfigKeys(logWatcherSectionSchema, join(repoRoot(), 'docs', 'log-watcher.md'), 'Configuration')).toEqual([]);
  });
});
