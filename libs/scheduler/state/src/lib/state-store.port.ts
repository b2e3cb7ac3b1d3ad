/**
 * The scheduler's live state, as a durable map of collections of JSON values.
 *
 * Singularity keeps its live state in ZooKeeper (`/requests/all/{id}`,
 * `/tasks/active/{id}`, …); we keep the same shape, one collection per znode
 * directory, so the embedded journal and the ZooKeeper store are
 * interchangeable. The scheduler reads everything once at start (`load`),
 * serves reads from its own in-memory indexes, and writes through `commit`.
 *
 * Contract (run by `describeStateStoreContract` against every implementation):
 * - `commit` is atomic: after a crash either every op of a commit is visible
 *   on the next `load`, or none is. A commit that rejects because an op is
 *   invalid writes nothing.
 * - `commit` is durable: once its promise resolves the ops survive `kill -9`
 *   of the process (and, for the embedded store, a power loss after fsync).
 * - Commits are applied, and their promises resolve, in the order they were
 *   called, also when many are in flight at once (the embedded store writes
 *   them in groups: one write and one fsync per group).
 * - `load` returns the state as of the last resolved commit, as fresh copies:
 *   values are copied in on `commit` and out on `load`.
 * - Values round-trip as JSON: what `JSON.stringify` drops is dropped (an
 *   `undefined` member), a Date comes back as its ISO string, and a value it
 *   cannot encode (top-level `undefined`, a function, a BigInt, a cycle)
 *   rejects the commit.
 * - Keys are non-empty strings of at most 1024 characters without `/` or NUL;
 *   collection names match `[a-z][a-zA-Z0-9-]*`.
 * - After `close` (which first finishes the commits already called), commits
 *   reject.
 */
export interface StateStore {
  /** Opens the store (creating it if needed) and takes any lock it needs. */
  open(): Promise<void>;
  /** Every record of every collection: collection → key → value. */
  load(): Promise<StateSnapshot>;
  /** Applies the ops atomically and durably, in call order. An empty list is a no-op. */
  commit(ops: readonly StateOp[]): Promise<void>;
  /** Flushes and releases resources. Commits after close reject. */
  close(): Promise<void>;
  /** Where the data lives, for the start-up log (e.g. a directory or a ZooKeeper connect string). */
  describe(): string;
}

export type StateSnapshot = Map<string, Map<string, unknown>>;

export type StateOp =
  | { op: 'put'; collection: string; key: string; value: unknown }
  | { op: 'delete'; collection: string; key: string };

/** Nest injection token for the StateStore port. */
export const STATE_STORE = Symbol('StateStore');

export const COLLECTION_NAME = /^[a-z][a-zA-Z0-9-]*$/;

/**
 * Throws on a malformed op; implementations call it on every op of a commit
 * before writing any of them, so a bad op rejects the whole commit.
 */
export function assertValidOp(op: StateOp): void {
  if (typeof op.collection !== 'string' || !COLLECTION_NAME.test(op.collection)) throw new Error(`invalid state collection name '${op.collection}'`);
  if (typeof op.key !== 'string' || op.key.length === 0 || op.key.length > 1024 || op.key.includes('/') || op.key.includes('\u0000')) {
    throw new Error(`invalid state key '${String(op.key)}' in collection '${op.collection}'`);
  }
  if (op.op === 'put' && op.value === undefined) throw new Error(`undefined value for ${op.collection}/${op.key}`);
}
