import { watch, type FSWatcher } from 'node:fs';
import { mkdir, readFile, readdir, rm } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { isProcessAlive, startStatusServer, writeJsonAtomic, type Logger, type StatusServer } from '@singularity/node-util';
import { MetadataUploader } from './metadata-uploader';
import { ProgramOpenFileChecker, type OpenFileChecker } from './open-files';
import { S3Transfer } from './s3-transfer';
import type { S3UploaderConfig } from './s3-uploader-config';
import { parseUploadMetadata, uploadIdentity } from './upload-metadata-file';
import { UploaderMetrics, type S3UploaderMetricsSnapshot } from './uploader-metrics';

export interface S3UploaderOptions {
  logger: Logger;
  /** Default: lsof or fuser as the configuration says. */
  openFiles?: OpenFileChecker;
  now?: () => number;
}

/** What a cycle did, for logs and tests. */
export interface CycleResult {
  uploaders: number;
  uploaded: number;
  failed: number;
  retired: number;
}

/**
 * The S3 uploader daemon (spec slave §2): keeps one `MetadataUploader` per
 * (directory, fileGlob) named by the `*.s3.json` files of
 * `base.s3UploaderMetadataDirectory`. It scans that directory at start and
 * every `recheckFilesEverySeconds`, watches it in between, runs an upload
 * cycle every `checkUploadsEverySeconds` (and at once for
 * `uploadImmediately`), retires uploaders by deleting their metadata, writes
 * metrics and serves `/health` and `/metrics`.
 *
 * `start()` arms the real timers; `scan()` and `runCycle()` are public so
 * tests can drive a step without waiting for them.
 */
export class S3Uploader {
  private readonly logger: Logger;
  private readonly now: () => number;
  private readonly directory: string;
  private readonly suffix: string;
  private readonly host: string;
  private readonly transfer: S3Transfer;
  private readonly openFiles: OpenFileChecker;
  private readonly metricsState: UploaderMetrics;
  private readonly uploaders = new Map<string, MetadataUploader>();
  private readonly identityOfPath = new Map<string, string>();
  private readonly warnedPaths = new Set<string>();
  private readonly timers: NodeJS.Timeout[] = [];
  /** Metadata events are handled one at a time, in order. */
  private events: Promise<void> = Promise.resolve();
  private readonly inFlight = new Set<Promise<unknown>>();
  private cycle: Promise<CycleResult> | undefined;
  private watcher: FSWatcher | undefined;
  private server: StatusServer | undefined;
  private stopping = false;

  constructor(
    private readonly config: S3UploaderConfig,
    options: S3UploaderOptions,
  ) {
    this.logger = options.logger;
    this.now = options.now ?? Date.now;
    // The schema insists on it; resolved so file paths handed to lsof/fuser are absolute.
    this.directory = resolve(config.base.s3UploaderMetadataDirectory ?? '.');
    this.suffix = config.base.s3UploaderMetadataSuffix;
    this.host = config.base.hostname ?? hostname();
    this.transfer = new S3Transfer(config, options.logger);
    const settings = config.s3uploader;
    this.openFiles =
      options.openFiles ??
      new ProgramOpenFileChecker(
        settings.checkOpenFilesViaFuser ? { tool: 'fuser', command: settings.fuserCommand } : { tool: 'lsof', command: settings.lsofCommand },
      );
    this.metricsState = new UploaderMetrics(this.now);
  }

  /** The HTTP port actually bound (useful with `httpPort: 0`); undefined before `start()`. */
  get httpPort(): number | undefined {
    return this.server?.port;
  }

  get metadataDirectory(): string {
    return this.directory;
  }

