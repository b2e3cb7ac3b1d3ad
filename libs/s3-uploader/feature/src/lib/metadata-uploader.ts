import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { readdir, rm, stat, unlink, utimes } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import type { S3UploadMetadata } from '@singularity/models';
import type { Logger } from '@singularity/node-util';
import { globToRegExp } from './file-glob';
import type { OpenFileChecker } from './open-files';
import { expandS3Key, isGzipName } from './s3-key';
import type { S3Transfer } from './s3-transfer';
import type { S3UploaderSection } from './s3-uploader-config';
import type { UploaderMetrics } from './uploader-metrics';

/** What one upload run did. */
export interface UploadRunResult {
  /** Matching non-empty files seen (sent or not). 0 lets a finished uploader retire. */
  found: number;
  uploaded: number;
  failed: number;
  /** Held open by another process, or the check could not be made. */
  skippedOpen: number;
}

export interface MetadataUploaderDeps {
  settings: S3UploaderSection;
  transfer: S3Transfer;
  openFiles: OpenFileChecker;
  metrics: UploaderMetrics;
  logger: Logger;
  host: string;
  now: () => number;
  /** True once the daemon stops: the file in flight is finished, no new one is started. */
  stopping: () => boolean;
}

interface CandidateFile {
  path: string;
  name: string;
  size: number;
  mtimeMs: number;
}

/**
 * One upload (spec slave §2): the files of one (directory, fileGlob), from
 * however many metadata files name it. It finds matching files, sends them
 * under their expanded keys and deletes them locally; it knows when it is
 * finished and when it may retire, but leaves the retiring (deleting the
 * metadata) and the scheduling to the daemon.
 */
export class MetadataUploader {
  /** The metadata files naming this identity; the first one's content leads. */
  readonly metadataPaths = new Set<string>();
  private finishedBy: string | undefined;
  private lastNewFileAt: number;
  private running: Promise<UploadRunResult> | undefined;

  constructor(
    public metadata: S3UploadMetadata,
    private readonly deps: MetadataUploaderDeps,
  ) {
    this.lastNewFileAt = deps.now();
    if (metadata.finished) this.finishedBy = 'metadata says finished';
  }

  get finished(): boolean {
    return this.finishedBy !== undefined;
  }

  get immediate(): boolean {
    return this.metadata.uploadImmediately === true;
  }

  get busy(): boolean {
    return this.running !== undefined;
  }

  /** A new content of one of its metadata files: `finished` may flip, `uploadImmediately` may turn on. */
  update(metadata: S3UploadMetadata): void {
    const wasFinishedByMetadata = this.finishedBy === 'metadata says finished';
    this.metadata = metadata;
    if (metadata.finished && !this.finished) this.finishedBy = 'metadata says finished';
    else if (!metadata.finished && wasFinishedByMetadata) this.finishedBy = undefined;
  }

  markFinished(reason: string): void {
    if (!this.finishedBy) {
      this.finishedBy = reason;
      this.deps.logger.info({ directory: this.metadata.directory, fileGlob: this.metadata.fileGlob, reason }, 'upload is finished');
    }
  }

  /**
   * May retire after a run that found nothing: finished, immediate (those run
   * until nothing matches), or idle past `finishedAfterMillisWithoutNewFile`
   * (negative: never) or else the daemon's `stopCheckingAfterMillisWithoutNewFile`.
   */
  mayRetire(): boolean {
    if (this.finished || this.immediate) return true;
    const idle = this.deps.now() - this.lastNewFileAt;
    const own = this.metadata.finishedAfterMillisWithoutNewFile;
    if (own !== undefined) return own >= 0 && idle > own;
    return idle > this.deps.settings.stopCheckingAfterMillisWithoutNewFile;
  }

