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
 *   on the next `load`, or none is.
 * - `commit` is durable: once its promise resolves the ops survive `kill -9`
 *   of the process (and, for the embedded store, a power loss after fsync).
 * - Commits are applied in the order they were called.
 * - Values round-trip as JSON (no `undefined`, no functions, no Dates).
 * - Keys are non-empty strings of at most 1024 characters without `/` or NUL;
 *   collection names match `[a-z][a-zA-Z0-9-]*`.
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

/** Throws on a malformed op; implementations call it before writing anything. */
export function assertValidOp(op: StateOp): void {
  if (!COLLECTION_NAME.test(op.collection)) throw new Error(`invalid state collection name '${op.collection}'`);
  if (typeof op.key !== 'string' || op.key.length === 0 || op.key.length > 1024 || /[/\u0000]/.test(op.key)) {
    throw new Error(`invalid state key '${String(op.key)}' in collection '${op.collection}'`);
  }
  if (op.op === 'put' && op.value === undefined) throw new Error(`undefined value for ${op.collection}/${op.key}`);
}
