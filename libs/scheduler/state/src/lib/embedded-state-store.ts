import { SerialWriter } from './serial-writer';
import { mkdir, open, readdir, readFile, realpath, rename, unlink, type FileHandle } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { DirectoryLock } from './directory-lock';
import {
  applyOps,
  decodeSnapshot,
  encodeJournalLine,
  encodeOps,
  encodeSnapshot,
  JOURNAL_FILE,
  journalFileName,
  admitCommit,
  scanJournal,
  SNAPSHOT_FILE,
  SNAPSHOT_TMP_FILE,
  type PreparedOp,
  type SnapshotHeader,
  type StateRecords,
} from './state-files';
import { StateStoreClosedError, StateStoreError } from './state-store.errors';
import type { StateOp, StateSnapshot, StateStore } from './state-store.port';

/** The slice of a pino logger the store uses. */
export interface StateStoreLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface EmbeddedStateStoreOptions {
  /** Directory of the state files; created if missing. One store (one process) at a time. */
  directory: string;
  /** Compact once the active journal holds this many bytes (default 64 MiB). */
  compactAfterBytes?: number;
  logger?: StateStoreLogger;
}

export interface EmbeddedStateStoreStats {
  /** Generation of the active journal (`journal-<generation>.jsonl`). */
  readonly generation: number;
  /** Bytes in the active journal. */
  readonly journalBytes: number;
  /** `seq` of the last durable commit (commits are numbered from 1 for the life of the directory). */
  readonly lastSeq: number;
  /** Since `open()`: commits written, group-commit batches (one write + one fdatasync each), compactions finished. */
  readonly commits: number;
  readonly batches: number;
  readonly compactions: number;
}

const DEFAULT_COMPACT_AFTER_BYTES = 64 * 1024 * 1024;
/** A batch stops growing at this many bytes of ops (a single larger commit still goes alone). */
const MAX_BATCH_BYTES = 8 * 1024 * 1024;

type Pending =
  | {
      kind: 'commit';
      ops: PreparedOp[];
      /** The journal line's `ops`; absent for an empty commit, which writes nothing but keeps its place in line. */
      opsJson: string | undefined;
      resolve: () => void;
      reject: (err: Error) => void;
    }
  | { kind: 'compact'; resolve: (done: Promise<void>) => void; reject: (err: Error) => void };

type Status = 'new' | 'opening' | 'open' | 'closing' | 'closed';

/**
 * The scheduler's live state on local disk: a snapshot plus an append-only
 * journal of commits, with group commit. See the lib README for the format
 * and the crash-safety argument.
 *
 * Commits queue in call order. One writer takes everything queued, appends it
 * to the journal with one `write`, makes it durable with one `fdatasync`,
 * applies it to the in-memory copy that `load()` reads, then resolves the
 * commits in call order; commits arriving meanwhile form the next batch. A
 * failed write or fdatasync makes the store fail-stop: that batch and every
 * later commit reject (their outcome on disk is unknown), and the owner
 * restarts, recovering from the files.
 *
 * When the journal passes `compactAfterBytes`, the writer switches to a new
 * journal generation between two batches and, in the background, writes the
 * state as of that switch to `snapshot.json` (tmp, fsync, rename, fsync dir),
 * then deletes the older journals. Commits are not held up by compaction.
 */
export class EmbeddedStateStore implements StateStore {
  private readonly directory: string;
  private readonly compactAfterBytes: number;
  private readonly logger: StateStoreLogger | undefined;

  private status: Status = 'new';
  private opening: Promise<void> | undefined;
  private lock: DirectoryLock | undefined;
  private records: StateRecords = new Map();
  private journal: FileHandle | undefined;
  private generation = 0;
  private journalBytes = 0;
  private lastSeq = 0;
  /** Journal size that triggers the next compaction (pushed back after a failed one). */
  private compactAt = 0;

  private queue: Pending[] = [];
  private readonly writer = new SerialWriter(() => this.drain(), () => this.queue.length > 0);
  /** The snapshot being written, if any; never rejects. */
  private compaction: Promise<void> | undefined;
  private failure: Error | undefined;
  private counters = { commits: 0, batches: 0, compactions: 0 };

  constructor(options: EmbeddedStateStoreOptions) {
    this.directory = resolve(options.directory);
    this.compactAfterBytes = options.compactAfterBytes ?? DEFAULT_COMPACT_AFTER_BYTES;
    if (!(this.compactAfterBytes > 0)) throw new RangeError(`compactAfterBytes must be positive, got ${options.compactAfterBytes}`);
    this.logger = options.logger;
  }

