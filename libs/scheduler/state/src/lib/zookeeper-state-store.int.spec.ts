import { createLogger, freePort } from '@singularity/node-util';
import { eventually, spawnTs, type SpawnedProcess } from '@singularity/testing';
import { once } from 'node:events';
import { join } from 'node:path';
import { describeWithZooKeeper } from '../testing/zookeeper-test-server';
import { encodeJournalLine, encodeOps, type PreparedOp } from './state-files';
import { StateStoreConflictError, StateStoreCorruptZnodeError, StateStoreSessionExpiredError, StateStoreUnavailableError } from './state-store.errors';
import type { StateOp, StateSnapshot } from './state-store.port';
import { ZooKeeperConnection } from './zookeeper-client';
import { padFor } from './zookeeper-state-store-child.fixture';
import { encodeChunkedHeader, encodeKey, encodeStagedHeader } from './zookeeper-state-layout';
import { ZooKeeperStateStore, type ZooKeeperConnectionEvent, type ZooKeeperStateStoreOptions } from './zookeeper-state-store';

const childScript = join(__dirname, 'zookeeper-state-store-child.fixture.ts');
/** Silent unless LOG_LEVEL is set. */
const logger = createLogger('zookeeper-state-test', {}, process.env['LOG_LEVEL'] ?? 'silent');

