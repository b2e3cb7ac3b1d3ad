import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { parseTaskId, type ExecutorData, type S3UploaderFileSettings, type S3UploadMetadata } from '@singularity/models';

/**
 * What the executor tells the S3 uploader and the log watcher (spec slave §2
 * "From the executor", §5). Pure: names, contents and key patterns; the
 * caller writes the files (task-logs.ts).
 */

/** The scheduler's default key pattern (spec slave §2 "Keys"), used when the launch carries none. */
export const DEFAULT_S3_KEY_PATTERN = '%requestId/%Y/%m/%taskId_%index-%s-%filename';

/** `%group` of tasks whose request has no group (the original's `DEFAULT_GROUP_NAME`). */
export const DEFAULT_GROUP_NAME = 'default';

/** Hint of the metadata for the rotated service log. */
export const DEFAULT_HINT = 'default';
/** Hint of the metadata for the raw service log when rotation is skipped. */
export const UNROTATED_HINT = 'unrotated';

/** The parts of a task the executor expands in key patterns. */
export interface KeyPatternTask {
  taskId: string;
  requestId: string;
  deployId: string;
  /** The task's sanitized host (`-` → `_`), as in its id. */
  host: string;
  group?: string;
  tag?: string;
}

/**
 * Expands `%requestId %group %tag %deployId %host %taskId` in one pass, so a
 * value holding `%…` is never expanded again; the uploader's own placeholders
 * (`%filename`, `%Y`, `%index`, …) are left alone.
 */
export function expandKeyPattern(pattern: string, task: KeyPatternTask): string {
  const values: Record<string, string> = {
    requestId: task.requestId,
    group: task.group || DEFAULT_GROUP_NAME,
    tag: task.tag ?? '',
    deployId: task.deployId,
    host: task.host,
    taskId: task.taskId,
  };
  return pattern.replace(/%(requestId|group|tag|deployId|host|taskId)/g, (_match, name: string) => values[name]);
}

/** The sanitized host of a task id; `fallback` when the id does not parse. */
export function taskHost(taskId: string, fallback: string): string {
  try {
    return parseTaskId(taskId).sanitizedHost;
  } catch {
    return fallback.replace(/-/g, '_');
  }
}

export interface S3MetadataInput {
  task: KeyPatternTask;
  /** T, absolute. */
  sandboxDirectory: string;
  /** Name of the service log in T. */
  serviceLog: string;
  /** Where rotated service logs go, relative to T (`logs`). */
  logrotateToDirectory: string;
  executorData: ExecutorData;
}

/** One metadata file to write: its hint (`<taskId>-<hint><suffix>`) and content. */
export interface S3MetadataEntry {
  hint: string;
  metadata: S3UploadMetadata;
}

export interface S3MetadataPlan {
  entries: S3MetadataEntry[];
  /** Hints left out because neither the entry nor the task names a bucket. */
  withoutBucket: string[];
}

function normalizeFile(file: string | S3UploaderFileSettings): S3UploaderFileSettings {
  return typeof file === 'string' ? { filename: file } : file;
}

/** The additional upload files of a task, with their directory relative to T (for the containment check). */
export function s3AdditionalFiles(data: ExecutorData): S3UploaderFileSettings[] {
  return (data.s3UploaderAdditionalFiles ?? []).map(normalizeFile);
}

/** File glob of an additional file (spec slave §2): compressed-by-us files match `<name>*`, rotated ones `<name>*.[gb]z*`. */
export function additionalFileGlob(file: S3UploaderFileSettings): string {
  if (file.compressBeforeUpload) return `${file.filename}*`;
  if (file.filename.includes('*')) return file.filename;
  return `${file.filename}*.[gb]z*`;
}

/**
 * The `*.s3.json` files of a task while it runs and after (spec slave §2
 * "From the executor"): one per additional file (hint `s3UploaderFilenameHint`
 * or `file<N>`), and `default` for the rotated service logs in `logs/` unless
 * an additional file named like the service log replaces it (it then still
 * defaults to `logs/`).
 */
