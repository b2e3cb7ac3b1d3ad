import {
  AGENT_REPORTED_TASK_STATES,
  type AgentHeartbeatResponse,
  type AgentRegistration,
  type AgentRegistrationResponse,
  type AgentTaskReport,
  type SingularityAgent,
  type SingularityRack,
  type TaskStatusBatchResponse,
  type TaskStatusRecord,
} from '@singularity/models';
import { InvalidRequestError, NotFoundError } from '@singularity/util';
import type { SchedulerContext } from './scheduler-context';
import type { ReadModels } from './read-models';
import { withMachineState } from './machine.service';
import type { AgentRecord } from './scheduler-state';
import type { TaskScheduler } from './task-scheduler';

/** Agent registration, heartbeats, status relays (our Mesos master role) and the `/slaves` read side. */
export class AgentService {
  private readonly read: ReadModels;

  constructor(
    private readonly ctx: SchedulerContext,
    private readonly scheduler: TaskScheduler,
  ) {
    this.read = scheduler.read;
  }

  async register(body: unknown): Promise<AgentRegistrationResponse> {
    const registration = parseRegistration(body);
    const now = this.ctx.clock.now();
    const existing = this.ctx.state.agents.get(registration.agentId);
    let agent: AgentRecord;
    if (!existing) {
      agent = { ...registration, firstSeenAt: now, lastSeenAt: now, state: 'ACTIVE', stateChangedAt: now };
    } else {
      // A known agent keeps its operator-set state (FROZEN, DECOMMISSIONING…); a dead one comes back ACTIVE.
      agent = { ...existing, ...registration, lastSeenAt: now };
      if (existing.state === 'DEAD' || existing.state === 'MISSING_ON_STARTUP') agent = withMachineState(agent, 'ACTIVE', now, undefined, 'registered again');
    }
    this.ctx.state.putAgent(agent);
    if (!this.ctx.state.racks.has(agent.rackId)) {
      this.ctx.state.putRack({ rackId: agent.rackId, firstSeenAt: now, state: 'ACTIVE', stateChangedAt: now });
    }
    this.scheduler.reconcileAgent(agent, registration.tasks);
    await this.ctx.state.flush();
    this.ctx.logger.info(
      { agentId: agent.agentId, host: agent.hostname, address: `${agent.address}:${agent.port}`, rackId: agent.rackId, resources: agent.resources, tasks: registration.tasks.length },
      existing ? 'agent registered again' : 'agent registered',
    );
    this.scheduler.tickSoon(0);
    return { agentId: agent.agentId, heartbeatIntervalMillis: this.ctx.settings.heartbeatIntervalMillis };
  }

  async heartbeat(agentId: string, body: unknown): Promise<AgentHeartbeatResponse> {
    const agent = this.ctx.state.agents.get(agentId);
    if (!agent || agent.state === 'DEAD') return { known: false };
    // Heartbeats only refresh memory: persisting each one would cost a write per agent every few seconds.
    agent.lastSeenAt = this.ctx.clock.now();
    const tasks = isObject(body) && Array.isArray(body.tasks) ? parseTaskReports(body.tasks) : undefined;
    if (tasks) {
      this.scheduler.reconcileHeartbeat(agent, tasks);
      await this.ctx.state.flush();
    }
    return { known: true };
  }

  async statusUpdates(agentId: string, body: unknown): Promise<TaskStatusBatchResponse> {
    const updates = parseStatusBatch(body, this.ctx.clock.now());
    const acknowledged = await this.scheduler.applyStatusUpdates(agentId, updates);
    return { acknowledged };
  }

  list(state?: string): SingularityAgent[] {
    return [...this.ctx.state.agents.values()].filter((a) => !state || a.state === state).map((a) => this.read.agent(a));
  }

  get(agentId: string): SingularityAgent {
    const agent = this.ctx.state.agents.get(agentId);
    if (!agent) throw new NotFoundError(`Couldn't find agent with id ${agentId}`);
    return this.read.agent(agent);
  }

  racks(state?: string): SingularityRack[] {
    return [...this.ctx.state.racks.values()].filter((r) => !state || r.state === state).map((r) => this.read.rack(r));
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function parseRegistration(body: unknown): AgentRegistration {
  if (!isObject(body)) throw new InvalidRequestError('body: an AgentRegistration object is required');
  const str = (k: string) => {
    if (typeof body[k] !== 'string' || !(body[k] as string).length) throw new InvalidRequestError(`${k}: required string`, k);
    return body[k] as string;
  };
  const num = (o: Record<string, unknown>, k: string, path: string) => {
    if (typeof o[k] !== 'number' || !Number.isFinite(o[k] as number) || (o[k] as number) < 0) throw new InvalidRequestError(`${path}: required non-negative number`, path);
    return o[k] as number;
  };
  if (!isObject(body.resources)) throw new InvalidRequestError('resources: required object', 'resources');
  if (!isObject(body.portRange)) throw new InvalidRequestError('portRange: required object', 'portRange');
  const portRange = { begin: num(body.portRange, 'begin', 'portRange.begin'), end: num(body.portRange, 'end', 'portRange.end') };
  if (portRange.end < portRange.begin) throw new InvalidRequestError('portRange: end must not be below begin', 'portRange');
  const attributes: Record<string, string> = {};
  if (body.attributes !== undefined) {
    if (!isObject(body.attributes)) throw new InvalidRequestError('attributes: must be an object of strings', 'attributes');
    for (const [k, v] of Object.entries(body.attributes)) attributes[k] = String(v);
  }
  const tasks = Array.isArray(body.tasks) ? body.tasks : [];
  return {
    agentId: str('agentId'),
    hostname: str('hostname'),
    address: str('address'),
    port: num(body, 'port', 'port'),
    rackId: typeof body.rackId === 'string' && body.rackId ? body.rackId : 'DEFAULT',
    attributes,
    resources: {
      cpus: num(body.resources, 'cpus', 'resources.cpus'),
      memoryMb: num(body.resources, 'memoryMb', 'resources.memoryMb'),
      diskMb: num(body.resources, 'diskMb', 'resources.diskMb'),
    },
    portRange,
    version: typeof body.version === 'string' ? body.version : 'unknown',
    tasks: parseTaskReports(tasks),
  };
}

function parseTaskReports(tasks: unknown[]): AgentTaskReport[] {
  return tasks
    .filter(isObject)
    .filter((t) => typeof t.taskId === 'string')
    .map((t) => ({
      taskId: t.taskId as string,
      state: AGENT_REPORTED_TASK_STATES.includes(t.state as never) ? (t.state as AgentTaskReport['state']) : 'TASK_RUNNING',
    }));
}

function parseStatusBatch(body: unknown, now: number): TaskStatusRecord[] {
  if (!isObject(body) || !Array.isArray(body.updates)) throw new InvalidRequestError('updates: required array', 'updates');
  return body.updates.map((u, i) => {
    if (!isObject(u) || typeof u.taskId !== 'string' || typeof u.seq !== 'number') throw new InvalidRequestError(`updates[${i}]: taskId and seq are required`, `updates[${i}]`);
    if (!AGENT_REPORTED_TASK_STATES.includes(u.state as never)) {
      throw new InvalidRequestError(`updates[${i}].state: must be one of ${AGENT_REPORTED_TASK_STATES.join(', ')}`, `updates[${i}].state`);
    }
    return { ...(u as unknown as TaskStatusRecord), timestamp: typeof u.timestamp === 'number' ? u.timestamp : now };
  });
}
