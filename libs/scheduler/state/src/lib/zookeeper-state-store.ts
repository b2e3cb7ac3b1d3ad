import { SerialWriter } from './serial-writer';
import type { StateStoreLogger } from './embedded-state-store';
import { decodeJournalLine, encodeJournalLine, admitCommit, encodeOps, type PreparedOp } from './state-files';
import {
  StateStoreClosedError,
  StateStoreConflictError,
  StateStoreCorruptZnodeError,
  StateStoreError,
  StateStoreSessionExpiredError,
  StateStoreUnavailableError,
} from './state-store.errors';
import { COLLECTION_NAME, type StateOp, type StateSnapshot, type StateStore } from './state-store.port';
import { ZK, ZooKeeperConnection, ZooKeeperError, type ConnectionState } from './zookeeper-client';
import {
  chunkNames,
  collapseOps,
  countTargets,
  decodeCommitRecord,
  decodeKey,
  decodeRecord,
  encodeApplied,
  encodeChunkedHeader,
  encodeStagedHeader,
  normalizeRoot,
  partNames,
  splitBytes,
  targetsAsOps,
  ZooKeeperLayout,
  type BatchTargets,
} from './zookeeper-state-layout';

export interface ZooKeeperStateStoreOptions {
  /** ZooKeeper connect string, e.g. `zk1:2181,zk2:2181,zk3:2181`. */
  connect: string;
  /** The store's znode root, e.g. `/singularity` (created if missing). */
  root: string;
  /** Requested session timeout (default 15000); the server clamps it to [2, 20] × its tickTime. */
  sessionTimeoutMillis?: number;
  /**
   * How long a commit (or load, or open) waits for a lost connection to come back before it rejects
   * with `StateStoreUnavailableError` (default: the session timeout). Counted from the moment the
   * connection was lost, so once it has passed, commits reject at once until the connection is back.
   */
  reconnectTimeoutMillis?: number;
  /**
   * Largest znode data the store writes (default 1,000,000 bytes, below ZooKeeper's default
   * `jute.maxbuffer` of 1 MiB − 1 with room for the path and the request header). Larger values are
   * split into chunks, larger commit records into staged parts. Only tests lower it.
   */
  maxZnodeBytes?: number;
  /** Requests `load()` keeps in flight (default 500). */
  readConcurrency?: number;
  logger?: StateStoreLogger;
}

/** What `onConnectionEvent` listeners hear. */
export type ZooKeeperConnectionEvent = 'connected' | 'disconnected' | 'expired';

export interface ZooKeeperStateStoreStats {
  /** Number of the last batch whose commit record was written (`seq` in the record), for the life of the root. */
  readonly seq: number;
  /** Since `open()`: commits resolved, batches written, batches whose record needed staged parts, values written in chunks, reconnections. */
  readonly commits: number;
  readonly batches: number;
  readonly stagedBatches: number;
  readonly chunkedValues: number;
  readonly reconnects: number;
  /** Since `open()`: stuck client handles replaced by a new one on the same session (see ZooKeeperConnection). */
  readonly clientReplacements: number;
  /** What `open()` found: the seq of a recorded batch it (re-)applied, and leftover staged parts it deleted. */
  readonly recovery: { readonly finishedSeq: number | undefined; readonly discardedParts: number };
}

const DEFAULT_SESSION_TIMEOUT_MILLIS = 15_000;
const DEFAULT_MAX_ZNODE_BYTES = 1_000_000;
const DEFAULT_READ_CONCURRENCY = 500;
/** Writes kept in flight while applying a batch: enough to fill the pipe, bounded so a huge batch is not all buffered at once. */
const WRITE_WINDOW_REQUESTS = 1000;
const WRITE_WINDOW_BYTES = 8 * 1024 * 1024;

/** A record's children: the names of its chunks (none for a value held inline), or null when not known yet. */
type Children = readonly string[] | null;
const NO_CHILDREN: readonly string[] = Object.freeze([]);

type Pending =
  | { kind: 'commit'; ops: PreparedOp[]; size: number; resolve: () => void; reject: (err: Error) => void }
  | { kind: 'load'; resolve: (snapshot: StateSnapshot) => void; reject: (err: Error) => void };
type PendingCommit = Extract<Pending, { kind: 'commit' }>;

interface WriteOp {
  readonly kind: 'create' | 'set' | 'delete';
  readonly path: string;
  readonly data?: Buffer;
  /** The record the op belongs to (`collection/key`), to retry it as a whole. */
  readonly target: string;
}

/** A batch whose commit record is written (it will happen), not yet wholly applied. */
interface Recorded {
  readonly seq: number;
  readonly targets: BatchTargets;
  /** Staged parts of the previous record, deleted once this batch is applied. */
  readonly staleParts: readonly string[];
}

/** A commit-record write whose outcome is not known (the connection broke during it). */
interface UnknownRecord extends Recorded {
  readonly expectedVersion: number;
  readonly data: Buffer;
  readonly parts: readonly string[];
}

type Status = 'new' | 'opening' | 'open' | 'closing' | 'closed';

