import type { S3ClientConfig } from '@aws-sdk/client-s3';
import { z } from 'zod';

/**
 * Sections of the consolidated per-node configuration that several programs
 * read (spec slave "Config"): `base` (where the executor leaves metadata for
 * the S3 uploader and the log watcher) and `s3` (how to reach S3). The
 * executor, the S3 uploader and the other node daemons each add a section of
 * their own to the same file; unknown keys are ignored so that one file can
 * serve them all. Every key is described in docs/configuration.md.
 */
const positiveInt = z.number().int().positive();
const nonBlank = z.string().trim().min(1);

export const runnerBaseSectionSchema = z.looseObject({
  s3UploaderMetadataDirectory: nonBlank.optional(),
  s3UploaderMetadataSuffix: nonBlank.default('.s3.json'),
  logWatcherMetadataDirectory: nonBlank.optional(),
  logWatcherMetadataSuffix: nonBlank.default('.tail.json'),
  /** Program tar uses to decompress (`--use-compress-program`), e.g. `pigz`; gzip (`-z`) when unset. */
  useCompressProgram: nonBlank.optional(),
  hostname: nonBlank.optional(),
});

export const bucketCredentialsSchema = z.strictObject({ accessKey: nonBlank, secretKey: nonBlank });

export const s3SectionSchema = z.looseObject({
  /** Where downloaded artifacts are kept, keyed by md5 (spec slave §1.5). */
  artifactCacheDirectory: nonBlank.optional(),
  /** Size cap of the artifact cache; the least recently used entries go first. Ours (the original had none). */
  artifactCacheMaxBytes: positiveInt.default(10 * 1024 * 1024 * 1024),
  s3AccessKey: nonBlank.optional(),
  s3SecretKey: nonBlank.optional(),
  s3BucketCredentials: z.record(z.string(), bucketCredentialsSchema).default({}),
  /** S3-compatible endpoint (e.g. `http://127.0.0.1:4569`); AWS when unset. Requests are path-style when set. */
  s3Endpoint: z.url().optional(),
  s3Region: nonBlank.default('us-east-1'),
  s3ChunkSize: positiveInt.default(104857600),
  s3DownloadTimeoutMillis: positiveInt.default(120000),
  s3ChunkDownloadTimeoutMillis: positiveInt.default(30000),
  s3ChunkRetries: z.number().int().min(0).default(3),
  localDownloadHttpPort: z.number().int().min(1).max(65535).default(7070),
  localDownloadPath: nonBlank.default('/download'),
  localDownloadSocket: nonBlank.optional(),
  metricsFilePath: nonBlank.optional(),
});

export type RunnerBaseSection = z.infer<typeof runnerBaseSectionSchema>;
export type S3Section = z.infer<typeof s3SectionSchema>;
export type BucketCredentials = z.infer<typeof bucketCredentialsSchema>;

/** What a client needs to reach S3: the `s3` section's connection keys. */
export type S3ConnectionSettings = Pick<S3Section, 's3AccessKey' | 's3SecretKey' | 's3BucketCredentials' | 's3Endpoint' | 's3Region'>;

/**
 * Client settings for `bucket`: its entry in `s3BucketCredentials`, else
 * `s3AccessKey`/`s3SecretKey`, else the SDK's default chain (environment,
 * profile, instance role). With `s3Endpoint` (an S3-compatible server) the
 * requests are path-style. Checksums only when an operation requires them:
 * the SDK's default (CRC on every request and response) is not understood by
 * every S3-compatible server. Retries are the caller's, so the SDK makes one
 * attempt.
 */
export function s3ClientConfig(settings: S3ConnectionSettings, bucket: string): S3ClientConfig {
  const bucketCredentials = settings.s3BucketCredentials[bucket];
  const credentials = bucketCredentials
    ? { accessKeyId: bucketCredentials.accessKey, secretAccessKey: bucketCredentials.secretKey }
    : settings.s3AccessKey && settings.s3SecretKey
      ? { accessKeyId: settings.s3AccessKey, secretAccessKey: settings.s3SecretKey }
      : undefined;
  return {
    region: settings.s3Region,
    ...(credentials ? { credentials } : {}),
    ...(settings.s3Endpoint ? { endpoint: settings.s3Endpoint, forcePathStyle: true } : {}),
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: 1,
  };
}