describeWithZooKeeper('ZooKeeperStateStore', (zk) => {
  const stores: ZooKeeperStateStore[] = [];
  const clients: ZooKeeperConnection[] = [];
  const children: SpawnedProcess[] = [];

  afterEach(async () => {
    await Promise.all(children.splice(0).map((child) => child.stop('SIGKILL')));
    if (!zk.server.isRunning()) await zk.server.restart();
    for (const store of stores.splice(0)) await store.close().catch(() => undefined);
    for (const client of clients.splice(0)) client.close();
  });

  function newStore(root: string, options: Partial<ZooKeeperStateStoreOptions> = {}): ZooKeeperStateStore {
    const store = new ZooKeeperStateStore({ connect: zk.connect, root, sessionTimeoutMillis: 4000, logger, ...options });
    stores.push(store);
    return store;
  }

  async function opened(root: string, options: Partial<ZooKeeperStateStoreOptions> = {}): Promise<ZooKeeperStateStore> {
    const store = newStore(root, options);
    await store.open();
    return store;
  }

  /** A plain client, to look at the tree and to change it behind the store's back. */
  async function rawClient(): Promise<ZooKeeperConnection> {
    let connected!: () => void;
    const ready = new Promise<void>((resolve) => (connected = resolve));
    const client = new ZooKeeperConnection({ connect: zk.connect, sessionTimeoutMillis: 4000, onStateChange: (state) => state === 'connected' && connected() });
    clients.push(client);
    await ready;
    return client;
  }

  function events(store: ZooKeeperStateStore): ZooKeeperConnectionEvent[] {
    const seen: ZooKeeperConnectionEvent[] = [];
    store.onConnectionEvent((event) => seen.push(event));
    return seen;
  }

  /** A commit record as the store writes it: batch `seq`'s ops as a journal line. */
  function recordLine(seq: number, ops: PreparedOp[]): Buffer {
    return Buffer.from(encodeJournalLine(seq, seq, encodeOps(ops)).slice(0, -1), 'utf8');
  }

  describe('layout', () => {
    it("keeps one znode per record under <root>/state/<collection>/<key>, holding the value's JSON", async () => {
      const root = zk.freshRoot();
      const store = await opened(root);
      expect(store.describe()).toBe(`zookeeper ${zk.connect}${root}`);
      await store.commit([put('tasks', 'my-request-v1-1700000000000-1-host1-rack1', { state: 'RUNNING' }), put('requests', '50% off 😀', ['x'])]);
      await store.load(); // a commit resolves once recorded; the records are written right after, before any later load
      const raw = await rawClient();
      expect(await raw.children(`${root}/state`)).toEqual(expect.arrayContaining(['tasks', 'requests']));
      expect((await raw.get(`${root}/state/tasks/my-request-v1-1700000000000-1-host1-rack1`)).data.toString()).toBe('{"state":"RUNNING"}');
      expect(await raw.children(`${root}/state/requests`)).toEqual([encodeKey('50% off 😀')]);
      expect((await raw.get(`${root}/state/requests/${encodeKey('50% off 😀')}`)).data.toString()).toBe('["x"]');
    });
  });

  describe('commits', () => {
    it('applies many concurrent commits in call order, one commit record per batch of commits called together', async () => {
      const root = zk.freshRoot();
      const store = await opened(root);
      const model = new Model();
      const resolved: number[] = [];
      // Called in one synchronous run: one batch.
      await Promise.all(
        Array.from({ length: 500 }, (_, i) => {
          const ops = [put('counters', 'latest', i), put('items', `i${i}`, { i })];
          model.apply(ops);
          return store.commit(ops).then(() => resolved.push(i));
        }),
      );
      expect(resolved).toEqual(range(500));
      expect(store.stats()).toMatchObject({ commits: 500, batches: 1 });

      // 50 writers, each waiting for its previous commit: commits queue while a batch is written.
      let next = 500;
      const order: number[] = [];
      await Promise.all(
        Array.from({ length: 50 }, async () => {
          while (next < 3000) {
            const n = next++;
            const ops = [put('counters', 'latest', n), put('items', `i${n % 700}`, { n }), ...(n % 3 === 0 ? [del('items', `i${(n + 350) % 700}`)] : [])];
            model.apply(ops);
            await store.commit(ops);
            order.push(n);
          }
        }),
      );
      expect(order).toEqual(range(2500, 500));
      const { commits, batches } = store.stats();
      expect(commits).toBe(3000);
      expect(batches).toBeLessThanOrEqual(1 + 2500 / 10);
      expect(plain(await store.load())).toEqual(model.contents);
      await store.close();
      expect(plain(await (await opened(root)).load())).toEqual(model.contents);
    });

    it('writes a commit larger than one znode whole: its record in staged parts, large values in chunks', async () => {
      const root = zk.freshRoot();
      const store = await opened(root);
      const big = { blob: 'b'.repeat(1_500_000), tail: 'é😀' };
      const ops = [
        put('blobs', 'big', big),
        ...range(3).map((i) => put('blobs', `medium-${i}`, 'm'.repeat(700_000))),
        ...range(100).map((i) => put('small', `s${i}`, { i })),
      ];
      await store.commit(ops);
      const expected = new Model();
      expected.apply(ops);
      expect(plain(await store.load())).toEqual(expected.contents);
      expect(store.stats()).toMatchObject({ batches: 1, stagedBatches: 1, chunkedValues: 1 });
      const raw = await rawClient();
      expect((await raw.children(`${root}/staged`)).length).toBeGreaterThanOrEqual(4); // about 3.6 MB of record
      expect((await raw.get(`${root}/state/blobs/big`)).data.toString()).toMatch(/^#chunked /);
      expect(await raw.children(`${root}/state/blobs/big`)).toHaveLength(2);

      // Replaced by a small value, then deleted: the chunks go with it.
      await store.commit([put('blobs', 'big', 'small now')]);
      await store.load();
      expect(await raw.children(`${root}/state/blobs/big`)).toEqual([]);
      await store.commit([put('blobs', 'big', big)]);
      await store.commit([del('blobs', 'big')]);
      await store.load();
      expect(await raw.exists(`${root}/state/blobs/big`)).toBeUndefined();
      await store.close();
      // close() marks the last batch applied, so its staged parts are no longer needed.
      expect(await raw.children(`${root}/staged`)).toEqual([]);
      expected.apply([del('blobs', 'big')]);
      expect(plain(await (await opened(root)).load())).toEqual(expected.contents);
    });

    it('absorbs a record changed behind its back: re-reads it and writes once more', async () => {
      const root = zk.freshRoot();
      const store = await opened(root);
      await store.commit([put('tasks', 'k', 1), put('tasks', 'j', 1)]);
      await store.load();
      const raw = await rawClient();
      await raw.delete(`${root}/state/tasks/k`); // the store thinks it exists: its set finds no node
      await raw.create(`${root}/state/tasks/x`, Buffer.from('5')); // the store thinks it does not: its create finds one
      await raw.create(`${root}/state/tasks/j/stray`, Buffer.from('?')); // a child it does not know: its delete finds it not empty
      await store.commit([put('tasks', 'k', 2), put('tasks', 'x', 3), del('tasks', 'j')]);
      expect(plain(await store.load())).toEqual({ tasks: { k: 2, x: 3 } });
      await store.commit([put('tasks', 'k', 4)]);
      expect(plain(await store.load())).toEqual({ tasks: { k: 4, x: 3 } });
    });

    it("stops at another writer's commit record (StateStoreConflictError) and accepts nothing more", async () => {
      const root = zk.freshRoot();
      const first = await opened(root);
      const second = await opened(root);
      await first.commit([put('tasks', 'a', 1)]);
      await expect(second.commit([put('tasks', 'b', 1)])).rejects.toThrow(StateStoreConflictError);
      await expect(second.commit([put('tasks', 'c', 1)])).rejects.toThrow(/only writer/);
      await expect(second.load()).rejects.toThrow(StateStoreConflictError);
      await first.commit([put('tasks', 'd', 1)]);
      expect(plain(await first.load())).toEqual({ tasks: { a: 1, d: 1 } });
    });
  });

  describe('recovery on open', () => {
    it('finishes a recorded batch that its writer did not apply', async () => {
      const root = zk.freshRoot();
      const writer = await opened(root);
      await writer.commit([put('tasks', 'old', 1), put('tasks', 'kept', 2)]);
      await writer.close();
      const seq = writer.stats().seq;
      // The writer recorded batch seq+1 and died before applying any of it.
      const raw = await rawClient();
      await raw.set(`${root}/last-commit`, recordLine(seq + 1, [prepared(del('tasks', 'old')), prepared(put('tasks', 'new', { n: 3 })), prepared(put('agents', 'a1', 'x'))]));

      const store = await opened(root);
      expect(store.stats().recovery).toEqual({ finishedSeq: seq + 1, discardedParts: 0 });
      expect(plain(await store.load())).toEqual({ tasks: { kept: 2, new: { n: 3 } }, agents: { a1: 'x' } });
      await store.commit([put('tasks', 'after', 4)]);
      expect(store.stats().seq).toBe(seq + 2);
    });

    it('finishes a staged record over half-written chunks, and deletes parts no record names', async () => {
      const root = zk.freshRoot();
      const writer = await opened(root);
      await writer.commit([put('blobs', 'v', 'old inline value')]);
      await writer.close();
      const seq = writer.stats().seq + 1;
      const value = { text: 'ü'.repeat(400) };
      const line = recordLine(seq, [prepared(put('blobs', 'v', value)), prepared(put('small', 'k', 1))]);
      const raw = await rawClient();
      // Staged in three parts; a stray part of an attempt that was never recorded; one chunk of the value already written.
      const third = Math.ceil(line.length / 3);
      const parts = [`${seq}-0`, `${seq}-1`, `${seq}-2`];
      for (const [i, part] of parts.entries()) await raw.create(`${root}/staged/${part}`, line.subarray(i * third, (i + 1) * third));
      await raw.create(`${root}/staged/${seq - 1}-7`, Buffer.from('left over'));
      await raw.create(`${root}/state/blobs/v/${seq}-0`, Buffer.from('half-written'));
      await raw.set(`${root}/last-commit`, encodeStagedHeader({ seq, parts, bytes: line.length }));

      const store = await opened(root, { maxZnodeBytes: 100 });
      expect(store.stats().recovery).toEqual({ finishedSeq: seq, discardedParts: 1 });
      expect(plain(await store.load())).toEqual({ blobs: { v: value }, small: { k: 1 } });
      expect((await raw.children(`${root}/state/blobs/v`)).sort()).toEqual(range(9).map((i) => `${seq}-${i}`).sort());
      expect((await raw.children(`${root}/staged`)).sort()).toEqual(parts);
    });

    it('refuses a record or a commit record it cannot read', async () => {
      const root = zk.freshRoot();
      const store = await opened(root);
      await store.commit([put('tasks', 'a', 1), put('tasks', 'b', 2)]);
      await store.commit([put('tasks', 'c', 3)]); // the last batch (open() re-applies it) leaves b alone
      await store.load();
      const raw = await rawClient();
      await raw.set(`${root}/state/tasks/b`, Buffer.from('{not json'));
      await expect(store.load()).rejects.toThrow(StateStoreCorruptZnodeError);
      await expect(store.load()).rejects.toThrow(`state znode ${root}/state/tasks/b is corrupt: not JSON`);

      await raw.set(`${root}/state/tasks/b`, encodeChunkedHeader({ chunks: ['1-0'], bytes: 10 }));
      await expect(opened(root).then((s) => s.load())).rejects.toThrow(/chunk 1-0 is missing/);

      await raw.set(`${root}/last-commit`, Buffer.from('{"crc":"00000000","seq":1,"batch":1,"ops":[]}'));
      await expect(opened(root)).rejects.toThrow(`state znode ${root}/last-commit is corrupt: checksum mismatch`);
    });

    it('keeps every acknowledged commit, each whole and in order, across kill -9 of the writer', async () => {
      const root = zk.freshRoot();
      let survived = 0;
      for (let round = 0; round < 3; round++) {
        const loop = spawnTs(childScript, ['commit-loop', zk.connect, root, '16', '2048'], { maxOutputChars: 16 * 1024 * 1024 });
        children.push(loop);
        const start = Number((await loop.waitForOutput(/ready next=(\d+)/, { timeoutMs: 30000 }))[1]);
        await loop.waitForOutput(new RegExp(`^ack ${start + 40 + round * 25}$`, 'm'), { timeoutMs: 60000 });
        await loop.stop('SIGKILL');
        const stdout = loop.child.stdout;
        if (stdout && !stdout.closed) await once(stdout, 'close');
        const lastAcked = Math.max(...[...loop.stdout().matchAll(/^ack (\d+)$/gm)].map((m) => Number(m[1])));

        const store = await opened(root);
        const state = await store.load();
        const left = counters(state.get('left'));
        // All or nothing: both records of a commit; in order: commits 0..m-1 and no others.
        expect(counters(state.get('right'))).toEqual(left);
        const m = left.length;
        expect(left).toEqual(range(m));
        // Durable: every acknowledged commit is there, and nothing beyond the two batches that can follow it.
        expect(m - 1).toBeGreaterThanOrEqual(lastAcked);
        expect(m - 1).toBeLessThanOrEqual(lastAcked + 2 * 16);
        for (const [key, value] of state.get('left') ?? []) {
          const n = Number(key.slice(1));
          expect(value).toEqual({ n, pad: padFor(n) });
          expect(state.get('right')?.get(key)).toEqual(value);
        }
        expect(m).toBeGreaterThanOrEqual(survived);
        survived = m;
        await store.close();
        stores.pop();
      }
      expect((await (await rawClient()).children(`${root}/staged`)).length).toBe(0);
    });
  });

  describe('connection', () => {
    it('fails to open with StateStoreUnavailableError when no server answers', async () => {
      const store = newStore('/nowhere', { connect: `127.0.0.1:${await freePort()}`, reconnectTimeoutMillis: 500 });
      await expect(store.open()).rejects.toThrow(StateStoreUnavailableError);
      await expect(store.open()).rejects.toThrow(/could not connect to ZooKeeper at 127\.0\.0\.1:\d+ within 500 ms/);
      await expect(store.commit([put('tasks', 'k', 1)])).rejects.toThrow(/closed/);
    });

    it('holds a commit through an outage and writes it on the same session once the server is back', async () => {
      const root = zk.freshRoot();
      const store = await opened(root, { reconnectTimeoutMillis: 20000 });
      const seen = events(store);
      await store.commit([put('tasks', 'before', 1)]);
      const session = store.session?.id;

      await zk.server.stop();
      await eventually(() => seen.includes('disconnected'), { description: 'the store notices the outage' });
      let settled = false;
      const during = store.commit([put('tasks', 'during', 2)]).finally(() => (settled = true));
      const load = store.load();
      // Long enough for the watchdog to swap the client handle (a third of the session timeout without a
      // connection): the new handle must carry the session on.
      await eventually(() => store.stats().clientReplacements >= 1, { timeoutMs: 10000, description: 'the client handle is replaced' });
      expect(settled).toBe(false);
      await zk.server.restart();
      await during;
      expect(settled).toBe(true);
      expect(plain(await load)).toEqual({ tasks: { before: 1, during: 2 } });
      expect(store.session?.id).toBe(session);
      expect(seen).toEqual(['disconnected', 'connected']);
      expect(store.stats().reconnects).toBe(1);
      await store.commit([put('tasks', 'after', 3)]);
      expect(plain(await store.load())).toEqual({ tasks: { before: 1, during: 2, after: 3 } });
    });

    it('rejects commits with StateStoreUnavailableError once reconnectTimeoutMillis has passed, and recovers when the server is back', async () => {
      const root = zk.freshRoot();
      const store = await opened(root, { reconnectTimeoutMillis: 1000 });
      const seen = events(store);
      await store.commit([put('tasks', 'before', 1)]);

      await zk.server.stop();
      const rejected = await store.commit([put('tasks', 'lost', 2)]).catch((err: Error) => err);
      expect(rejected).toBeInstanceOf(StateStoreUnavailableError);
      expect(rejected).toMatchObject({ outcome: 'not-written', message: expect.stringMatching(/no connection to ZooKeeper at 127\.0\.0\.1:\d+ for \d+ ms \(reconnectTimeoutMillis 1000\)/) });
      // Past the bound: rejected without waiting again.
      await expect(store.commit([put('tasks', 'lost', 3)])).rejects.toThrow(StateStoreUnavailableError);
      await expect(store.load()).rejects.toThrow(StateStoreUnavailableError);

      await zk.server.restart();
      await eventually(() => seen[seen.length - 1] === 'connected', { timeoutMs: 15000, description: 'the store reconnects' });
      await store.commit([put('tasks', 'after', 4)]);
      expect(plain(await store.load())).toEqual({ tasks: { before: 1, after: 4 } });
    });

    it('keeps commits whole and in order across a server crash in the middle of a stream', async () => {
      const root = zk.freshRoot();
      const store = await opened(root, { reconnectTimeoutMillis: 20000, maxZnodeBytes: 4096 });
      const model = new Model();
      let next = 0;
      let acked = 0;
      const crash = (async () => {
        await eventually(() => acked >= 60, { timeoutMs: 30000, description: '60 commits acknowledged' });
        await zk.server.kill();
        await zk.server.restart();
      })();
      const order: number[] = [];
      await Promise.all(
        Array.from({ length: 8 }, async () => {
          while (next < 200) {
            const n = next++;
            const ops = [put('counters', 'latest', n), put('items', `i${n % 40}`, { n, pad: 'x'.repeat((n * 331) % 6000) }), del('items', `i${(n + 20) % 40}`)];
            model.apply(ops);
            await store.commit(ops);
            order.push(n);
            acked++;
          }
        }),
      );
      await crash;
      expect(order).toEqual(range(200));
      expect(plain(await store.load())).toEqual(model.contents);
      await store.close();
      expect(plain(await (await opened(root)).load())).toEqual(model.contents);
    });
  });

  describe('session expiry', () => {
    it('announces expired, rejects commits and loads from then on, and a new store loads everything', async () => {
      const root = zk.freshRoot();
      const store = await opened(root);
      const seen = events(store);
      await store.commit([put('tasks', 'a', 1), put('requests', 'r', { id: 'r' })]);
      const session = store.session;
      expect(session).toBeDefined();

      await zk.server.expireSession(session as { id: string; password: string });
      await eventually(() => seen.includes('expired'), { timeoutMs: 10000, description: 'the store hears of the expiry' });
      await expect(store.commit([put('tasks', 'b', 2)])).rejects.toThrow(StateStoreSessionExpiredError);
      await expect(store.commit([])).rejects.toThrow(/expired; the store is unusable/);
      await expect(store.load()).rejects.toThrow(StateStoreSessionExpiredError);
      expect(store.session).toBeUndefined();
      await store.close();

      const next = await opened(root);
      expect(plain(await next.load())).toEqual({ tasks: { a: 1 }, requests: { r: { id: 'r' } } });
      expect(next.session?.id).not.toBe(session?.id);
    });
  });
});

function put(collection: string, key: string, value: unknown): StateOp {
  return { op: 'put', collection, key, value };
}

function del(collection: string, key: string): StateOp {
  return { op: 'delete', collection, key };
}

function prepared(op: StateOp): PreparedOp {
  return { collection: op.collection, key: op.key, json: op.op === 'put' ? JSON.stringify(op.value) : undefined };
}

function range(n: number, from = 0): number[] {
  return Array.from({ length: n }, (_, i) => from + i);
}

type Contents = Record<string, Record<string, unknown>>;

function plain(snapshot: StateSnapshot): Contents {
  const out: Contents = {};
  for (const [name, records] of snapshot) if (records.size > 0) out[name] = Object.fromEntries(records);
  return out;
}

function counters(records: Map<string, unknown> | undefined): number[] {
  return [...(records?.keys() ?? [])].map((key) => Number(key.slice(1))).sort((a, b) => a - b);
}

class Model {
  readonly contents: Contents = {};
  apply(ops: StateOp[]): void {
    for (const op of ops) {
      if (op.op === 'put') (this.contents[op.collection] ??= {})[op.key] = JSON.parse(JSON.stringify(op.value));
      else if (this.contents[op.collection]) {
        delete this.contents[op.collection][op.key];
        if (Object.keys(this.contents[op.collection]).length === 0) delete this.contents[op.collection];
      }
    }
  }
}
