import { join } from 'node:path';
import { configKeyPaths, repoRoot, undocumentedConfigKeys } from '@singularity/testing';
import { s3UploaderSectionSchema } from './s3-uploader-config';

describe('docs/s3-uploader.md', () => {
  it('documents every key of the s3uploader section', () => {
    expect(configKeyPaths(s3UploaderSectionSchema).length).toBeGreaterThan(20);
    expect(undocumentedConfigKeys(s3UploaderSectionSchema, join(repoRoot(), 'docs', 's3-uploader.md'), 'Configuration')).toEqual([]);
  });
});