  /** Runs once; a call while a run is under way gets that run's result rather than starting a second. */
  run(): Promise<UploadRunResult> {
    this.running ??= this.runOnce().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async runOnce(): Promise<UploadRunResult> {
    const { logger, settings } = this.deps;
    const metadata = this.metadata;
    const files = await this.findFiles(metadata);
    const result: UploadRunResult = { found: files.length, uploaded: 0, failed: 0, skippedOpen: 0 };
    if (files.length > 0) this.lastNewFileAt = this.deps.now();
    const checkOpen = settings.checkForOpenFiles && metadata.checkIfOpen !== false && !metadata.uploadImmediately;
    for (const [index, file] of files.entries()) {
      if (this.deps.stopping()) break;
      if (checkOpen) {
        const open = await this.deps.openFiles.isOpenElsewhere(file.path);
        if (open !== false) {
          result.skippedOpen++;
          if (open === undefined) logger.warn({ file: file.path }, 'could not tell whether the file is open elsewhere; keeping it for the next cycle');
          else logger.debug({ file: file.path }, 'file is open in another process; keeping it for the next cycle');
          continue;
        }
      }
      const outcome = await this.uploadFile(metadata, file, index);
      if (outcome === 'uploaded') result.uploaded++;
      else if (outcome === 'failed') result.failed++;
    }
    return result;
  }

  /** Matching non-empty regular files (+ `onFinishGlob` once finished), sorted by name so `%index` is stable. */
  private async findFiles(metadata: S3UploadMetadata): Promise<CandidateFile[]> {
    const patterns = [globToRegExp(metadata.fileGlob)];
    if (this.finished && metadata.onFinishGlob) patterns.push(globToRegExp(metadata.onFinishGlob));
    const found: CandidateFile[] = [];
    const walk = async (directory: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(directory, { withFileTypes: true });
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'ENOENT' && code !== 'ENOTDIR') this.deps.logger.warn({ err, directory }, 'cannot list the upload directory');
        return;
      }
      for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
        const path = join(directory, entry.name);
        if (entry.isDirectory()) {
          if (metadata.checkSubdirectories) await walk(path);
          continue;
        }
        if (!entry.isFile() || !patterns.some((pattern) => pattern.test(entry.name))) continue;
        const info = await stat(path).catch(() => undefined);
        if (info && info.size > 0) found.push({ path, name: entry.name, size: info.size, mtimeMs: info.mtimeMs });
      }
    };
    await walk(resolve(metadata.directory));
    return found;
  }

  private async uploadFile(metadata: S3UploadMetadata, original: CandidateFile, index: number): Promise<'uploaded' | 'failed' | 'vanished'> {
    const { logger, settings, metrics } = this.deps;
    let file = original;
    try {
      if (metadata.compressBeforeUpload && !isGzipName(file.name)) file = await gzipFile(file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'vanished';
      metrics.failed();
      logger.error({ err, file: file.path }, 'could not compress the file; keeping it for the next cycle');
      return 'failed';
    }
    const key = expandS3Key(metadata.s3KeyFormat, { filename: file.name, mtimeMs: file.mtimeMs, index }, { host: this.deps.host, guid: randomUUID });
    const headers = settings.s3ContentHeaders.find((rule) => file.name.endsWith(rule.filenameEndsWith));
    const applyStorageClass = metadata.s3StorageClass && (metadata.applyStorageClassIfOverBytes === undefined || file.size > metadata.applyStorageClassIfOverBytes);
    const upload = {
      bucket: metadata.s3Bucket,
      key,
      path: file.path,
      size: file.size,
      contentType: headers?.contentType,
      contentEncoding: headers?.contentEncoding,
      storageClass: applyStorageClass ? metadata.s3StorageClass : undefined,
      serverSideEncryption: metadata.encryptionKey ? ('aws:kms' as const) : metadata.useS3ServerSideEncryption ? ('AES256' as const) : undefined,
      kmsKeyId: metadata.encryptionKey,
    };
    for (let attempt = 1; ; attempt++) {
      const started = this.deps.now();
      try {
        await this.deps.transfer.upload(metadata, upload);
        metrics.uploaded(this.deps.now() - started);
        logger.info({ file: file.path, bucket: upload.bucket, key, bytes: file.size }, 'uploaded');
        await rm(file.path, { force: true });
        return 'uploaded';
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'vanished';
        if (attempt >= settings.retryCount || this.deps.stopping()) {
          metrics.failed();
          logger.error({ err, file: file.path, bucket: upload.bucket, key, attempts: attempt }, 'upload failed; keeping the file for the next cycle');
          return 'failed';
        }
        logger.warn({ err, file: file.path, attempt }, 'upload failed; retrying');
        await new Promise((resolveWait) => setTimeout(resolveWait, settings.retryWaitMs));
      }
    }
  }
}

/**
 * `compressBeforeUpload`: NAME → NAME.gz beside it, with the original's mtime
 * (the key's date parts follow the file, not the compression), then the
 * original is removed. A half-written .gz is removed when compression fails.
 */
async function gzipFile(file: CandidateFile): Promise<CandidateFile> {
  const target = `${file.path}.gz`;
  try {
    await pipeline(createReadStream(file.path), createGzip(), createWriteStream(target));
  } catch (err) {
    await rm(target, { force: true });
    throw err;
  }
  const mtime = new Date(file.mtimeMs);
  await utimes(target, mtime, mtime);
  await unlink(file.path);
  const info = await stat(target);
  return { path: target, name: `${file.name}.gz`, size: info.size, mtimeMs: info.mtimeMs };
}
