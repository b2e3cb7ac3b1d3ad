import { prepareOps } from './state-files';
import { StateStoreClosedError } from './state-store.errors';
import type { StateOp, StateSnapshot, StateStore } from './state-store.port';

/**
 * A StateStore that keeps everything in process memory: for unit tests of
 * code above the port. It copies values through JSON so tests catch values that
 * would not survive a real store. Not durable, by design.
 */
export class InMemoryStateStore implements StateStore {
  private readonly data: StateSnapshot = new Map();
  private closed = false;
  commits = 0;

  async open(): Promise<void> {
    this.closed = false;
  }

  async load(): Promise<StateSnapshot> {
    const copy: StateSnapshot = new Map();
    for (const [name, records] of this.data) {
      copy.set(name, new Map([...records].map(([k, v]) => [k, JSON.parse(JSON.stringify(v))])));
    }
    return copy;
  }

  async commit(ops: readonly StateOp[]): Promise<void> {
    if (this.closed) throw new StateStoreClosedError('closed');
    // Every op is checked and every value serialized before the first one applies: all or nothing.
    const prepared = prepareOps(ops);
    for (const op of prepared) {
      let records = this.data.get(op.collection);
      if (op.json !== undefined) {
        if (!records) this.data.set(op.collection, (records = new Map()));
        records.set(op.key, JSON.parse(op.json));
      } else if (records) {
        records.delete(op.key);
        if (records.size === 0) this.data.delete(op.collection);
      }
    }
    if (prepared.length > 0) this.commits++;
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  describe(): string {
    return 'in-memory (not durable)';
  }
}