/**
 * The StateStore port on ZooKeeper, in Singularity's layout: one znode per
 * record, `<root>/state/<collection>/<key>`, holding the value's JSON.
 *
 * The `zookeeper` npm package binds no `multi`, so a commit cannot be one
 * ZooKeeper transaction. Instead every batch of commits goes through a
 * write-ahead record (see the lib README for the argument):
 *
 * 1. the batch's net effect (per key: its last value, or deleted) is written,
 *    as one journal line, into `<root>/last-commit` with a conditional set on
 *    the version the store last wrote. That single write is the commit point,
 *    and the version check fences off a second writer. A line larger than one
 *    znode goes into `<root>/staged/` parts first; the record then names them.
 * 2. the commits resolve (they are durable, and will be applied whole);
 * 3. the batch is applied to the record znodes, pipelined;
 * 4. only then is the next batch recorded.
 *
 * Applying a batch is idempotent, so `open()` re-applies the batch in the
 * record (unless `close()` marked it applied): a writer that died half-way
 * leaves either the previous batch or this one, never part of it.
 *
 * Single writer: the store assumes it alone writes under `root` (the leading
 * scheduler). It tracks which records exist; a write that fails because the
 * tree changed under it (NODEEXISTS, NONODE, NOTEMPTY) is retried once after
 * re-reading that record, and a second failure, or another writer's commit
 * record, makes the store fail-stop with `StateStoreConflictError`.
 *
 * Connection: a lost connection is waited for (`reconnectTimeoutMillis`);
 * steps whose outcome is unknown are re-read and redone. An expired session
 * makes the store unusable (`StateStoreSessionExpiredError`) and is announced
 * to `onConnectionEvent` listeners, so the scheduler can step down and open
 * a new store.
 */
export class ZooKeeperStateStore implements StateStore {
  private readonly connectString: string;
  private readonly layout: ZooKeeperLayout;
  private readonly sessionTimeoutMillis: number;
  private readonly reconnectTimeoutMillis: number;
  private readonly maxZnodeBytes: number;
  private readonly readConcurrency: number;
  private readonly logger: StateStoreLogger | undefined;

  private status: Status = 'new';
  private opening: Promise<void> | undefined;
  private zk: ZooKeeperConnection | undefined;
  /** When the connection was last lost (or the store started connecting). */
  private disconnectedAt = 0;
  private waiters = new Set<{ resolve: () => void; reject: (err: Error) => void }>();
  private readonly listeners = new Set<(event: ZooKeeperConnectionEvent) => void>();
  /** Set once the store cannot go on (session expired, conflict, unexpected error); everything rejects with it. */
  private failure: Error | undefined;

  /** collection → key → children of the record znode; a collection is present once its znode exists. */
  private index = new Map<string, Map<string, Children>>();
  private seq = 0;
  private recordVersion = 0;
  /** Whether `last-commit` says the batch in it is applied. */
  private recordApplied = true;
  /** Staged parts the current commit record names. */
  private stagedParts: readonly string[] = [];
  private recorded: Recorded | undefined;
  private unknownRecord: UnknownRecord | undefined;

  private queue: Pending[] = [];
  private readonly writer = new SerialWriter(() => this.drain(), () => this.queue.length > 0);
  private counters = { commits: 0, batches: 0, stagedBatches: 0, chunkedValues: 0, reconnects: 0 };
  private recovery: { finishedSeq: number | undefined; discardedParts: number } = { finishedSeq: undefined, discardedParts: 0 };
  /** `clientReplacements` of the last session, kept for stats() after close. */
  private lastReplacements = 0;

  constructor(options: ZooKeeperStateStoreOptions) {
    if (typeof options.connect !== 'string' || options.connect.trim() === '') throw new Error('ZooKeeperStateStore needs a connect string');
    this.connectString = options.connect;
    this.layout = new ZooKeeperLayout(normalizeRoot(options.root));
    this.sessionTimeoutMillis = positive('sessionTimeoutMillis', options.sessionTimeoutMillis ?? DEFAULT_SESSION_TIMEOUT_MILLIS);
    this.reconnectTimeoutMillis = positive('reconnectTimeoutMillis', options.reconnectTimeoutMillis ?? this.sessionTimeoutMillis);
    this.maxZnodeBytes = positive('maxZnodeBytes', options.maxZnodeBytes ?? DEFAULT_MAX_ZNODE_BYTES);
    this.readConcurrency = positive('readConcurrency', options.readConcurrency ?? DEFAULT_READ_CONCURRENCY);
    this.logger = options.logger;
  }

  /** `host:port,…/root`, ZooKeeper's own notation for a chrooted connect string. */
  describe(): string {
    return `zookeeper ${this.connectString}${this.layout.root === '/' ? '' : this.layout.root}`;
  }

