/// <reference types="jest" />
import type { StateOp, StateSnapshot, StateStore } from './state-store.port';

/**
 * One store under test, over its own data (a temp directory, a fresh znode
 * root, …). The suite opens and closes the stores; the fixture only makes them.
 */
export interface StateStoreFixture {
  /** A store over fresh, empty data; not opened yet. */
  readonly store: StateStore;
  /** A new store over the same data, not opened yet. Called only after the previous store is closed. */
  reopen(): Promise<StateStore>;
  /** Removes the data; called after every store of the fixture is closed. */
  cleanup(): Promise<void>;
}

export interface StateStoreContractFactory {
  /**
   * Whether the data outlives the store object (and the process). When false,
   * the cases that close, reopen and read back are left out.
   */
  readonly durable: boolean;
  create(): Promise<StateStoreFixture>;
}

/**
 * The StateStore contract (see `state-store.port.ts`) as a jest suite, run
 * against every implementation: `InMemoryStateStore`, `EmbeddedStateStore`,
 * and the ZooKeeper store. It uses only the port, so a new implementation
 * passes by behaving the same, not by sharing code. Crash behaviour (kill -9,
 * torn writes) is implementation-specific and tested beside each store.
 *
 * It touches jest's globals only when called, so importing the lib outside
 * jest is harmless.
 */
