import { open, type FileHandle } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  type ServerSideEncryption,
  type StorageClass,
} from '@aws-sdk/client-s3';
import type { S3UploadMetadata } from '@singularity/models';
import { s3ClientConfig, type BucketCredentials, type Logger, type S3ConnectionSettings } from '@singularity/node-util';
import type { S3UploaderConfig } from './s3-uploader-config';

/** One object to write and the file it comes from. */
export interface ObjectUpload {
  bucket: string;
  key: string;
  path: string;
  size: number;
  contentType?: string;
  contentEncoding?: string;
  storageClass?: string;
  /** `AES256` or `aws:kms` (with `kmsKeyId`). */
  serverSideEncryption?: 'AES256' | 'aws:kms';
  kmsKeyId?: string;
}

/**
 * Credentials for a metadata's bucket, in the spec's order (slave §2
 * "Creds"): the metadata's own keys, then `s3BucketCredentials[bucket]` (the
 * uploader's section, then the `s3` section), then the uploader's keys, then
 * the `s3` section's; with none at all the SDK's default chain.
 */
export function connectionSettingsFor(config: S3UploaderConfig, metadata: Pick<S3UploadMetadata, 's3Bucket' | 's3AccessKey' | 's3SecretKey'>): S3ConnectionSettings {
  const { s3, s3uploader } = config;
  const bucketCredentials: Record<string, BucketCredentials> = { ...s3.s3BucketCredentials, ...s3uploader.s3BucketCredentials };
  if (metadata.s3AccessKey && metadata.s3SecretKey) bucketCredentials[metadata.s3Bucket] = { accessKey: metadata.s3AccessKey, secretKey: metadata.s3SecretKey };
  const ownKeys = s3uploader.s3AccessKey && s3uploader.s3SecretKey;
  return {
    s3AccessKey: ownKeys ? s3uploader.s3AccessKey : s3.s3AccessKey,
    s3SecretKey: ownKeys ? s3uploader.s3SecretKey : s3.s3SecretKey,
    s3BucketCredentials: bucketCredentials,
    s3Endpoint: s3.s3Endpoint,
    s3Region: s3.s3Region,
  };
}

/**
 * Writes files to S3: one PUT up to `maxSingleUploadSizeBytes`, multipart
 * above it (parts of `uploadPartSize`, aborted when any step fails so no
 * orphaned parts are left to pay for). Clients are kept per credentials.
 * One attempt per call: retries are the uploader's.
 */
export class S3Transfer {
  private readonly clients = new Map<string, S3Client>();

  constructor(
    private readonly config: S3UploaderConfig,
    private readonly logger: Logger,
  ) {}

  async upload(metadata: Pick<S3UploadMetadata, 's3Bucket' | 's3AccessKey' | 's3SecretKey'>, upload: ObjectUpload): Promise<void> {
    const client = this.clientFor(metadata);
    const common = {
      Bucket: upload.bucket,
      Key: upload.key,
      ...(upload.contentType ? { ContentType: upload.contentType } : {}),
      ...(upload.contentEncoding ? { ContentEncoding: upload.contentEncoding } : {}),
      ...(upload.storageClass ? { StorageClass: upload.storageClass as StorageClass } : {}),
      ...(upload.serverSideEncryption ? { ServerSideEncryption: upload.serverSideEncryption as ServerSideEncryption } : {}),
      ...(upload.kmsKeyId ? { SSEKMSKeyId: upload.kmsKeyId } : {}),
    };
    if (upload.size <= this.config.s3uploader.maxSingleUploadSizeBytes) {
      await client.send(new PutObjectCommand({ ...common, Body: createReadStream(upload.path), ContentLength: upload.size }));
      return;
    }
    await this.multipart(client, common, upload);
  }

  private async multipart(client: S3Client, common: { Bucket: string; Key: string }, upload: ObjectUpload): Promise<void> {
    const created = await client.send(new CreateMultipartUploadCommand(common));
    const uploadId = created.UploadId;
    if (!uploadId) throw new Error(`S3 started no multipart upload for ${upload.bucket}/${upload.key}`);
    let file: FileHandle | undefined;
    try {
      file = await open(upload.path, 'r');
      const partSize = this.config.s3uploader.uploadPartSize;
      const parts: Array<{ ETag: string; PartNumber: number }> = [];
      for (let offset = 0, partNumber = 1; offset < upload.size; offset += partSize, partNumber++) {
        const length = Math.min(partSize, upload.size - offset);
        const buffer = Buffer.alloc(length);
        const { bytesRead } = await file.read(buffer, 0, length, offset);
        if (bytesRead !== length) throw new Error(`${upload.path} shrank while it was uploaded`);
        const part = await client.send(new UploadPartCommand({ Bucket: common.Bucket, Key: common.Key, UploadId: uploadId, PartNumber: partNumber, Body: buffer }));
        if (!part.ETag) throw new Error(`S3 returned no ETag for part ${partNumber} of ${upload.bucket}/${upload.key}`);
        parts.push({ ETag: part.ETag, PartNumber: partNumber });
      }
      await client.send(new CompleteMultipartUploadCommand({ Bucket: common.Bucket, Key: common.Key, UploadId: uploadId, MultipartUpload: { Parts: parts } }));
    } catch (err) {
      await client.send(new AbortMultipartUploadCommand({ Bucket: common.Bucket, Key: common.Key, UploadId: uploadId })).catch(() => undefined);
      throw err;
    } finally {
      await file?.close();
    }
  }

  private clientFor(metadata: Pick<S3UploadMetadata, 's3Bucket' | 's3AccessKey' | 's3SecretKey'>): S3Client {
    const clientConfig = s3ClientConfig(connectionSettingsFor(this.config, metadata), metadata.s3Bucket);
    const cacheKey = JSON.stringify(clientConfig.credentials ?? null);
    let client = this.clients.get(cacheKey);
    if (!client) {
      // The SDK's own remarks (e.g. that a streaming PUT is not retried: we retry ourselves) go to debug, not stderr.
      const sdkLog = (...args: unknown[]) => this.logger.debug({ sdk: args.map(String).join(' ') }, 'aws sdk');
      client = new S3Client({ ...clientConfig, logger: { trace: () => undefined, debug: () => undefined, info: sdkLog, warn: sdkLog, error: sdkLog } });
      this.clients.set(cacheKey, client);
    }
    return client;
  }

  close(): void {
    for (const client of this.clients.values()) client.destroy();
    this.clients.clear();
  }
}
