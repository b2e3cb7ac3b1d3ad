import { MACHINE_STATES, type MachineState, type SingularityMachineStateHistoryUpdate } from '@singularity/models';
import { ConflictError, InvalidRequestError, NotFoundError } from '@singularity/util';
import type { SchedulerContext } from './scheduler-context';
import type { ReadModels } from './read-models';
import type { AgentRecord, MachineStateRecord, RackRecord } from './scheduler-state';
import type { TaskScheduler } from './task-scheduler';

const MAX_MACHINE_HISTORY = 10;

export type MachineAction = 'decommission' | 'freeze' | 'activate';

/** The state an action moves a machine to, and the states it may not start from (spec §3.3). */
const ACTIONS: Record<MachineAction, { to: MachineState; refusedFrom: MachineState[] }> = {
  decommission: { to: 'STARTING_DECOMMISSION', refusedFrom: ['STARTING_DECOMMISSION', 'DECOMMISSIONING', 'DECOMMISSIONED', 'DEAD'] },
  freeze: { to: 'FROZEN', refusedFrom: ['FROZEN', 'STARTING_DECOMMISSION', 'DECOMMISSIONING', 'DECOMMISSIONED', 'DEAD'] },
  activate: { to: 'ACTIVE', refusedFrom: ['ACTIVE', 'DEAD'] },
};

/** Moves a machine's state and records it in its history. The caller persists the record. */
export function withMachineState<T extends MachineStateRecord>(record: T, state: MachineState, now: number, user?: string, message?: string): T {
  const history = [...(record.history ?? []), { state: record.state, timestamp: record.stateChangedAt, user: record.stateUser, message: record.stateMessage }];
  return { ...record, state, stateChangedAt: now, stateUser: user, stateMessage: message, history: history.slice(-MAX_MACHINE_HISTORY) };
}

function machineHistory(objectId: string, record: MachineStateRecord): SingularityMachineStateHistoryUpdate[] {
  const past = (record.history ?? []).map((h) => ({ objectId, state: h.state, timestamp: h.timestamp, user: h.user, message: h.message }));
  return [...past, { objectId, state: record.state, timestamp: record.stateChangedAt, user: record.stateUser, message: record.stateMessage }].reverse();
}

/**
 * Operator actions on agents and racks: decommission (tasks are replaced
 * elsewhere before they are killed), freeze (no new tasks), activate, delete.
 * The transitions that follow (DECOMMISSIONING, DECOMMISSIONED, DEAD) run in
 * the scheduling loop.
 */
export class MachineService {
  private readonly read: ReadModels;

  constructor(
    private readonly ctx: SchedulerContext,
    private readonly scheduler: TaskScheduler,
  ) {
    this.read = scheduler.read;
  }

  async agentAction(agentId: string, action: MachineAction, body: unknown, user?: string) {
    const agent = this.findAgent(agentId);
    const change = parseMachineChange(body);
    this.checkTransition(`agent ${agentId}`, agent.state, action);
    this.ctx.state.putAgent(withMachineState(agent, ACTIONS[action].to, this.ctx.clock.now(), user, change.message));
    this.expireLater('agent', agentId, agent.state, change, user);
    await this.ctx.state.flush();
    this.ctx.logger.info({ agentId, action, user }, 'agent state changed by operator');
    this.scheduler.tickSoon(0);
    return this.read.agent(this.findAgent(agentId));
  }

  async rackAction(rackId: string, action: MachineAction, body: unknown, user?: string) {
    const rack = this.findRack(rackId);
    const change = parseMachineChange(body);
    const { message } = change;
    this.checkTransition(`rack ${rackId}`, rack.state, action);
    this.expireLater('rack', rackId, rack.state, change, user);
    const now = this.ctx.clock.now();
    this.ctx.state.putRack(withMachineState(rack, ACTIONS[action].to, now, user, message));
    // A rack action applies to each of its agents that can take it.
    for (const agent of this.ctx.state.agents.values()) {
      if (agent.rackId === rackId && !ACTIONS[action].refusedFrom.includes(agent.state)) {
        this.ctx.state.putAgent(withMachineState(agent, ACTIONS[action].to, now, user, message ?? `rack ${rackId}: ${action}`));
      }
    }
    await this.ctx.state.flush();
    this.scheduler.tickSoon(0);
    return this.read.rack(this.findRack(rackId));
  }

  /** With `durationMillis`, the change reverts by itself to `revertToState` (default: the state before). */
  private expireLater(machineType: 'agent' | 'rack', machineId: string, before: MachineState, change: MachineChange, user?: string): void {
    if (!change.durationMillis) {
      this.scheduler.expiring.takeMachine(machineType, machineId);
      return;
    }
    this.scheduler.expiring.setMachine({
      machineType,
      machineId,
      user,
      startMillis: this.ctx.clock.now(),
      durationMillis: change.durationMillis,
      actionId: change.actionId ?? `${machineType}-${machineId}-${this.ctx.clock.now()}`,
      revertToState: change.revertToState ?? before,
      killTasksOnDecommissionTimeout: change.killTasksOnDecommissionTimeout,
      expiringAPIRequestObject: { ...change },
    });
  }

