import { createWriteStream } from 'node:fs';
import { open } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GetObjectCommand, HeadObjectCommand, S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { s3ClientConfig, type Logger } from '@singularity/node-util';
import { ARTIFACT_FILE_MODE } from '../embedded-artifacts';
import type { ExecutorConfig } from '../executor-config';
import { ArtifactDownloadError } from '../executor-errors';

/** Where an S3 artifact lives. */
export interface S3ObjectLocation {
  s3Bucket: string;
  s3ObjectKey: string;
}

/** The `s3` settings the download uses (spec slave "Config"). */
export type S3DownloadSettings = Pick<
  ExecutorConfig['s3'],
  | 's3AccessKey'
  | 's3SecretKey'
  | 's3BucketCredentials'
  | 's3Endpoint'
  | 's3Region'
  | 's3ChunkSize'
  | 's3ChunkRetries'
  | 's3ChunkDownloadTimeoutMillis'
  | 's3DownloadTimeoutMillis'
>;

/** How many ranged GETs of one object run at once. */
export const S3_PARALLEL_CHUNKS = 4;

/** Byte ranges (inclusive) of `size` bytes in chunks of `chunkSize`. */
export function chunkRanges(size: number, chunkSize: number): Array<{ start: number; end: number }> {
  const ranges: Array<{ start: number; end: number }> = [];
  for (let start = 0; start < size; start += chunkSize) ranges.push({ start, end: Math.min(size, start + chunkSize) - 1 });
  return ranges;
}

interface S3ErrorLike {
  name?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
}

/** 4xx answers other than timeouts and throttling will not change on a retry. */
function isPermanent(err: unknown): boolean {
  const status = (err as S3ErrorLike)?.$metadata?.httpStatusCode;
  return status !== undefined && status >= 400 && status < 500 && status !== 408 && status !== 429;
}

function describe(err: unknown): string {
  const e = err as S3ErrorLike;
  const status = e?.$metadata?.httpStatusCode;
  const name = e?.name && e.name !== 'Error' ? e.name : undefined;
  // The SDK says "UnknownError" for a HEAD without a body (e.g. 404).
  const message = e?.message && e.message !== 'UnknownError' ? e.message : undefined;
  return [name, message, status ? `(HTTP ${status})` : undefined].filter(Boolean).join(' ') || String(err);
}

/**
 * Downloads S3 objects (spec slave §1.5): HEAD for the size, then parallel
 * ranged GETs of `s3ChunkSize` bytes written at their offsets. Each chunk gets
 * `s3ChunkDownloadTimeoutMillis` per attempt and `s3ChunkRetries` retries;
 * the whole download is bounded by `s3DownloadTimeoutMillis`. The staging
 * signal (a kill) aborts every request at once. One client per download, so
 * nothing stays open once staging is over.
 */
export class S3Downloader {
  constructor(
    private readonly settings: S3DownloadSettings,
    private readonly makeClient: (config: S3ClientConfig) => S3Client = (config) => new S3Client(config),
  ) {}

  async download(location: S3ObjectLocation, destination: string, label: string, signal: AbortSignal, logger: Logger): Promise<void> {
    const { s3Bucket: bucket, s3ObjectKey: key } = location;
    const where = `s3://${bucket}/${key}`;
    const settings = this.settings;
    const overall = AbortSignal.timeout(settings.s3DownloadTimeoutMillis);
    const failed = new AbortController();
    const whole = AbortSignal.any([signal, overall, failed.signal]);
    const client = this.makeClient(s3ClientConfig(settings, bucket));
    const started = Date.now();

    /** Runs one request with the chunk timeout and retries; rethrows the kill as is. */
    const attempt = async <T>(what: string, run: (requestSignal: AbortSignal) => Promise<T>): Promise<T> => {
      for (let tries = 1; ; tries++) {
        const requestSignal = AbortSignal.any([whole, AbortSignal.timeout(settings.s3ChunkDownloadTimeoutMillis)]);
        try {
          return await run(requestSignal);
        } catch (err) {
          if (signal.aborted) throw signal.reason;
          if (failed.signal.aborted) throw failed.signal.reason;
          if (overall.aborted) {
            throw new ArtifactDownloadError(`${label}: download of ${where} timed out after ${settings.s3DownloadTimeoutMillis} ms`);
          }
          const timedOut = requestSignal.aborted;
          const cause = timedOut ? `no answer within ${settings.s3ChunkDownloadTimeoutMillis} ms` : describe(err);
          if (tries > settings.s3ChunkRetries || (!timedOut && isPermanent(err))) {
            const error = new ArtifactDownloadError(
              `${label}: ${what} of ${where} failed${tries > 1 ? ` after ${tries} attempts` : ''}: ${cause}`,
            );
            failed.abort(error);
            throw error;
          }
          logger.warn({ artifact: label, where, what, attempt: tries, cause }, 'S3 request failed; retrying');
        }
      }
    };

    try {
      const head = await attempt('HEAD', (requestSignal) =>
        client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }), { abortSignal: requestSignal }),
      );
      const size = head.ContentLength ?? 0;
      const file = await open(destination, 'wx', ARTIFACT_FILE_MODE);
      try {
        await file.truncate(size);
      } finally {
        await file.close();
      }
      const ranges = chunkRanges(size, settings.s3ChunkSize);
      let next = 0;
      const worker = async () => {
        while (next < ranges.length) {
          const index = next++;
          const { start, end } = ranges[index];
          await attempt(`chunk ${index + 1}/${ranges.length} (bytes ${start}-${end})`, async (requestSignal) => {
            const response = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key, Range: `bytes=${start}-${end}` }), {
              abortSignal: requestSignal,
            });
            const out = createWriteStream(destination, { flags: 'r+', start });
            await pipeline(response.Body as Readable, out, { signal: requestSignal });
            if (out.bytesWritten !== end - start + 1) {
              throw new Error(`received ${out.bytesWritten} of ${end - start + 1} bytes`);
            }
          });
        }
      };
      await Promise.all(Array.from({ length: Math.min(S3_PARALLEL_CHUNKS, ranges.length) }, worker));
      logger.info({ artifact: label, where, bytes: size, chunks: ranges.length, millis: Date.now() - started }, 'downloaded S3 object');
    } finally {
      client.destroy();
    }
  }
}
