// Placement benchmark: the original's SingularityOfferPerformanceTestRunner scenario, one round.
// 4,500 SERVICE requests × 5 instances (GREEDY) with random cpus 1–5, memory 15–20,000 MB and
// disk 30–50,000 MB, over 2,500 agents with random capacity in the same ranges.
//
//   node -r ./tools/register.js bench/placement/offer-performance.bench.ts [--rounds N] [--seed S]
//
// Timings live here only (conventions §6); the specs never assert on time.
import { planOffers, DEFAULT_PLACEMENT_SETTINGS, type PlacementAgent, type PlacementInput, type PlacementTask } from '@singularity/scheduler-core';
import { seededRandom } from '@singularity/util';
import type { SingularityDeploy, SingularityRequest } from '@singularity/models';
import { cpus } from 'node:os';
import { performance } from 'node:perf_hooks';

const NUM_REQUESTS = 4_500;
const INSTANCES = 5;
const NUM_AGENTS = 2_500;
const NOW = 1_700_000_000_000;

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

function scenario(seed: number): PlacementInput {
  const random = seededRandom(seed);
  const between = (min: number, max: number) => min + random.next() * (max - min);

  const tasks: PlacementTask[] = [];
  for (let r = 0; r < NUM_REQUESTS; r++) {
    const request: SingularityRequest = { id: `request-${r}`, requestType: 'SERVICE', instances: INSTANCES, agentPlacement: 'GREEDY' };
    const resources = { cpus: between(1, 5), memoryMb: Math.round(between(15, 20_000)), diskMb: Math.round(between(30, 50_000)), numPorts: 0 };
    const deploy: SingularityDeploy = { requestId: request.id, id: 'd1', command: 'sleep 1000', resources };
    for (let instanceNo = 1; instanceNo <= INSTANCES; instanceNo++) {
      const id = `${request.id}-d1-${NOW}-${instanceNo}-NEW_DEPLOY-${NOW}`;
      tasks.push({
        pendingTaskId: id,
        requestId: request.id,
        deployId: deploy.id,
        request,
        deploy,
        pendingTask: {
          pendingTaskId: { requestId: request.id, deployId: deploy.id, nextRunAt: NOW, instanceNo, pendingType: 'NEW_DEPLOY', createdAt: NOW, id },
        },
        resources,
        nextRunAt: NOW,
      });
    }
  }

  const agents: PlacementAgent[] = [];
  for (let a = 0; a < NUM_AGENTS; a++) {
    agents.push({
      agentId: `slave-${a}`,
      host: `host-${a}`,
      rackId: `rack-${a % 10}`,
      state: 'ACTIVE',
      rackState: 'ACTIVE',
      attributes: {},
      total: { cpus: between(1, 5), memoryMb: Math.round(between(15, 20_000)), diskMb: Math.round(between(30, 50_000)) },
      used: { cpus: 0, memoryMb: 0, diskMb: 0 },
      portRange: { begin: 31000, end: 31999 },
      usedPorts: new Set(),
    });
  }
  return { agents, tasks, placed: [], now: NOW + 1_000, seed, settings: { ...DEFAULT_PLACEMENT_SETTINGS } };
}

function main(): void {
  const rounds = arg('rounds', 10);
  const seed = arg('seed', 1);
  console.log(`placement bench: ${NUM_REQUESTS} requests × ${INSTANCES} instances over ${NUM_AGENTS} agents, ${rounds} rounds, node ${process.version}, ${cpus().length} cpus`);

  const seconds: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const input = scenario(seed + round); // building the input is not timed, as in the original
    const start = performance.now();
    const plan = planOffers(input);
    const elapsed = (performance.now() - start) / 1000;
    seconds.push(elapsed);
    console.log(
      `round ${round + 1}: ${plan.launches.length} of ${input.tasks.length} tasks placed (${plan.unplaced.length} unplaced) ` +
        `in ${elapsed.toFixed(3)} s = ${Math.round(plan.launches.length / elapsed)} placements/s, ` +
        `${Math.round(input.tasks.length / elapsed)} tasks decided/s`,
    );
  }
  const sorted = [...seconds].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)];
  console.log(`median ${median.toFixed(3)} s, worst ${sorted[sorted.length - 1].toFixed(3)} s, first (cold) ${seconds[0].toFixed(3)} s`);
  console.log(`peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`);
}

main();
