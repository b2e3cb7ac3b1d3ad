/**
 * Files the executor leaves for the per-node daemons (spec slave §2 and §5).
 * The executor writes them (executor-feature's upload-metadata.ts); the S3
 * uploader and the log watcher read them.
 */

/** `*.s3.json`, read by the S3 uploader (spec slave §2 "Metadata"). Identity = (directory, fileGlob). */
export interface S3UploadMetadata {
  directory: string;
  /** Matched against file names in `directory`. */
  fileGlob: string;
  s3Bucket: string;
  /** Key pattern with the task's parts expanded; the uploader expands the file's. */
  s3KeyFormat: string;
  finished: boolean;
  /** Also uploaded once the metadata is finished. */
  onFinishGlob?: string;
  /** The task's process: once it is gone the uploader treats the metadata as finished. */
  pid?: number;
  s3AccessKey?: string;
  s3SecretKey?: string;
  /** Idle time after which an unfinished metadata counts as finished; negative: never. */
  finishedAfterMillisWithoutNewFile?: number;
  s3StorageClass?: string;
  applyStorageClassIfOverBytes?: number;
  uploadImmediately?: boolean;
  checkSubdirectories?: boolean;
  compressBeforeUpload?: boolean;
  checkIfOpen?: boolean;
  uploaderType?: 'S3' | 'GCS';
  /** SSE-KMS key id. */
  encryptionKey?: string;
  /** SSE with AES256. */
  useS3ServerSideEncryption?: boolean;
}

/** `*.tail.json`, read by the log watcher (spec slave §5). */
export interface TailMetadata {
  /** Absolute path of the tailed file. */
  filename: string;
  tag: string;
  extraFields: Record<string, string>;
  finished: boolean;
}
