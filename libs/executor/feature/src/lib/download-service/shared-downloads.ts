import { mkdir } from 'node:fs/promises';
import type { S3Artifact } from '@singularity/models';
import type { Logger } from '@singularity/node-util';
import { artifactLabel } from '../embedded-artifacts';
import type { FetchedArtifactFile } from '../artifacts/artifact-cache';
import { placeArtifact } from '../artifacts/artifact-placement';
import { ConcurrencyLimit } from '../artifacts/concurrency-limit';
import type { ArtifactFetcher } from '../artifacts/remote-artifact-stagers';
import type { DownloadServiceMetrics } from './download-service-metrics';

/** One fetch of an artifact that every request for an equal artifact waits on. */
interface SharedFetch {
  readonly file: Promise<FetchedArtifactFile>;
  /** Aborts the fetch once no request waits for it any more. */
  readonly controller: AbortController;
  holders: number;
  settled: boolean;
}

export interface SharedDownloadsOptions {
  /** The executor's fetcher: its cache (`s3.artifactCacheDirectory`) and S3 downloader. */
  fetcher: ArtifactFetcher;
  /** `downloadService.numDownloaderThreads`: fetches at once. */
  maxConcurrentFetches: number;
  /** `base.useCompressProgram`, as the executor extracts. */
  useCompressProgram?: string;
  metrics: DownloadServiceMetrics;
}

/**
 * Artifacts are equal when they name the same object and promise the same
 * bytes under the same file name (the cache entry's name); `name` and the
 * target folder only matter to placement.
 */
function artifactKey(artifact: S3Artifact): string {
  return JSON.stringify([artifact.s3Bucket, artifact.s3ObjectKey, artifact.md5sum?.toLowerCase() ?? null, artifact.filesize ?? null, artifact.filename]);
}

/** Rejects with `signal`'s reason as soon as it aborts, without waiting for `promise`. */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/**
 * The heart of the download service (spec slave §3): fetch an S3 artifact as
 * the executor does (cache, else parallel ranged GETs; size and md5 checked;
 * spec slave §1.5) and place it into the caller's directory as the executor
 * does (tarballs extracted with the same refusals of members that would
 * escape it, other files copied under their name).
 *
 * Requests for an equal artifact that overlap in time share one fetch; each
 * places the shared file into its own directory. A request that gives up
 * (its timeout, its client gone) leaves the fetch to the others; the last one
 * leaving aborts it.
 */
export class SharedDownloads {
  private readonly inFlight = new Map<string, SharedFetch>();
  private readonly limit: ConcurrencyLimit;

  constructor(private readonly options: SharedDownloadsOptions) {
    this.limit = new ConcurrencyLimit(options.maxConcurrentFetches);
  }

  /** Fetches of different artifacts under way or waiting for a slot. */
  get fetchesInFlight(): number {
    return this.inFlight.size;
  }

  /**
   * Puts `artifact` into `targetDirectory` (created if missing). Throws when
   * the fetch or the placement fails, or `signal`'s reason when it aborts.
   */
  async deliver(artifact: S3Artifact, targetDirectory: string, signal: AbortSignal, logger: Logger): Promise<void> {
    const label = artifactLabel(artifact);
    const key = artifactKey(artifact);
    const shared = this.join(key, artifact, logger);
    try {
      const file = await untilAborted(shared.file, signal);
      await mkdir(targetDirectory, { recursive: true });
      // The target directory is the whole world of this placement: a tarball member or link may not leave it.
      await placeArtifact(
        file.path,
        { name: artifact.name, filename: artifact.filename },
        { sandboxDirectory: targetDirectory, signal, logger },
        { useCompressProgram: this.options.useCompressProgram },
      );
      logger.info({ artifact: label, targetDirectory, fromCache: file.fromCache }, 'artifact placed');
    } finally {
      await this.leave(key, shared);
    }
  }

  private join(key: string, artifact: S3Artifact, logger: Logger): SharedFetch {
    const existing = this.inFlight.get(key);
    if (existing) {
      existing.holders++;
      logger.info({ artifact: artifactLabel(artifact), waiting: existing.holders }, 'joining the download of an equal artifact');
      return existing;
    }
    const controller = new AbortController();
    const { fetcher, metrics } = this.options;
    const file = this.limit.run(async () => {
      metrics.active++;
      try {
        return await fetcher.fetchS3(artifact, { signal: controller.signal, logger, sandboxDirectory: '' });
      } finally {
        metrics.active--;
      }
    }, controller.signal);
    const shared: SharedFetch = { file, controller, holders: 1, settled: false };
    this.inFlight.set(key, shared);
    file.then(
      () => {
        shared.settled = true;
      },
      () => {
        shared.settled = true;
        // A failed fetch is not reused: the next request tries again.
        if (this.inFlight.get(key) === shared) this.inFlight.delete(key);
      },
    );
    return shared;
  }

  private async leave(key: string, shared: SharedFetch): Promise<void> {
    shared.holders--;
    if (shared.holders > 0) return;
    if (this.inFlight.get(key) === shared) this.inFlight.delete(key);
    if (!shared.settled) shared.controller.abort(new Error('no request waits for this download any more'));
    // The private link into the cache goes once nobody places from it; a rejected fetch has nothing to release.
    const file = await shared.file.catch(() => undefined);
    await file?.release();
  }
}
