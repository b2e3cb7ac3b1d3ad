import { AGENT_PLACEMENTS, type MachineState, type RequestType } from '@singularity/models';
import fc from 'fast-check';
import { PLACEMENT_CHECKS } from './check-registry';
import { RESOURCE_EPSILON } from './checks/resources.check';
import { NOW, aDeploy, aRequest, aTask, anAgent, someSettings } from './placement.fixtures';
import type { PlacedTaskInfo, PlacementAgent, PlacementInput, PlacementPlan, PlacementTask } from './placement.types';
import { DEFAULT_PLACEMENT_RULES, planOffers } from './plan-offers';

/**
 * "Something bad never happens" (conventions §12) over random small clusters: mixed machine
 * states, racks, attributes, port ranges, already over-committed agents, every placement, bounce
 * replacements, caps and running or cleaning tasks.
 */

const MACHINE_STATES: MachineState[] = ['ACTIVE', 'ACTIVE', 'ACTIVE', 'ACTIVE', 'ACTIVE', 'FROZEN', 'DECOMMISSIONING', 'STARTING_DECOMMISSION', 'DEAD'];
const REQUEST_TYPES: RequestType[] = ['SERVICE', 'WORKER', 'ON_DEMAND', 'SCHEDULED', 'RUN_ONCE'];
const SEPARATING = new Set(['SEPARATE', 'SEPARATE_BY_DEPLOY', 'SPREAD_ALL_AGENTS', 'SPREAD_ALL_SLAVES']);

// Absent about half the time, so most tasks can land somewhere and the properties have launches to check.
const maybe = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined, freq: 2 });
const rarely = <T>(value: T) => fc.constantFrom<T | undefined>(undefined, undefined, undefined, value);

const agentSpec = fc.record({
  state: fc.constantFrom(...MACHINE_STATES),
  rack: fc.integer({ min: 0, max: 2 }),
  cpus: fc.constantFrom(1, 4, 8, 16),
  memoryMb: fc.constantFrom(512, 2048, 8192),
  diskMb: fc.constantFrom(0, 1000, 5000),
  usedShare: fc.constantFrom(0, 0, 0.25, 0.5, 0.9, 1.1),
  portCount: fc.integer({ min: 0, max: 10 }),
  usedPortOffsets: fc.array(fc.integer({ min: -1, max: 7 }), { maxLength: 3 }),
  zone: fc.constantFrom('a', 'b'),
  reserved: fc.constantFrom(false, false, false, false, false, true),
  measured: fc.boolean(),
});

const requestSpec = fc.record({
  type: fc.constantFrom(...REQUEST_TYPES),
  placement: maybe(fc.constantFrom(...AGENT_PLACEMENTS)),
  instances: maybe(fc.integer({ min: 1, max: 5 })),
  rackSensitive: fc.boolean(),
  allowBounceToSameHost: maybe(fc.boolean()),
  maxTasksPerOffer: maybe(fc.integer({ min: 0, max: 2 })),
  requiredZone: rarely('a'),
  allowedZone: maybe(fc.constantFrom('a', 'b')),
  priority: maybe(fc.constantFrom(0, 0.2, 0.9)),
  deploys: fc.integer({ min: 1, max: 2 }),
});

const taskSpec = fc.record({
  request: fc.nat(),
  deploy: fc.nat(),
  cpus: fc.constantFrom(0.1, 0.5, 1, 2, 3),
  memoryMb: fc.constantFrom(32, 256, 1024, 3000),
  diskMb: fc.constantFrom(0, 0, 100, 800),
  numPorts: fc.constantFrom(0, 0, 0, 1, 2, 3),
  bounce: fc.constantFrom(false, false, true),
  age: fc.integer({ min: -1_000, max: 100_000 }),
  overrideZone: rarely('b'),
});

/** Each property sees 300 clusters (a few hundred ms in all). */
const RUNS = { numRuns: 300 };

const placedSpec = fc.record({ request: fc.nat(), deploy: fc.nat(), agent: fc.nat(), cleaning: fc.boolean() });

