// ZooKeeper state store benchmark: how fast ZooKeeperStateStore opens and loads a scheduler-sized state,
// and how many commits per second it writes, against a real ZooKeeper server.
//
//   node -r ./tools/register.js bench/state/zookeeper-state-store.bench.ts \
//     [--connect HOST:PORT] [--data-dir DIR] [--records 30000] [--loads 3] [--commits 20000] [--in-flight 1000]
//
// Without --connect it starts Debian's ZooKeeper (3.8) like the tests do (@singularity/scheduler-state/testing),
// with its data on tmpfs unless --data-dir says where: on tmpfs the server's fsyncs cost nothing, so the
// write figures are an upper bound; put --data-dir on a disk to include them.
//
// Scenarios, each under a fresh root:
//   (1) write --records records (a mix of task-, request- and update-like JSON values of 300–1,500 bytes,
//       over 8 collections) in commits of 100 ops, 10 in flight; then a new store opens the root and
//       load()s it --loads times: the figure a scheduler taking over leadership waits for;
//   (2) --commits single-op commits (a task status update each) with --in-flight outstanding;
//   (3) 2,000 single-op commits one at a time: the round-trip latency floor.
//
// Timings live here only (conventions §6); the specs never assert on time.
import { ZooKeeperStateStore, type StateOp } from '@singularity/scheduler-state';
import { startZooKeeperServer, type ZooKeeperTestServer } from '@singularity/scheduler-state/testing';
import { cpus } from 'node:os';
import { performance } from 'node:perf_hooks';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

const RECORDS = Number(arg('records', '30000'));
const LOADS = Number(arg('loads', '3'));
const COMMITS = Number(arg('commits', '20000'));
const IN_FLIGHT = Number(arg('in-flight', '1000'));

const COLLECTIONS = ['tasks', 'taskUpdates', 'pendingTasks', 'requests', 'deploys', 'deployStates', 'agents', 'racks'];

/** A record much like the scheduler keeps: ids of Singularity's shape, 300–1,500 bytes of JSON. */
function record(n: number): StateOp {
  const request = `request-${n % 4500}`;
  const id = `${request}-deploy-1-1700000000000-${(n % 5) + 1}-host-${n % 2500}-DEFAULT`;
  return {
    op: 'put',
    collection: COLLECTIONS[n % COLLECTIONS.length],
    key: `${id}-${n}`,
    value: {
      taskId: { id, requestId: request, deployId: 'deploy-1', startedAt: 1_700_000_000_000, instanceNo: (n % 5) + 1, host: `host-${n % 2500}`, rackId: `rack-${n % 10}` },
      timestamp: 1_700_000_000_000 + n,
      taskState: n % 2 === 0 ? 'TASK_RUNNING' : 'TASK_STARTING',
      resources: { cpus: 0.5, memoryMb: 256, numPorts: 2, ports: [31000 + (n % 1000), 32000 + (n % 1000)] },
      env: Object.fromEntries(Array.from({ length: n % 12 }, (_, i) => [`VAR_${i}`, `value-${i}-${'x'.repeat(60)}`])),
    },
  };
}

async function inFlight(total: number, concurrency: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, total) }, async () => {
      while (next < total) await fn(next++);
    }),
  );
}

function mb(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(0)} MB`;
}

async function main(): Promise<void> {
  let server: ZooKeeperTestServer | undefined;
  let connect = arg('connect', '');
  if (!connect) {
    const dataDir = arg('data-dir', '');
    server = await startZooKeeperServer(dataDir ? { dataDir } : {});
    connect = server.connect;
  }
  const root = `/bench-${Date.now()}`;
  const store = (suffix: string) => new ZooKeeperStateStore({ connect, root: `${root}-${suffix}` });
  console.log(`ZooKeeper ${connect}${server ? ` (test server, data in ${server.dataDir})` : ''}; ${cpus().length} × ${cpus()[0]?.model.trim()}; Node ${process.version}`);

  try {
    // (1) write, then open + load
    const writer = store('load');
    await writer.open();
    let t = performance.now();
    const perCommit = 100;
    await inFlight(Math.ceil(RECORDS / perCommit), 10, async (c) => {
      const ops = Array.from({ length: Math.min(perCommit, RECORDS - c * perCommit) }, (_, i) => record(c * perCommit + i));
      await writer.commit(ops);
    });
    await writer.close();
    const writeSeconds = (performance.now() - t) / 1000;
    console.log(`(1) wrote ${RECORDS} records in ${writer.stats().batches} batches: ${writeSeconds.toFixed(2)} s (${Math.round(RECORDS / writeSeconds)} records/s)`);
    for (let i = 0; i < LOADS; i++) {
      const reader = store('load');
      t = performance.now();
      await reader.open();
      const opened = performance.now() - t;
      t = performance.now();
      const cpu = process.cpuUsage();
      const snapshot = await reader.load();
      const loaded = performance.now() - t;
      const { user, system } = process.cpuUsage(cpu);
      let n = 0;
      for (const records of snapshot.values()) n += records.size;
      await reader.close();
      console.log(
        `    open ${opened.toFixed(0)} ms, load ${n} records ${loaded.toFixed(0)} ms (${Math.round(n / (loaded / 1000))} records/s; ` +
          `this process's CPU ${(user / 1000).toFixed(0)} ms user + ${(system / 1000).toFixed(0)} ms system), rss ${mb(process.memoryUsage().rss)}`,
      );
    }

    // (2) single-op commits, many in flight
    const s2 = store('updates');
    await s2.open();
    t = performance.now();
    await inFlight(COMMITS, IN_FLIGHT, async (i) => s2.commit([record(i)]));
    const s2Seconds = (performance.now() - t) / 1000;
    console.log(`(2) ${COMMITS} single-op commits, ${IN_FLIGHT} in flight: ${s2Seconds.toFixed(2)} s = ${Math.round(COMMITS / s2Seconds)} commits/s in ${s2.stats().batches} batches`);
    await s2.close();

    // (3) one at a time
    const s3 = store('serial');
    await s3.open();
    const latencies: number[] = [];
    for (let i = 0; i < 2000; i++) {
      const start = performance.now();
      await s3.commit([record(i)]);
      latencies.push(performance.now() - start);
    }
    latencies.sort((a, b) => a - b);
    const total = latencies.reduce((a, b) => a + b, 0) / 1000;
    console.log(
      `(3) 2000 commits one at a time: ${Math.round(2000 / total)} commits/s, p50 ${latencies[1000].toFixed(2)} ms, p99 ${latencies[1980].toFixed(2)} ms`,
    );
    await s3.close();
  } finally {
    await server?.dispose();
  }
  console.log(`peak RSS ${mb(process.resourceUsage().maxRSS * 1024)}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
