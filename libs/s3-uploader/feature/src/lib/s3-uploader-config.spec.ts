import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectionSettingsFor } from './s3-transfer';
import { loadS3UploaderConfig, s3UploaderConfig } from './s3-uploader-config';

describe('s3 uploader configuration', () => {
  const base = { s3UploaderMetadataDirectory: '/var/lib/singularity/s3' };
  const keys = { s3AccessKey: 'AK', s3SecretKey: 'SK' };

  it('has the spec defaults', () => {
    const config = s3UploaderConfig({ base, s3: keys });
    expect(config.s3uploader).toMatchObject({
      recheckFilesEverySeconds: 600,
      checkUploadsEverySeconds: 600,
      pollForShutDownMillis: 1000,
      executorMaxUploadThreads: 25,
      maxSingleUploadSizeBytes: 5368709120,
      uploadPartSize: 20971520,
      retryCount: 2,
      retryWaitMs: 1000,
      checkForOpenFiles: true,
      checkOpenFilesViaFuser: false,
      stopCheckingAfterMillisWithoutNewFile: 604800000,
      httpPort: 7073,
      httpHost: '127.0.0.1',
    });
    expect(config.base.s3UploaderMetadataSuffix).toBe('.s3.json');
  });

  it('names the key of a bad value', () => {
    expect(() => s3UploaderConfig({ base, s3: keys, s3uploader: { recheckFilesEverySeconds: 59 } })).toThrow(/'s3uploader\.recheckFilesEverySeconds'/);
    expect(() => s3UploaderConfig({ base, s3: keys, s3uploader: { maxSingleUploadSizeBytes: 1024 } })).toThrow(/'s3uploader\.maxSingleUploadSizeBytes'/);
    expect(() => s3UploaderConfig({ base, s3: keys, s3uploader: { s3AccessKey: 'only-half' } })).toThrow(/'s3uploader\.s3SecretKey'/);
    expect(() => s3UploaderConfig({ s3: keys })).toThrow(/'base\.s3UploaderMetadataDirectory'/);
  });

  it('refuses to start without any access key unless the SDK chain is asked for', () => {
    expect(() => s3UploaderConfig({ base })).toThrow(/'s3uploader\.s3AccessKey': no S3 access key/);
    expect(s3UploaderConfig({ base, s3uploader: { useDefaultCredentialsChain: true } }).s3uploader.useDefaultCredentialsChain).toBe(true);
    expect(() => s3UploaderConfig({ base, s3uploader: keys })).not.toThrow();
  });

  it('reads the consolidated file and SINGULARITY_S3_UPLOADER_ overrides, ignoring other sections', () => {
    const file = join(mkdtempSync(join(tmpdir(), 's3u-config-')), 'singularity.yaml');
    writeFileSync(file, ['base:', '  s3UploaderMetadataDirectory: /m', 's3: {s3AccessKey: a, s3SecretKey: b}', 'executor: {whatever: 1}', 's3uploader: {httpPort: 9000}'].join('\n'));
    const config = loadS3UploaderConfig(['--config', file], { SINGULARITY_S3_UPLOADER_S3UPLOADER__RETRY_COUNT: '5' });
    expect(config.s3uploader).toMatchObject({ httpPort: 9000, retryCount: 5 });
    expect(() => loadS3UploaderConfig(['--config'], {})).toThrow(/--config needs a file name/);
  });

  it('picks credentials in the spec order: metadata, bucket (uploader then s3), uploader keys, s3 keys', () => {
    const config = s3UploaderConfig({
      base,
      s3: { ...keys, s3BucketCredentials: { b1: { accessKey: 's3-b1', secretKey: 'x' }, b2: { accessKey: 's3-b2', secretKey: 'x' } } },
      s3uploader: { s3AccessKey: 'UP', s3SecretKey: 'x', s3BucketCredentials: { b1: { accessKey: 'up-b1', secretKey: 'x' } } },
    });
    const accessKey = (metadata: { s3Bucket: string; s3AccessKey?: string; s3SecretKey?: string }) => {
      const settings = connectionSettingsFor(config, metadata);
      return settings.s3BucketCredentials[metadata.s3Bucket]?.accessKey ?? settings.s3AccessKey;
    };
    expect(accessKey({ s3Bucket: 'b1', s3AccessKey: 'META', s3SecretKey: 'x' })).toBe('META');
    expect(accessKey({ s3Bucket: 'b1' })).toBe('up-b1');
    expect(accessKey({ s3Bucket: 'b2' })).toBe('s3-b2');
    expect(accessKey({ s3Bucket: 'b3' })).toBe('UP');
    const s3Only = s3UploaderConfig({ base, s3: keys });
    expect(connectionSettingsFor(s3Only, { s3Bucket: 'b3' }).s3AccessKey).toBe('AK');
  });
});
