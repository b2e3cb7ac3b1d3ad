import type { S3UploadMetadata } from '@singularity/models';
import { z } from 'zod';

/**
 * Reading `*.s3.json` (spec slave §2 "Metadata"). The executor writes them
 * (`S3UploadMetadata` in @singularity/models); older writers used
 * `storageClass`, kept as an alias of `s3StorageClass`. Unknown keys are
 * ignored so that newer writers do not break this reader.
 */
const nonBlank = z.string().trim().min(1);

const metadataSchema = z
  .looseObject({
    directory: nonBlank,
    fileGlob: nonBlank,
    s3Bucket: nonBlank,
    s3KeyFormat: nonBlank,
    finished: z.boolean().default(false),
    onFinishGlob: nonBlank.optional(),
    pid: z.number().int().positive().optional(),
    s3AccessKey: nonBlank.optional(),
    s3SecretKey: nonBlank.optional(),
    finishedAfterMillisWithoutNewFile: z.number().int().optional(),
    s3StorageClass: nonBlank.optional(),
    storageClass: nonBlank.optional(),
    applyStorageClassIfOverBytes: z.number().int().min(0).optional(),
    uploadImmediately: z.boolean().optional(),
    checkSubdirectories: z.boolean().optional(),
    compressBeforeUpload: z.boolean().optional(),
    checkIfOpen: z.boolean().optional(),
    uploaderType: z.enum(['S3', 'GCS']).optional(),
    encryptionKey: nonBlank.optional(),
    useS3ServerSideEncryption: z.boolean().optional(),
  })
  .transform(({ storageClass, ...rest }): S3UploadMetadata => {
    const s3StorageClass = rest.s3StorageClass ?? storageClass;
    return { ...rest, ...(s3StorageClass ? { s3StorageClass } : {}) } as S3UploadMetadata;
  });

export type MetadataReadResult = { ok: true; metadata: S3UploadMetadata } | { ok: false; reason: string };

/** Parses the text of a metadata file; a reason instead of an exception for anything unusable. */
export function parseUploadMetadata(text: string): MetadataReadResult {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return { ok: false, reason: `not JSON: ${(err as Error).message}` };
  }
  const parsed = metadataSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { ok: false, reason: `${issue.path.join('.') || '(root)'}: ${issue.message}` };
  }
  return { ok: true, metadata: parsed.data };
}

/** The identity of an upload (spec slave §2): metadata naming the same directory and glob share one uploader. */
export function uploadIdentity(metadata: Pick<S3UploadMetadata, 'directory' | 'fileGlob'>): string {
  return JSON.stringify([metadata.directory, metadata.fileGlob]);
}
