import { watch, type FSWatcher } from 'node:fs';
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { startStatusServer, type Logger, type StatusServer } from '@singularity/node-util';
import { FileTailer, type TailerCounters, type TailTarget } from './file-tailer';
import { FluentdForwardSink, type LogSink } from './fluentd-forward';
import type { LogWatcherConfig } from './log-watcher-config';
import { OffsetStore } from './offset-store';

export interface LogWatcherDeps {
  logger: Logger;
  /** Defaults to fluentd's forward protocol to `fluentdHosts`. */
  sink?: LogSink;
  now?: () => number;
}

/** A `*.tail.json` that is not one (bad JSON, missing `filename`/`tag`): skipped, said once. */
function parseTailMetadata(text: string): TailTarget | string {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return `not JSON: ${(err as Error).message}`;
  }
  const v = value as Partial<TailTarget> | null;
  if (!v || typeof v !== 'object') return 'not a JSON object';
  if (typeof v.filename !== 'string' || !isAbsolute(v.filename)) return "'filename' must be an absolute path";
  if (typeof v.tag !== 'string' || v.tag === '') return "'tag' must be a non-empty string";
  const extraFields: Record<string, string> = {};
  if (v.extraFields !== undefined && v.extraFields !== null) {
    if (typeof v.extraFields !== 'object') return "'extraFields' must be an object";
    for (const [key, field] of Object.entries(v.extraFields)) extraFields[key] = String(field);
  }
  return { filename: v.filename, tag: v.tag, extraFields, finished: v.finished === true };
}

/**
 * The log watcher (spec slave §5): tails every file named by a `*.tail.json`
 * in `base.logWatcherMetadataDirectory` into fluentd. At start it loads all
 * of them, then rescans every `pollMillis` (and at once when the directory
 * changes). Several metadata files naming one file make one tailer (the
 * file is "finished" once any of them says so). A finished file is drained,
 * then its metadata files and its offset go. Offsets are saved after every
 * batch sent, so a stop at any moment loses nothing and repeats nothing.
 * `GET /health` on `listenHost:httpPort`.
 */
export class LogWatcher {
  readonly counters: TailerCounters = { linesSent: 0, sendFailures: 0 };
  private readonly tailers = new Map<string, { tailer: FileTailer; metadataFiles: Set<string> }>();
  private readonly store: OffsetStore;
  private readonly sink: LogSink;
  private readonly badMetadata = new Map<string, string>();
  private timer?: NodeJS.Timeout;
  private watcher?: FSWatcher;
  private server?: StatusServer;
  private running?: Promise<void>;
  private again = false;
  private stopped = true;
  lastPollAt?: number;
  port?: number;

  constructor(
    private readonly config: LogWatcherConfig,
    private readonly deps: LogWatcherDeps,
  ) {
    const s = config.logWatcher;
    this.store = new OffsetStore(s.storeDirectory, s.storeSuffix);
    this.sink = deps.sink ?? new FluentdForwardSink(s.fluentdHosts, s.fluentdTimeoutMillis, deps.now);
  }

  private get metadataDirectory(): string {
    return this.config.base.logWatcherMetadataDirectory as string;
  }

  /** Number of files being tailed. */
  get files(): number {
    return this.tailers.size;
  }

  async start(): Promise<void> {
    const s = this.config.logWatcher;
    await this.store.init();
    await mkdir(this.metadataDirectory, { recursive: true });
    this.server = await this.listen();
    this.stopped = false;
    await this.poll();
    try {
      // A change in the directory starts a pass now instead of at the next pollMillis.
      this.watcher = watch(this.metadataDirectory, () => this.kick());
      this.watcher.on('error', () => undefined);
    } catch {
      // no inotify: the polling alone does it
    }
    this.schedule();
    this.deps.logger.info(
      { metadataDirectory: this.metadataDirectory, storeDirectory: s.storeDirectory, fluentdHosts: s.fluentdHosts, port: this.port, files: this.files },
      `log watcher watching ${this.metadataDirectory}/*${this.config.base.logWatcherMetadataSuffix} (${this.files} file(s) now); ` +
        `offsets in ${s.storeDirectory}; sending to fluentd at ${s.fluentdHosts.map((h) => `${h.host}:${h.port}`).join(',')} as ${s.fluentdTagPrefix}.<tag>; ` +
        `listening on ${s.listenHost}:${this.port}`,
    );
  }