  describe(): string {
    return this.directory;
  }

  /**
   * Creates the directory if needed, takes its LOCK, and recovers the state:
   * the snapshot, then every journal from the snapshot's generation on. A torn
   * commit at the end of the newest journal is truncated away; any other
   * damage throws `StateStoreCorruptError`. A store may be opened again after
   * `close()`.
   */
  open(): Promise<void> {
    if (this.status === 'open' || this.status === 'opening' || this.status === 'closing') {
      return Promise.reject(new StateStoreError(`state store ${this.directory} is already ${this.status}`));
    }
    this.status = 'opening';
    this.opening = this.doOpen().finally(() => (this.opening = undefined));
    return this.opening;
  }

  private async doOpen(): Promise<void> {
    try {
      await mkdir(this.directory, { recursive: true });
      this.lock = await DirectoryLock.acquire(await realpath(this.directory), this.logger);
      await this.recover();
      this.status = 'open';
    } catch (err) {
      await this.journal?.close().catch(() => undefined);
      this.journal = undefined;
      await this.lock?.release().catch(() => undefined);
      this.lock = undefined;
      this.records = new Map();
      this.status = 'closed';
      throw err;
    }
  }

  private async recover(): Promise<void> {
    const started = Date.now();
    const dir = this.directory;
    this.failure = undefined;
    this.counters = { commits: 0, batches: 0, compactions: 0 };
    // A snapshot that was never renamed into place: its compaction did not finish, the journals still hold it all.
    await unlink(join(dir, SNAPSHOT_TMP_FILE)).catch(ignoreMissing);

    let snapshot: SnapshotHeader & { records: StateRecords } = { generation: 1, lastSeq: 0, records: new Map() };
    const snapshotPath = join(dir, SNAPSHOT_FILE);
    const snapshotBytes = await readFile(snapshotPath).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined;
      throw err;
    });
    if (snapshotBytes) snapshot = decodeSnapshot(snapshotBytes, snapshotPath);

    const generations = (await readdir(dir))
      .map((name) => JOURNAL_FILE.exec(name))
      .flatMap((match) => (match ? [Number(match[1])] : []))
      .sort((a, b) => a - b);
    // Journals below the snapshot's generation are folded into it: a compaction stopped before deleting them.
    const obsolete = generations.filter((g) => g < snapshot.generation);
    for (const g of obsolete) await unlink(this.journalPath(g));
    if (obsolete.length > 0) {
      await fsyncDirectory(dir);
      this.logger?.info({ directory: dir, generations: obsolete }, 'removed journals already folded into the snapshot');
    }

    const live = generations.filter((g) => g >= snapshot.generation);
    const records = snapshot.records;
    let expectedSeq = snapshot.lastSeq + 1;
    let activeBytes = 0;
    for (let i = 0; i < live.length; i++) {
      const file = this.journalPath(live[i]);
      const bytes = await readFile(file);
      const scan = scanJournal(bytes, { file, isLast: i === live.length - 1, expectedSeq });
      for (const entry of scan.entries) applyOps(records, entry.ops);
      expectedSeq += scan.entries.length;
      activeBytes = scan.validBytes;
      if (scan.droppedTail) {
        const handle = await open(file, 'r+');
        try {
          await handle.truncate(scan.validBytes);
          await handle.sync();
        } finally {
          await handle.close();
        }
        this.logger?.warn(
          { directory: dir, file, ...scan.droppedTail },
          `dropped a torn commit at the end of ${file} (line ${scan.droppedTail.line}: ${scan.droppedTail.reason}); it was never acknowledged`,
        );
      }
    }

    this.generation = live.length > 0 ? live[live.length - 1] : snapshot.generation;
    this.journal = await open(this.journalPath(this.generation), 'a');
    // Whatever we just read may still sit only in the page cache (the last run died before its fsync):
    // make it durable before anything is built on it.
    await this.journal.datasync();
    await fsyncDirectory(dir);
    this.records = records;
    this.journalBytes = activeBytes;
    this.lastSeq = expectedSeq - 1;
    this.compactAt = this.compactAfterBytes;
    this.logger?.info(
      {
        directory: dir,
        snapshotGeneration: snapshotBytes ? snapshot.generation : undefined,
        journals: live.length,
        commitsReplayed: this.lastSeq - snapshot.lastSeq,
        lastSeq: this.lastSeq,
        records: countRecords(records),
        ms: Date.now() - started,
      },
      'state store opened',
    );
  }

  /** The state as of the last resolved commit; each call returns fresh copies of the values. */
  async load(): Promise<StateSnapshot> {
    if (this.status !== 'open') throw new StateStoreClosedError(this.status === 'closed' ? 'closed' : 'not open');
    const snapshot: StateSnapshot = new Map();
    for (const [name, collection] of this.records) {
      const values = new Map<string, unknown>();
      for (const [key, json] of collection) values.set(key, JSON.parse(json));
      snapshot.set(name, values);
    }
    return snapshot;
  }

  /**
   * Queues the ops as one commit; resolves once they are durable and visible
   * to `load()`. Invalid ops reject at once and nothing of the commit is
   * written.
   */
  commit(ops: readonly StateOp[]): Promise<void> {
    let prepared: PreparedOp[];
    try {
      prepared = admitCommit(this.status, this.failure, ops);
    } catch (err) {
      return Promise.reject(err);
    }
    // An empty commit writes nothing, but resolves only after the commits called before it.
    if (prepared.length === 0 && this.queue.length === 0 && !this.writer.busy) return Promise.resolve();
    const opsJson = prepared.length > 0 ? encodeOps(prepared) : undefined;
    return new Promise<void>((resolveCommit, rejectCommit) => {
      this.queue.push({ kind: 'commit', ops: prepared, opsJson, resolve: resolveCommit, reject: rejectCommit });
      this.writer.schedule();
    });
  }

  /**
   * Compacts now (normally it happens by itself past `compactAfterBytes`):
   * switches to a new journal after the commits already queued, then resolves
   * once the snapshot is in place and the older journals are gone.
   */
  compact(): Promise<void> {
    if (this.status !== 'open') return Promise.reject(new StateStoreClosedError(this.status === 'closed' || this.status === 'closing' ? 'closed' : 'not open'));
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<void>((resolveCompaction, rejectCompaction) => {
      this.queue.push({ kind: 'compact', resolve: resolveCompaction, reject: rejectCompaction });
      this.writer.schedule();
    });
  }

  /** Writes every commit already called, waits for a compaction in progress, closes the journal and releases the LOCK. */
  async close(): Promise<void> {
    if (this.opening) await this.opening.catch(() => undefined);
    if (this.status !== 'open') return;
    this.status = 'closing';
    await this.writer.idle();
    while (this.compaction) await this.compaction;
    try {
      await this.journal?.close();
    } finally {
      this.journal = undefined;
      this.records = new Map();
      await this.lock?.release();
      this.lock = undefined;
      this.status = 'closed';
      this.logger?.info({ directory: this.directory, lastSeq: this.lastSeq }, 'state store closed');
    }
  }

  stats(): EmbeddedStateStoreStats {
    return { generation: this.generation, journalBytes: this.journalBytes, lastSeq: this.lastSeq, ...this.counters };
  }

  // ---- group commit ----

  /** The only writer of the active journal; never rejects. */
  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      if (this.failure) {
        for (const pending of this.queue.splice(0)) pending.reject(this.failure);
        return;
      }
      const head = this.queue[0];
      if (head.kind === 'compact') {
        this.queue.shift();
        try {
          head.resolve((await this.rotate()).snapshot);
        } catch (err) {
          head.reject(err as Error);
        }
        continue;
      }
      const batch = this.takeBatch();
      const firstSeq = this.lastSeq + 1;
      let seq = this.lastSeq;
      const lines: string[] = [];
      for (const pending of batch) if (pending.opsJson !== undefined) lines.push(encodeJournalLine(++seq, firstSeq, pending.opsJson));
      if (lines.length > 0) {
        const bytes = Buffer.from(lines.join(''), 'utf8');
        try {
          await writeFully(this.journal as FileHandle, bytes);
          await (this.journal as FileHandle).datasync();
        } catch (err) {
          this.fail(err as Error, batch);
          continue;
        }
        this.journalBytes += bytes.length;
        this.lastSeq = seq;
        this.counters.commits += lines.length;
        this.counters.batches++;
      }
      for (const pending of batch) applyOps(this.records, pending.ops);
      for (const pending of batch) pending.resolve();
      if (this.journalBytes >= this.compactAt && !this.compaction) {
        // Background: a failure is logged by the snapshot writer and retried after another compactAfterBytes.
        await this.rotate().then(
          ({ snapshot }) => void snapshot.catch(() => undefined),
          () => undefined,
        );
      }
    }
  }

  private takeBatch(): Extract<Pending, { kind: 'commit' }>[] {
    let count = 0;
    let bytes = 0;
    for (; count < this.queue.length; count++) {
      const pending = this.queue[count];
      if (pending.kind !== 'commit') break;
      const size = pending.opsJson?.length ?? 0;
      if (count > 0 && bytes + size > MAX_BATCH_BYTES) break;
      bytes += size;
    }
    return this.queue.splice(0, count) as Extract<Pending, { kind: 'commit' }>[];
  }

  private fail(cause: Error, batch: Extract<Pending, { kind: 'commit' }>[]): void {
    this.failure = new StateStoreError(
      `writing the state journal ${this.journalPath(this.generation)} failed (${cause.message}); ` +
        'the store accepts no more commits and the outcome of the pending ones is unknown: restart to recover from the files',
      { cause },
    );
    this.logger?.error({ err: cause, directory: this.directory }, 'state journal write failed; the state store is now fail-stop');
    for (const pending of batch) pending.reject(this.failure);
  }

  // ---- compaction ----

  /**
   * Between two batches: starts journal generation g+1, then writes the
   * snapshot of the state as of the switch in the background. Resolves once
   * the switch is made, with the snapshot's completion (wrapped, so that
   * awaiting the switch does not wait for the snapshot).
   */
  private async rotate(): Promise<{ snapshot: Promise<void> }> {
    while (this.compaction) await this.compaction;
    const generation = this.generation + 1;
    const path = this.journalPath(generation);
    let next: FileHandle | undefined;
    try {
      next = await open(path, 'ax');
      await fsyncDirectory(this.directory); // the new journal's name is durable before any commit is acknowledged from it
    } catch (err) {
      await next?.close().catch(() => undefined);
      if (next) await unlink(path).catch(() => undefined);
      this.compactAt = this.journalBytes + this.compactAfterBytes;
      this.logger?.error({ err, directory: this.directory }, `could not start journal ${path}; compaction postponed`);
      throw err;
    }
    const previous = this.journal as FileHandle;
    this.journal = next;
    this.generation = generation;
    this.journalBytes = 0;
    this.compactAt = this.compactAfterBytes;
    await previous.close().catch(() => undefined); // fully fsynced by the batch that wrote it last

    const header: SnapshotHeader = { generation, lastSeq: this.lastSeq };
    const snapshot = this.writeSnapshot(header, copyRecords(this.records));
    this.compaction = snapshot.catch(() => undefined).finally(() => (this.compaction = undefined));
    return { snapshot };
  }

  private async writeSnapshot(header: SnapshotHeader, records: StateRecords): Promise<void> {
    const started = Date.now();
    const dir = this.directory;
    const tmp = join(dir, SNAPSHOT_TMP_FILE);
    let bytes = 0;
    try {
      const handle = await open(tmp, 'w');
      try {
        for (const chunk of encodeSnapshot(header, records)) {
          const buf = Buffer.from(chunk, 'utf8');
          await writeFully(handle, buf);
          bytes += buf.length;
        }
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(tmp, join(dir, SNAPSHOT_FILE));
      await fsyncDirectory(dir);
      // From here on the snapshot stands in for every journal below its generation.
      for (const name of await readdir(dir)) {
        const match = JOURNAL_FILE.exec(name);
        if (match && Number(match[1]) < header.generation) await unlink(join(dir, name));
      }
      await fsyncDirectory(dir);
    } catch (err) {
      await unlink(tmp).catch(() => undefined);
      this.compactAt = Math.max(this.compactAt, this.journalBytes + this.compactAfterBytes);
      this.logger?.error({ err, directory: dir, generation: header.generation }, 'state snapshot failed; the journals still hold everything');
      throw err;
    }
    this.counters.compactions++;
    this.logger?.info(
      { directory: dir, generation: header.generation, lastSeq: header.lastSeq, records: countRecords(records), bytes, ms: Date.now() - started },
      'state compacted into a snapshot',
    );
  }

  private journalPath(generation: number): string {
    return join(this.directory, journalFileName(generation));
  }
}

async function writeFully(handle: FileHandle, buf: Buffer): Promise<void> {
  for (let offset = 0; offset < buf.length; ) {
    const { bytesWritten } = await handle.write(buf, offset, buf.length - offset);
    offset += bytesWritten;
  }
}

/** Makes creations, renames and deletions in `dir` durable. */
async function fsyncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function copyRecords(records: StateRecords): StateRecords {
  const copy: StateRecords = new Map();
  for (const [name, collection] of records) copy.set(name, new Map(collection));
  return copy;
}

function countRecords(records: StateRecords): number {
  let n = 0;
  for (const collection of records.values()) n += collection.size;
  return n;
}

function ignoreMissing(err: NodeJS.ErrnoException): void {
  if (err.code !== 'ENOENT') throw err;
}