  /**
   * Listens to the session: `connected` (also after each reconnection), `disconnected` (commits wait,
   * up to `reconnectTimeoutMillis`), `expired` (the store is unusable; step down, close it and open a
   * new one). Returns a function that removes the listener.
   */
  onConnectionEvent(listener: (event: ZooKeeperConnectionEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The ZooKeeper session (hex id and password) while there is one; for logs, and for tests that force its expiry. */
  get session(): { id: string; password: string } | undefined {
    return this.zk?.session;
  }

  stats(): ZooKeeperStateStoreStats {
    return { seq: this.seq, ...this.counters, clientReplacements: this.zk?.replacements ?? this.lastReplacements, recovery: { ...this.recovery } };
  }

  /**
   * Connects (waiting up to `reconnectTimeoutMillis`), creates the root and its children if missing,
   * and finishes the batch in the commit record if its writer did not: afterwards the tree holds whole
   * commits only. Staged parts no record names (a writer died while staging) are deleted.
   */
  open(): Promise<void> {
    if (this.status !== 'new' && this.status !== 'closed') {
      return Promise.reject(new StateStoreError(`state store ${this.describe()} is already ${this.status}`));
    }
    this.status = 'opening';
    this.opening = this.doOpen().finally(() => (this.opening = undefined));
    return this.opening;
  }

  private async doOpen(): Promise<void> {
    const started = Date.now();
    this.failure = undefined;
    this.index = new Map();
    this.recorded = undefined;
    this.unknownRecord = undefined;
    this.counters = { commits: 0, batches: 0, stagedBatches: 0, chunkedValues: 0, reconnects: 0 };
    this.recovery = { finishedSeq: undefined, discardedParts: 0 };
    this.disconnectedAt = Date.now();
    try {
      this.zk = new ZooKeeperConnection({
        connect: this.connectString,
        sessionTimeoutMillis: this.sessionTimeoutMillis,
        onStateChange: (state, code) => this.onStateChange(state, code),
        onHandleReplaced: (info) =>
          this.logger?.warn(
            { zookeeper: this.describe(), ...info },
            'the ZooKeeper client was stuck outside a connection; replaced it with a new one on the same session',
          ),
      });
      await this.withConnection(() => this.prepareTree());
      await this.recover();
      this.status = 'open';
      this.logger?.info(
        { zookeeper: this.describe(), session: this.zk.session?.id, seq: this.seq, records: this.countIndexed(), ...this.recovery, ms: Date.now() - started },
        'state store opened',
      );
    } catch (err) {
      this.zk?.close();
      this.zk = undefined;
      this.rejectWaiters(err as Error);
      this.status = 'closed';
      throw err;
    }
  }

  /** Every record as of the last resolved commit (commits called before `load()` included). */
  load(): Promise<StateSnapshot> {
    if (this.status !== 'open') return Promise.reject(new StateStoreClosedError(this.status === 'closed' || this.status === 'closing' ? 'closed' : 'not open'));
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<StateSnapshot>((resolve, reject) => {
      this.queue.push({ kind: 'load', resolve, reject });
      this.writer.schedule();
    });
  }

  /**
   * Queues the ops as one commit. Resolves once its batch's commit record is written (durable; it
   * will be applied whole, by this store or by the next `open()`); later loads see it. Invalid ops
   * reject at once and nothing of the commit is written.
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
    let size = 0;
    for (const op of prepared) size += op.key.length + op.collection.length + (op.json?.length ?? 0) + 48;
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ kind: 'commit', ops: prepared, size, resolve, reject });
      this.writer.schedule();
    });
  }

  /**
   * Writes the commits already called (each waits for the connection up to `reconnectTimeoutMillis`),
   * marks the last batch applied, and closes the session. Later commits reject.
   */
  async close(): Promise<void> {
    if (this.opening) await this.opening.catch(() => undefined);
    if (this.status !== 'open') return;
    this.status = 'closing';
    await this.writer.idle();
    const zk = this.zk as ZooKeeperConnection;
    if (!this.failure && (this.recorded || this.unknownRecord) && zk.state === 'connected') {
      // A batch recorded while the connection was down: apply it now rather than leave it to the next open.
      await this.finishPending().catch(() => undefined);
    }
    if (!this.failure && zk.state === 'connected' && !this.recorded && !this.unknownRecord && !this.recordApplied) {
      // Spares the next open() re-applying the last batch; harmless if it does not happen.
      try {
        const stat = await zk.set(this.layout.lastCommit, encodeApplied(this.seq), this.recordVersion);
        this.recordVersion = stat.version;
        this.recordApplied = true;
        for (const part of this.stagedParts) await zk.delete(`${this.layout.staged}/${part}`).catch(() => undefined);
      } catch (err) {
        this.logger?.warn({ err, zookeeper: this.describe() }, 'could not mark the last batch applied; the next open re-applies it');
      }
    }
    this.lastReplacements = zk.replacements;
    zk.close();
    this.zk = undefined;
    this.index = new Map();
    this.status = 'closed';
    this.logger?.info({ zookeeper: this.describe(), seq: this.seq }, 'state store closed');
  }

  // ---- the queue ----

  /** The only writer; never rejects. */
  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      if (this.failure) {
        for (const pending of this.queue.splice(0)) pending.reject(this.failure);
        return;
      }
      try {
        await this.finishPending();
      } catch (err) {
        // No connection (past the bound) or fail-stop: everything queued now is rejected, unwritten.
        for (const pending of this.queue.splice(0)) pending.reject(err as Error);
        continue;
      }
      const head = this.queue[0];
      if (head.kind === 'load') {
        this.queue.shift();
        try {
          head.resolve(await this.withConnection(() => this.readAll()));
        } catch (err) {
          head.reject(this.fatalOr(err));
        }
        continue;
      }
      const batch = this.takeBatch();
      const targets: BatchTargets = new Map();
      for (const pending of batch) collapseOps(pending.ops, targets);
      if (countTargets(targets) === 0) {
        for (const pending of batch) pending.resolve();
        continue;
      }
      try {
        await this.record(this.seq + 1, targets);
      } catch (err) {
        for (const pending of batch) pending.reject(this.fatalOr(err));
        continue;
      }
      this.counters.commits += batch.length;
      this.counters.batches++;
      for (const pending of batch) pending.resolve();
      try {
        await this.finishPending();
      } catch {
        // Recorded, so it stays due: the next queued item (or the next open) applies it first.
      }
    }
  }