const inputs: fc.Arbitrary<PlacementInput> = fc
  .record({
    agents: fc.array(agentSpec, { maxLength: 10 }),
    rackStates: fc.array(fc.constantFrom<MachineState>('ACTIVE', 'ACTIVE', 'ACTIVE', 'FROZEN', 'DECOMMISSIONING'), { minLength: 3, maxLength: 3 }),
    requests: fc.array(requestSpec, { minLength: 1, maxLength: 4 }),
    tasks: fc.array(taskSpec, { maxLength: 16 }),
    placed: fc.array(placedSpec, { maxLength: 8 }),
    seed: fc.integer(),
    maxTasksPerOffer: fc.integer({ min: 0, max: 3 }),
    allowBounceToSameHost: fc.boolean(),
  })
  .map((s) => {
    const agents: PlacementAgent[] = s.agents.map((a, i) => {
      const total = { cpus: a.cpus, memoryMb: a.memoryMb, diskMb: a.diskMb };
      return anAgent({
        agentId: `a${i}`,
        host: `h${i}`,
        rackId: `r${a.rack}`,
        state: a.state,
        rackState: s.rackStates[a.rack],
        attributes: { zone: a.zone },
        reservedAttributes: a.reserved ? { zone: a.zone } : undefined,
        total,
        used: { cpus: a.cpus * a.usedShare, memoryMb: a.memoryMb * a.usedShare, diskMb: a.diskMb * a.usedShare },
        usage: a.measured ? { cpus: a.cpus / 2, memoryMb: a.memoryMb / 3, diskMb: 0 } : undefined,
        portRange: { begin: 31000, end: 31000 + a.portCount - 1 },
        usedPorts: new Set(a.usedPortOffsets.map((o) => 31000 + o)),
      });
    });
    const requests = s.requests.map((r, i) =>
      aRequest({
        id: `req${i}`,
        requestType: r.type,
        agentPlacement: r.placement,
        instances: r.instances,
        rackSensitive: r.rackSensitive,
        allowBounceToSameHost: r.allowBounceToSameHost,
        maxTasksPerOffer: r.maxTasksPerOffer,
        requiredAgentAttributes: r.requiredZone ? { zone: r.requiredZone } : undefined,
        allowedAgentAttributes: r.allowedZone ? { zone: r.allowedZone } : undefined,
        taskPriorityLevel: r.priority,
      }),
    );
    const deploys = requests.map((request, i) =>
      Array.from({ length: s.requests[i].deploys }, (_, d) => aDeploy({ requestId: request.id, id: `d${d}` })),
    );
    const tasks: PlacementTask[] = s.tasks.map((t, i) => {
      const r = t.request % requests.length;
      const deploy = deploys[r][t.deploy % deploys[r].length];
      return aTask({
        request: requests[r],
        deploy,
        instanceNo: i + 1,
        nextRunAt: NOW - t.age,
        isBounceReplacement: t.bounce,
        resources: { cpus: t.cpus, memoryMb: t.memoryMb, diskMb: t.diskMb, numPorts: t.numPorts },
        pendingTask: t.overrideZone ? { requiredAgentAttributeOverrides: { zone: t.overrideZone } } : {},
      });
    });
    const placed: PlacedTaskInfo[] = agents.length
      ? s.placed.map((p, i) => {
          const r = p.request % requests.length;
          const agent = agents[p.agent % agents.length];
          return {
            taskId: `placed-${i}`,
            requestId: requests[r].id,
            deployId: deploys[r][p.deploy % deploys[r].length].id,
            agentId: agent.agentId,
            host: agent.host,
            rackId: agent.rackId,
            cleaning: p.cleaning,
          };
        })
      : [];
    return {
      agents,
      tasks,
      placed,
      now: NOW,
      seed: s.seed,
      settings: someSettings({ maxTasksPerOffer: s.maxTasksPerOffer, allowBounceToSameHost: s.allowBounceToSameHost }),
    };
  });

function must<T>(value: T | undefined): T {
  if (value === undefined) throw new Error('missing');
  return value;
}

function launchedTasks(input: PlacementInput, plan: PlacementPlan): Array<{ task: PlacementTask; agent: PlacementAgent; ports: number[] }> {
  const tasks = new Map(input.tasks.map((t) => [t.pendingTaskId, t]));
  const agents = new Map(input.agents.map((a) => [a.agentId, a]));
  return plan.launches.map((l) => ({ task: must(tasks.get(l.pendingTaskId)), agent: must(agents.get(l.agentId)), ports: l.ports }));
}