export function describeStateStoreContract(name: string, factory: StateStoreContractFactory): void {
  describe(`StateStore contract: ${name}`, () => {
    let fixture: StateStoreFixture;
    let store: StateStore;
    let opened: StateStore[];

    beforeEach(async () => {
      fixture = await factory.create();
      store = fixture.store;
      opened = [store];
      await store.open();
    });

    afterEach(async () => {
      for (const each of opened) await each.close().catch(() => undefined);
      await fixture.cleanup();
    });

    /** Closes the current store and opens a new one over the same data. */
    async function reopened(): Promise<StateStore> {
      await store.close();
      store = await fixture.reopen();
      opened.push(store);
      await store.open();
      return store;
    }

    async function contents(): Promise<Contents> {
      return plain(await store.load());
    }

    it('starts empty', async () => {
      expect(await contents()).toEqual({});
    });

    it('round-trips put, get and delete through load', async () => {
      await store.commit([put('requests', 'r1', { id: 'r1', instances: 2 }), put('requests', 'r2', { id: 'r2' })]);
      const snapshot = await store.load();
      expect(snapshot.get('requests')?.get('r1')).toEqual({ id: 'r1', instances: 2 });
      expect(snapshot.get('requests')?.get('r2')).toEqual({ id: 'r2' });

      await store.commit([del('requests', 'r1')]);
      expect(await contents()).toEqual({ requests: { r2: { id: 'r2' } } });

      await store.commit([del('requests', 'never-there'), del('no-such-collection', 'x')]);
      expect(await contents()).toEqual({ requests: { r2: { id: 'r2' } } });

      await store.commit([del('requests', 'r2')]);
      expect(await contents()).toEqual({});
    });

    it('keeps many collections apart', async () => {
      const names = ['requests', 'pending-tasks', 'tasks', 'taskUpdates', 'agents', 'racks', 'a', 'deploy-states2'];
      const expected: Contents = {};
      for (const [i, collection] of names.entries()) {
        const ops = Array.from({ length: 25 }, (_, k) => put(collection, `key-${k}`, { collection, k, i }));
        await store.commit(ops);
        expected[collection] = Object.fromEntries(ops.map((op) => [op.key, (op as { value: unknown }).value]));
      }
      expect(await contents()).toEqual(expected);

      // The same key in another collection is another record.
      await store.commit([del('tasks', 'key-3'), put('agents', 'key-4', 'replaced')]);
      delete expected['tasks']['key-3'];
      expected['agents']['key-4'] = 'replaced';
      expect(await contents()).toEqual(expected);
      expect((await store.load()).get('requests')?.get('key-3')).toEqual({ collection: 'requests', k: 3, i: 0 });
    });

    it('applies commits in call order: the last write wins', async () => {
      await store.commit([put('tasks', 'k', 1)]);
      await store.commit([put('tasks', 'k', 2)]);
      await store.commit([del('tasks', 'k')]);
      await store.commit([put('tasks', 'k', 3), put('tasks', 'j', 1)]);
      await store.commit([del('tasks', 'j')]);
      expect(await contents()).toEqual({ tasks: { k: 3 } });
    });

    it('applies the ops of one commit in order, all together', async () => {
      await store.commit([put('tasks', 'b', 'old')]);
      await store.commit([
        put('tasks', 'a', 1),
        put('tasks', 'a', 2),
        del('tasks', 'b'),
        put('tasks', 'b', 5),
        put('tasks', 'c', 1),
        del('tasks', 'c'),
        put('agents', 'x', true),
      ]);
      expect(await contents()).toEqual({ tasks: { a: 2, b: 5 }, agents: { x: true } });
    });

    it('treats an empty commit as a no-op', async () => {
      await store.commit([put('tasks', 'k', 1)]);
      const before = await contents();
      await expect(store.commit([])).resolves.toBeUndefined();
      expect(await contents()).toEqual(before);
    });

    it('round-trips values as JSON', async () => {
      const ops = jsonSamples.map(([label, value]) => put('values', label, value));
      await store.commit(ops);
      const expected = Object.fromEntries(jsonSamples.map(([label, value]) => [label, asJson(value)]));
      expect((await contents())['values']).toEqual(expected);
      expect(((await store.load()).get('values')?.get('large string') as string).length).toBe(LARGE.length);
    });

    it('copies values in and out', async () => {
      const value = { nested: { list: [1, 2] } };
      await store.commit([put('tasks', 'k', value)]);
      value.nested.list.push(3);
      const loaded = (await store.load()).get('tasks')?.get('k') as typeof value;
      loaded.nested.list.push(4);
      expect((await store.load()).get('tasks')?.get('k')).toEqual({ nested: { list: [1, 2] } });
    });

    it.each(invalidOps)('rejects a commit with %s and writes nothing of it', async (_label, bad) => {
      await expect(store.commit([put('tasks', 'before', 1), bad, put('tasks', 'after', 2)])).rejects.toThrow();
      expect(await contents()).toEqual({});
      await store.commit([put('tasks', 'ok', 1)]);
      expect(await contents()).toEqual({ tasks: { ok: 1 } });
    });

    it('accepts the edges of the naming rules', async () => {
      const key1024 = 'k'.repeat(1024);
      await store.commit([put('a', key1024, 1), put('z9-Z', 'héllo wörld . .. \\ ? # % 😀', 2), put('tasks', '-', 3)]);
      expect(await contents()).toEqual({ a: { [key1024]: 1 }, 'z9-Z': { 'héllo wörld . .. \\ ? # % 😀': 2 }, tasks: { '-': 3 } });
    });

    it('lands concurrent commits, resolving them in call order', async () => {
      const model = new Model();
      const resolved: number[] = [];
      const commits = Array.from({ length: 400 }, (_, i) => {
        const ops = [put('counters', 'latest', i), put('items', `item-${i}`, { i })];
        if (i % 7 === 6) ops.push(del('items', `item-${i - 3}`));
        model.apply(ops);
        return store.commit(ops).then(() => resolved.push(i));
      });
      await Promise.all(commits);
      expect(resolved).toEqual(Array.from({ length: 400 }, (_, i) => i));
      expect(await contents()).toEqual(model.contents);
    });

    it('shows each commit to load() once it resolves', async () => {
      const seen = await Promise.all(
        Array.from({ length: 20 }, (_, i) => store.commit([put('counters', 'c', i)]).then(async () => (await store.load()).get('counters')?.get('c'))),
      );
      for (const [i, value] of seen.entries()) expect(value as number).toBeGreaterThanOrEqual(i);
    });

    it('writes the commits already called when closing', async () => {
      const commits = Array.from({ length: 50 }, (_, i) => store.commit([put('items', `i${i}`, i)]));
      await store.close();
      await expect(Promise.all(commits)).resolves.toHaveLength(50);
    });

    it('rejects commits after close', async () => {
      await store.close();
      await expect(store.commit([put('tasks', 'k', 1)])).rejects.toThrow(/closed/);
      await expect(store.commit([])).rejects.toThrow(/closed/);
    });

    if (factory.durable) {
      describe('durability', () => {
        it('keeps the data across close and reopen', async () => {
          await store.commit([put('requests', 'r1', { id: 'r1' }), put('tasks', 't1', { state: 'RUNNING' })]);
          await store.commit([put('tasks', 't2', { state: 'STAGING' }), del('tasks', 't1')]);
          const before = await contents();
          await reopened();
          expect(await contents()).toEqual(before);

          await store.commit([put('tasks', 't3', 3)]);
          await reopened();
          expect(await contents()).toEqual({ ...before, tasks: { t2: { state: 'STAGING' }, t3: 3 } });
        });

        it('keeps values exactly as JSON across reopen', async () => {
          await store.commit(jsonSamples.map(([label, value]) => put('values', label, value)));
          const before = await contents();
          await reopened();
          expect(await contents()).toEqual(before);
        });

        it('keeps concurrent commits in call order across reopen', async () => {
          const model = new Model();
          await Promise.all(
            Array.from({ length: 300 }, (_, i) => {
              const ops = [put('counters', 'latest', i), put('items', `item-${i % 50}`, i)];
              if (i % 5 === 4) ops.push(del('items', `item-${(i + 10) % 50}`));
              model.apply(ops);
              return store.commit(ops);
            }),
          );
          await reopened();
          expect(await contents()).toEqual(model.contents);
        });

        it('keeps nothing of a rejected commit across reopen', async () => {
          await store.commit([put('tasks', 'a', 1)]);
          await expect(store.commit([put('tasks', 'b', 2), put('Bad', 'x', 1)])).rejects.toThrow();
          await reopened();
          expect(await contents()).toEqual({ tasks: { a: 1 } });
        });

        it('keeps the commits written while closing', async () => {
          const commits = Array.from({ length: 50 }, (_, i) => store.commit([put('items', `i${i}`, i)]));
          await store.close();
          await Promise.all(commits);
          await reopened();
          expect(Object.keys((await contents())['items'] ?? {})).toHaveLength(50);
        });
      });
    }
  });
}