  private takeBatch(): PendingCommit[] {
    let count = 0;
    let size = 0;
    for (; count < this.queue.length; count++) {
      const pending = this.queue[count];
      if (pending.kind !== 'commit') break;
      if (count > 0 && size + pending.size > this.maxZnodeBytes) break;
      size += pending.size;
    }
    return this.queue.splice(0, count) as PendingCommit[];
  }

  /** Applies a recorded batch not yet applied, after learning whether an interrupted record write landed. */
  private async finishPending(): Promise<void> {
    if (this.unknownRecord) {
      const unknown = this.unknownRecord;
      const written = await this.withConnection(() => this.recordOutcome(unknown));
      this.unknownRecord = undefined;
      if (written) {
        this.adoptRecord(unknown);
        this.logger?.warn(
          { zookeeper: this.describe(), seq: unknown.seq },
          'a batch whose commits were rejected as unavailable had in fact been recorded; applying it, as a new open() would',
        );
      } else {
        this.logger?.info({ zookeeper: this.describe(), seq: unknown.seq }, 'a batch rejected as unavailable was not recorded; nothing of it is written');
      }
    }
    if (this.recorded) {
      const recorded = this.recorded;
      await this.withConnection(() => this.apply(recorded.seq, recorded.targets));
      for (const part of recorded.staleParts) await this.withConnection(() => this.deleteIfExists(`${this.layout.staged}/${part}`));
      this.recorded = undefined;
    }
  }

  // ---- the commit record ----

  /** Writes batch `seq`'s commit record: the commit point. Throws if it was not written (or may not have been). */
  private async record(seq: number, targets: BatchTargets): Promise<void> {
    const zk = () => this.zk as ZooKeeperConnection;
    const line = Buffer.from(encodeJournalLine(seq, seq, encodeOps(targetsAsOps(targets))).slice(0, -1), 'utf8');
    let data: Buffer = line;
    let parts: string[] = [];
    if (line.length > this.maxZnodeBytes) {
      const pieces = splitBytes(line, this.maxZnodeBytes);
      parts = partNames(seq, pieces.length);
      // Staged parts are inert until a record names them; a crash here leaves leftovers that open() deletes.
      const failed = await this.withConnection(() =>
        this.runWrites(parts.map((part, i) => ({ kind: 'create', path: `${this.layout.staged}/${part}`, data: pieces[i], target: part })), 'upsert'),
      );
      if (failed.size > 0) throw [...failed.values()][0];
      data = encodeStagedHeader({ seq, parts, bytes: line.length });
    }
    const attempt: UnknownRecord = { seq, targets, staleParts: this.stagedParts, expectedVersion: this.recordVersion, data, parts };
    for (;;) {
      await this.waitForConnection(); // throws before anything is sent: the batch is not written
      try {
        const stat = await zk().set(this.layout.lastCommit, data, attempt.expectedVersion);
        this.recordVersion = stat.version;
        break;
      } catch (err) {
        if (err instanceof ZooKeeperError && err.code === ZK.BADVERSION) throw this.conflict(`the commit record ${this.layout.lastCommit} was written by someone else`);
        if (!(err instanceof ZooKeeperError && (err.isConnectionLoss || err.isSessionEnd))) throw err;
      }
      // The connection broke during the write: did it land?
      let written: boolean;
      try {
        written = await this.withConnection(() => this.recordOutcome(attempt));
      } catch (err) {
        if (!this.failure) this.unknownRecord = attempt;
        const cause = this.failure ?? (err as Error);
        throw cause instanceof StateStoreUnavailableError
          ? new StateStoreUnavailableError(
              `${cause.message}; the connection broke while batch ${seq} was being recorded, so whether its commits happened is unknown ` +
                '(if they did, they are applied whole once the connection is back, or by the next open)',
              'unknown',
              { cause },
            )
          : cause;
      }
      if (written) break;
    }
    this.adoptRecord(attempt);
    if (parts.length > 0) this.counters.stagedBatches++;
  }

  private adoptRecord(attempt: UnknownRecord): void {
    this.seq = attempt.seq;
    this.recordApplied = false;
    this.stagedParts = attempt.parts;
    this.recorded = { seq: attempt.seq, targets: attempt.targets, staleParts: attempt.staleParts };
  }

  /** Whether an interrupted record write landed: the record is exactly ours, one version on. */
  private async recordOutcome(attempt: UnknownRecord): Promise<boolean> {
    // After a reconnection the server may be a follower that has not seen our write yet.
    await (this.zk as ZooKeeperConnection).sync(this.layout.lastCommit);
    const { stat, data } = await (this.zk as ZooKeeperConnection).get(this.layout.lastCommit);
    if (stat.version === attempt.expectedVersion + 1 && data.equals(attempt.data)) {
      this.recordVersion = stat.version;
      return true;
    }
    if (stat.version === attempt.expectedVersion) return false;
    throw this.conflict(`the commit record ${this.layout.lastCommit} was written by someone else (version ${stat.version}, expected ${attempt.expectedVersion})`);
  }

  // ---- applying a batch ----

