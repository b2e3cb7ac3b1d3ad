import { parseUploadMetadata, uploadIdentity } from './upload-metadata-file';

describe('parseUploadMetadata', () => {
  const minimal = { directory: '/t/logs', fileGlob: 'service.log*.gz', s3Bucket: 'b', s3KeyFormat: 'k/%filename' };

  it('reads the executor metadata with defaults', () => {
    expect(parseUploadMetadata(JSON.stringify(minimal))).toEqual({ ok: true, metadata: { ...minimal, finished: false } });
  });

  it('takes storageClass as an alias of s3StorageClass', () => {
    const result = parseUploadMetadata(JSON.stringify({ ...minimal, storageClass: 'STANDARD_IA' }));
    expect(result).toEqual({ ok: true, metadata: { ...minimal, finished: false, s3StorageClass: 'STANDARD_IA' } });
  });

  it('names what is wrong with bad input', () => {
    expect(parseUploadMetadata('{nope')).toMatchObject({ ok: false, reason: expect.stringMatching(/^not JSON/) });
    expect(parseUploadMetadata(JSON.stringify({ ...minimal, s3Bucket: undefined }))).toMatchObject({ ok: false, reason: expect.stringMatching(/^s3Bucket:/) });
    expect(parseUploadMetadata('[]')).toMatchObject({ ok: false });
  });

  it('identifies an upload by directory and glob only', () => {
    expect(uploadIdentity({ directory: '/a', fileGlob: '*' })).toBe(uploadIdentity({ directory: '/a', fileGlob: '*' }));
    expect(uploadIdentity({ directory: '/a', fileGlob: '*' })).not.toBe(uploadIdentity({ directory: '/a', fileGlob: '*.gz' }));
  });
});
