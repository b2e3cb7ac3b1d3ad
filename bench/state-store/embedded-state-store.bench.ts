// Embedded state store benchmark: group-commit throughput of EmbeddedStateStore on this machine's disk.
//
//   node -r ./tools/register.js bench/state-store/embedded-state-store.bench.ts \
//     [--dir DIR] [--commits 100000] [--in-flight 1000] [--compact-after-mb 64] [--only a|b|c]
//
// Scenarios, each on a fresh directory (under --dir, default the OS temp dir, removed afterwards):
//   (a) --commits single-op commits (a task status update each), --in-flight of them outstanding;
//   (b) 2,000 commits of 100 ops each (a scheduling round's worth), one at a time and 10 in flight;
//   (c) 2,000 single-op commits one at a time: the fdatasync latency floor;
// then the time to reopen (a)'s directory and load it. Prints peak RSS at the end (`--only a` to see one
// scenario's alone; a single process keeps the heap it grew for earlier ones).
//
// Timings live here only (conventions §6); the specs never assert on time.
import { EmbeddedStateStore, type StateOp } from '@singularity/scheduler-state';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

const baseDir = arg('dir', tmpdir());
const COMMITS = Number(arg('commits', '100000'));
const IN_FLIGHT = Number(arg('in-flight', '1000'));
const COMPACT_AFTER_BYTES = Number(arg('compact-after-mb', '64')) * 1024 * 1024;
const ONLY = arg('only', 'abc');

/** A task status update much like the scheduler writes for every TASK_* state change (~330 bytes of JSON). */
function statusUpdate(n: number): StateOp {
  const request = `request-${n % 4500}`;
  const id = `${request}-deploy-1-1700000000000-${(n % 5) + 1}-host-${n % 2500}-DEFAULT`;
  return {
    op: 'put',
    collection: 'taskUpdates',
    key: `${id}-${n}`,
    value: {
      taskId: { id, requestId: request, deployId: 'deploy-1', startedAt: 1_700_000_000_000, instanceNo: (n % 5) + 1, host: `host-${n % 2500}`, rackId: `rack-${n % 10}` },
      timestamp: 1_700_000_000_000 + n,
      taskState: n % 2 === 0 ? 'TASK_RUNNING' : 'TASK_STARTING',
      statusMessage: 'Task is running',
    },
  };
}

interface Result {
  name: string;
  commits: number;
  ops: number;
  seconds: number;
  batches: number;
  compactions: number;
  p50ms?: number;
  p99ms?: number;
}

/** Runs `total` commits of `opsPer` ops with `inFlight` outstanding. */
async function run(name: string, store: EmbeddedStateStore, total: number, opsPer: number, inFlight: number, latencies = false): Promise<Result> {
  const before = store.stats();
  const times: number[] = [];
  let next = 0;
  let opNo = before.lastSeq * 1000; // distinct keys across scenarios on one store
  const worker = async () => {
    while (next < total) {
      next++;
      const ops = Array.from({ length: opsPer }, () => statusUpdate(opNo++));
      const started = latencies ? performance.now() : 0;
      await store.commit(ops);
      if (latencies) times.push(performance.now() - started);
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: inFlight }, worker));
  const seconds = (performance.now() - started) / 1000;
  const after = store.stats();
  times.sort((a, b) => a - b);
  return {
    name,
    commits: total,
    ops: total * opsPer,
    seconds,
    batches: after.batches - before.batches,
    compactions: after.compactions - before.compactions,
    p50ms: latencies ? times[Math.floor(times.length * 0.5)] : undefined,
    p99ms: latencies ? times[Math.floor(times.length * 0.99)] : undefined,
  };
}

function print(r: Result): void {
  const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
  const latency = r.p50ms === undefined ? '' : `, commit latency p50 ${r.p50ms.toFixed(1)} ms / p99 ${(r.p99ms as number).toFixed(1)} ms`;
  console.log(
    `${r.name}: ${fmt(r.commits)} commits, ${fmt(r.ops)} ops in ${r.seconds.toFixed(2)} s → ${fmt(r.commits / r.seconds)} commits/s, ${fmt(r.ops / r.seconds)} ops/s; ` +
      `${fmt(r.batches)} batches (write + fdatasync), ${(r.commits / r.batches).toFixed(1)} commits/batch, ${r.compactions} compactions${latency}; ` +
      `peak RSS so far ${peakRssMb()} MB`,
  );
}

function peakRssMb(): string {
  return (process.resourceUsage().maxRSS / 1024).toFixed(0);
}

async function withStore<T>(fn: (store: EmbeddedStateStore, directory: string) => Promise<T>): Promise<T> {
  const directory = await mkdtemp(join(baseDir, 'state-bench-'));
  const store = new EmbeddedStateStore({ directory, compactAfterBytes: COMPACT_AFTER_BYTES });
  await store.open();
  try {
    return await fn(store, directory);
  } finally {
    await store.close();
    await rm(directory, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  console.log(
    `EmbeddedStateStore bench: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}, files under ${baseDir}, compactAfterBytes ${COMPACT_AFTER_BYTES / 1048576} MiB`,
  );
  await withStore((store) => run('warm-up', store, 5_000, 1, 100)); // JIT, not reported

  if (ONLY.includes('a')) await withStore(async (store, directory) => {
    print(await run(`(a) single-op commits, ${IN_FLIGHT} in flight`, store, COMMITS, 1, IN_FLIGHT, true));
    await store.close();
    const reopened = new EmbeddedStateStore({ directory, compactAfterBytes: COMPACT_AFTER_BYTES });
    const started = performance.now();
    await reopened.open();
    const snapshot = await reopened.load();
    const seconds = (performance.now() - started) / 1000;
    const records = [...snapshot.values()].reduce((n, c) => n + c.size, 0);
    const { journalBytes, generation } = reopened.stats();
    console.log(`    reopen + load of (a): ${records.toLocaleString('en-US')} records (snapshot ${generation > 1 ? 'and' : 'none,'} ${(journalBytes / 1e6).toFixed(1)} MB of journal) in ${seconds.toFixed(2)} s; peak RSS so far ${peakRssMb()} MB`);
    await reopened.close();
    await store.open(); // withStore closes it
  });
  if (ONLY.includes('b')) await withStore(async (store) => print(await run('(b) 100-op commits, 1 in flight', store, 2_000, 100, 1, true)));
  if (ONLY.includes('b')) await withStore(async (store) => print(await run('(b) 100-op commits, 10 in flight', store, 2_000, 100, 10, true)));
  if (ONLY.includes('c')) await withStore(async (store) => print(await run('(c) single-op commits, 1 in flight', store, 2_000, 1, 1, true)));

  console.log(`peak RSS ${peakRssMb()} MB`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