  /**
   * Makes every record of the batch hold its target (or be absent): refreshes the records whose children
   * are unknown, then writes, pipelined. A record whose write fails (the tree changed under the store)
   * is re-read and written once more; a second failure is a conflict. Idempotent: repeating it from any
   * half-applied state gives the same tree.
   */
  private async apply(seq: number, targets: BatchTargets): Promise<void> {
    const zk = this.zk as ZooKeeperConnection;
    await this.refresh(targets, (children) => children === null);

    const newCollections = [...targets.keys()].filter((c) => !this.index.has(c) && [...(targets.get(c) as Map<string, unknown>).values()].some((j) => j !== undefined));
    await Promise.all(newCollections.map((c) => zk.ensure(this.layout.collection(c))));
    for (const c of newCollections) this.index.set(c, new Map());

    let failed: Map<string, ZooKeeperError>;
    try {
      failed = await this.runWrites(this.plan(seq, targets), 'strict');
    } catch (err) {
      // Lost mid-way: some writes may have landed. Forget what the index says about these records, so
      // the retry (withConnection runs apply again) re-reads them first.
      for (const [collection, keys] of targets) {
        const records = this.index.get(collection);
        if (records) for (const key of keys.keys()) records.set(key, null);
      }
      throw err;
    }
    if (failed.size > 0) {
      const retry: BatchTargets = new Map();
      for (const id of failed.keys()) {
        const [collection, key] = splitTarget(id);
        collapseOps([{ collection, key, json: targets.get(collection)?.get(key) }], retry);
      }
      this.logger?.warn(
        { zookeeper: this.describe(), seq, records: failed.size, first: [...failed.values()][0]?.message },
        'records changed under the state store; re-reading them and writing once more',
      );
      for (const collection of retry.keys()) {
        await zk.ensure(this.layout.collection(collection));
        if (!this.index.has(collection)) this.index.set(collection, new Map());
      }
      await this.refresh(retry, () => true);
      const again = await this.runWrites(this.plan(seq, retry), 'strict');
      if (again.size > 0) {
        const [id, err] = [...again.entries()][0];
        throw this.conflict(`record ${id} changed under the store twice while batch ${seq} was applied (${err.message})`);
      }
    }
    for (const [collection, keys] of targets) {
      const records = this.index.get(collection);
      for (const [key, json] of keys) {
        if (json === undefined) records?.delete(key);
        else {
          const bytes = Buffer.byteLength(json, 'utf8');
          if (bytes <= this.maxZnodeBytes) records?.set(key, NO_CHILDREN);
          else {
            records?.set(key, chunkNames(seq, Math.ceil(bytes / this.maxZnodeBytes)));
            this.counters.chunkedValues++;
          }
        }
      }
    }
  }

  /** The writes that take each record from what the index says to its target. */
  private plan(seq: number, targets: BatchTargets): WriteOp[] {
    const ops: WriteOp[] = [];
    for (const [collection, keys] of targets) {
      const records = this.index.get(collection);
      for (const [key, json] of keys) {
        const target = `${collection}/${key}`;
        const path = this.layout.record(collection, key);
        const existing = records?.get(key);
        const children = existing ?? NO_CHILDREN;
        if (json === undefined) {
          if (existing === undefined) continue;
          for (const child of children) ops.push({ kind: 'delete', path: `${path}/${child}`, target });
          ops.push({ kind: 'delete', path, target });
          continue;
        }
        const bytes = Buffer.from(json, 'utf8');
        if (bytes.length <= this.maxZnodeBytes) {
          ops.push({ kind: existing === undefined ? 'create' : 'set', path, data: bytes, target });
          for (const child of children) ops.push({ kind: 'delete', path: `${path}/${child}`, target });
          continue;
        }
        // Too large for one znode: chunks named after this batch, then the header naming them, then the
        // old chunks go. Readers see the old value or the new one (never a mix) at every step.
        const pieces = splitBytes(bytes, this.maxZnodeBytes);
        const names = chunkNames(seq, pieces.length);
        const header = encodeChunkedHeader({ chunks: names, bytes: bytes.length });
        if (existing === undefined) ops.push({ kind: 'create', path, data: header, target });
        names.forEach((name, i) => ops.push({ kind: children.includes(name) ? 'set' : 'create', path: `${path}/${name}`, data: pieces[i], target }));
        if (existing !== undefined) ops.push({ kind: 'set', path, data: header, target });
        for (const child of children) if (!names.includes(child)) ops.push({ kind: 'delete', path: `${path}/${child}`, target });
      }
    }
    return ops;
  }

  /**
   * Issues `ops` in order with a bounded window (ZooKeeper applies one session's requests in the order
   * sent, so a parent's create precedes its children's). Returns the failures per target. A lost
   * connection or session throws once everything in flight has settled. `upsert`: a create that finds
   * the znode sets it, a delete that finds none is done.
   */
  private async runWrites(ops: readonly WriteOp[], mode: 'strict' | 'upsert'): Promise<Map<string, ZooKeeperError>> {
    const zk = this.zk as ZooKeeperConnection;
    const failed = new Map<string, ZooKeeperError>();
    let lost: Error | undefined;
    const window = new RequestWindow(WRITE_WINDOW_REQUESTS, WRITE_WINDOW_BYTES);
    for (const op of ops) {
      if (lost) break;
      if (failed.has(op.target) && mode === 'strict') continue; // this record is retried as a whole
      await window.start(op.data?.length ?? 0, async () => {
        try {
          if (op.kind === 'create') {
            try {
              await zk.create(op.path, op.data as Buffer);
            } catch (err) {
              if (mode === 'upsert' && err instanceof ZooKeeperError && err.code === ZK.NODEEXISTS) await zk.set(op.path, op.data as Buffer);
              else throw err;
            }
          } else if (op.kind === 'set') await zk.set(op.path, op.data as Buffer);
          else await zk.delete(op.path);
        } catch (err) {
          if (op.kind === 'delete' && err instanceof ZooKeeperError && err.code === ZK.NONODE && mode === 'upsert') return;
          if (err instanceof ZooKeeperError && !err.isConnectionLoss && !err.isSessionEnd) {
            if (!failed.has(op.target)) failed.set(op.target, err);
          } else lost ??= err as Error;
        }
      });
    }
    await window.drain();
    if (lost) throw lost;
    return failed;
  }

