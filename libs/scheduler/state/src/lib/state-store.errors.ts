/**
 * Errors of the state store. They are start-up or fail-stop conditions: the
 * scheduler logs the message and exits, and an operator acts on it, so each
 * message names the file, line, directory or process involved.
 */
export class StateStoreError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StateStoreError';
  }
}

/** `commit` (or `load`) on a store that is not open, or no longer. */
export class StateStoreClosedError extends StateStoreError {
  constructor(what: string) {
    super(`state store is ${what}`);
    this.name = 'StateStoreClosedError';
  }
}

/** Another live process (or another store in this one) holds the directory. */
export class StateStoreLockedError extends StateStoreError {
  constructor(
    readonly directory: string,
    readonly holderPid: number,
    message: string,
  ) {
    super(message);
    this.name = 'StateStoreLockedError';
  }
}

/**
 * A state file fails its checks in a place a crash cannot explain: a line in
 * the middle of a journal, a snapshot, a gap in the commit sequence. The store
 * refuses to open rather than start from a state it cannot vouch for.
 */
export class StateStoreCorruptError extends StateStoreError {
  constructor(
    readonly file: string,
    readonly line: number | undefined,
    readonly reason: string,
  ) {
    super(
      `state file ${file} is corrupt${line === undefined ? '' : ` at line ${line}`}: ${reason}. ` +
        'The store will not open; restore the directory from a backup, or move the file aside knowing the commits in it are lost.',
    );
    this.name = 'StateStoreCorruptError';
  }
}

/**
 * The store cannot reach its backing service (the ZooKeeper store: no connection, or not back within
 * `reconnectTimeoutMillis`). Unlike the other errors this one can be transient: the store keeps
 * reconnecting, and commits called after the connection is back succeed.
 *
 * `outcome` says what became of the commit that was rejected:
 * - `not-written`: nothing of it was written; it never will be.
 * - `unknown`: the connection broke while its commit record was being written. If the write did land,
 *   the store applies the commit (whole) once the connection is back, or the next `open()` does; if it
 *   did not, nothing of it is ever written. Callers that keep state in memory must reload it.
 */
export class StateStoreUnavailableError extends StateStoreError {
  constructor(
    message: string,
    readonly outcome: 'not-written' | 'unknown' = 'not-written',
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'StateStoreUnavailableError';
  }
}

/**
 * The ZooKeeper session of the store expired (or was closed by the server). The store is unusable from
 * then on: every commit and load rejects with this error. The owner gives up leadership, closes the
 * store and opens a new one (which loads everything again). A commit rejected with it has the same
 * `unknown` outcome as in `StateStoreUnavailableError`: a new store's `open()` finishes it if its commit
 * record was written.
 */
export class StateStoreSessionExpiredError extends StateStoreError {
  constructor(message: string) {
    super(message);
    this.name = 'StateStoreSessionExpiredError';
  }
}

/**
 * Someone else wrote where this store assumes it is the only writer: another store's commit record
 * (a second leader), or a record changed under it twice in a row. The store stops accepting commits
 * (fail-stop); the owner steps down and reloads.
 */
export class StateStoreConflictError extends StateStoreError {
  constructor(message: string) {
    super(message);
    this.name = 'StateStoreConflictError';
  }
}

/**
 * A znode under the store's root holds data the store did not write and cannot read (not JSON, a
 * chunked value with missing chunks, a damaged commit record). The store refuses to open rather than
 * start from a state it cannot vouch for.
 */
export class StateStoreCorruptZnodeError extends StateStoreError {
  constructor(
    readonly path: string,
    readonly reason: string,
  ) {
    super(
      `state znode ${path} is corrupt: ${reason}. The store will not open; ` +
        'restore it from a backup, or delete the znode knowing the record (or commit) in it is lost.',
    );
    this.name = 'StateStoreCorruptZnodeError';
  }
}
