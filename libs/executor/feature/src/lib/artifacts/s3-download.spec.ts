import { executorConfig } from '../executor-config';
import { chunkRanges, s3ClientConfig } from './s3-download';

describe('s3ClientConfig', () => {
  const s3 = (over: Record<string, unknown>) => executorConfig({ s3: over }).s3;

  it('uses the bucket credentials first, then the s3 keys, then the default chain', () => {
    const settings = s3({ s3AccessKey: 'AK', s3SecretKey: 'SK', s3BucketCredentials: { special: { accessKey: 'BK', secretKey: 'BS' } } });
    expect(s3ClientConfig(settings, 'special').credentials).toEqual({ accessKeyId: 'BK', secretAccessKey: 'BS' });
    expect(s3ClientConfig(settings, 'other').credentials).toEqual({ accessKeyId: 'AK', secretAccessKey: 'SK' });
    expect(s3ClientConfig(s3({}), 'other')).not.toHaveProperty('credentials');
    expect(s3ClientConfig(s3({ s3AccessKey: 'AK' }), 'other')).not.toHaveProperty('credentials');
  });

  it('talks path-style to a configured endpoint, AWS otherwise, and computes checksums only when required', () => {
    const custom = s3ClientConfig(s3({ s3Endpoint: 'http://127.0.0.1:4569', s3Region: 'eu-west-1' }), 'b');
    expect(custom).toMatchObject({
      endpoint: 'http://127.0.0.1:4569',
      forcePathStyle: true,
      region: 'eu-west-1',
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      maxAttempts: 1,
    });
    const aws = s3ClientConfig(s3({}), 'b');
    expect(aws).not.toHaveProperty('endpoint');
    expect(aws).not.toHaveProperty('forcePathStyle');
    expect(aws).toMatchObject({ region: 'us-east-1', requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' });
  });
});

describe('chunkRanges', () => {
  it.each([
    [0, 10, []],
    [10, 10, [{ start: 0, end: 9 }]],
    [25, 10, [{ start: 0, end: 9 }, { start: 10, end: 19 }, { start: 20, end: 24 }]],
    [5, 100, [{ start: 0, end: 4 }]],
  ])('%i bytes in chunks of %i', (size, chunk, ranges) => expect(chunkRanges(size, chunk)).toEqual(ranges));
});