  /** Re-reads the records of `targets` that `which` selects: whether they exist, and their children. */
  private async refresh(targets: BatchTargets, which: (children: Children | undefined) => boolean): Promise<void> {
    const zk = this.zk as ZooKeeperConnection;
    const todo: [string, string][] = [];
    for (const [collection, keys] of targets) {
      const records = this.index.get(collection);
      for (const key of keys.keys()) if (records && which(records.get(key))) todo.push([collection, key]);
    }
    await forEachBounded(todo, this.readConcurrency, async ([collection, key]) => {
      const path = this.layout.record(collection, key);
      const stat = await zk.exists(path);
      let children: Children | undefined;
      if (!stat) children = undefined;
      else if (stat.numChildren === 0) children = NO_CHILDREN;
      else {
        try {
          children = await zk.children(path);
        } catch (err) {
          if (!(err instanceof ZooKeeperError && err.code === ZK.NONODE)) throw err;
          children = undefined;
        }
      }
      const records = this.index.get(collection) as Map<string, Children>;
      if (children === undefined) records.delete(key);
      else records.set(key, children);
    });
  }

  private async deleteIfExists(path: string): Promise<void> {
    try {
      await (this.zk as ZooKeeperConnection).delete(path);
    } catch (err) {
      if (!(err instanceof ZooKeeperError && err.code === ZK.NONODE)) throw err;
    }
  }

  // ---- reading ----

  /** Reads every record (children lists in parallel, then the data with `readConcurrency` requests in flight) and rebuilds the index. */
  private async readAll(): Promise<StateSnapshot> {
    const zk = this.zk as ZooKeeperConnection;
    const started = Date.now();
    const listing = await this.listRecords();
    const snapshot: StateSnapshot = new Map();
    const index = new Map<string, Map<string, Children>>();
    const work: [string, string, string][] = [];
    for (const [collection, names] of listing) {
      index.set(collection, new Map());
      for (const [name, key] of names) work.push([collection, name, key]);
    }
    let bytes = 0;
    await forEachBounded(work, this.readConcurrency, async ([collection, name, key]) => {
      const path = `${this.layout.collection(collection)}/${name}`;
      let got: { stat: { numChildren: number }; data: Buffer };
      try {
        got = await zk.get(path);
      } catch (err) {
        if (err instanceof ZooKeeperError && err.code === ZK.NONODE) return; // deleted by someone else since the listing
        throw err;
      }
      bytes += got.data.length;
      let record;
      try {
        record = decodeRecord(got.data);
      } catch (err) {
        throw new StateStoreCorruptZnodeError(path, (err as Error).message);
      }
      let json: string;
      let children: Children;
      if (record.kind === 'inline') {
        json = record.json;
        children = got.stat.numChildren === 0 ? NO_CHILDREN : null;
      } else {
        const pieces = await Promise.all(
          record.header.chunks.map((chunk) =>
            zk.get(`${path}/${chunk}`).then(
              (c) => c.data,
              (err) => {
                throw err instanceof ZooKeeperError && err.code === ZK.NONODE ? new StateStoreCorruptZnodeError(path, `chunk ${chunk} is missing`) : err;
              },
            ),
          ),
        );
        const all = Buffer.concat(pieces);
        if (all.length !== record.header.bytes) throw new StateStoreCorruptZnodeError(path, `chunks hold ${all.length} bytes, the header says ${record.header.bytes}`);
        bytes += all.length;
        json = all.toString('utf8');
        children = got.stat.numChildren === record.header.chunks.length ? record.header.chunks : null;
      }
      let value: unknown;
      try {
        value = JSON.parse(json);
      } catch (err) {
        throw new StateStoreCorruptZnodeError(path, `not JSON (${(err as Error).message})`);
      }
      let records = snapshot.get(collection);
      if (!records) snapshot.set(collection, (records = new Map()));
      records.set(key, value);
      (index.get(collection) as Map<string, Children>).set(key, children);
    });
    this.index = index;
    this.logger?.info({ zookeeper: this.describe(), records: work.length, bytes, ms: Date.now() - started }, 'state loaded');
    return snapshot;
  }

