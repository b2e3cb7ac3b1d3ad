import { s3ClientConfig, s3SectionSchema } from './node-config';

describe('s3ClientConfig', () => {
  const s3 = (over: Record<string, unknown>) => s3SectionSchema.parse(over);

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