describe('planOffers properties', () => {
  it('places every task at most once and explains every one it leaves', () => {
    fc.assert(
      fc.property(inputs, (input) => {
        const plan = planOffers(input);
        const ids = [...plan.launches.map((l) => l.pendingTaskId), ...plan.unplaced.map((u) => u.pendingTaskId)];
        expect(ids.sort()).toEqual(input.tasks.map((t) => t.pendingTaskId).sort());
        for (const u of plan.unplaced) {
          const total = Object.values(u.reasons).reduce((a, b) => a + (b ?? 0), 0);
          expect(total).toBe(input.agents.length);
          expect(u.summary).toMatch(new RegExp(`^0 of ${input.agents.length} agents fit: `));
        }
      }),
      RUNS,
    );
  });

  it('never over-commits cpus, memory, disk or ports on any agent', () => {
    fc.assert(
      fc.property(inputs, (input) => {
        const plan = planOffers(input);
        const byAgent = new Map<string, ReturnType<typeof launchedTasks>>();
        for (const launch of launchedTasks(input, plan)) {
          byAgent.set(launch.agent.agentId, [...(byAgent.get(launch.agent.agentId) ?? []), launch]);
        }
        for (const launches of byAgent.values()) {
          const { total, used, portRange, usedPorts } = launches[0].agent;
          const sum = (pick: (t: PlacementTask) => number) => launches.reduce((acc, l) => acc + pick(l.task), 0);
          expect(sum((t) => t.resources.cpus)).toBeLessThanOrEqual(total.cpus - used.cpus + RESOURCE_EPSILON);
          expect(sum((t) => t.resources.memoryMb)).toBeLessThanOrEqual(total.memoryMb - used.memoryMb + RESOURCE_EPSILON);
          expect(sum((t) => t.resources.diskMb)).toBeLessThanOrEqual(total.diskMb - used.diskMb + RESOURCE_EPSILON);
          const ports = launches.flatMap((l) => l.ports);
          expect(new Set(ports).size).toBe(ports.length);
          for (const l of launches) expect(l.ports).toHaveLength(l.task.resources.numPorts);
          for (const port of ports) {
            expect(port).toBeGreaterThanOrEqual(portRange.begin);
            expect(port).toBeLessThanOrEqual(portRange.end);
            expect(usedPorts.has(port)).toBe(false);
          }
        }
      }),
      RUNS,
    );
  });

  it('places nothing on agents or racks that are not ACTIVE', () => {
    fc.assert(
      fc.property(inputs, (input) => {
        for (const { agent } of launchedTasks(input, planOffers(input))) {
          expect([agent.state, agent.rackState]).toEqual(['ACTIVE', 'ACTIVE']);
        }
      }),
      RUNS,
    );
  });

  it('SEPARATE never puts two of a deploy on one agent', () => {
    fc.assert(
      fc.property(inputs, (input) => {
        const plan = planOffers(input);
        const onHost = new Map<string, { launched: number; running: number; cleaning: number }>();
        const key = (requestId: string, deployId: string, host: string) => `${requestId}/${deployId}@${host}`;
        const at = (k: string) => {
          if (!onHost.has(k)) onHost.set(k, { launched: 0, running: 0, cleaning: 0 });
          return must(onHost.get(k));
        };
        for (const p of input.placed) at(key(p.requestId, p.deployId, p.host))[p.cleaning ? 'cleaning' : 'running']++;
        for (const { task, agent } of launchedTasks(input, plan)) {
          const placement = task.request.agentPlacement ?? input.settings.defaultAgentPlacement;
          if (!SEPARATING.has(placement)) continue;
          const here = at(key(task.requestId, task.deployId, agent.host));
          here.launched++;
          const bounceMayShare =
            task.isBounceReplacement === true && (task.request.allowBounceToSameHost ?? input.settings.allowBounceToSameHost);
          // At most one new task of the deploy per host, never beside a running one; beside cleaning
          // (bounced) ones only as an allowed bounce replacement.
          expect(here.launched).toBe(1);
          expect(here.running).toBe(0);
          if (!bounceMayShare) expect(here.cleaning).toBe(0);
        }
      }),
      RUNS,
    );
  });

  it('never runs more ON_DEMAND tasks than the request’s instances', () => {
    fc.assert(
      fc.property(inputs, (input) => {
        const plan = planOffers(input);
        const launched = new Map<string, number>();
        for (const { task } of launchedTasks(input, plan)) launched.set(task.requestId, (launched.get(task.requestId) ?? 0) + 1);
        for (const [requestId, count] of launched) {
          const request = must(input.tasks.find((t) => t.requestId === requestId)).request;
          if (request.requestType !== 'ON_DEMAND' || request.instances === undefined) continue;
          const running = input.placed.filter((p) => p.requestId === requestId).length;
          expect(count).toBeLessThanOrEqual(Math.max(0, request.instances - running));
        }
      }),
      RUNS,
    );
  });

  it('gives the same plan for the same input and seed', () => {
    fc.assert(
      fc.property(inputs, (input) => {
        const copy: PlacementInput = {
          ...structuredClone({ ...input, agents: [] }),
          agents: input.agents.map((a) => ({ ...structuredClone({ ...a, usedPorts: [] }), usedPorts: new Set(a.usedPorts) })),
        };
        expect(planOffers(copy)).toEqual(planOffers(input));
      }),
      RUNS,
    );
  });

  it('reusing a failed sibling’s verdict never changes which tasks launch where', () => {
    // A copy of the registry turns the reuse off (it is only sound for the built-in checks).
    const noReuse = { ...DEFAULT_PLACEMENT_RULES, checks: [...PLACEMENT_CHECKS] };
    fc.assert(
      fc.property(inputs, (input) => {
        const withReuse = planOffers(input);
        const without = planOffers(input, noReuse);
        expect(withReuse.launches).toEqual(without.launches);
        expect(withReuse.unplaced.map((u) => u.pendingTaskId)).toEqual(without.unplaced.map((u) => u.pendingTaskId));
      }),
      RUNS,
    );
  });
});