  /** collection → [znode name, key] of every record; names the store cannot have written are skipped with a warning. */
  private async listRecords(): Promise<Map<string, [string, string][]>> {
    const zk = this.zk as ZooKeeperConnection;
    const collections = (await zk.children(this.layout.state)).filter((name) => {
      if (COLLECTION_NAME.test(name)) return true;
      this.logger?.warn({ zookeeper: this.describe(), znode: this.layout.collection(name) }, 'ignoring a znode that is not a state collection');
      return false;
    });
    const listing = new Map<string, [string, string][]>();
    await forEachBounded(collections, this.readConcurrency, async (collection) => {
      const names = await zk.children(this.layout.collection(collection));
      const records: [string, string][] = [];
      for (const name of names) {
        const key = decodeKey(name);
        if (key === undefined || key.length > 1024) {
          this.logger?.warn({ zookeeper: this.describe(), znode: `${this.layout.collection(collection)}/${name}` }, 'ignoring a znode that is not a state record');
        } else records.push([name, key]);
      }
      listing.set(collection, records);
    });
    return listing;
  }

  // ---- opening ----

  private async prepareTree(): Promise<void> {
    const zk = this.zk as ZooKeeperConnection;
    for (const path of this.layout.ancestors()) await zk.ensure(path);
    await zk.ensure(this.layout.state);
    await zk.ensure(this.layout.staged);
    await zk.ensure(this.layout.lastCommit);
  }

  /** Reads the commit record, the index of records, finishes the recorded batch, and deletes stray staged parts. */
  private async recover(): Promise<void> {
    const zk = () => this.zk as ZooKeeperConnection;
    // Read what the leader has, not what a lagging follower has seen so far.
    const { stat, data } = await this.withConnection(async () => {
      await zk().sync(this.layout.root);
      return zk().get(this.layout.lastCommit);
    });
    this.recordVersion = stat.version;
    let record;
    try {
      record = decodeCommitRecord(data);
    } catch (err) {
      throw new StateStoreCorruptZnodeError(this.layout.lastCommit, (err as Error).message);
    }
    let line: Buffer | undefined;
    this.stagedParts = [];
    this.seq = 0;
    this.recordApplied = true;
    if (record.kind === 'applied') this.seq = record.seq;
    else if (record.kind === 'inline') line = record.line;
    else if (record.kind === 'staged') {
      const header = record.header;
      const pieces = await this.withConnection(() =>
        Promise.all(
          header.parts.map((part) =>
            zk()
              .get(`${this.layout.staged}/${part}`)
              .then(
                (p) => p.data,
                (err) => {
                  throw err instanceof ZooKeeperError && err.code === ZK.NONODE
                    ? new StateStoreCorruptZnodeError(this.layout.lastCommit, `staged part ${part} is missing`)
                    : err;
                },
              ),
          ),
        ),
      );
      line = Buffer.concat(pieces);
      if (line.length !== header.bytes) throw new StateStoreCorruptZnodeError(this.layout.lastCommit, `staged parts hold ${line.length} bytes, the record says ${header.bytes}`);
      this.stagedParts = header.parts;
    }
    let targets: BatchTargets | undefined;
    if (line) {
      const decoded = decodeJournalLine(line);
      if (!decoded.ok) throw new StateStoreCorruptZnodeError(this.layout.lastCommit, decoded.reason);
      this.seq = decoded.entry.seq;
      targets = collapseOps(decoded.entry.ops);
    }

    const listing = await this.withConnection(() => this.listRecords());
    this.index = new Map([...listing].map(([collection, names]) => [collection, new Map(names.map(([, key]) => [key, null]))]));

    if (targets) {
      // The writer may have died before applying all of it (or applied it all and closed without marking
      // it): applying it again is harmless either way.
      await this.withConnection(() => this.apply(this.seq, targets));
      this.recordApplied = false;
      this.recovery.finishedSeq = this.seq;
    }
    const strays = (await this.withConnection(() => zk().children(this.layout.staged))).filter((part) => !this.stagedParts.includes(part));
    for (const part of strays) await this.withConnection(() => this.deleteIfExists(`${this.layout.staged}/${part}`));
    this.recovery.discardedParts = strays.length;
    if (strays.length > 0) {
      this.logger?.info({ zookeeper: this.describe(), parts: strays.length }, 'deleted staged parts of a commit record that was never written');
    }
  }

  // ---- connection ----

  /** Runs `step` once connected; after a connection loss during it, waits for the connection and runs it again. */
  private async withConnection<T>(step: () => Promise<T>): Promise<T> {
    for (;;) {
      await this.waitForConnection();
      try {
        return await step();
      } catch (err) {
        if (err instanceof ZooKeeperError && err.isConnectionLoss && !this.failure) {
          this.logger?.info({ zookeeper: this.describe(), err: err.message }, 'a ZooKeeper request was cut off by a lost connection; redoing the step once connected');
          continue;
        }
        throw this.fatalOr(err);
      }
    }
  }

  /** Resolves while connected; waits up to `reconnectTimeoutMillis` from the loss of the connection. */
  private waitForConnection(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    const zk = this.zk;
    if (!zk || zk.state === 'closed') return Promise.reject(new StateStoreClosedError('closed'));
    if (zk.state === 'connected') return Promise.resolve();
    const remaining = this.disconnectedAt + this.reconnectTimeoutMillis - Date.now();
    if (remaining <= 0) return Promise.reject(this.unavailable());
    return new Promise<void>((resolve, reject) => {
      const waiter = {
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (err: Error) => {
          clearTimeout(timer);
          reject(err);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(this.unavailable());
      }, remaining);
      this.waiters.add(waiter);
    });
  }

