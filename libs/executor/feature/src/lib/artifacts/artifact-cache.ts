import { randomBytes } from 'node:crypto';
import { chmod, link, lstat, mkdir, mkdtemp, readdir, rename, rm, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '@singularity/node-util';
import { ARTIFACT_FILE_MODE } from '../embedded-artifacts';
import { TaskFailureError } from '../executor-errors';
import { verifyArtifactFile, type ExpectedArtifactContent } from './artifact-files';

/** Downloads an artifact's bytes to `destination` (a new file); throws on failure, stops when `signal` aborts. */
export type ArtifactDownload = (destination: string, signal: AbortSignal) => Promise<void>;

export interface CacheableArtifact extends ExpectedArtifactContent {
  /** A plain file name (checked by the caller). */
  filename: string;
}

/** An artifact's verified bytes on disk, for placement and signature checks. */
export interface FetchedArtifactFile {
  /** Read the artifact from here: a private hard link to the cache entry (eviction cannot take it away) or a temp file. */
  readonly path: string;
  /** The cache entry (`<cache>/<md5>-<filename>`), or the temp file for an artifact that is not cached. */
  readonly cachePath: string;
  /** True when the cache had it and nothing was downloaded. */
  readonly fromCache: boolean;
  /** Removes the private link or temp file; the cache entry stays. Never throws. */
  release(): Promise<void>;
}

export interface ArtifactCacheOptions {
  /** `s3.artifactCacheDirectory`; without one nothing is cached (every artifact is downloaded to a temp file). */
  directory?: string;
  /** `s3.artifactCacheMaxBytes`: after an entry is added, least recently used entries go until the cache fits. */
  maxBytes: number;
  /**
   * Entries used (touched) within this long are not evicted: another executor
   * on this machine may be about to read them. 60 s by default.
   */
  inUseGraceMillis?: number;
  /** Download temp files and private links older than this belong to dead executors and are removed. 6 h by default. */
  staleTempMillis?: number;
  now?: () => number;
}

const MD5 = /^[0-9a-fA-F]{32}$/;
const DOWNLOAD_PREFIX = '.download-';
const PIN_PREFIX = '.inuse-';
/** Longest file name we build (most file systems allow 255 bytes). */
const MAX_NAME = 240;

/**
 * The executor's artifact cache (spec slave §1.5), shared by every executor on
 * the machine: one file per artifact, `<directory>/<md5sum>-<filename>`
 * (md5 in lower case).
 *
 * - **Hit**: the entry exists, is a regular file and has the artifact's
 *   `filesize` and md5 sum. The md5 is computed again on every hit, so an
 *   entry corrupted on disk is noticed, removed and downloaded again. A hit
 *   touches the entry's mtime: eviction is least recently *used*.
 * - **Miss**: the download goes to a temp file in the cache directory
 *   (`.download-<pid>-<random>-…`, unique per executor), which is chmod 0644,
 *   checked (size, then md5) and renamed onto the entry (atomic). A failed
 *   check leaves no entry. Two executors fetching the same artifact both
 *   download it; the last rename wins, and both files are identical.
 * - **In use**: each fetched entry gets a private hard link (`.inuse-…`) that
 *   the task reads from until it released it, so a concurrent executor's
 *   eviction can unlink the entry without breaking this task's staging.
 * - **Size cap**: after an entry is added, entries are removed oldest mtime
 *   first until the total is within `maxBytes`, except the entries this
 *   process holds (fetched, not yet released) and entries touched within
 *   `inUseGraceMillis`.
 * - **No md5 sum** (or one that is not 32 hex digits): nothing to key the
 *   entry by and nothing to check a hit against, so the artifact is
 *   downloaded to a temp file, used and removed; it is never cached.
 */
export class ArtifactCache {
  /** Entries fetched and not yet released here, with how many holders each: never evicted by this process. */
  private readonly pinned = new Map<string, number>();
  private readonly now: () => number;

  constructor(private readonly options: ArtifactCacheOptions) {
    this.now = options.now ?? Date.now;
  }

  get directory(): string | undefined {
    return this.options.directory;
  }

  /** The cache entry of an artifact, or undefined when it cannot be cached. */
  entryName(artifact: CacheableArtifact): string | undefined {
    if (!this.options.directory || !artifact.md5sum || !MD5.test(artifact.md5sum)) return undefined;
    return `${artifact.md5sum.toLowerCase()}-${artifact.filename}`;
  }

  /**
   * The artifact's verified bytes: from the cache when it has a valid entry,
   * else downloaded with `download`, checked and (with an md5 sum) added.
   * Throws an ArtifactVerificationError when the download does not match.
   */
  async fetch(artifact: CacheableArtifact, label: string, download: ArtifactDownload, signal: AbortSignal, logger: Logger): Promise<FetchedArtifactFile> {
    signal.throwIfAborted();
    const entry = this.entryName(artifact);
    const directory = this.options.directory;
    if (!entry || !directory) return this.fetchUncached(artifact, label, download, signal, logger);
    await mkdir(directory, { recursive: true });
    const cachePath = join(directory, entry);
    // Counted, not a set: a long-running process (the download service) must let go of entries it no longer reads.
    this.pin(entry);
    const unpin = () => this.unpin(entry);

    let hit: FetchedArtifactFile | undefined;
    try {
      hit = await this.lookup(cachePath, artifact, label, signal, logger, unpin);
    } catch (err) {
      unpin();
      throw err;
    }
    if (hit) return hit;

    const temp = join(directory, tempName(DOWNLOAD_PREFIX, entry));
    let pin: string | undefined;
    try {
      await download(temp, signal);
      await chmod(temp, ARTIFACT_FILE_MODE);
      await verifyArtifactFile(temp, artifact, label, signal);
      pin = await linkOrUndefined(temp, join(directory, tempName(PIN_PREFIX, entry)), logger);
      await rename(temp, cachePath);
    } catch (err) {
      unpin();
      await rm(temp, { force: true });
      if (pin) await rm(pin, { force: true });
      throw err;
    }
    logger.info({ artifact: label, cachePath }, 'artifact downloaded into the cache');
    await this.evictQuietly(logger);
    return fetched(pin ?? cachePath, cachePath, false, pin, unpin);
  }

  private pin(entry: string): void {
    this.pinned.set(entry, (this.pinned.get(entry) ?? 0) + 1);
  }

  private unpin(entry: string): void {
    const holders = (this.pinned.get(entry) ?? 0) - 1;
    if (holders > 0) this.pinned.set(entry, holders);
    else this.pinned.delete(entry);
  }

  /** A valid entry (pinned by a private link and touched), or undefined after removing an invalid one. */
  private async lookup(
    cachePath: string,
    artifact: CacheableArtifact,
    label: string,
    signal: AbortSignal,
    logger: Logger,
    unpin: () => void,
  ): Promise<FetchedArtifactFile | undefined> {
    const directory = this.options.directory as string;
    // Link first, check the link: the checked bytes are the ones this task reads, whatever happens to the entry meanwhile.
    let pin: string | undefined;
    try {
      pin = join(directory, tempName(PIN_PREFIX, cachePath.slice(directory.length + 1)));
      await link(cachePath, pin);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return undefined;
      logger.debug({ err, cachePath }, 'cannot hard-link the cache entry; reading it in place');
      pin = undefined;
    }
    const readPath = pin ?? cachePath;
    try {
      const stats = await lstat(readPath);
      if (!stats.isFile()) throw new TaskFailureError(`${label}: cache entry ${cachePath} is not a regular file`);
      await verifyArtifactFile(readPath, artifact, label, signal);
    } catch (err) {
      if (pin) await rm(pin, { force: true });
      if (signal.aborted) throw signal.reason;
      if (!(err instanceof TaskFailureError)) throw err;
      logger.warn({ cachePath, reason: err.message }, 'artifact cache entry does not match the artifact (corrupted?): removing it and downloading again');
      await rm(cachePath, { force: true, recursive: true });
      return undefined;
    }
    const now = new Date(this.now());
    await utimes(readPath, now, now).catch((err: unknown) => logger.debug({ err, cachePath }, 'could not touch the cache entry'));
    logger.info({ artifact: label, cachePath }, 'artifact cache hit');
    return fetched(readPath, cachePath, true, pin, unpin);
  }

  private async fetchUncached(
    artifact: CacheableArtifact,
    label: string,
    download: ArtifactDownload,
    signal: AbortSignal,
    logger: Logger,
  ): Promise<FetchedArtifactFile> {
    const directory = this.options.directory;
    let scratch: string | undefined;
    if (directory) await mkdir(directory, { recursive: true });
    else scratch = await mkdtemp(join(tmpdir(), 'singularity-artifact-'));
    const temp = join(directory ?? (scratch as string), tempName(DOWNLOAD_PREFIX, artifact.filename));
    const remove = async () => {
      await rm(temp, { force: true });
      if (scratch) await rm(scratch, { force: true, recursive: true });
    };
    try {
      await download(temp, signal);
      await chmod(temp, ARTIFACT_FILE_MODE);
      await verifyArtifactFile(temp, artifact, label, signal);
    } catch (err) {
      await remove();
      throw err;
    }
    logger.info({ artifact: label, path: temp }, 'artifact downloaded (not cached: no md5 sum or no cache directory)');
    return {
      path: temp,
      cachePath: temp,
      fromCache: false,
      release: () => remove().catch(() => undefined),
    };
  }

  /**
   * Removes least recently used entries until the cache fits `maxBytes`
   * (never this executor's entries, nor entries touched within the grace),
   * and left-over temp files of dead executors. Returns the removed names.
   */
  async evict(logger?: Logger): Promise<string[]> {
    const directory = this.options.directory;
    if (!directory) return [];
    const now = this.now();
    const grace = this.options.inUseGraceMillis ?? 60_000;
    const stale = this.options.staleTempMillis ?? 6 * 3600_000;
    const entries: Array<{ name: string; size: number; mtimeMs: number }> = [];
    let total = 0;
    for (const name of await readdir(directory)) {
      const stats = await lstat(join(directory, name)).catch(() => undefined);
      if (!stats) continue;
      if (name.startsWith('.')) {
        if ((name.startsWith(DOWNLOAD_PREFIX) || name.startsWith(PIN_PREFIX)) && now - stats.mtimeMs > stale) {
          await rm(join(directory, name), { force: true });
        }
        continue;
      }
      if (!stats.isFile()) continue;
      total += stats.size;
      entries.push({ name, size: stats.size, mtimeMs: stats.mtimeMs });
    }
    const removed: string[] = [];
    if (total <= this.options.maxBytes) return removed;
    entries.sort((a, b) => a.mtimeMs - b.mtimeMs);
    for (const entry of entries) {
      if (total <= this.options.maxBytes) break;
      if (this.pinned.has(entry.name) || now - entry.mtimeMs < grace) continue;
      await rm(join(directory, entry.name), { force: true });
      total -= entry.size;
      removed.push(entry.name);
    }
    logger?.info({ removed, totalBytes: total, maxBytes: this.options.maxBytes }, 'artifact cache: evicted least recently used entries');
    return removed;
  }

  private async evictQuietly(logger: Logger): Promise<void> {
    try {
      await this.evict(logger);
    } catch (err) {
      logger.warn({ err }, 'artifact cache eviction failed');
    }
  }
}

function fetched(path: string, cachePath: string, fromCache: boolean, pin: string | undefined, unpin: () => void): FetchedArtifactFile {
  let released = false;
  return {
    path,
    cachePath,
    fromCache,
    release: async () => {
      if (released) return;
      released = true;
      unpin();
      if (pin) await rm(pin, { force: true }).catch(() => undefined);
    },
  };
}

/** `<prefix><pid>-<random>-<suffix>`, without the suffix when that would make the name too long. */
function tempName(prefix: string, suffix: string): string {
  const base = `${prefix}${process.pid}-${randomBytes(6).toString('hex')}`;
  return base.length + 1 + Buffer.byteLength(suffix) <= MAX_NAME ? `${base}-${suffix}` : base;
}

async function linkOrUndefined(existing: string, newPath: string, logger: Logger): Promise<string | undefined> {
  try {
    await link(existing, newPath);
    return newPath;
  } catch (err) {
    logger.debug({ err, existing }, 'cannot hard-link the download; reading the cache entry in place');
    return undefined;
  }
}
