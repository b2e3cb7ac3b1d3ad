import { assertValidOp, type StateOp, type StateSnapshot, type StateStore } from './state-store.port';

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
    if (this.closed) throw new Error('state store is closed');
    ops.forEach(assertValidOp);
    for (const op of ops) {
      let records = this.data.get(op.collection);
      if (!records) this.data.set(op.collection, (records = new Map()));
      if (op.op === 'put') records.set(op.key, JSON.parse(JSON.stringify(op.value)));
      else records.delete(op.key);
    }
    if (ops.length > 0) this.commits++;
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  describe(): string {
    return 'in-memory (not durable)';
  }
}