  private unavailable(): StateStoreUnavailableError {
    const since = Date.now() - this.disconnectedAt;
    return new StateStoreUnavailableError(
      this.status === 'opening'
        ? `could not connect to ZooKeeper at ${this.connectString} within ${this.reconnectTimeoutMillis} ms`
        : `no connection to ZooKeeper at ${this.connectString} for ${since} ms (reconnectTimeoutMillis ${this.reconnectTimeoutMillis}); the store keeps reconnecting`,
    );
  }

  private onStateChange(state: ConnectionState, code?: number): void {
    if (state === 'connected') {
      const wasDown = this.disconnectedAt > 0 && this.status !== 'opening';
      if (wasDown) this.counters.reconnects++;
      this.logger?.info(
        { zookeeper: this.describe(), session: this.zk?.session?.id, timeoutMs: this.zk?.negotiatedTimeoutMillis, downMs: Date.now() - this.disconnectedAt },
        wasDown ? 'reconnected to ZooKeeper' : 'connected to ZooKeeper',
      );
      this.disconnectedAt = 0;
      for (const waiter of [...this.waiters]) waiter.resolve();
      this.waiters.clear();
      this.emit('connected');
    } else if (state === 'disconnected') {
      this.disconnectedAt = Date.now();
      this.logger?.warn({ zookeeper: this.describe(), session: this.zk?.session?.id }, 'lost the connection to ZooKeeper; commits wait for it');
      this.emit('disconnected');
    } else if (state === 'expired') {
      this.failure ??= new StateStoreSessionExpiredError(
        `the ZooKeeper session of the state store at ${this.describe()} ${code === ZK.AUTHFAILED ? 'failed to authenticate' : 'expired'}; ` +
          'the store is unusable: step down, close it and open a new store to reload the state',
      );
      this.logger?.error({ zookeeper: this.describe(), code }, 'ZooKeeper session ended; the state store is unusable');
      this.rejectWaiters(this.failure);
      this.emit('expired');
    }
  }

  private rejectWaiters(err: Error): void {
    for (const waiter of [...this.waiters]) waiter.reject(err);
    this.waiters.clear();
  }

  private emit(event: ZooKeeperConnectionEvent): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(event);
      } catch (err) {
        this.logger?.error({ err, event }, 'a ZooKeeper connection listener threw');
      }
    }
  }

  // ---- failure ----

  private conflict(what: string): StateStoreConflictError {
    return this.fail(
      new StateStoreConflictError(
        `${what}. The state store assumes it is the only writer under ${this.describe()} (the leading scheduler); ` +
          'it accepts no more commits: step down and reload',
      ),
    ) as StateStoreConflictError;
  }

  /** Fail-stop: from now on everything rejects with `err`. */
  private fail(err: Error): Error {
    if (!this.failure) {
      this.failure = err;
      this.logger?.error({ err, zookeeper: this.describe() }, 'the state store stopped accepting commits');
      this.rejectWaiters(err);
    }
    return this.failure;
  }

  /**
   * What to reject with: an unavailable connection is transient; a session's end is the expiry already
   * recorded; anything else is unexpected and makes the store fail-stop.
   */
  private fatalOr(err: unknown): Error {
    if (this.failure) return this.failure;
    if (err instanceof StateStoreUnavailableError || err instanceof StateStoreClosedError) return err;
    if (err instanceof ZooKeeperError && err.isSessionEnd) {
      return this.fail(new StateStoreSessionExpiredError(`the ZooKeeper session of the state store at ${this.describe()} ended (${err.message})`));
    }
    if (err instanceof StateStoreError) return this.fail(err);
    return this.fail(new StateStoreError(`state store ${this.describe()}: ${(err as Error).message}`, { cause: err }));
  }

  private countIndexed(): number {
    let n = 0;
    for (const records of this.index.values()) n += records.size;
    return n;
  }
}

function positive(name: string, value: number): number {
  if (!(Number.isFinite(value) && value > 0)) throw new RangeError(`${name} must be a positive number, got ${value}`);
  return value;
}

function splitTarget(id: string): [string, string] {
  const slash = id.indexOf('/');
  return [id.slice(0, slash), id.slice(slash + 1)];
}

/** Runs `fn` over `items` with at most `limit` in flight; stops starting new ones after the first failure, which it throws. */
async function forEachBounded<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: unknown;
  const worker = async () => {
    while (failure === undefined && next < items.length) {
      const item = items[next++];
      try {
        await fn(item);
      } catch (err) {
        failure ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure !== undefined) throw failure;
}

/** Keeps at most `maxRequests` requests (and `maxBytes` of their data) in flight, started in order. */
class RequestWindow {
  private requests = 0;
  private bytes = 0;
  private readonly inFlight = new Set<Promise<void>>();
  private wake: (() => void) | undefined;

  constructor(
    private readonly maxRequests: number,
    private readonly maxBytes: number,
  ) {}

  /** Waits for room (a request larger than `maxBytes` goes alone), then starts `run`; does not wait for it to finish. */
  async start(bytes: number, run: () => Promise<void>): Promise<void> {
    while (this.requests >= this.maxRequests || (this.requests > 0 && this.bytes + bytes > this.maxBytes)) {
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
    this.requests++;
    this.bytes += bytes;
    const done = run().finally(() => {
      this.requests--;
      this.bytes -= bytes;
      this.inFlight.delete(done);
      const wake = this.wake;
      this.wake = undefined;
      wake?.();
    });
    this.inFlight.add(done);
  }

  async drain(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
  }
}