  /** `GET /slaves/expiring`, `/racks/expiring` (SingularityExpiringMachineState[]). */
  expiringStates(machineType: 'agent' | 'rack') {
    return this.scheduler.expiring.machineStates(machineType).map(({ machineType: _t, durationMillis: _d, ...wire }) => wire);
  }

  /** `DELETE …/{id}/expiring`: keeps the state, cancels its reverting. */
  async cancelExpiring(machineType: 'agent' | 'rack', machineId: string): Promise<void> {
    if (!this.scheduler.expiring.takeMachine(machineType, machineId)) throw new NotFoundError(`No expiring state change for ${machineType} ${machineId}`);
    await this.ctx.state.flush();
  }

  async deleteAgent(agentId: string): Promise<void> {
    const agent = this.findAgent(agentId);
    if (agent.state !== 'DEAD' && agent.state !== 'DECOMMISSIONED') {
      throw new ConflictError(`Agent ${agentId} is ${agent.state}; only DEAD or DECOMMISSIONED agents can be removed`);
    }
    this.ctx.state.removeAgent(agentId);
    await this.ctx.state.flush();
  }

  /** `DELETE /racks/rack/{id}`: forgets a DEAD or DECOMMISSIONED rack. */
  async deleteRack(rackId: string): Promise<void> {
    const rack = this.findRack(rackId);
    if (rack.state !== 'DEAD' && rack.state !== 'DECOMMISSIONED') {
      throw new ConflictError(`Rack ${rackId} is ${rack.state}; only DEAD or DECOMMISSIONED racks can be removed`);
    }
    this.ctx.state.removeRack(rackId);
    await this.ctx.state.flush();
  }

  /** `DELETE /slaves/dead`: forgets every DEAD agent. */
  async deleteDeadAgents(): Promise<void> {
    for (const agent of [...this.ctx.state.agents.values()]) if (agent.state === 'DEAD') this.ctx.state.removeAgent(agent.agentId);
    await this.ctx.state.flush();
  }

  agentHistory(agentId: string): SingularityMachineStateHistoryUpdate[] {
    return machineHistory(agentId, this.findAgent(agentId));
  }

  rackHistory(rackId: string): SingularityMachineStateHistoryUpdate[] {
    return machineHistory(rackId, this.findRack(rackId));
  }

  private checkTransition(what: string, from: MachineState, action: MachineAction): void {
    if (ACTIONS[action].refusedFrom.includes(from)) throw new ConflictError(`Cannot ${action} ${what}: it is ${from}`);
  }

  private findAgent(agentId: string): AgentRecord {
    const agent = this.ctx.state.agents.get(agentId);
    if (!agent) throw new NotFoundError(`Couldn't find agent with id ${agentId}`);
    return agent;
  }

  private findRack(rackId: string): RackRecord {
    const rack = this.ctx.state.racks.get(rackId);
    if (!rack) throw new NotFoundError(`Couldn't find rack with id ${rackId}`);
    return rack;
  }
}

interface MachineChange {
  message?: string;
  durationMillis?: number;
  revertToState?: MachineState;
  killTasksOnDecommissionTimeout?: boolean;
  actionId?: string;
}

/** A `SingularityMachineChangeRequest` body (optional). */
function parseMachineChange(body: unknown): MachineChange {
  if (body === undefined || body === null) return {};
  if (typeof body !== 'object' || Array.isArray(body)) throw new InvalidRequestError('body: must be a SingularityMachineChangeRequest object');
  const b = body as Record<string, unknown>;
  const out: MachineChange = {};
  const str = (k: 'message' | 'actionId') => {
    if (b[k] === undefined || b[k] === null) return;
    if (typeof b[k] !== 'string') throw new InvalidRequestError(`${k}: must be a string`, k);
    out[k] = b[k] as string;
  };
  str('message');
  str('actionId');
  if (b.durationMillis !== undefined && b.durationMillis !== null) {
    if (typeof b.durationMillis !== 'number' || !Number.isInteger(b.durationMillis) || b.durationMillis < 1) {
      throw new InvalidRequestError(`durationMillis: must be a positive integer (got ${JSON.stringify(b.durationMillis)})`, 'durationMillis');
    }
    out.durationMillis = b.durationMillis;
  }
  if (b.revertToState !== undefined && b.revertToState !== null) {
    if (!MACHINE_STATES.includes(b.revertToState as MachineState)) {
      throw new InvalidRequestError(`revertToState: must be one of ${MACHINE_STATES.join(', ')} (got ${JSON.stringify(b.revertToState)})`, 'revertToState');
    }
    out.revertToState = b.revertToState as MachineState;
  }
  if (typeof b.killTasksOnDecommissionTimeout === 'boolean') out.killTasksOnDecommissionTimeout = b.killTasksOnDecommissionTimeout;
  return out;
}