type Contents = Record<string, Record<string, unknown>>;

/** A snapshot as plain objects, without empty collections (whether a store keeps them is not part of the contract). */
function plain(snapshot: StateSnapshot): Contents {
  const out: Contents = {};
  for (const [name, records] of snapshot) if (records.size > 0) out[name] = Object.fromEntries(records);
  return out;
}

function put(collection: string, key: string, value: unknown): StateOp {
  return { op: 'put', collection, key, value };
}

function del(collection: string, key: string): StateOp {
  return { op: 'delete', collection, key };
}

function asJson(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value));
}

/** The expected contents after some commits, computed the obvious way. */
class Model {
  readonly contents: Contents = {};
  apply(ops: StateOp[]): void {
    for (const op of ops) {
      if (op.op === 'put') (this.contents[op.collection] ??= {})[op.key] = asJson(op.value);
      else if (this.contents[op.collection]) {
        delete this.contents[op.collection][op.key];
        if (Object.keys(this.contents[op.collection]).length === 0) delete this.contents[op.collection];
      }
    }
  }
}

const LARGE = 'x'.repeat(1024 * 1024 - 7) + 'é😀\n"\\';

const jsonSamples: [string, unknown][] = [
  ['nested object', { a: { b: { c: [1, { d: null, e: [true, false] }] } }, list: [[], {}, [[[]]]] }],
  ['unicode', 'héllo wörld — 日本語 — 😀👍🏽 — e\u0301 — \u2028\u2029 — \u0000\u0001\u001f'],
  ['quotes and newlines', 'line 1\nline 2\r\n"quoted" \\ backslash\ttab {"not":"json"}'],
  ['lone surrogate', 'a\ud800b'],
  ['numbers', { zero: 0, negative: -1.5, big: Number.MAX_SAFE_INTEGER, small: 5e-324, exp: 1e21, minusZero: -0 }],
  ['top-level number', 42],
  ['top-level string', 'just a string'],
  ['top-level null', null],
  ['top-level false', false],
  ['empty object', {}],
  ['empty array', []],
  ['empty string', ''],
  ['undefined members and a date', { kept: 1, dropped: undefined, when: new Date(Date.UTC(2026, 0, 2, 3, 4, 5)) }],
  ['unicode keys', { 'ключ': 'значение', '😀': ['🙂'], '': 'empty key' }],
  ['large string', LARGE],
];

const circular: Record<string, unknown> = { name: 'loop' };
circular['self'] = circular;

const invalidOps: [string, StateOp][] = [
  ['an empty collection name', { op: 'put', collection: '', key: 'k', value: 1 }],
  ['an upper-case collection name', { op: 'put', collection: 'Tasks', key: 'k', value: 1 }],
  ['a collection name starting with a digit', { op: 'put', collection: '1tasks', key: 'k', value: 1 }],
  ['a slash in the collection name', { op: 'delete', collection: 'tasks/x', key: 'k' }],
  ['no collection', { op: 'put', key: 'k', value: 1 } as unknown as StateOp],
  ['an underscore in the collection name', { op: 'put', collection: 'task_s', key: 'k', value: 1 }],
  ['an empty key', { op: 'put', collection: 'tasks', key: '', value: 1 }],
  ['a slash in the key', { op: 'put', collection: 'tasks', key: 'a/b', value: 1 }],
  ['a NUL in the key', { op: 'delete', collection: 'tasks', key: 'a\u0000b' }],
  ['a key of 1025 characters', { op: 'put', collection: 'tasks', key: 'k'.repeat(1025), value: 1 }],
  ['a key that is not a string', { op: 'put', collection: 'tasks', key: 7 as unknown as string, value: 1 }],
  ['an undefined value', { op: 'put', collection: 'tasks', key: 'k', value: undefined }],
  ['a function value', { op: 'put', collection: 'tasks', key: 'k', value: () => 1 }],
  ['a BigInt value', { op: 'put', collection: 'tasks', key: 'k', value: BigInt(1) }],
  ['a circular value', { op: 'put', collection: 'tasks', key: 'k', value: circular }],
  ['an unknown op', { op: 'merge', collection: 'tasks', key: 'k' } as unknown as StateOp],
];
