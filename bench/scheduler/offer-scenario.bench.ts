// Whole-scheduler benchmark: the original's offer-performance scenario through the real
// scheduling loop, live state and embedded journal (not only the pure planner):
//   4,500 SERVICE requests × 5 instances (GREEDY), random cpus 1–5, memory 15–20,000 MB,
//   disk 30–50,000 MB; 2,500 agents with random capacity in the same ranges; one scheduling
//   round; then five status updates per launched task, relayed in agent-sized batches.
//
//   node -r ./tools/register.js bench/scheduler/offer-scenario.bench.ts [--seed S] [--batch N] [--in-flight N]
//
// Agents are simulated (a recording gateway stands in for HTTP); everything else is real.
// Timings live here only (conventions §6).
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { DEFAULT_VALIDATION_LIMITS, type TaskStatusRecord } from '@singularity/models';
import { createLogger } from '@singularity/node-util';
import { DEFAULT_COOLDOWN_SETTINGS, DEFAULT_SCHEDULER_SETTINGS } from '@singularity/scheduler-core';
import { FakeAgentGateway, SchedulerRuntime } from '@singularity/scheduler-feature';
import { EmbeddedStateStore } from '@singularity/scheduler-state';
import { ManualClock, seededRandom } from '@singularity/util';

const NUM_REQUESTS = 4_500;
const INSTANCES = 5;
const NUM_AGENTS = 2_500;

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};

let peakRss = 0;
const sampleRss = () => (peakRss = Math.max(peakRss, process.memoryUsage().rss));

async function inChunks<T>(items: T[], size: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < items.length; i += size) {
    await Promise.all(items.slice(i, i + size).map(fn));
    sampleRss();
  }
}

async function main(): Promise<void> {
  const seed = arg('seed', 42);
  const batchSize = arg('batch', 100);
  const inFlight = arg('in-flight', 20);
  const random = seededRandom(seed);
  const between = (min: number, max: number) => min + random.next() * (max - min);
  const dir = mkdtempSync(join(tmpdir(), 'singularity-bench-'));
  const store = new EmbeddedStateStore({ directory: dir });
  const clock = new ManualClock(1_700_000_000_000);
  const gateway = new FakeAgentGateway();
  const runtime = await SchedulerRuntime.open({
    store,
    clock,
    gateway,
    logger: createLogger('bench', {}, 'warn'),
    settings: { ...DEFAULT_SCHEDULER_SETTINGS, ...DEFAULT_COOLDOWN_SETTINGS, heartbeatIntervalMillis: 5000, agentHeartbeatTimeoutSeconds: 3600, startNewReconcileEverySeconds: 600, deleteDeadAgentsAfterHours: 168, persistHistoryEverySeconds: 120, agentReregisterTimeoutSeconds: 600, tickDebounceMillis: 0 },
    limits: { ...DEFAULT_VALIDATION_LIMITS, maxNumCpusPerInstance: 50, maxMemoryMbPerInstance: 24_000, maxDiskMbPerInstance: 60_000 },
  });
  process.stdout.write(`machine: ${cpus().length} × ${cpus()[0]?.model}, node ${process.version}; journal in ${dir}\n`);

  let t = performance.now();
  await inChunks([...Array(NUM_AGENTS).keys()], 250, (a) =>
    runtime.agents.register({
      agentId: `agent-${a}`,
      hostname: `host-${a}`,
      address: '127.0.0.1',
      port: 5051,
      rackId: `rack-${a % 10}`,
      attributes: {},
      resources: { cpus: between(1, 5), memoryMb: Math.round(between(15, 20_000)), diskMb: Math.round(between(30, 50_000)) },
      portRange: { begin: 31000, end: 32000 },
      version: 'bench',
      tasks: [],
    }),
  );
  process.stdout.write(`setup: ${NUM_AGENTS} agents registered in ${((performance.now() - t) / 1000).toFixed(2)} s\n`);

  t = performance.now();
  await inChunks([...Array(NUM_REQUESTS).keys()], 250, async (r) => {
    const id = `request-${r}`;
    await runtime.requests.createOrUpdate({ id, requestType: 'SERVICE', instances: INSTANCES, agentPlacement: 'GREEDY' });
    await runtime.deploys.deploy({
      deploy: {
        requestId: id,
        id: 'd1',
        command: 'sleep 1000',
        resources: { cpus: between(1, 5), memoryMb: Math.round(between(15, 20_000)), diskMb: Math.round(between(30, 50_000)), numPorts: 0 },
      },
    });
  });
  process.stdout.write(`setup: ${NUM_REQUESTS} requests and deploys in ${((performance.now() - t) / 1000).toFixed(2)} s\n`);

  // The round: pending deploys checked, the queue drained into 22,500 pending tasks, placement, one commit.
  t = performance.now();
  await runtime.scheduler.tick();
  const roundSeconds = (performance.now() - t) / 1000;
  sampleRss();
  const launched = gateway.launches.length;
  const pending = runtime.ctx.state.pendingTasks.size;
  process.stdout.write(
    `round: ${launched} tasks placed (${pending} could not be placed: not enough capacity) in ${roundSeconds.toFixed(3)} s = ${Math.round(launched / roundSeconds)} placements/s\n`,
  );

  // Five status updates per launched task, as agents relay them: batches of `batchSize`, `inFlight` batches at once.
  const byAgent = new Map<string, string[]>();
  for (const l of gateway.launches) byAgent.set(l.agentId, [...(byAgent.get(l.agentId) ?? []), l.spec.taskId]);
  const states: TaskStatusRecord['state'][] = ['TASK_STAGING', 'TASK_STARTING', 'TASK_RUNNING', 'TASK_RUNNING', 'TASK_FINISHED'];
  const batches: Array<{ agentId: string; updates: TaskStatusRecord[] }> = [];
  for (const [seq, state] of states.entries()) {
    for (const [agentId, taskIds] of byAgent) {
      const updates = taskIds.map((taskId) => ({ seq: seq + 1, taskId, state, timestamp: clock.now(), message: state }));
      for (let i = 0; i < updates.length; i += batchSize) batches.push({ agentId, updates: updates.slice(i, i + batchSize) });
    }
  }
  const total = batches.reduce((n, b) => n + b.updates.length, 0);
  t = performance.now();
  await inChunks(batches, inFlight, (b) => runtime.agents.statusUpdates(b.agentId, { updates: b.updates }));
  const updateSeconds = (performance.now() - t) / 1000;
  process.stdout.write(`status updates: ${total} in ${updateSeconds.toFixed(3)} s = ${Math.round(total / updateSeconds)} updates/s (batches of ≤${batchSize}, ${inFlight} in flight)\n`);
  process.stdout.write(`peak RSS: ${Math.round(peakRss / 1024 / 1024)} MB; journal stats: ${JSON.stringify(store.stats())}\n`);

  await runtime.stop();
  rmSync(dir, { recursive: true, force: true });
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack}\n`);
  process.exit(1);
});