export function planS3Metadata(input: S3MetadataInput, state: { finished: boolean; pid?: number }): S3MetadataPlan {
  const data = input.executorData;
  const entries: S3MetadataEntry[] = [];
  const withoutBucket: string[] = [];
  const rotatedDirectory = join(input.sandboxDirectory, input.logrotateToDirectory);
  const add = (hint: string, metadata: Omit<S3UploadMetadata, 's3Bucket' | 's3KeyFormat' | 'finished'>, bucket: string | undefined, keyPattern: string | undefined) => {
    const s3Bucket = bucket || data.defaultS3Bucket;
    if (!s3Bucket) {
      withoutBucket.push(hint);
      return;
    }
    entries.push({
      hint,
      metadata: {
        ...metadata,
        s3Bucket,
        s3KeyFormat: expandKeyPattern(keyPattern || data.s3UploaderKeyPattern || DEFAULT_S3_KEY_PATTERN, input.task),
        finished: state.finished,
        ...(state.pid !== undefined ? { pid: state.pid } : {}),
        ...(state.finished ? { uploadImmediately: true } : {}),
      },
    });
  };

  let serviceLogCovered = false;
  s3AdditionalFiles(data).forEach((file, i) => {
    const isServiceLog = file.filename === input.serviceLog;
    serviceLogCovered ||= isServiceLog;
    const directory = file.directory ? join(input.sandboxDirectory, file.directory) : isServiceLog ? rotatedDirectory : input.sandboxDirectory;
    add(
      file.s3UploaderFilenameHint || `file${i + 1}`,
      compact({
        directory,
        fileGlob: additionalFileGlob(file),
        s3StorageClass: file.s3StorageClass ?? data.s3StorageClass,
        applyStorageClassIfOverBytes: file.applyS3StorageClassAfterBytes ?? data.applyS3StorageClassAfterBytes,
        checkSubdirectories: file.checkSubdirectories ?? false,
        compressBeforeUpload: file.compressBeforeUpload ?? false,
        checkIfOpen: file.checkIfOpen ?? true,
      }),
      file.s3UploaderBucket,
      file.s3UploaderKeyPattern,
    );
  });
  if (!serviceLogCovered) {
    add(
      DEFAULT_HINT,
      compact({
        directory: rotatedDirectory,
        fileGlob: `${input.serviceLog}*.[gb]z*`,
        s3StorageClass: data.s3StorageClass,
        applyStorageClassIfOverBytes: data.applyS3StorageClassAfterBytes,
        checkSubdirectories: false,
      }),
      undefined,
      undefined,
    );
  }
  return { entries, withoutBucket };
}

/** The raw service log, uploaded as is when rotation is skipped (hint `unrotated`); undefined without a bucket. */
export function unrotatedS3Metadata(input: S3MetadataInput): S3MetadataEntry | undefined {
  const data = input.executorData;
  if (!data.defaultS3Bucket) return undefined;
  return {
    hint: UNROTATED_HINT,
    metadata: compact({
      directory: input.sandboxDirectory,
      fileGlob: input.serviceLog,
      s3Bucket: data.defaultS3Bucket,
      s3KeyFormat: expandKeyPattern(data.s3UploaderKeyPattern || DEFAULT_S3_KEY_PATTERN, input.task),
      finished: true,
      uploadImmediately: true,
      s3StorageClass: data.s3StorageClass,
      applyStorageClassIfOverBytes: data.applyS3StorageClassAfterBytes,
      checkSubdirectories: false,
    }),
  };
}

/** `<dir>/<taskId>-<hint><suffix>`. */
export function s3MetadataPath(directory: string, suffix: string, taskId: string, hint: string): string {
  return join(directory, `${taskId}-${hint}${suffix}`);
}

/** `<dir>/<sha256(abs filename)><suffix>` (spec slave §1.3). */
export function tailMetadataPath(directory: string, suffix: string, filename: string): string {
  return join(directory, `${createHash('sha256').update(filename, 'utf8').digest('hex')}${suffix}`);
}

function compact<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
