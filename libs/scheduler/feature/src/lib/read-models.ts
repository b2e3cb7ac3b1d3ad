import {
  isLongRunning,
  type SingularityAgent,
  type SingularityPendingDeploy,
  type SingularityRack,
  type SingularityRequestParent,
  type SingularityState,
  type SingularityTaskIdsByStatus,
} from '@singularity/models';
import { isHealthy, isLeaving, lastAgentState, type PendingDeployRecord } from '@singularity/scheduler-core';
import type { SchedulerContext } from './scheduler-context';
import type { ExpiringActions, ExpiringRequestAction } from './expiring-actions';
import type { AgentRecord, RackRecord, RequestRecord } from './scheduler-state';

/** Builds the API's read models from live state. */
export class ReadModels {
  private stateCache: { at: number; value: SingularityState } | undefined;

  constructor(
    private readonly ctx: SchedulerContext,
    private readonly expiring?: ExpiringActions,
  ) {}

  requestParent(record: RequestRecord): SingularityRequestParent {
    const state = this.ctx.state;
    const id = record.request.id;
    const deployState = state.getDeployState(id);
    const pending = state.getPendingDeploy(id);
    const activeDeployId = deployState?.activeDeploy?.deployId;
    const parent: SingularityRequestParent = { request: record.request, state: record.state, taskIds: this.taskIds(id) };
    const requestDeployState = { requestId: id, activeDeploy: deployState?.activeDeploy, pendingDeploy: pending?.deployMarker };
    if (requestDeployState.activeDeploy || requestDeployState.pendingDeploy) parent.requestDeployState = requestDeployState;
    if (activeDeployId) parent.activeDeploy = state.getDeploy(id, activeDeployId);
    if (pending) {
      parent.pendingDeploy = state.getDeploy(id, pending.deployMarker.deployId);
      parent.pendingDeployState = wirePendingDeploy(pending);
    }
    if (this.expiring) {
      const wire = (a: ExpiringRequestAction | undefined) => (a ? { ...a, kind: undefined, durationMillis: undefined } : undefined);
      const out = parent as SingularityRequestParent & Record<string, unknown>;
      out.expiringBounce = wire(this.expiring.get(id, 'bounce'));
      out.expiringPause = wire(this.expiring.get(id, 'pause'));
      out.expiringScale = wire(this.expiring.get(id, 'scale'));
      out.expiringSkipHealthchecks = wire(this.expiring.get(id, 'skipHealthchecks'));
      for (const k of ['expiringBounce', 'expiringPause', 'expiringScale', 'expiringSkipHealthchecks']) if (out[k] === undefined) delete out[k];
    }
    return parent;
  }

  taskIds(requestId: string): SingularityTaskIdsByStatus {
    const now = this.ctx.clock.now();
    const out: SingularityTaskIdsByStatus = { healthy: [], notYetHealthy: [], pending: [], cleaning: [], loadBalanced: [], killed: [] };
    for (const t of this.ctx.state.tasksOf(requestId)) {
      if (t.killed) out.killed.push(t.task.taskId);
      else if (t.cleanup) out.cleaning.push(t.task.taskId);
      else if (isHealthy(t, now, this.ctx.settings.considerTaskHealthyAfterRunningForSeconds)) out.healthy.push(t.task.taskId);
      else out.notYetHealthy.push(t.task.taskId);
    }
    out.pending = this.ctx.state.pendingTasksOf(requestId).map((p) => p.pendingTaskId);
    return out;
  }

  agent(a: AgentRecord): SingularityAgent {
    return {
      id: a.agentId,
      slaveId: a.agentId,
      agentId: a.agentId,
      host: a.hostname,
      rackId: a.rackId,
      attributes: a.attributes,
      resources: { numCpus: a.resources.cpus, memoryMegaBytes: a.resources.memoryMb, diskMegaBytes: a.resources.diskMb, numPorts: a.portRange.end - a.portRange.begin + 1 },
      firstSeenAt: a.firstSeenAt,
      currentState: { objectId: a.agentId, state: a.state, timestamp: a.stateChangedAt, user: a.stateUser, message: a.stateMessage },
    };
  }

  rack(r: RackRecord): SingularityRack {
    return { id: r.rackId, rackId: r.rackId, firstSeenAt: r.firstSeenAt, currentState: { objectId: r.rackId, state: r.state, timestamp: r.stateChangedAt } };
  }

