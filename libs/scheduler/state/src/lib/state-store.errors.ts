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
