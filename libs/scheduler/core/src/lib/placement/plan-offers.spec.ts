import { FITS, reject, type PlacementCheck } from './check';
import { PLACEMENT_CHECKS } from './check-registry';
import {
  NOW,
  aPlacedTask,
  aRequest,
  aTask,
  anAgent,
  anInput,
  someAgents,
  someTasks,
} from './placement.fixtures';
import type { PlacementAgent, PlacementPlan } from './placement.types';
import { DEFAULT_PLACEMENT_RULES, planOffers } from './plan-offers';
import { AGENT_RESERVED } from './rejection-reasons';

function agentsUsed(plan: PlacementPlan): string[] {
  return plan.launches.map((l) => l.agentId);
}

function launchCountBy<K>(plan: PlacementPlan, key: (agentId: string) => K): Map<K, number> {
  const counts = new Map<K, number>();
  for (const { agentId } of plan.launches) counts.set(key(agentId), (counts.get(key(agentId)) ?? 0) + 1);
  return counts;
}

describe('planOffers', () => {
  describe('resources', () => {
    it('places a task on an agent with room and records the seed', () => {
      const plan = planOffers(anInput({ agents: [anAgent({ agentId: 'a1' })], tasks: [aTask()], seed: 7 }));
      expect(plan.seed).toBe(7);
      expect(plan.launches).toEqual([{ pendingTaskId: expect.any(String), agentId: 'a1', ports: [], score: 0.75 }]);
      expect(plan.unplaced).toEqual([]);
    });

    it('counts every agent’s reason when nothing fits and says so in words', () => {
      const small = { total: { memoryMb: 1024 } };
      const agents = [anAgent(small), anAgent(small), anAgent({ state: 'FROZEN', total: { memoryMb: 65_536 } })];
      const task = aTask({ resources: { memoryMb: 2048 } });

      const plan = planOffers(anInput({ agents, tasks: [task] }));

      expect(plan.launches).toEqual([]);
      expect(plan.unplaced).toEqual([
        {
          pendingTaskId: task.pendingTaskId,
          reasons: { NOT_ENOUGH_MEMORY: 2, AGENT_FROZEN: 1 },
          summary: '0 of 3 agents fit: 2 × not enough memory (wants 2048 MB, most free 1024 MB), 1 × agent FROZEN',
        },
      ]);
    });

    it('never over-commits: later tasks see what earlier ones reserved', () => {
      const agent = anAgent({ agentId: 'a1', total: { cpus: 4 } });
      const tasks = someTasks(2, { resources: { cpus: 3 } });

      const plan = planOffers(anInput({ agents: [agent], tasks }));

      expect(agentsUsed(plan)).toEqual(['a1']);
      expect(plan.unplaced).toHaveLength(1);
      expect(plan.unplaced[0].reasons).toEqual({ NOT_ENOUGH_CPUS: 1 });
      expect(plan.unplaced[0].summary).toBe('0 of 1 agents fit: 1 × not enough cpus (wants 3, most free 1)');
    });

    it('reserves the lowest free ports of the range, distinct per agent', () => {
      const agent = anAgent({ portRange: { begin: 31000, end: 31009 }, usedPorts: new Set([31000, 31002]) });
      const tasks = [...someTasks(3, { resources: { numPorts: 2 } }), aTask({ instanceNo: 9, resources: { numPorts: 3 } })];

      const plan = planOffers(anInput({ agents: [agent], tasks }));

      expect(plan.launches.map((l) => l.ports)).toEqual([
        [31001, 31003],
        [31004, 31005],
        [31006, 31007],
      ]);
      expect(plan.unplaced.map((u) => u.reasons)).toEqual([{ NOT_ENOUGH_PORTS: 1 }]);
      expect(plan.unplaced[0].summary).toContain('not enough ports (wants 3, most free 2)');
    });

    it('does not change its input', () => {
      const agent = anAgent({ usedPorts: new Set([31000]) });
      const input = anInput({ agents: [agent], tasks: someTasks(2, { resources: { numPorts: 1 } }) });
      const before = JSON.stringify(input);
      planOffers(input);
      expect(JSON.stringify(input)).toBe(before);
      expect([...agent.usedPorts]).toEqual([31000]);
    });
  });

  describe('machine states', () => {
    it('gives FROZEN and decommissioning agents and racks nothing', () => {
      const agents: PlacementAgent[] = [
        anAgent({ agentId: 'frozen', state: 'FROZEN' }),
        anAgent({ agentId: 'decommissioning', state: 'DECOMMISSIONING' }),
        anAgent({ agentId: 'starting', state: 'STARTING_DECOMMISSION' }),
        anAgent({ agentId: 'on-decommissioning-rack', rackId: 'r9', rackState: 'DECOMMISSIONING' }),
        anAgent({ agentId: 'dead', state: 'DEAD' }),
        anAgent({ agentId: 'active', total: { cpus: 3 } }),
      ];

      const plan = planOffers(anInput({ agents, tasks: someTasks(5) }));

      expect(agentsUsed(plan)).toEqual(['active', 'active', 'active']);
      expect(plan.unplaced[0].reasons).toEqual({
        NOT_ENOUGH_CPUS: 1,
        AGENT_FROZEN: 1,
        AGENT_DECOMMISSIONING: 2,
        RACK_DECOMMISSIONING: 1,
        AGENT_NOT_ACTIVE: 1,
      });
    });
  });

  describe('attributes', () => {
    it('required attributes restrict the agents', () => {
      const agents = [...someAgents(5, { attributes: { zone: 'b' } }), anAgent({ agentId: 'zone-a', attributes: { zone: 'a' } })];
      const request = aRequest({ requiredAgentAttributes: { zone: 'a' } });

      const plan = planOffers(anInput({ agents, tasks: someTasks(3, { request }) }));

      expect(agentsUsed(plan)).toEqual(['zone-a', 'zone-a', 'zone-a']);
    });

    it('allowed attributes prefer an agent without requiring it', () => {
      // Every agent is 75 % reserved: 0.5 × 0.25 + 0.25 = 0.375, below the 0.4 threshold;
      // the preferred one scores 0.5625.
      const busy = { total: { cpus: 4, memoryMb: 4000, diskMb: 4000 }, used: { cpus: 3, memoryMb: 3000, diskMb: 3000 } };
      const agents = [...someAgents(6, busy), anAgent({ agentId: 'zone-a', attributes: { zone: 'a' }, ...busy })];
      const request = aRequest({ allowedAgentAttributes: { zone: 'a' } });

      for (const seed of [1, 2, 3, 4, 5]) {
        const plan = planOffers(anInput({ agents, tasks: someTasks(1, { request, resources: { cpus: 0.5 } }), seed }));
        expect(agentsUsed(plan)[0]).toBe('zone-a');
        expect(plan.launches[0].score).toBeCloseTo(0.5625, 10);
      }
    });

    it('reserved agents take only tasks asking for their attributes', () => {
      const reserved = anAgent({ agentId: 'gpu', attributes: { gpu: 'yes' }, reservedAttributes: { gpu: 'yes' } });
      const gpuTask = aTask({ request: aRequest({ id: 'train', requiredAgentAttributes: { gpu: 'yes' } }) });
      const plainTask = aTask({ request: aRequest({ id: 'web' }) });

      const plan = planOffers(anInput({ agents: [reserved], tasks: [plainTask, gpuTask] }));

      expect(plan.launches.map((l) => l.pendingTaskId)).toEqual([gpuTask.pendingTaskId]);
      expect(plan.unplaced[0].reasons).toEqual({ [AGENT_RESERVED]: 1 });
    });
  });

  describe('spreading', () => {
    it('SEPARATE never co-locates a deploy’s tasks', () => {
      const agents = someAgents(3);
      const request = aRequest({ instances: 4, agentPlacement: 'SEPARATE' });

      const plan = planOffers(anInput({ agents, tasks: someTasks(4, { request }) }));

      expect(new Set(agentsUsed(plan)).size).toBe(3);
      expect(plan.launches).toHaveLength(3);
      expect(plan.unplaced[0].reasons).toEqual({ AGENT_SATURATED_BY_DEPLOY: 3 });
      expect(plan.unplaced[0].summary).toBe('0 of 3 agents fit: 3 × agent already runs a task of this deploy (SEPARATE)');
    });

    it('SEPARATE avoids hosts where the deploy already runs or cleans', () => {
      const agents = someAgents(3);
      const request = aRequest({ instances: 3, agentPlacement: 'SEPARATE' });
      const placed = [aPlacedTask(agents[0]), aPlacedTask(agents[1], { cleaning: true })];

      const plan = planOffers(anInput({ agents, placed, tasks: someTasks(2, { request }) }));

      expect(agentsUsed(plan)).toEqual(['a3']);
    });

    it.each([1, 2, 3, 4, 5])('rackSensitive fills 3 racks evenly with 7 instances (3/2/2), seed %d', (seed) => {
      const agents = [
        ...someAgents(5, { rackId: 'r1' }).map((a) => ({ ...a, agentId: `r1-${a.agentId}`, host: `r1-${a.host}` })),
        ...someAgents(3, { rackId: 'r2' }).map((a) => ({ ...a, agentId: `r2-${a.agentId}`, host: `r2-${a.host}` })),
        anAgent({ agentId: 'r3-a1', rackId: 'r3' }),
      ];
      const rackOf = (agentId: string) => agentId.slice(0, 2);
      const request = aRequest({ instances: 7, rackSensitive: true });

      const plan = planOffers(anInput({ agents, tasks: someTasks(7, { request }), seed }));

      expect(plan.launches).toHaveLength(7);
      expect([...launchCountBy(plan, rackOf).values()].sort()).toEqual([2, 2, 3]);
    });

    it('allowBounceToSameHost lets one bounce replacement share a host, not two', () => {
      const agent = anAgent({ agentId: 'a1' });
      const request = aRequest({ instances: 1, agentPlacement: 'SEPARATE', allowBounceToSameHost: true });
      const bounced = aPlacedTask(agent, { cleaning: true });
      const replacements = someTasks(2, { request, isBounceReplacement: true });

      const plan = planOffers(anInput({ agents: [agent], placed: [bounced], tasks: replacements }));

      expect(agentsUsed(plan)).toEqual(['a1']);
      expect(plan.unplaced.map((u) => u.reasons)).toEqual([{ AGENT_SATURATED_BY_DEPLOY: 1 }]);
    });

    it('without allowBounceToSameHost a bounce replacement does not join the bounced task', () => {
      const agent = anAgent();
      const request = aRequest({ agentPlacement: 'SEPARATE' });
      const plan = planOffers(
        anInput({ agents: [agent], placed: [aPlacedTask(agent, { cleaning: true })], tasks: someTasks(1, { request, isBounceReplacement: true }) }),
      );
      expect(plan.launches).toEqual([]);
    });
  });

  describe('caps', () => {
    it('an ON_DEMAND request never exceeds its instances', () => {
      const agents = someAgents(3);
      const request = aRequest({ requestType: 'ON_DEMAND', instances: 2 });
      const placed = [aPlacedTask(agents[0])];

      const plan = planOffers(anInput({ agents, placed, tasks: someTasks(4, { request }) }));

      expect(plan.launches).toHaveLength(1);
      expect(plan.unplaced.map((u) => u.reasons)).toEqual(Array(3).fill({ ON_DEMAND_INSTANCES_REACHED: 3 }));
    });

    it('maxTasksPerOffer caps launches per agent in one plan', () => {
      const plan = planOffers(anInput({ agents: someAgents(2), tasks: someTasks(3), settings: { ...anInput().settings, maxTasksPerOffer: 1 } }));
      expect(new Set(agentsUsed(plan))).toEqual(new Set(['a1', 'a2']));
      expect(plan.unplaced.map((u) => u.reasons)).toEqual([{ MAX_TASKS_PER_OFFER_REACHED: 2 }]);
    });
  });

  describe('order and selection', () => {
    it('serves the heaviest max(now − nextRunAt, 1) × priority first', () => {
      const agent = anAgent({ total: { cpus: 1 } });
      const worker10s = aTask({ request: aRequest({ id: 'worker', requestType: 'WORKER' }), nextRunAt: NOW - 10_000 }); // 5000
      const service10s = aTask({ request: aRequest({ id: 'service' }), nextRunAt: NOW - 10_000 }); // 7000
      const worker100s = aTask({ request: aRequest({ id: 'old-worker', requestType: 'WORKER' }), nextRunAt: NOW - 100_000 }); // 50000
      const urgent = aTask({ request: aRequest({ id: 'urgent', requestType: 'RUN_ONCE', taskPriorityLevel: 1 }), nextRunAt: NOW - 60_000 }); // 60000

      const order = (tasks: ReturnType<typeof aTask>[]) => {
        const plan = planOffers(anInput({ agents: [agent], tasks }));
        return [...plan.launches.map((l) => l.pendingTaskId), ...plan.unplaced.map((u) => u.pendingTaskId)];
      };

      expect(order([worker10s, service10s])).toEqual([service10s.pendingTaskId, worker10s.pendingTaskId]);
      expect(order([service10s, worker100s])[0]).toBe(worker100s.pendingTaskId);
      expect(order([worker10s, service10s, worker100s, urgent])).toEqual(
        [urgent, worker100s, service10s, worker10s].map((t) => t.pendingTaskId),
      );
    });

    it('takes the best agent when none is good enough', () => {
      const total = { cpus: 10, memoryMb: 10_000, diskMb: 10_000 };
      const agents = [0.9, 0.8, 0.95].map((share, i) =>
        anAgent({ agentId: `a${i}`, total, used: { cpus: 10 * share, memoryMb: 10_000 * share, diskMb: 10_000 * share } }),
      );
      const plan = planOffers(anInput({ agents, tasks: [aTask({ resources: { cpus: 0.1 } })] }));
      expect(agentsUsed(plan)).toEqual(['a1']);
      expect(plan.launches[0].score).toBeCloseTo(0.5 * 0.2 + 0.25, 10);
    });

    it('spreads equal agents by the seed and replays the same seed exactly', () => {
      const input = anInput({ agents: someAgents(20), tasks: someTasks(10) });
      const plans = [1, 2, 3].map((seed) => planOffers({ ...input, seed }));
      expect(planOffers({ ...input, seed: 2 })).toEqual(plans[1]);
      expect(new Set(plans.map((p) => agentsUsed(p).join()))).toHaveProperty('size', 3);
    });
  });

  describe('rules', () => {
    it('counts a throwing check as an error and carries on', () => {
      const broken: PlacementCheck = {
        name: 'broken',
        reasons: [],
        check: (_task, agent) => {
          if (agent.agentId === 'a1') throw new Error('bug');
          return FITS;
        },
      };
      const plan = planOffers(anInput({ agents: someAgents(2), tasks: someTasks(1) }), {
        ...DEFAULT_PLACEMENT_RULES,
        checks: [...PLACEMENT_CHECKS, broken],
      });
      expect(agentsUsed(plan)).toEqual(['a2']);

      const failed = planOffers(anInput({ agents: someAgents(1), tasks: someTasks(1) }), {
        ...DEFAULT_PLACEMENT_RULES,
        checks: [broken],
      });
      expect(failed.unplaced[0].reasons).toEqual({ CHECK_ERROR: 1 });
      expect(failed.unplaced[0].summary).toBe('0 of 1 agents fit: 1 × check error (a bug)');
    });

    it('runs registry checks in order: the first rejection is the one counted', () => {
      const seen: string[] = [];
      const spy = (name: string, fits: boolean): PlacementCheck => ({
        name,
        reasons: [AGENT_RESERVED],
        check: () => {
          seen.push(name);
          return fits ? FITS : reject(AGENT_RESERVED);
        },
      });
      planOffers(anInput({ agents: someAgents(1), tasks: someTasks(1) }), {
        ...DEFAULT_PLACEMENT_RULES,
        checks: [spy('first', true), spy('second', false), spy('third', true)],
      });
      expect(seen).toEqual(['first', 'second']);
    });

    it('reports an empty cluster plainly', () => {
      const plan = planOffers(anInput({ agents: [], tasks: someTasks(1) }));
      expect(plan.unplaced[0]).toMatchObject({ reasons: {}, summary: '0 of 0 agents fit: no agents offered' });
    });

    it('gives siblings that cannot fit the first one’s verdict', () => {
      const agents = someAgents(2, { total: { memoryMb: 100 } });
      const plan = planOffers(anInput({ agents, tasks: someTasks(3, { resources: { memoryMb: 200 } }) }));
      expect(plan.unplaced.map((u) => u.reasons)).toEqual(Array(3).fill({ NOT_ENOUGH_MEMORY: 2 }));
    });
  });
});