  /** `GET /state`, cached for `cacheStateForMillis` unless `skipCache` (spec §1 SingularityState). */
  singularityState(options: { skipCache?: boolean; includeRequestIds?: boolean; cacheMillis: number; leader: boolean; hostname: string; startedAt: number }): SingularityState {
    const now = this.ctx.clock.now();
    if (!options.skipCache && !options.includeRequestIds && this.stateCache && now - this.stateCache.at < options.cacheMillis) return this.stateCache.value;
    const s = this.ctx.state;
    let activeTasks = 0;
    let launchingTasks = 0;
    let cleaningTasks = 0;
    for (const t of s.tasks.values()) {
      if (lastAgentState(t) === 'TASK_LAUNCHED') launchingTasks++;
      else activeTasks++;
      if (isLeaving(t)) cleaningTasks++;
    }
    const count = (st: string) => [...s.requests.values()].filter((r) => r.state === st).length;
    const late: SingularityState['listLateTasks'] = [];
    const onDemandLate: SingularityState['listLateTasks'] = [];
    let futureTasks = 0;
    let maxTaskLag = 0;
    for (const pt of s.pendingTasks.values()) {
      const lag = now - pt.pendingTaskId.nextRunAt;
      if (lag > this.ctx.settings.deltaAfterWhichTasksAreLateMillis) {
        const type = s.getRequest(pt.pendingTaskId.requestId)?.request.requestType;
        (type === 'ON_DEMAND' ? onDemandLate : late).push(pt.pendingTaskId);
      } else if (lag < 0) futureTasks++;
      maxTaskLag = Math.max(maxTaskLag, lag);
    }
    const over: string[] = [];
    const under: string[] = [];
    for (const r of s.requests.values()) {
      if (!isLongRunning(r.request.requestType) || r.state !== 'ACTIVE' || s.getPendingDeploy(r.request.id)) continue;
      const activeDeployId = s.activeDeployId(r.request.id);
      if (!activeDeployId || s.pendingTasksOf(r.request.id).length > 0) continue;
      const n = s.tasksOf(r.request.id).filter((t) => t.task.taskId.deployId === activeDeployId && !isLeaving(t)).length;
      const want = r.request.instances ?? 1;
      if (n > want) over.push(r.request.id);
      else if (n < want) under.push(r.request.id);
    }
    const agentsIn = (st: string) => [...s.agents.values()].filter((a) => a.state === st).length;
    const racksIn = (st: string) => [...s.racks.values()].filter((a) => a.state === st).length;
    const decommissioningAgents = agentsIn('DECOMMISSIONING') + agentsIn('STARTING_DECOMMISSION');
    const decommissioningRacks = racksIn('DECOMMISSIONING') + racksIn('STARTING_DECOMMISSION');
    const pendingDeploys = [...s.pendingDeploys.values()];
    const oldestDeploy = pendingDeploys.reduce((oldest, p) => Math.max(oldest, now - p.deployMarker.timestamp), 0);
    const value: SingularityState = {
      activeTasks,
      launchingTasks,
      activeRequests: count('ACTIVE') + count('DEPLOYING_TO_UNPAUSE'),
      cooldownRequests: count('SYSTEM_COOLDOWN'),
      pausedRequests: count('PAUSED'),
      finishedRequests: count('FINISHED'),
      allRequests: s.requests.size,
      scheduledTasks: s.pendingTasks.size,
      pendingRequests: s.pendingRequests.size,
      lbCleanupTasks: 0,
      lbCleanupRequests: 0,
      cleaningRequests: count('DELETING'),
      cleaningTasks,
      activeSlaves: agentsIn('ACTIVE'),
      deadSlaves: agentsIn('DEAD'),
      decommissioningSlaves: decommissioningAgents,
      decomissioningSlaves: decommissioningAgents,
      unknownSlaves: agentsIn('MISSING_ON_STARTUP'),
      activeAgents: agentsIn('ACTIVE'),
      deadAgents: agentsIn('DEAD'),
      decommissioningAgents,
      unknownAgents: agentsIn('MISSING_ON_STARTUP'),
      activeRacks: racksIn('ACTIVE'),
      deadRacks: racksIn('DEAD'),
      decommissioningRacks,
      decomissioningRacks: decommissioningRacks,
      unknownRacks: racksIn('MISSING_ON_STARTUP'),
      hostStates: this.ctx.hostStates?.() ?? [
        {
          master: options.leader,
          uptime: now - options.startedAt,
          driverStatus: options.leader ? 'DRIVER_RUNNING' : 'DRIVER_NOT_STARTED',
          hostAddress: options.hostname,
          hostname: options.hostname,
          mesosConnected: options.leader,
          availableCachedCpus: 0,
          availableCachedMemory: 0,
        },
      ],
      oldestDeploy,
      numDeploys: pendingDeploys.length,
      oldestDeployStep: oldestDeploy,
      activeDeploys: pendingDeploys.map((p) => p.deployMarker),
      lateTasks: late.length,
      listLateTasks: late,
      onDemandLateTasks: onDemandLate.length,
      onDemandListLateTasks: onDemandLate,
      futureTasks,
      maxTaskLag,
      generatedAt: now,
      overProvisionedRequests: over.length,
      underProvisionedRequests: under.length,
      overProvisionedRequestIds: options.includeRequestIds ? over : [],
      underProvisionedRequestIds: options.includeRequestIds ? under : [],
      authDatastoreHealthy: true,
      minimumPriorityLevel: 0,
      avgStatusUpdateDelayMs: 0,
      lastHeartbeatAt: [...s.agents.values()].reduce((m, a) => Math.max(m, a.lastSeenAt), 0),
    };
    if (!options.includeRequestIds) this.stateCache = { at: now, value };
    return value;
  }
}

/** The wire form of a pending deploy: internal bookkeeping fields stripped. */
export function wirePendingDeploy(record: PendingDeployRecord): SingularityPendingDeploy {
  const { cancelRequested: _c, failures: _f, step: _s, stepCompletedAt: _sc, lb: _lb, ...wire } = record as PendingDeployRecord & { lb?: unknown };
  return wire;
}