  /** Scans, watches, arms the timers and opens the HTTP endpoint. */
  async start(): Promise<void> {
    const settings = this.config.s3uploader;
    await mkdir(this.directory, { recursive: true });
    this.startWatching();
    await this.scan();
    await this.listen();
    this.every(settings.checkUploadsEverySeconds * 1000, () => this.runCycle());
    this.every(settings.recheckFilesEverySeconds * 1000, async () => {
      if (!this.watcher) this.startWatching(); // a watcher that failed gets another chance
      await this.scan();
    });
    if (settings.metricsFilePath) {
      await this.writeMetricsFile();
      this.every(settings.metricsWriteEveryMillis, () => this.writeMetricsFile());
    }
    const s3 = this.config.s3.s3Endpoint ?? `AWS (${this.config.s3.s3Region})`;
    this.logger.info(
      { metadataDirectory: this.directory, suffix: this.suffix, s3, httpPort: this.httpPort, uploaders: this.uploaders.size },
      `s3 uploader watching ${this.directory} for *${this.suffix}; S3 at ${s3}; http on ${settings.httpHost}:${this.httpPort}`,
    );
  }

  /**
   * Stops the timers and the watcher, lets the file upload in flight finish
   * (no new file is started) for at most `shutdownTimeoutMillis`, checking
   * every `pollForShutDownMillis`, then closes everything.
   */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    for (const timer of this.timers) clearInterval(timer);
    this.watcher?.close();
    this.watcher = undefined;
    const { pollForShutDownMillis, shutdownTimeoutMillis } = this.config.s3uploader;
    const deadline = this.now() + shutdownTimeoutMillis;
    while (this.inFlight.size > 0 && this.now() < deadline) {
      await new Promise((r) => setTimeout(r, Math.min(pollForShutDownMillis, Math.max(deadline - this.now(), 1))));
    }
    if (this.inFlight.size > 0) this.logger.warn({ running: this.inFlight.size }, 'stopping with uploads still running');
    await this.events.catch(() => undefined);
    if (this.config.s3uploader.metricsFilePath) await this.writeMetricsFile();
    await this.server?.close();
    this.transfer.close();
  }

  metrics(): S3UploaderMetricsSnapshot {
    const all = [...this.uploaders.values()];
    return this.metricsState.snapshot({
      total: all.length,
      immediate: all.filter((u) => u.immediate).length,
      expiring: all.filter((u) => u.finished).length,
    });
  }

  /** The (directory, fileGlob) pairs currently served; for tests and /health. */
  identities(): Array<{ directory: string; fileGlob: string; finished: boolean; metadataFiles: string[] }> {
    return [...this.uploaders.values()].map((u) => ({
      directory: u.metadata.directory,
      fileGlob: u.metadata.fileGlob,
      finished: u.finished,
      metadataFiles: [...u.metadataPaths].sort(),
    }));
  }

  /**
   * Reads every metadata file of the directory (depth 1). Uploaders whose
   * metadata files are all gone (a deletion the watcher missed) count as finished.
   */
  scan(): Promise<void> {
    return this.enqueue(async () => {
      let names: string[];
      try {
        names = await readdir(this.directory);
      } catch (err) {
        this.logger.error({ err, directory: this.directory }, 'cannot read the metadata directory');
        return;
      }
      const present = new Set(names.filter((name) => name.endsWith(this.suffix)).map((name) => join(this.directory, name)));
      for (const path of present) await this.readMetadata(path);
      for (const path of [...this.identityOfPath.keys()]) if (!present.has(path)) this.metadataDeleted(path);
    });
  }

  /**
   * One upload cycle over every uploader (at most `executorMaxUploadThreads`
   * at a time). A run that finds nothing retires its uploader when it may.
   * A cycle still running when the next is due is not doubled.
   */
  runCycle(): Promise<CycleResult> {
    this.cycle ??= this.track(this.cycleOnce()).finally(() => {
      this.cycle = undefined;
    });
    return this.cycle;
  }

  /** Resolves once the metadata events so far are handled and no upload runs; for tests. */
  async idle(): Promise<void> {
    await this.events;
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  private async cycleOnce(): Promise<CycleResult> {
    this.metricsState.cycleStarted();
    const queue = [...this.uploaders.entries()];
    const result: CycleResult = { uploaders: queue.length, uploaded: 0, failed: 0, retired: 0 };
    const worker = async () => {
      for (let next = queue.shift(); next && !this.stopping; next = queue.shift()) {
        const [identity, uploader] = next;
        const outcome = await this.runUploader(identity, uploader);
        result.uploaded += outcome.uploaded;
        result.failed += outcome.failed;
        if (outcome.retired) result.retired++;
      }
    };
    const workers = Math.min(this.config.s3uploader.executorMaxUploadThreads, queue.length);
    await Promise.all(Array.from({ length: workers }, worker));
    if (result.uploaded || result.failed || result.retired) this.logger.info(result, 'upload cycle done');
    return result;
  }

  private async runUploader(identity: string, uploader: MetadataUploader): Promise<{ uploaded: number; failed: number; retired: boolean }> {
    const pid = uploader.metadata.pid;
    if (pid !== undefined && !uploader.finished && !isProcessAlive(pid)) uploader.markFinished(`process ${pid} is gone`);
    let outcome;
    try {
      outcome = await uploader.run();
    } catch (err) {
      this.logger.error({ err, directory: uploader.metadata.directory, fileGlob: uploader.metadata.fileGlob }, 'upload run failed');
      return { uploaded: 0, failed: 0, retired: false };
    }
    const retired = outcome.found === 0 && !this.stopping && this.uploaders.get(identity) === uploader && uploader.mayRetire();
    if (retired) await this.retire(identity, uploader);
    return { uploaded: outcome.uploaded, failed: outcome.failed, retired };
  }

  /**
   * An immediate upload runs again at once while it makes progress, so that
   * it retires (finds nothing) without waiting for a cycle; files it cannot
   * send now are left to the cycles (spec slave §2: "Immediate uploaders
   * rerun each cycle until nothing matches").
   */
  private async runImmediately(identity: string, uploader: MetadataUploader): Promise<void> {
    for (;;) {
      const outcome = await this.runUploader(identity, uploader);
      if (outcome.retired || outcome.uploaded === 0 || this.stopping || this.uploaders.get(identity) !== uploader) return;
    }
  }

  /** Forgets the uploader first, so the deletions it causes are not taken for news. */
  private async retire(identity: string, uploader: MetadataUploader): Promise<void> {
    this.uploaders.delete(identity);
    for (const path of uploader.metadataPaths) {
      this.identityOfPath.delete(path);
      await rm(path, { force: true }).catch((err: unknown) => this.logger.error({ err, path }, 'cannot delete the metadata file'));
    }
    this.logger.info({ directory: uploader.metadata.directory, fileGlob: uploader.metadata.fileGlob, metadataFiles: [...uploader.metadataPaths] }, 'upload done; metadata removed');
  }

  private async readMetadata(path: string): Promise<void> {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') this.metadataDeleted(path);
      else if (code !== 'EISDIR') this.logger.warn({ err, path }, 'cannot read the metadata file');
      return;
    }
    const read = parseUploadMetadata(text);
    if (!read.ok) {
      // A writer may be half-way; its next write brings another event. Said once per file until it parses.
      if (!this.warnedPaths.has(path)) this.logger.warn({ path, reason: read.reason }, 'ignoring an unusable metadata file');
      this.warnedPaths.add(path);
      return;
    }
    this.warnedPaths.delete(path);
    const metadata = read.metadata;
    if (metadata.uploaderType === 'GCS') {
      if (!this.warnedPaths.has(`gcs:${path}`)) this.logger.warn({ path }, 'uploaderType GCS is not supported by this uploader; leaving the metadata alone');
      this.warnedPaths.add(`gcs:${path}`);
      return;
    }
    const identity = uploadIdentity(metadata);
    const previous = this.identityOfPath.get(path);
    if (previous !== undefined && previous !== identity) this.metadataDeleted(path); // the file now names another upload
    let uploader = this.uploaders.get(identity);
    const wasImmediate = uploader?.immediate ?? false;
    if (uploader) {
      uploader.update(metadata);
    } else {
      uploader = new MetadataUploader(metadata, {
        settings: this.config.s3uploader,
        transfer: this.transfer,
        openFiles: this.openFiles,
        metrics: this.metricsState,
        logger: this.logger,
        host: this.host,
        now: this.now,
        stopping: () => this.stopping,
      });
      this.uploaders.set(identity, uploader);
      this.logger.info({ path, directory: metadata.directory, fileGlob: metadata.fileGlob, finished: metadata.finished }, 'new upload');
    }
    if (!uploader.metadataPaths.has(path) && uploader.metadataPaths.size > 0) {
      this.logger.info({ path, sameAs: [...uploader.metadataPaths] }, 'metadata names an upload already served; one uploader serves both');
    }
    uploader.metadataPaths.add(path);
    this.identityOfPath.set(path, identity);
    if (uploader.immediate && !wasImmediate && !this.stopping) {
      // Upload now, not at the next cycle (spec slave §2 "Events").
      void this.track(this.runImmediately(identity, uploader));
    }
  }

  /** A metadata file is gone: its upload is finished (spec slave §2 "Events"); the uploader retires once empty. */
  private metadataDeleted(path: string): void {
    const identity = this.identityOfPath.get(path);
    if (identity === undefined) return;
    this.identityOfPath.delete(path);
    const uploader = this.uploaders.get(identity);
    if (!uploader) return;
    uploader.metadataPaths.delete(path);
    if (uploader.metadataPaths.size === 0) uploader.markFinished('metadata file deleted');
  }

  private startWatching(): void {
    try {
      this.watcher = watch(this.directory, { persistent: false }, (_event, name) => {
        this.metricsState.filesystemEvents++;
        if (!name) {
          void this.scan(); // the platform did not say which file: look at all of them
          return;
        }
        const file = name.toString();
        if (!file.endsWith(this.suffix)) return;
        const path = join(this.directory, file);
        void this.enqueue(() => this.readMetadata(path));
      });
      this.watcher.on('error', (err) => {
        this.logger.error({ err, directory: this.directory }, 'watching the metadata directory failed; relying on rescans until it works again');
        this.watcher?.close();
        this.watcher = undefined;
      });
    } catch (err) {
      this.logger.error({ err, directory: this.directory }, 'cannot watch the metadata directory; relying on rescans');
    }
  }

  private enqueue(task: () => Promise<void>): Promise<void> {
    const next = this.events.then(task).catch((err: unknown) => this.logger.error({ err }, 'metadata handling failed'));
    this.events = next;
    return next;
  }

  private track<T>(work: Promise<T>): Promise<T> {
    this.inFlight.add(work);
    const forget = () => this.inFlight.delete(work);
    work.then(forget, forget);
    return work;
  }

  /** A real interval; each run is awaited before the next can start, errors are logged. */
  private every(ms: number, task: () => Promise<unknown>): void {
    let running = false;
    const timer = setInterval(() => {
      if (running || this.stopping) return;
      running = true;
      task()
        .catch((err: unknown) => this.logger.error({ err }, 'periodic task failed'))
        .finally(() => {
          running = false;
        });
    }, ms);
    this.timers.push(timer);
  }

  private async writeMetricsFile(): Promise<void> {
    const path = this.config.s3uploader.metricsFilePath;
    if (!path) return;
    try {
      await writeJsonAtomic(path, this.metrics());
    } catch (err) {
      this.logger.warn({ err, path }, 'cannot write the metrics file');
    }
  }

  private async listen(): Promise<void> {
    const { httpPort, httpHost } = this.config.s3uploader;
    this.server = await startStatusServer({
      host: httpHost,
      port: httpPort,
      routes: {
        '/health': () => ({ ok: true, metadataDirectory: this.directory, uploaders: this.uploaders.size }),
        '/metrics': () => this.metrics(),
      },
    });
  }
}