  /** Stops polling; the pass under way finishes (its offsets are saved as it goes), then the sink and the server close. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.watcher?.close();
    await this.running;
    await this.sink.close();
    const server = this.server;
    this.server = undefined;
    await server?.close();
    this.deps.logger.info({ linesSent: this.counters.linesSent }, 'log watcher stopped; offsets saved');
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      void this.poll().finally(() => this.schedule());
    }, this.config.logWatcher.pollMillis);
  }

  private kick(): void {
    if (this.stopped) return;
    void this.poll();
  }

  /** One pass: rescan the metadata, pump every file. Passes never overlap; a request during one runs one more after it. */
  poll(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        try {
          await this.scan();
          await this.pumpAll();
        } catch (err) {
          this.deps.logger.error({ err }, 'log watcher pass failed; trying again at the next poll');
        }
        this.lastPollAt = (this.deps.now ?? Date.now)();
      } while (this.again && !this.stopped);
    })().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async scan(): Promise<void> {
    const suffix = this.config.base.logWatcherMetadataSuffix;
    const names = (await readdir(this.metadataDirectory)).filter((name) => name.endsWith(suffix)).sort();
    const seen = new Map<string, { target: TailTarget; files: Set<string> }>();
    for (const name of names) {
      const path = join(this.metadataDirectory, name);
      let text: string;
      try {
        text = await readFile(path, 'utf8');
      } catch {
        continue; // removed meanwhile
      }
      const parsed = parseTailMetadata(text);
      if (typeof parsed === 'string') {
        if (this.badMetadata.get(path) !== text) this.deps.logger.warn({ path, reason: parsed }, 'ignoring unreadable log-watcher metadata');
        this.badMetadata.set(path, text);
        continue;
      }
      this.badMetadata.delete(path);
      const entry = seen.get(parsed.filename);
      if (entry) {
        entry.files.add(path);
        entry.target = { ...parsed, finished: entry.target.finished || parsed.finished };
      } else {
        seen.set(parsed.filename, { target: parsed, files: new Set([path]) });
      }
    }
    for (const [filename, { target, files }] of seen) {
      const current = this.tailers.get(filename);
      if (current) {
        current.tailer.target = target;
        current.metadataFiles = files;
      } else {
        const tailer = new FileTailer(target, { sink: this.sink, store: this.store, settings: this.config.logWatcher, logger: this.deps.logger, counters: this.counters, now: this.deps.now });
        this.tailers.set(filename, { tailer, metadataFiles: files });
        this.deps.logger.info({ filename, tag: target.tag }, 'tailing');
      }
    }
    // Metadata removed by someone else: stop tailing, keep the offset.
    for (const filename of [...this.tailers.keys()]) if (!seen.has(filename)) this.tailers.delete(filename);
  }

  private async pumpAll(): Promise<void> {
    for (const [filename, entry] of [...this.tailers]) {
      if (this.stopped) return;
      let result;
      try {
        result = await entry.tailer.pump();
      } catch (err) {
        this.deps.logger.error({ err, filename }, 'cannot read the tailed file; trying again at the next poll');
        continue;
      }
      if (result === 'done') {
        for (const file of entry.metadataFiles) await rm(file, { force: true });
        await this.store.remove(filename);
        this.tailers.delete(filename);
        this.deps.logger.info({ filename }, 'finished file sent to its end; its metadata and offset are removed');
      }
    }
  }

  private async listen(): Promise<StatusServer> {
    const s = this.config.logWatcher;
    const server = await startStatusServer({
      host: s.listenHost,
      port: s.httpPort,
      routes: { '/health': () => ({ ok: true, files: this.files, lastPollAt: this.lastPollAt ?? null, ...this.counters }) },
    });
    this.port = server.port;
    return server;
  }
}
