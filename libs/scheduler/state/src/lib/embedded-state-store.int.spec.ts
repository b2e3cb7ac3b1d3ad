import { cleanupTempDirs, spawnTs, tempDir, type SpawnedProcess } from '@singularity/testing';
import { once } from 'node:events';
import { appendFile, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { EmbeddedStateStore, type EmbeddedStateStoreOptions, type StateStoreLogger } from './embedded-state-store';
import { StateStoreCorruptError, StateStoreLockedError } from './state-store.errors';
import type { StateOp, StateSnapshot } from './state-store.port';

const childScript = join(__dirname, 'fixtures', 'state-store-child.fixture.ts');

describe('EmbeddedStateStore', () => {
  let dir: string;
  const stores: EmbeddedStateStore[] = [];
  const children: SpawnedProcess[] = [];

  beforeEach(async () => {
    dir = (await tempDir('embedded-state-')).path;
  });

  afterEach(async () => {
    await Promise.all(children.splice(0).map((child) => child.stop('SIGKILL')));
    for (const store of stores.splice(0)) await store.close().catch(() => undefined);
    await cleanupTempDirs();
  });

  function newStore(options: Partial<EmbeddedStateStoreOptions> = {}): EmbeddedStateStore {
    const store = new EmbeddedStateStore({ directory: dir, ...options });
    stores.push(store);
    return store;
  }

  async function opened(options: Partial<EmbeddedStateStoreOptions> = {}): Promise<EmbeddedStateStore> {
    const store = newStore(options);
    await store.open();
    return store;
  }

  function child(args: string[]): SpawnedProcess {
    const handle = spawnTs(childScript, args, { maxOutputChars: 64 * 1024 * 1024 });
    children.push(handle);
    return handle;
  }

  const journal = (generation: number) => join(dir, `journal-${generation}.jsonl`);
  const put = (collection: string, key: string, value: unknown): StateOp => ({ op: 'put', collection, key, value });
  const del = (collection: string, key: string): StateOp => ({ op: 'delete', collection, key });

  describe('files and lifecycle', () => {
    it('creates the directory, reports it absolute, and writes one journal line per commit', async () => {
      const nested = join(dir, 'a', 'b');
      const store = newStore({ directory: relative(process.cwd(), nested) });
      expect(store.describe()).toBe(nested);
      await store.open();
      await store.commit([put('tasks', 't1', { state: 'RUNNING' }), del('tasks', 't0')]);
      await store.commit([put('agents', 'a1', 'line\nbreak')]);
      const lines = (await readFile(join(nested, 'journal-1.jsonl'), 'utf8')).split('\n');
      expect(lines).toHaveLength(3);
      expect(lines[2]).toBe('');
      expect(JSON.parse(lines[0])).toMatchObject({
        seq: 1,
        batch: 1,
        ops: [
          { op: 'put', collection: 'tasks', key: 't1', value: { state: 'RUNNING' } },
          { op: 'delete', collection: 'tasks', key: 't0' },
        ],
      });
      expect(JSON.parse(lines[1])).toMatchObject({ seq: 2, ops: [{ op: 'put', collection: 'agents', key: 'a1', value: 'line\nbreak' }] });
      expect((await readdir(nested)).sort()).toEqual(['LOCK', 'journal-1.jsonl']);
    });

    it('rejects commits before open, and a second open', async () => {
      const store = newStore();
      await expect(store.commit([put('tasks', 'k', 1)])).rejects.toThrow(/not open/);
      await expect(store.load()).rejects.toThrow(/not open/);
      await store.open();
      await expect(store.open()).rejects.toThrow(/already open/);
    });

    it('opens again after close, with the same data', async () => {
      const store = await opened();
      await store.commit([put('tasks', 'k', 1)]);
      await store.close();
      await store.open();
      expect(plain(await store.load())).toEqual({ tasks: { k: 1 } });
    });

    it('group-commits: commits called together share one write and one fdatasync, resolved in call order', async () => {
      const store = await opened();
      const order: number[] = [];
      await Promise.all(Array.from({ length: 500 }, (_, i) => store.commit([put('items', `i${i}`, i)]).then(() => order.push(i))));
      expect(order).toEqual(Array.from({ length: 500 }, (_, i) => i));
      expect(store.stats()).toMatchObject({ commits: 500, batches: 1, lastSeq: 500 });
      const lines = (await readFile(journal(1), 'utf8')).trimEnd().split('\n');
      expect(lines.map((line) => JSON.parse(line).batch)).toEqual(Array(500).fill(1));
    });

    it('load() shows a commit only once it has resolved', async () => {
      const store = await opened();
      const pending = store.commit([put('tasks', 'k', 1)]);
      expect(plain(await store.load())).toEqual({});
      await pending;
      expect(plain(await store.load())).toEqual({ tasks: { k: 1 } });
    });

    it('an empty commit resolves after the commits called before it', async () => {
      const store = await opened();
      const order: string[] = [];
      const first = store.commit([put('tasks', 'k', 1)]).then(() => order.push('first'));
      await store.commit([]).then(() => order.push('empty'));
      await first;
      expect(order).toEqual(['first', 'empty']);
      expect(store.stats().commits).toBe(1);
    });

    it('becomes fail-stop when the journal cannot be written, and recovers on reopen', async () => {
      const logger = fakeLogger();
      const store = await opened({ logger });
      await store.commit([put('tasks', 'kept', 1)]);
      // Fault injection: close the journal under the store, so the next write fails with EBADF.
      await (store as unknown as { journal: FileHandle }).journal.close();
      await expect(store.commit([put('tasks', 'lost', 2)])).rejects.toThrow(/writing the state journal .*journal-1\.jsonl failed/);
      await expect(store.commit([put('tasks', 'later', 3)])).rejects.toThrow(/accepts no more commits/);
      expect(logger.lines('error')).toEqual([expect.stringMatching(/fail-stop/)]);
      await store.close();
      await store.open();
      expect(plain(await store.load())).toEqual({ tasks: { kept: 1 } });
    });
  });

  describe('crashes', () => {
    it('keeps every acknowledged commit, each whole and in order, across kill -9 (also mid-compaction)', async () => {
      let acknowledgedTotal = 0;
      for (let round = 0; round < 3; round++) {
        const loop = child(['commit-loop', dir, String(48 * 1024), '64']);
        const start = Number((await loop.waitForOutput(/ready next=(\d+)/, { timeoutMs: 30000 }))[1]);
        await loop.waitForOutput(new RegExp(`^ack ${start + 1500 + round * 700}$`, 'm'), { timeoutMs: 30000 });
        await loop.stop('SIGKILL');
        // Read every ack the child got out before it died: output may still be in the pipe after the exit.
        const stdout = loop.child.stdout;
        if (stdout && !stdout.closed) await once(stdout, 'close');
        const acks = [...loop.stdout().matchAll(/^ack (\d+)$/gm)].map((m) => Number(m[1]));
        const lastAcked = Math.max(...acks);

        const store = await opened();
        const state = await store.load();
        const left = counters(state.get('left'));
        const right = counters(state.get('right'));
        // All or nothing: both keys of a commit, with the same value.
        expect(right).toEqual(left);
        // In order: what survived is exactly commits 0..m-1, with no holes.
        const m = left.length;
        expect(left).toEqual(Array.from({ length: m }, (_, i) => i));
        // Durable: every acknowledged commit is there.
        expect(m - 1).toBeGreaterThanOrEqual(lastAcked);
        // Nothing beyond what was written. The kill can land after a batch of up to 64 commits was
        // synced but before all its acknowledgements were printed, while the commits issued by the
        // printed ones already form the next batch: at most two batches past the last printed ack.
        expect(m - 1).toBeLessThanOrEqual(lastAcked + 2 * 64);
        for (const [key, value] of state.get('left') ?? []) expect(value).toEqual({ n: Number(key.slice(1)), pad: 'p'.repeat((Number(key.slice(1)) * 37) % 700) });
        expect(m).toBeGreaterThanOrEqual(acknowledgedTotal);
        acknowledgedTotal = m;
        expect(await readdir(dir)).not.toContain('snapshot.json.tmp');
        await store.close();
      }
      expect(await readdir(dir)).toContain('snapshot.json');
    });

    it('drops a torn last line, and only that commit', async () => {
      let store = await opened();
      for (let i = 0; i < 10; i++) await store.commit([put('items', `i${i}`, i), put('mirror', `i${i}`, i)]);
      await store.close();
      const before = await readFile(journal(1), 'utf8');
      const lastLine = before.trimEnd().split('\n').pop() as string;
      await truncate(journal(1), Buffer.byteLength(before) - 3);

      const logger = fakeLogger();
      store = await opened({ logger });
      const expected = Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`i${i}`, i]));
      expect(plain(await store.load())).toEqual({ items: expected, mirror: expected });
      expect((await stat(journal(1))).size).toBe(Buffer.byteLength(before) - Buffer.byteLength(lastLine) - 1);
      expect(logger.lines('warn')).toEqual([expect.stringMatching(/dropped a torn commit at the end of .*journal-1\.jsonl \(line 10: incomplete line/)]);

      // The journal goes on from there.
      await store.commit([put('items', 'i9', 'again')]);
      await store.close();
      store = await opened();
      expect((await store.load()).get('items')?.get('i9')).toBe('again');
      expect(store.stats().lastSeq).toBe(10);
    });

    it.each([
      ['a garbled last line', 'garbage that is not json\n'],
      ['a last line with a bad checksum', '{"crc":"00000000","seq":4,"batch":4,"ops":[{"op":"put","collection":"items","key":"x","value":1}]}\n'],
      ['zeros after the last line (a power loss that grew the file)', '\0'.repeat(4096)],
    ])('drops %s', async (_label, tail) => {
      let store = await opened();
      for (let i = 0; i < 3; i++) await store.commit([put('items', `i${i}`, i)]);
      await store.close();
      const size = (await stat(journal(1))).size;
      await appendFile(journal(1), tail);
      store = await opened();
      expect(plain(await store.load())).toEqual({ items: { i0: 0, i1: 1, i2: 2 } });
      expect((await stat(journal(1))).size).toBe(size);
    });

    it('refuses a garbled line in the middle, naming the file and the line', async () => {
      let store = await opened();
      for (let i = 0; i < 6; i++) await store.commit([put('items', `i${i}`, `value-${i}`)]);
      await store.close();
      const text = await readFile(journal(1), 'utf8');
      await writeFile(journal(1), text.replace('value-3', 'value-X'));
      store = newStore();
      const failure = store.open();
      await expect(failure).rejects.toThrow(StateStoreCorruptError);
      await expect(failure).rejects.toThrow(`state file ${journal(1)} is corrupt at line 4: checksum mismatch`);
      // It let go of the directory.
      expect(await readdir(dir)).not.toContain('LOCK');
    });

    it('refuses a corrupt snapshot, naming it', async () => {
      let store = await opened();
      await store.commit([put('items', 'a', 'snapshotted')]);
      await store.compact();
      await store.close();
      const path = join(dir, 'snapshot.json');
      await writeFile(path, (await readFile(path, 'utf8')).replace('snapshotted', 'snapshotteD'));
      store = newStore();
      await expect(store.open()).rejects.toThrow(`state file ${path} is corrupt: checksum mismatch`);
    });
  });

  describe('compaction', () => {
    it('compacts by itself past compactAfterBytes and reopens to the same state', async () => {
      const logger = fakeLogger();
      let store = await opened({ compactAfterBytes: 16 * 1024, logger });
      const model = new Map<string, unknown>();
      for (let round = 0; round < 40; round++) {
        await Promise.all(
          Array.from({ length: 25 }, (_, j) => {
            const i = round * 25 + j;
            const ops = [put('tasks', `t${i % 300}`, { i, text: 'x'.repeat(i % 50) })];
            if (i % 4 === 3) ops.push(del('tasks', `t${(i + 150) % 300}`));
            for (const op of ops) {
              if (op.op === 'put') model.set(op.key, op.value);
              else model.delete(op.key);
            }
            return store.commit(ops);
          }),
        );
      }
      await store.compact(); // also waits for an automatic compaction still writing
      const stats = store.stats();
      expect(stats.compactions).toBeGreaterThan(2);
      expect(stats.generation).toBeGreaterThan(3);
      expect(logger.lines('info')).toContainEqual('state compacted into a snapshot');
      const journals = (await readdir(dir)).filter((name) => name.startsWith('journal-'));
      expect(journals).toEqual([`journal-${stats.generation}.jsonl`]);
      const before = plain(await store.load());
      expect(before).toEqual({ tasks: Object.fromEntries(model) });

      await store.close();
      store = await opened();
      expect(plain(await store.load())).toEqual(before);
      expect(store.stats()).toMatchObject({ generation: stats.generation, lastSeq: stats.lastSeq });
    });

    describe('a crash in the middle of a compaction', () => {
      // Real files from the store: commits A in journal-1; compact (snapshot of A with
      // generation 2, journal-2 started); commits B in journal-2. Each case puts back
      // the files a crash at some step of the compaction would leave.
      const commitsA = [put('tasks', 'a1', 1), put('tasks', 'a2', 2), del('tasks', 'a1'), put('agents', 'x', 'a')];
      const commitsB = [put('tasks', 'b1', 1), del('tasks', 'a2'), put('agents', 'x', 'b')];
      let journal1: Buffer;
      let snapshot2: Buffer;

      beforeEach(async () => {
        const store = await opened();
        for (const op of commitsA) await store.commit([op]);
        journal1 = await readFile(journal(1));
        await store.compact();
        snapshot2 = await readFile(join(dir, 'snapshot.json'));
        for (const op of commitsB) await store.commit([op]);
        await store.close();
        expect((await readdir(dir)).sort()).toEqual(['journal-2.jsonl', 'snapshot.json']);
      });

      it('after the journal switch, before the snapshot rename: old journal, new journal, a half-written tmp', async () => {
        await rm(join(dir, 'snapshot.json'));
        await writeFile(journal(1), journal1);
        await writeFile(join(dir, 'snapshot.json.tmp'), snapshot2.subarray(0, 20));
        const store = await opened();
        expect(plain(await store.load())).toEqual({ tasks: { b1: 1 }, agents: { x: 'b' } });
        expect((await readdir(dir)).sort()).toEqual(['LOCK', 'journal-1.jsonl', 'journal-2.jsonl']);
        expect(store.stats()).toMatchObject({ generation: 2, lastSeq: commitsA.length + commitsB.length });
        await store.compact();
        expect((await readdir(dir)).sort()).toEqual(['LOCK', 'journal-3.jsonl', 'snapshot.json']);
      });

      it('after the snapshot rename, before the old journal is deleted', async () => {
        await writeFile(journal(1), journal1);
        const store = await opened();
        expect(plain(await store.load())).toEqual({ tasks: { b1: 1 }, agents: { x: 'b' } });
        expect((await readdir(dir)).sort()).toEqual(['LOCK', 'journal-2.jsonl', 'snapshot.json']);
      });

      it('after the snapshot rename, before the new journal exists', async () => {
        // Not a state this store leaves (it starts the new journal first), but a valid one: snapshot and old journal only.
        await rm(journal(2));
        await writeFile(journal(1), journal1);
        let store = await opened();
        expect(plain(await store.load())).toEqual({ agents: { x: 'a' }, tasks: { a2: 2 } });
        expect((await readdir(dir)).sort()).toEqual(['LOCK', 'journal-2.jsonl', 'snapshot.json']);
        await store.commit([put('tasks', 'c', 1)]);
        await store.close();
        store = await opened();
        expect(plain(await store.load())).toEqual({ agents: { x: 'a' }, tasks: { a2: 2, c: 1 } });
        expect(store.stats().lastSeq).toBe(commitsA.length + 1);
      });

      it('refuses journals with a gap in the commit sequence', async () => {
        await rm(join(dir, 'snapshot.json')); // journal-2 now has to follow a journal-1 that is gone
        const store = newStore();
        await expect(store.open()).rejects.toThrow(`state file ${journal(2)} is corrupt at line 1: commit sequence broken: expected seq 1, found ${commitsA.length + 1}`);
      });

      it('refuses a torn end in a journal that is not the newest', async () => {
        await rm(join(dir, 'snapshot.json'));
        await writeFile(journal(1), journal1.subarray(0, journal1.length - 2));
        const store = newStore();
        await expect(store.open()).rejects.toThrow(`state file ${journal(1)} is corrupt at line ${commitsA.length}: incomplete line (no newline) (only the newest journal may end in a torn write)`);
      });
    });
  });

  describe('lock', () => {
    it('refuses a directory another live process holds, naming the process and the directory', async () => {
      const holder = child(['hold', dir]);
      await holder.waitForOutput(/holding pid=\d+/, { timeoutMs: 30000 });
      const store = newStore();
      const failure = store.open();
      await expect(failure).rejects.toThrow(StateStoreLockedError);
      await expect(failure).rejects.toThrow(`state directory ${dir} is locked by process ${holder.pid}`);
      expect(JSON.parse(await readFile(join(dir, 'LOCK'), 'utf8'))).toMatchObject({ pid: holder.pid });
    });

    it('takes over the lock of a process that died', async () => {
      const holder = child(['hold', dir]);
      await holder.waitForOutput(/holding pid=\d+/, { timeoutMs: 30000 });
      await holder.stop('SIGKILL');
      expect(JSON.parse(await readFile(join(dir, 'LOCK'), 'utf8'))).toMatchObject({ pid: holder.pid });
      const logger = fakeLogger();
      const store = await opened({ logger });
      expect(JSON.parse(await readFile(join(dir, 'LOCK'), 'utf8'))).toMatchObject({ pid: process.pid });
      expect(logger.lines('warn')).toEqual([`taking over stale lock of process ${holder.pid}, which is gone`]);
      await store.commit([put('tasks', 'k', 1)]);
    });

    it('takes over a lock whose pid now belongs to a process started later', async () => {
      await writeFile(join(dir, 'LOCK'), JSON.stringify({ pid: process.ppid, started: '1' }));
      await opened();
    });

    it('takes over a lock with our own pid that no store of this process holds (a restarted container)', async () => {
      await writeFile(join(dir, 'LOCK'), `${process.pid}\n`);
      await opened();
    });

    it('refuses a second store on the same directory in this process', async () => {
      await opened();
      await expect(newStore().open()).rejects.toThrow(`state directory ${dir} is already open in this process`);
    });

    it('releases the lock on close', async () => {
      const first = await opened();
      await first.close();
      expect(await readdir(dir)).not.toContain('LOCK');
      await opened();
    });
  });
});

function plain(snapshot: StateSnapshot): Record<string, Record<string, unknown>> {
  return Object.fromEntries([...snapshot].filter(([, records]) => records.size > 0).map(([name, records]) => [name, Object.fromEntries(records)]));
}

/** The counters n of keys `c<n>`, ascending, each checked against its value. */
function counters(records: Map<string, unknown> | undefined): number[] {
  const out: number[] = [];
  for (const [key, value] of records ?? []) {
    const n = Number(key.slice(1));
    expect((value as { n: number }).n).toBe(n);
    out.push(n);
  }
  return out.sort((a, b) => a - b);
}

function fakeLogger(): StateStoreLogger & { lines(level: 'info' | 'warn' | 'error'): string[] } {
  const calls: { level: string; msg: string }[] = [];
  return {
    info: (_obj, msg) => calls.push({ level: 'info', msg }),
    warn: (_obj, msg) => calls.push({ level: 'warn', msg }),
    error: (_obj, msg) => calls.push({ level: 'error', msg }),
    lines: (level) => calls.filter((c) => c.level === level).map((c) => c.msg),
  };
}
