import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot, undocumentedConfigKeys } from '@singularity/testing';
import { downloadServiceSectionsSchema } from './download-service-config';

describe('docs/configuration.md', () => {
  const file = join(repoRoot(), 'docs', 'configuration.md');

  it('documents every key of the artifact download service configuration', () => {
    expect(undocumentedConfigKeys(downloadServiceSectionsSchema, file, 'Executor')).toEqual([]);
  });

  it('lists the program with its environment prefix', () => {
    expect(readFileSync(file, 'utf8')).toContain('`SINGULARITY_ARTIFACT_DOWNLOAD_SERVICE_CONFIG`');
  });
});
