import type {
  PendingType,
  Resources,
  SingularityDeploy,
  SingularityPendingTask,
  SingularityRequest,
} from '@singularity/models';
import type { CheckResult, PlacementCheck } from './check';
import { createPlacementContext, type PlacementContext } from './placement-context';
import { DEFAULT_PLACEMENT_SETTINGS } from './placement-settings';
import type {
  PlacedTaskInfo,
  PlacementAgent,
  PlacementInput,
  PlacementSettings,
  PlacementTask,
} from './placement.types';

/**
 * Factories for placement specs (conventions §11): complete, valid objects; a test overrides only
 * what it is about. Kept beside the specs until `libs/testing` grows placement factories.
 */

export const NOW = 1_700_000_000_000;

export function aRequest(overrides: Partial<SingularityRequest> = {}): SingularityRequest {
  return { id: 'web', requestType: 'SERVICE', instances: 1, ...overrides };
}

export function aDeploy(overrides: Partial<SingularityDeploy> = {}): SingularityDeploy {
  return {
    requestId: 'web',
    id: 'd1',
    command: 'sleep 1000',
    resources: { cpus: 1, memoryMb: 64, numPorts: 0, diskMb: 0 },
    ...overrides,
  };
}

let instanceCounter = 0;

export interface TaskOverrides extends Partial<Omit<PlacementTask, 'resources' | 'pendingTask'>> {
  resources?: Partial<Resources>;
  pendingTask?: Partial<SingularityPendingTask>;
  instanceNo?: number;
}

/** A due pending task of `request` (default `aRequest()`), deploy `d1`, 1 cpu / 64 MB. */
export function aTask(overrides: TaskOverrides = {}): PlacementTask {
  const { resources, pendingTask, instanceNo: givenInstanceNo, ...rest } = overrides;
  const request = rest.request ?? aRequest(rest.requestId ? { id: rest.requestId } : {});
  const deployId = rest.deployId ?? rest.deploy?.id ?? 'd1';
  const deploy = rest.deploy ?? aDeploy({ requestId: request.id, id: deployId });
  const nextRunAt = rest.nextRunAt ?? NOW - 1_000;
  const instanceNo = givenInstanceNo ?? ++instanceCounter;
  const pendingType: PendingType = rest.isBounceReplacement ? 'BOUNCE' : 'NEW_DEPLOY';
  const id = `${request.id}-${deploy.id}-${nextRunAt}-${instanceNo}-${pendingType}-${nextRunAt}`;
  return {
    pendingTaskId: id,
    nextRunAt,
    ...rest,
    request,
    requestId: request.id,
    deploy,
    deployId: deploy.id,
    pendingTask: {
      pendingTaskId: { requestId: request.id, deployId: deploy.id, nextRunAt, instanceNo, pendingType, createdAt: nextRunAt, id },
      ...pendingTask,
    },
    resources: { cpus: 1, memoryMb: 64, numPorts: 0, diskMb: 0, ...deploy.resources, ...resources },
  };
}

/** `count` tasks of one request and deploy, instance numbers 1..count. */
export function someTasks(count: number, overrides: TaskOverrides = {}): PlacementTask[] {
  return Array.from({ length: count }, (_, i) => aTask({ instanceNo: i + 1, ...overrides }));
}

let agentCounter = 0;

export interface AgentOverrides extends Partial<Omit<PlacementAgent, 'total' | 'used'>> {
  total?: Partial<PlacementAgent['total']>;
  used?: Partial<PlacementAgent['used']>;
}

/** An ACTIVE agent on rack `r1` with 8 cpus, 16 GB, 100 GB disk and ports 31000–31099, all free. */
export function anAgent(overrides: AgentOverrides = {}): PlacementAgent {
  const n = ++agentCounter;
  const { total, used, ...rest } = overrides;
  const agentId = rest.agentId ?? `agent-${n}`;
  return {
    agentId,
    host: rest.host ?? `${agentId}.example`,
    rackId: 'r1',
    state: 'ACTIVE',
    rackState: 'ACTIVE',
    attributes: {},
    portRange: { begin: 31000, end: 31099 },
    usedPorts: new Set(),
    ...rest,
    total: { cpus: 8, memoryMb: 16_384, diskMb: 100_000, ...total },
    used: { cpus: 0, memoryMb: 0, diskMb: 0, ...used },
  };
}

/** `count` agents `a1..aN` on hosts `h1..hN`. */
export function someAgents(count: number, overrides: AgentOverrides = {}): PlacementAgent[] {
  return Array.from({ length: count }, (_, i) => anAgent({ agentId: `a${i + 1}`, host: `h${i + 1}`, ...overrides }));
}

/** A running task of `request`/`deploy` on `agent`. */
export function aPlacedTask(
  agent: PlacementAgent,
  overrides: Partial<PlacedTaskInfo> = {},
): PlacedTaskInfo {
  const requestId = overrides.requestId ?? 'web';
  const deployId = overrides.deployId ?? 'd1';
  return {
    taskId: `${requestId}-${deployId}-${NOW}-${++instanceCounter}-${agent.host}-${agent.rackId}`,
    requestId,
    deployId,
    agentId: agent.agentId,
    host: agent.host,
    rackId: agent.rackId,
    cleaning: false,
    ...overrides,
  };
}

export function someSettings(overrides: Partial<PlacementSettings> = {}): PlacementSettings {
  return { ...DEFAULT_PLACEMENT_SETTINGS, ...overrides };
}

export function anInput(overrides: Partial<PlacementInput> = {}): PlacementInput {
  return {
    agents: [anAgent()],
    tasks: [aTask()],
    placed: [],
    now: NOW,
    seed: 42,
    ...overrides,
    settings: someSettings(overrides.settings),
  };
}

/** A context for one task and its agents, as the planner builds it before any launch. */
export function contextFor(
  task: PlacementTask,
  agents: PlacementAgent[],
  more: { placed?: PlacedTaskInfo[]; settings?: Partial<PlacementSettings>; tasks?: PlacementTask[] } = {},
): PlacementContext {
  return createPlacementContext({
    agents,
    placed: more.placed ?? [],
    tasks: more.tasks ?? [task],
    now: NOW,
    settings: someSettings(more.settings),
  });
}

/** Runs one check for `task` on `agent` (the first of `others` is the agent itself by default). */
export function runCheck(
  check: PlacementCheck,
  task: PlacementTask,
  agent: PlacementAgent,
  more: { placed?: PlacedTaskInfo[]; settings?: Partial<PlacementSettings>; agents?: PlacementAgent[] } = {},
): CheckResult {
  const agents = more.agents ?? [agent];
  const ctx = contextFor(task, agents.includes(agent) ? agents : [agent, ...agents], more);
  const due = ctx.dueTask(task);
  const offer = ctx.offer(agent.agentId);
  if (!offer) throw new Error(`agent ${agent.agentId} not in context`);
  return check.check(due, offer, ctx);
}

/** `status` plus `reason` of a check result, for table assertions. */
export function verdict(result: CheckResult): string {
  return result.status === 'fits' ? 'fits' : `${result.status} ${'reason' in result ? result.reason : ''}`;
}
