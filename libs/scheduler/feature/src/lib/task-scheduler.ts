import {
  buildPendingTaskId,
  isLongRunning,
  isRunnableState,
  isTerminalTaskState,
  type AgentKillRequest,
  type AgentTaskReport,
  type ExtendedTaskState,
  type SingularityDeployFailure,
  type SingularityDeployMarker,
  type TaskStatusRecord,
} from '@singularity/models';
import {
  buildLaunch,
  checkPendingDeploy,
  drainPendingRequest,
  effectiveResources,
  emptyDeployStatistics,
  failureTypeOf,
  isFailingFast,
  isHealthy,
  recentFailures,
  recordTaskEnd,
  shouldRetry,
  isLeaving,
  killsHard,
  killsImmediately,
  lastAgentState,
  planOffers,
  runningSince,
  taskPorts,
  DEFAULT_PLACEMENT_SETTINGS,
  type PlacementAgent,
  type PlacementTask,
  type PendingDeployRecord,
  type PlacedTaskInfo,
  type TaskRecord,
  type UnplacedTask,
} from '@singularity/scheduler-core';
import type { AgentGateway } from './agent-gateway';
import { TaskReconciler } from './task-reconciler';
import { HealthMonitor } from './health-monitor';
import { ExpiringActions } from './expiring-actions';
import { LoadBalancerCoordinator, type LbDeployStep } from './load-balancer-coordinator';
import type { LoadBalancerClient } from './load-balancer';
import { HttpHealthChecker, systemTimers, type TimerPort } from './health';
import { ReadModels } from './read-models';
import { RequestEvents } from './request-events';
import type { SchedulerContext } from './scheduler-context';
import { withMachineState } from './machine.service';
import { CrashLoopMonitor } from './crash-loop-monitor';
import type { AgentRecord, RackRecord, RequestRecord } from './scheduler-state';

/** Zone of SCHEDULED requests without `scheduleTimeZone` (spec §2.4: the server's). */
const SERVER_TIME_ZONE = Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';

interface LaunchOrder {
  agent: AgentRecord;
  record: TaskRecord;
}
interface KillOrder {
  agent: AgentRecord;
  taskId: string;
  request: AgentKillRequest;
}

/**
 * The scheduling loop and the task lifecycle: it checks pending deploys,
 * drains the pending queue, runs cleanups, places due tasks on agents, and
 * applies agents' status updates. Decisions come from the pure functions of
 * `@singularity/scheduler-core`; this class reads state, applies their result,
 * commits, and only then talks to agents.
 */
export class TaskScheduler {
  /** Shared by every service: one place keeps request-history times strictly increasing. */
  readonly events: RequestEvents;
  /** The read models of the API, shared (one `/state` cache). */
  readonly read: ReadModels;
  readonly reconciler: TaskReconciler;
  readonly health: HealthMonitor;
  readonly expiring: ExpiringActions;
  readonly crashLoops: CrashLoopMonitor;
  readonly lb: LoadBalancerCoordinator;
  /** Tasks whose launch the agent has accepted in this process's life (memory only; resent after a restart). */
  private readonly launchAccepted = new Set<string>();
  private readonly launchInFlight = new Set<string>();
  private lastUnplaced = new Map<string, UnplacedTask>();
  private running: Promise<void> | undefined;
  private rerun = false;
  private timer: NodeJS.Timeout | undefined;
  private soonTimer: NodeJS.Timeout | undefined;
  private stopped = true;
  lastTickAt = 0;

  constructor(
    private readonly ctx: SchedulerContext,
    private readonly gateway: AgentGateway,
    timers: TimerPort = systemTimers,
    loadBalancer?: LoadBalancerClient,
  ) {
    this.events = new RequestEvents(ctx);
    this.expiring = new ExpiringActions(ctx.state);
    this.crashLoops = new CrashLoopMonitor(ctx);
    this.read = new ReadModels(ctx, this.expiring);
    this.lb = new LoadBalancerCoordinator(ctx, loadBalancer, ctx.settings.loadBalancerRemovalGracePeriodMillis ?? 0);
    this.health = new HealthMonitor(ctx, new HttpHealthChecker({ clock: ctx.clock, timers, logger: ctx.logger }), (record, verdict) => {
      if (verdict.status === 'UNHEALTHY') this.onUnhealthy(record, verdict.message);
      this.tickSoon();
    });
    this.reconciler = new TaskReconciler(ctx, {
      lost: (taskId, message) => this.applyLocalTerminal(taskId, 'TASK_LOST', message),
      recover: (agent, taskId) => this.tryRecover(agent, taskId),
      kill: (agent, taskId) => {
        this.ctx.logger.warn({ taskId, agentId: agent.agentId }, 'agent runs a task the scheduler does not know; killing it');
        void this.sendKill({ agent, taskId, request: { message: 'unknown to the scheduler' } });
      },
    });
  }

  start(): void {
    this.stopped = false;
    // Heartbeat times are not persisted: every known agent gets a full timeout to show up after a restart.
    const now = this.ctx.clock.now();
    for (const agent of this.ctx.state.agents.values()) agent.lastSeenAt = Math.max(agent.lastSeenAt, now);
    // Health checks resume where they were, from the stored results.
    for (const record of this.ctx.state.tasks.values()) {
      const since = runningSince(record);
      if (since !== undefined && lastAgentState(record) === 'TASK_RUNNING') this.health.start(record, since);
    }
    this.queueStartupWork();
    this.timer = setInterval(() => this.tickSoon(0), this.ctx.settings.checkSchedulerEverySeconds * 1000);
    this.tickSoon(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    clearTimeout(this.soonTimer);
    await this.health.stopAll();
    await this.running;
  }

  /**
   * A task failed its health check: in a deploy in progress the deploy fails
   * (checked at once); otherwise the task is replaced (UNHEALTHY_NEW_TASK).
   */
  private onUnhealthy(record: TaskRecord, message: string): void {
    const pending = this.ctx.state.getPendingDeploy(record.task.taskId.requestId);
    if (pending?.deployMarker.deployId === record.task.taskId.deployId) return; // the deploy check reads record.health
    if (!isLeaving(record) && this.ctx.state.getTask(record.task.taskId.id)) {
      this.events.cleanup(record, 'UNHEALTHY_NEW_TASK', undefined, message);
    }
  }

  /** Asks for a tick shortly (debounced), e.g. after a deploy or a status update. */
  tickSoon(delay = this.ctx.settings.tickDebounceMillis): void {
    if (this.stopped) return;
    if (this.soonTimer) return;
    this.soonTimer = setTimeout(() => {
      this.soonTimer = undefined;
      void this.tick().catch((err) => this.ctx.logger.error({ err }, 'scheduler tick failed'));
    }, delay);
  }

  /** Runs one tick; concurrent calls coalesce into one follow-up tick. */
  async tick(): Promise<void> {
    if (this.running) {
      this.rerun = true;
      return this.running;
    }
    this.running = this.runTick().finally(() => {
      this.running = undefined;
      if (this.rerun && !this.stopped) {
        this.rerun = false;
        this.tickSoon(0);
      }
    });
    return this.running;
  }

  /** Why each pending task is still pending (spec conventions §4), from the last tick. */
  unplacedReasons(pendingTaskId: string): UnplacedTask | undefined {
    return this.lastUnplaced.get(pendingTaskId);
  }

  private async runTick(): Promise<void> {
    // A paused leader (ZooKeeper unreachable) decides nothing; the interval tries again.
    if (this.ctx.paused?.()) return;
    const now = this.ctx.clock.now();
    this.lastTickAt = now;
    this.reconciler.maybeStartRound(now);
    this.checkMachines(now);
    this.checkCooldowns(now);
    this.crashLoops.checkOpen(now);
    this.checkExpiringActions(now);
    this.forgetFinishedBounces();
    for (const taskId of this.lb.failedAdds()) {
      const record = this.ctx.state.getTask(taskId);
      if (record && !isLeaving(record)) this.events.cleanup(record, 'UNHEALTHY_NEW_TASK', undefined, 'the load balancer did not take it');
    }
    this.checkTimeLimits(now);
    this.checkDeploys(now);
    this.drainPendingQueue(now);
    const kills = this.processCleanups(now);
    const launches = this.placeDueTasks(now);
    this.expireSilentLaunches(now);
    await this.ctx.state.flush();
    await Promise.all([...kills.map((k) => this.sendKill(k)), ...launches.map((l) => this.sendLaunch(l))]);
    if (await this.lb.run(this.ctx.clock.now())) this.tickSoon();
  }

  /** At start: every runnable long-running request is converged again (spec §3.2: startup queues STARTUP). */
  private queueStartupWork(): void {
    for (const record of this.ctx.state.requests.values()) {
      const activeDeployId = this.ctx.state.activeDeployId(record.request.id);
      if (!activeDeployId || !isRunnableState(record.state)) continue;
      if (!isLongRunning(record.request.requestType) && record.request.requestType !== 'SCHEDULED') continue;
      this.events.enqueue({ requestId: record.request.id, deployId: activeDeployId, pendingType: 'STARTUP' });
    }
  }

  // ---------- machines ----------
  /**
   * Agents that stopped heartbeating become DEAD and their tasks LOST (then
   * replaced); decommissions give the agent's tasks a DECOMISSIONING cleanup,
   * which waits until replacements run elsewhere; racks follow their agents
   * (spec §3.2, §3.3).
   */
  private checkMachines(now: number): void {
    const state = this.ctx.state;
    const timeoutMillis = this.ctx.settings.agentHeartbeatTimeoutSeconds * 1000;
    const agentsByRack = new Map<string, AgentRecord[]>();
    for (const agent of [...state.agents.values()]) {
      if (agent.state === 'DEAD' && now - agent.stateChangedAt > this.ctx.settings.deleteDeadAgentsAfterHours * 3_600_000) {
        state.removeAgent(agent.agentId);
        this.ctx.logger.info({ agentId: agent.agentId }, 'dead agent purged');
        continue;
      }
      if (agent.state !== 'DEAD' && now - agent.lastSeenAt > timeoutMillis) this.markAgentDead(agent, now);
      else if (agent.state === 'STARTING_DECOMMISSION') this.startDecommission(agent, now);
      else if (agent.state === 'DECOMMISSIONING' && state.tasksOnAgent(agent.agentId).length === 0) {
        state.putAgent(withMachineState(agent, 'DECOMMISSIONED', now, agent.stateUser, 'all tasks moved away'));
        this.ctx.logger.info({ agentId: agent.agentId }, 'agent decommissioned');
      }
      const current = state.agents.get(agent.agentId);
      if (current) agentsByRack.set(current.rackId, [...(agentsByRack.get(current.rackId) ?? []), current]);
    }
    for (const rack of [...state.racks.values()]) {
      const agents = agentsByRack.get(rack.rackId) ?? [];
      const next = nextRackState(rack, agents);
      if (next) state.putRack(withMachineState(rack, next, now, undefined, `agents of the rack: ${agents.map((a) => a.state).join(', ') || 'none'}`));
    }
  }

  private markAgentDead(agent: AgentRecord, now: number): void {
    const silentSeconds = Math.round((now - agent.lastSeenAt) / 1000);
    const message = `Agent ${agent.hostname} stopped sending heartbeats (last seen ${silentSeconds} s ago)`;
    this.ctx.state.putAgent(withMachineState(agent, 'DEAD', now, undefined, message));
    this.ctx.logger.warn({ agentId: agent.agentId, host: agent.hostname, silentSeconds }, 'agent is dead; its tasks are lost');
    for (const record of this.ctx.state.tasksOnAgent(agent.agentId)) this.applyUpdate(record, 'TASK_LOST', now, message, 'REASON_AGENT_REMOVED');
  }

  private startDecommission(agent: AgentRecord, now: number): void {
    const state = this.ctx.state;
    const requests = new Set<string>();
    for (const record of state.tasksOnAgent(agent.agentId)) {
      if (isLeaving(record)) continue;
      this.events.cleanup(record, 'DECOMISSIONING', agent.stateUser, `agent ${agent.hostname} is being decommissioned`);
      requests.add(record.task.taskId.requestId);
    }
    for (const requestId of requests) {
      const requestRecord = state.getRequest(requestId);
      const activeDeployId = state.activeDeployId(requestId);
      if (requestRecord && activeDeployId && isRunnableState(requestRecord.state) && isLongRunning(requestRecord.request.requestType)) {
        this.events.enqueue({ requestId, deployId: activeDeployId, pendingType: 'DECOMISSIONED_SLAVE_OR_RACK', user: agent.stateUser });
      }
    }
    state.putAgent(withMachineState(agent, 'DECOMMISSIONING', now, agent.stateUser, agent.stateMessage));
    this.ctx.logger.info({ agentId: agent.agentId, tasks: state.tasksOnAgent(agent.agentId).length }, 'decommissioning agent');
  }

  // ---------- deploys ----------
  private checkDeploys(now: number): void {
    for (const pending of [...this.ctx.state.pendingDeploys.values()]) {
      const { requestId, deployId } = pending.deployMarker;
      const requestRecord = this.ctx.state.getRequest(requestId);
      const deploy = this.ctx.state.getDeploy(requestId, deployId);
      if (!requestRecord || !deploy) {
        this.ctx.state.removePendingDeploy(requestId);
        continue;
      }
      const all = this.ctx.state.tasksOf(requestId);
      const tasks = all.filter((t) => t.task.taskId.deployId === deployId);
      const otherTasks = all.filter((t) => t.task.taskId.deployId !== deployId);
      const request = pending.updatedRequest ?? requestRecord.request;
      const result = checkPendingDeploy({ now, request, deploy, pendingDeploy: pending, tasks, otherTasks, settings: this.ctx.settings });
      if (result.kind === 'waiting') {
        const stepComplete = result.stepCompletedAt !== undefined;
        if (pending.deployProgress.currentActiveInstances !== result.currentActiveInstances || pending.stepCompletedAt !== result.stepCompletedAt) {
          this.ctx.state.putPendingDeploy({
            ...pending,
            stepCompletedAt: result.stepCompletedAt,
            deployProgress: { ...pending.deployProgress, currentActiveInstances: result.currentActiveInstances, stepComplete, stepLaunchComplete: stepComplete },
          });
        }
        continue;
      }
      if ((result.kind === 'advance' || (result.kind === 'finished' && result.deployState === 'SUCCEEDED')) && this.lb.enabledFor(request)) {
        // A load-balanced step is complete only once the load balancer took the new tasks (spec §2.3.3).
        const step = (pending as PendingDeployRecord & { lb?: LbDeployStep }).lb;
        if (!step) {
          const add = tasks.filter((t) => !isLeaving(t) && isHealthy(t, now, this.ctx.settings.considerTaskHealthyAfterRunningForSeconds)).map((t) => t.task.taskId.id);
          const retiring = result.kind === 'advance' ? new Set(result.retireTaskIds) : undefined;
          const remove = otherTasks.filter((t) => this.lb.isAdded(t.task.taskId.id) && (!retiring || retiring.has(t.task.taskId.id))).map((t) => t.task.taskId.id);
          this.ctx.state.putPendingDeploy({ ...pending, lb: { state: 'NEEDED', add, remove } } as PendingDeployRecord);
          continue;
        }
        if (step.state === 'FAILED' || step.state === 'INVALID_REQUEST_NOOP' || step.state === 'CANCELED') {
          const failed = step.state !== 'CANCELED';
          this.finishDeploy(pending, failed ? 'FAILED' : 'CANCELED', `load balancer answered ${step.state}${step.message ? `: ${step.message}` : ''}`, failed ? [{ reason: 'LOAD_BALANCER_UPDATE_FAILED', message: step.message }] : [], now);
          continue;
        }
        if (step.state !== 'SUCCESS') continue;
        this.lb.applyDeployStep(step, now);
        if (result.kind === 'advance') this.ctx.state.putPendingDeploy({ ...pending, lb: undefined } as PendingDeployRecord);
      }
      if (result.kind === 'advance') {
        // Canary step done: retire old tasks the new deploy now covers, then grow the new deploy.
        for (const id of result.retireTaskIds) {
          const old = this.ctx.state.getTask(id);
          if (old && !isLeaving(old)) this.events.cleanup(old, 'DEPLOY_STEP_FINISHED', pending.deployMarker.user, `deploy ${deployId} step ${result.step - 1} finished`);
        }
        this.ctx.state.putPendingDeploy({
          ...pending,
          step: result.step,
          stepCompletedAt: undefined,
          deployProgress: {
            ...pending.deployProgress,
            targetActiveInstances: result.newTarget,
            stepComplete: false,
            stepLaunchComplete: false,
            timestamp: now,
          },
        });
        this.events.enqueue({ requestId, deployId, pendingType: 'NEXT_DEPLOY_STEP', user: pending.deployMarker.user, message: result.message });
        this.ctx.logger.info({ requestId, deployId, step: result.step, target: result.newTarget }, 'deploy advanced to the next step');
        continue;
      }
      this.finishDeploy(pending, result.deployState, result.message, result.failures, now);
    }
  }

  private finishDeploy(
    pending: PendingDeployRecord,
    deployState: 'SUCCEEDED' | 'FAILED' | 'OVERDUE' | 'CANCELED' | 'FAILED_INTERNAL_STATE',
    message: string,
    failures: SingularityDeployFailure[],
    now: number,
  ): void {
    const { requestId, deployId } = pending.deployMarker;
    const state = this.ctx.state;
    let requestRecord = state.getRequest(requestId)!;
    const previous = state.getDeployState(requestId);
    const marker: SingularityDeployMarker = pending.deployMarker;
    state.putDeployResult(requestId, deployId, { deployState, message, deployFailures: failures, timestamp: now });
    state.removePendingDeploy(requestId);
    this.ctx.logger.info({ requestId, deployId, deployState, message }, 'deploy finished');

    if (deployState === 'SUCCEEDED') {
      state.putDeployState({ requestId, activeDeploy: marker });
      if (pending.updatedRequest) {
        requestRecord = { ...requestRecord, request: pending.updatedRequest };
        state.putRequest(requestRecord);
      }
      if (requestRecord.state === 'DEPLOYING_TO_UNPAUSE') {
        requestRecord = this.events.setRequestState(requestRecord, 'ACTIVE', 'DEPLOYED_TO_UNPAUSE', marker.user);
      } else if (requestRecord.state === 'FINISHED') {
        requestRecord = this.events.setRequestState(requestRecord, 'ACTIVE', 'UPDATED', marker.user);
      }
      // Tasks of every other deploy step aside; pending work of other deploys goes.
      for (const t of state.tasksOf(requestId)) {
        if (t.task.taskId.deployId !== deployId && !isLeaving(t) && isLongRunning(requestRecord.request.requestType)) {
          this.events.cleanup(t, 'DEPLOY_STEP_FINISHED', marker.user, `deploy ${deployId} succeeded`);
        }
      }
      for (const pt of state.pendingTasksOf(requestId)) {
        if (pt.pendingTaskId.deployId !== deployId) state.removePendingTask(pt.pendingTaskId.id);
      }
      const type = requestRecord.request.requestType;
      if (type === 'RUN_ONCE' || type === 'SCHEDULED') {
        this.events.enqueue({ requestId, deployId, pendingType: 'NEW_DEPLOY', user: marker.user });
      } else if (isLongRunning(type)) {
        this.events.enqueue({ requestId, deployId, pendingType: 'DEPLOY_FINISHED', user: marker.user });
      }
      const runNow = state.getDeploy(requestId, deployId)?.runImmediately;
      if (runNow && (type === 'ON_DEMAND' || type === 'SCHEDULED')) {
        this.events.enqueue({
          requestId,
          deployId,
          pendingType: type === 'ON_DEMAND' ? 'ONEOFF' : 'IMMEDIATE',
          user: marker.user,
          runId: runNow.runId ?? `${deployId}-${now}`,
          cmdLineArgsList: runNow.commandLineArgs,
          skipHealthchecks: runNow.skipHealthchecks,
          message: runNow.message,
          resources: runNow.resources,
          envOverrides: runNow.envOverrides,
        });
      }
      return;
    }

    // Automatic rollback: the previous deploy stays active; only the new deploy's tasks go.
    state.putDeployState({ requestId, activeDeploy: previous?.activeDeploy });
    // A canary deploy's tasks stay until the old deploy is whole again (INCREMENTAL_* cleanups wait, spec §2.3.6).
    const canary = (pending.deployProgress.deployInstanceCountPerStep ?? 0) > 0;
    const cleanupType = deployState === 'CANCELED' ? (canary ? 'INCREMENTAL_DEPLOY_CANCELLED' : 'DEPLOY_CANCELED') : canary ? 'INCREMENTAL_DEPLOY_FAILED' : 'DEPLOY_FAILED';
    for (const t of state.tasksOf(requestId)) {
      if (t.task.taskId.deployId === deployId && !isLeaving(t)) this.events.cleanup(t, cleanupType, marker.user, message);
    }
    this.events.dropPendingWork(requestId, deployId);
    if (requestRecord.state === 'DEPLOYING_TO_UNPAUSE') {
      requestRecord = this.events.setRequestState(requestRecord, 'PAUSED', 'PAUSED', marker.user, `deploy ${deployId} ${deployState}`);
    }
    const activeDeployId = previous?.activeDeploy?.deployId;
    if (activeDeployId && isRunnableState(requestRecord.state) && isLongRunning(requestRecord.request.requestType)) {
      this.events.enqueue({
        requestId,
        deployId: activeDeployId,
        pendingType: deployState === 'CANCELED' ? 'DEPLOY_CANCELLED' : 'DEPLOY_FAILED',
      });
    }
  }

  // ---------- pending queue ----------
  private drainPendingQueue(now: number): void {
    const state = this.ctx.state;
    const entries = [...state.pendingRequests].sort((a, b) => a[1].timestamp - b[1].timestamp);
    for (const [key, pr] of entries) {
      if ((pr.runAt ?? 0) > now) continue;
      const requestRecord = state.getRequest(pr.requestId);
      const decision = drainPendingRequest({
        now,
        pendingRequest: pr,
        request: requestRecord?.request,
        requestState: requestRecord?.state,
        activeDeployId: state.activeDeployId(pr.requestId),
        pendingDeploy: state.getPendingDeploy(pr.requestId),
        tasks: state.tasksOf(pr.requestId),
        pendingTasks: state.pendingTasksOf(pr.requestId),
        cooldownDelayMillis: this.ctx.settings.cooldownMinScheduleSeconds * 1000,
        defaultTimeZone: SERVER_TIME_ZONE,
      });
      state.removePendingRequest(key);
      if (decision.kind === 'finish') {
        // Nothing left to schedule (spec §2.1 → FINISHED); a schedule change or a deploy revives it.
        if (requestRecord) this.events.setRequestState(requestRecord, 'FINISHED', 'FINISHED', undefined, decision.reason);
        this.events.dropPendingWork(pr.requestId);
        continue;
      }
      if (decision.kind === 'drop') {
        this.ctx.logger.debug({ requestId: pr.requestId, pendingType: pr.pendingType, reason: decision.reason }, 'dropped pending request');
        continue;
      }
      decision.deletePendingTaskIds.forEach((id) => state.removePendingTask(id));
      decision.create.forEach((pt) => state.putPendingTask(pt));
      for (const order of decision.cleanups) {
        const record = state.getTask(order.taskId);
        if (record && !isLeaving(record)) this.events.cleanup(record, order.cleanupType, pr.user, order.message);
      }
    }
  }

  // ---------- cleanups and kills ----------
  private processCleanups(now: number): KillOrder[] {
    const state = this.ctx.state;
    const orders: KillOrder[] = [];
    const incrementalBudget = new Map<string, number>();
    for (const record of state.leavingTasks().sort((a, b) => a.task.taskId.instanceNo - b.task.taskId.instanceNo)) {
      const agent = state.agents.get(record.task.mesosTask.agentId.value);
      if (record.killed) {
        // Tasks that ignore a kill get it again (spec §2.5).
        if (agent && now - record.killed.lastAttemptAt >= this.ctx.settings.askDriverToKillTasksAgainAfterMillis) {
          state.putKilled(record, { ...record.killed, lastAttemptAt: now, attempts: record.killed.attempts + 1 });
          orders.push({ agent, taskId: record.task.taskId.id, request: { destroy: record.killed.destroy, user: record.killed.user } });
        }
        continue;
      }
      const cleanup = record.cleanup;
      if (!cleanup) continue;
      const requestRecord = state.getRequest(record.task.taskId.requestId);
      const longRunning = requestRecord ? isLongRunning(requestRecord.request.requestType) : true;
      // A paused request's tasks die at once, except those paused with killTasks=false (PAUSING): they finish.
      const pausedKill = requestRecord?.state === 'PAUSED' && cleanup.cleanupType !== 'PAUSING';
      let killNow = killsImmediately(cleanup.cleanupType, longRunning) || pausedKill || !requestRecord;
      if (!killNow && longRunning && requestRecord && cleanup.cleanupType === 'INCREMENTAL_BOUNCE') {
        // One old task goes for each replacement beyond the instance count that is healthy (spec §2.5).
        const id = requestRecord.request.id;
        const budget = incrementalBudget.get(id) ?? this.incrementalBounceBudget(id, requestRecord.request.instances ?? 1, now);
        killNow = budget > 0;
        incrementalBudget.set(id, killNow ? budget - 1 : budget);
      } else if (!killNow && longRunning && requestRecord) {
        killNow = this.activeDeployIsWhole(requestRecord.request.id, requestRecord.request.instances ?? 1, now);
      }
      if (!killNow && !longRunning) {
        const waitMillis = requestRecord?.request.killOldNonLongRunningTasksAfterMillis ?? this.ctx.settings.killNonLongRunningTasksInCleanupAfterSeconds * 1000;
        killNow = now - cleanup.timestamp >= waitMillis;
      }
      if (!killNow) continue;
      if (!this.lb.readyToKill(record, now)) {
        // LB-added tasks leave the load balancer before they die (spec §2.5).
        this.lb.requestRemoval(record.task.taskId.id);
        continue;
      }
      const destroy = killsHard(cleanup.cleanupType);
      state.removeCleanup(record);
      state.putKilled(record, {
        taskId: record.task.taskId.id,
        cleanupType: cleanup.cleanupType,
        user: cleanup.user,
        destroy,
        firstAttemptAt: now,
        lastAttemptAt: now,
        attempts: 1,
      });
      if (agent) orders.push({ agent, taskId: record.task.taskId.id, request: { destroy, user: cleanup.user, message: cleanup.message } });
    }
    return orders;
  }

  /** A bounce is over once none of its old tasks is left: its expiry no longer applies. */
  private forgetFinishedBounces(): void {
    for (const record of this.ctx.state.requests.values()) {
      const requestId = record.request.id;
      if (!this.expiring.get(requestId, 'bounce')) continue;
      const bouncing = this.ctx.state.tasksOf(requestId).some((t) => {
        const type = t.cleanup?.cleanupType ?? t.killed?.cleanupType;
        return type === 'BOUNCING' || type === 'INCREMENTAL_BOUNCE';
      });
      if (!bouncing) this.expiring.take(requestId, 'bounce');
    }
  }

  /** How many incrementally bounced tasks may die now: healthy staying + bounced still alive − instances. */
  private incrementalBounceBudget(requestId: string, instances: number, now: number): number {
    const activeDeployId = this.ctx.state.activeDeployId(requestId);
    let healthyStaying = 0;
    let bouncedAlive = 0;
    for (const t of this.ctx.state.tasksOf(requestId)) {
      if (t.task.taskId.deployId !== activeDeployId) continue;
      if (t.cleanup?.cleanupType === 'INCREMENTAL_BOUNCE') bouncedAlive++;
      else if (!isLeaving(t) && isHealthy(t, now, this.ctx.settings.considerTaskHealthyAfterRunningForSeconds)) healthyStaying++;
    }
    return healthyStaying + bouncedAlive - instances;
  }

  /** True when the request's active deploy runs its instances, none leaving, all healthy. */
  private activeDeployIsWhole(requestId: string, instances: number, now: number): boolean {
    const activeDeployId = this.ctx.state.activeDeployId(requestId);
    if (!activeDeployId) return true;
    const staying = this.ctx.state.tasksOf(requestId).filter((t) => t.task.taskId.deployId === activeDeployId && !isLeaving(t));
    return (
      staying.length >= instances &&
      staying.every((t) => isHealthy(t, now, this.ctx.settings.considerTaskHealthyAfterRunningForSeconds))
    );
  }

  private async sendKill(order: KillOrder): Promise<void> {
    try {
      const result = await this.gateway.kill(order.agent, order.taskId, order.request);
      if (result === 'unknown') {
        // The agent has never heard of it: it cannot be running there.
        this.applyLocalTerminal(order.taskId, 'TASK_LOST', `Agent ${order.agent.agentId} does not know this task`);
        await this.ctx.state.flush();
      }
    } catch (err) {
      this.ctx.logger.warn({ taskId: order.taskId, err: (err as Error).message }, 'kill not delivered; will retry');
    }
  }

  // ---------- placement and launch ----------
  private placeDueTasks(now: number): LaunchOrder[] {
    const state = this.ctx.state;
    const orders: LaunchOrder[] = [];
    // Launches the agent has not accepted yet (e.g. the scheduler restarted in between) are sent again.
    for (const record of state.tasksAwaitingAgent()) {
      if (!this.launchAccepted.has(record.task.taskId.id)) {
        const agent = state.agents.get(record.task.mesosTask.agentId.value);
        if (agent && agent.state === 'ACTIVE') orders.push({ agent, record });
      }
    }

    const due: PlacementTask[] = [];
    for (const pt of state.pendingTasks.values()) {
      if (pt.pendingTaskId.nextRunAt > now) continue;
      const requestRecord = state.getRequest(pt.pendingTaskId.requestId);
      const deploy = state.getDeploy(pt.pendingTaskId.requestId, pt.pendingTaskId.deployId);
      if (!requestRecord || !deploy || !isRunnableState(requestRecord.state)) continue;
      due.push({
        pendingTaskId: pt.pendingTaskId.id,
        requestId: requestRecord.request.id,
        deployId: deploy.id,
        request: requestRecord.request,
        deploy,
        pendingTask: pt,
        resources: effectiveResources(deploy, pt),
        nextRunAt: pt.pendingTaskId.nextRunAt,
        isBounceReplacement: pt.pendingTaskId.pendingType === 'BOUNCE',
      });
    }
    if (due.length === 0) {
      this.lastUnplaced = new Map();
      return orders;
    }

    const agents: PlacementAgent[] = [];
    const placed: PlacedTaskInfo[] = [];
    for (const agent of state.agents.values()) {
      const used = { cpus: 0, memoryMb: 0, diskMb: 0 };
      const usedPorts = new Set<number>();
      for (const t of state.tasksOnAgent(agent.agentId)) {
        const r = effectiveResources(t.task.taskRequest.deploy, t.task.taskRequest.pendingTask);
        used.cpus += r.cpus;
        used.memoryMb += r.memoryMb;
        used.diskMb += r.diskMb;
        for (const port of taskPorts(t.task)) usedPorts.add(port);
        placed.push({
          taskId: t.task.taskId.id,
          requestId: t.task.taskId.requestId,
          deployId: t.task.taskId.deployId,
          agentId: agent.agentId,
          host: agent.hostname,
          rackId: agent.rackId,
          cleaning: isLeaving(t),
        });
      }
      agents.push({
        agentId: agent.agentId,
        host: agent.hostname,
        rackId: agent.rackId,
        state: agent.state,
        rackState: state.racks.get(agent.rackId)?.state ?? 'ACTIVE',
        attributes: agent.attributes,
        total: agent.resources,
        used,
        portRange: agent.portRange,
        usedPorts,
      });
    }

    const plan = planOffers({
      agents,
      tasks: due,
      placed,
      now,
      seed: now % 2 ** 31,
      settings: { ...DEFAULT_PLACEMENT_SETTINGS },
    });
    this.lastUnplaced = new Map(plan.unplaced.map((u) => [u.pendingTaskId, u]));
    const byPendingId = new Map(due.map((d) => [d.pendingTaskId, d]));
    for (const launch of plan.launches) {
      const dueTask = byPendingId.get(launch.pendingTaskId)!;
      const agent = state.agents.get(launch.agentId)!;
      const build = (startedAt: number) =>
        buildLaunch({
          request: dueTask.request,
          deploy: dueTask.deploy,
          pendingTask: dueTask.pendingTask,
          placement: { agentId: agent.agentId, host: agent.hostname, rackId: agent.rackId, ports: launch.ports },
          startedAt,
          estimatedInstanceCount: dueTask.request.instances ?? 1,
        });
      let { task } = build(now);
      // A replacement of the same instance in the same millisecond on the same host would reuse the id.
      for (let startedAt = now + 1; state.getTask(task.taskId.id) || state.getFinishedTask(task.taskId.id); startedAt++) task = build(startedAt).task;
      const record = state.addTask(task, {
        taskId: task.taskId,
        timestamp: now,
        taskState: 'TASK_LAUNCHED',
        statusMessage: `Launched on agent ${agent.agentId} (${agent.hostname})`,
      });
      orders.push({ agent, record });
      this.ctx.logger.info({ taskId: task.taskId.id, agentId: agent.agentId, ports: launch.ports }, 'launching task');
    }
    if (plan.unplaced.length > 0) {
      this.ctx.logger.debug({ unplaced: plan.unplaced.length, first: plan.unplaced[0].summary }, 'pending tasks could not be placed');
    }
    return orders;
  }

  private async sendLaunch(order: LaunchOrder): Promise<void> {
    const id = order.record.task.taskId.id;
    if (this.launchInFlight.has(id)) return;
    this.launchInFlight.add(id);
    try {
      const { spec } = buildLaunch({
        request: order.record.task.taskRequest.request,
        deploy: order.record.task.taskRequest.deploy,
        pendingTask: order.record.task.taskRequest.pendingTask,
        placement: {
          agentId: order.agent.agentId,
          host: order.record.task.taskId.host,
          rackId: order.record.task.taskId.rackId,
          ports: taskPorts(order.record.task),
        },
        startedAt: order.record.task.taskId.startedAt,
        estimatedInstanceCount: order.record.task.taskRequest.request.instances ?? 1,
        upload: this.ctx.settings.logUpload,
      });
      await this.gateway.launch(order.agent, spec);
      this.launchAccepted.add(id);
    } catch (err) {
      this.ctx.logger.warn({ taskId: id, err: (err as Error).message }, 'launch not delivered; will retry');
    } finally {
      this.launchInFlight.delete(id);
    }
  }

  /** A launch no agent ever acknowledged is lost after `reconcileLaunchAfterMillis` (spec §3.2). */
  private expireSilentLaunches(now: number): void {
    for (const record of this.ctx.state.tasksAwaitingAgent()) {
      if (now - record.task.taskId.startedAt < this.ctx.settings.reconcileLaunchAfterMillis) continue;
      this.applyLocalTerminal(record.task.taskId.id, 'TASK_LOST', 'The agent never acknowledged the launch');
    }
  }

  // ---------- status updates ----------
  /**
   * Applies a batch of agent status updates, commits, and returns what to
   * acknowledge. Repeats and updates of finished tasks are acknowledged and
   * ignored; an update for a task the scheduler does not know orders a kill.
   */
  async applyStatusUpdates(agentId: string, updates: readonly TaskStatusRecord[]): Promise<Array<{ taskId: string; seq: number }>> {
    const unknownRunning: string[] = [];
    for (const u of updates) {
      const record = this.ctx.state.getTask(u.taskId);
      if (!record) {
        // Finished here (e.g. declared lost) or never known, yet alive on the agent: it must not run on.
        if (!isTerminalTaskState(u.state)) unknownRunning.push(u.taskId);
        continue;
      }
      this.launchAccepted.add(u.taskId);
      this.applyUpdate(record, u.state, u.timestamp, u.message, u.reason);
    }
    await this.ctx.state.flush();
    const agent = this.ctx.state.agents.get(agentId);
    if (agent) {
      for (const taskId of unknownRunning) {
        this.ctx.logger.warn({ taskId, agentId }, 'agent reports a task the scheduler does not know; killing it');
        void this.sendKill({ agent, taskId, request: { message: 'unknown to the scheduler' } });
      }
    }
    if (updates.length > 0) this.tickSoon();
    return updates.map((u) => ({ taskId: u.taskId, seq: u.seq }));
  }

  /** Records a state the scheduler concluded itself (lost launch, unknown on agent). Caller flushes. */
  applyLocalTerminal(taskId: string, state: ExtendedTaskState, message: string): void {
    const record = this.ctx.state.getTask(taskId);
    if (record) this.applyUpdate(record, state, this.ctx.clock.now(), message);
  }

  private applyUpdate(record: TaskRecord, taskState: ExtendedTaskState, timestamp: number, message?: string, reason?: string): void {
    if (lastAgentState(record) === taskState || isTerminalTaskState(lastAgentState(record))) return;
    if (record.updates.some((u) => u.taskState === taskState)) return;
    this.ctx.state.addTaskUpdate(record, { taskId: record.task.taskId, timestamp, taskState, statusMessage: message, statusReason: reason });
    if (taskState === 'TASK_RUNNING') this.health.start(record, timestamp);
    if (isTerminalTaskState(taskState)) this.onTaskFinished(record, taskState, message, reason);
  }

  private onTaskFinished(record: TaskRecord, taskState: ExtendedTaskState, message?: string, reason?: string): void {
    const state = this.ctx.state;
    const now = this.ctx.clock.now();
    const { requestId, deployId, instanceNo } = record.task.taskId;
    const intentional = isLeaving(record);
    const cleanupType = record.cleanup?.cleanupType;
    state.finishTask(record, now);
    this.lb.onTaskFinished(record.task);
    this.health.stop(record.task.taskId.id);
    this.launchAccepted.delete(record.task.taskId.id);
    this.reconciler.forget(record.task.taskId.id);
    this.ctx.logger.info({ taskId: record.task.taskId.id, taskState, message }, 'task finished');

    const requestRecord = state.getRequest(requestId);
    if (!requestRecord) return;
    const type = requestRecord.request.requestType;
    const pt = record.task.taskRequest.pendingTask;
    const failure = failureTypeOf({
      state: taskState,
      reason,
      message,
      requestType: type,
      killedOnPurpose: intentional,
      everRunning: record.updates.some((u) => u.taskState === 'TASK_RUNNING'),
      killedAsUnhealthyNewTask: isLongRunning(type) && (cleanupType === 'UNHEALTHY_NEW_TASK' || cleanupType === 'OVERDUE_NEW_TASK'),
    });
    const stats = recordTaskEnd(state.getDeployStatistics(requestId, deployId) ?? emptyDeployStatistics(requestId, deployId), {
      state: taskState,
      instanceNo,
      timestamp: now,
      failure,
      isRetry: pt.pendingTaskId.pendingType === 'RETRY',
    });
    state.putDeployStatistics(stats);
    // A crash loop can only open at a failure: this request is the only one to look at.
    if (failure) this.crashLoops.evaluate(requestId, now);

    const pending = state.getPendingDeploy(requestId);
    if (pending && pending.deployMarker.deployId === deployId && !intentional && isLongRunning(type)) {
      state.putPendingDeploy({
        ...pending,
        failures: [
          ...(pending.failures ?? []),
          { reason: 'TASK_FAILED_ON_STARTUP', taskId: record.task.taskId, message: `${taskState}${message ? `: ${message}` : ''}` },
        ],
        deployProgress: { ...pending.deployProgress, failedDeployTasks: [...pending.deployProgress.failedDeployTasks, record.task.taskId] },
      });
    }
    if (requestRecord.state === 'DELETING') {
      if (state.tasksOf(requestId).length === 0) this.finishDeletion(requestId);
      return;
    }
    if (!isRunnableState(requestRecord.state)) return;

    if (!isLongRunning(type)) {
      if (requestRecord.state === 'SYSTEM_COOLDOWN' && taskState === 'TASK_FINISHED') this.exitCooldown(requestRecord, undefined, 'a run succeeded');
      // A one-off run lost with its machine runs again; a failed one while numRetriesOnFailure allows (spec §2.4, §3.2).
      // RUN_ONCE runs once per deploy: a lost run is not repeated (scenario 18).
      const lostWithMachine = taskState === 'TASK_LOST' && !intentional && type !== 'RUN_ONCE';
      const userTriggered = type === 'SCHEDULED' && pt.pendingTaskId.pendingType === 'IMMEDIATE';
      const retry = lostWithMachine || shouldRetry({ requestType: type, numRetriesOnFailure: requestRecord.request.numRetriesOnFailure, stats, failure, userTriggered });
      const activeDeployId = state.activeDeployId(requestId);
      if (!retry && type === 'SCHEDULED' && activeDeployId) {
        // The run is over: schedule the next fire (after `waitAtLeastMillisAfterTaskFinishesForReschedule`).
        this.events.enqueue({ requestId, deployId: activeDeployId, pendingType: 'TASK_DONE' });
      }
      if (retry && activeDeployId) {
        this.events.enqueue({
          requestId,
          deployId: activeDeployId,
          pendingType: 'RETRY',
          runId: pt.runId,
          cmdLineArgsList: pt.cmdLineArgsList,
          user: pt.user,
          resources: pt.resources,
          envOverrides: pt.envOverrides,
          runAsUserOverride: pt.runAsUserOverride,
          skipHealthchecks: pt.skipHealthchecks,
          message: `retry of ${record.task.taskId.id} (${message ?? taskState})`,
        });
      }
      return;
    }

    const isActiveDeploy = state.activeDeployId(requestId) === deployId;
    // A startup failure the scheduler killed counts in the window but does not itself start a cool-down (spec §2.6: not KILLED).
    if (failure && !intentional && isActiveDeploy && requestRecord.state === 'ACTIVE' && isFailingFast(stats, now, this.ctx.settings)) {
      const failures = recentFailures(stats, now, this.ctx.settings);
      this.events.setRequestState(requestRecord, 'SYSTEM_COOLDOWN', 'ENTERED_COOLDOWN', undefined, `${failures} failures within ${this.ctx.settings.evaluateCooldownOverMinutes} min; replacements wait ${this.ctx.settings.cooldownMinScheduleSeconds} s`);
      this.ctx.logger.warn({ requestId, failures }, 'request entered system cool-down');
    }
    if (isActiveDeploy) {
      this.events.enqueue({ requestId, deployId, pendingType: 'TASK_DONE' });
    } else if (pending && pending.deployMarker.deployId === deployId) {
      // A task of the deploy in progress ended (killed by a user, or a failure the deploy may absorb):
      // the deploy still needs its target, so converge it again; a deploy that has failed drops this.
      this.events.enqueue({ requestId, deployId, pendingType: 'NEXT_DEPLOY_STEP' });
    }
  }

  // ---------- expiring actions ----------
  /** Reverts operator actions whose time is up, and forgets bounces that finished (spec §2.6). */
  private checkExpiringActions(now: number): void {
    const state = this.ctx.state;
    for (const action of this.expiring.dueRequestActions(now)) {
      this.expiring.take(action.requestId, action.kind);
      const record = state.getRequest(action.requestId);
      if (!record) continue;
      const why = `${action.kind} expired after ${Math.round(action.durationMillis / 1000)} s`;
      if (action.kind === 'pause' && record.state === 'PAUSED') {
        this.events.setRequestState(record, 'ACTIVE', 'UNPAUSED', action.user, why);
        const activeDeployId = state.activeDeployId(action.requestId);
        if (activeDeployId) this.events.enqueue({ requestId: action.requestId, deployId: activeDeployId, pendingType: 'UNPAUSED', user: action.user });
      } else if (action.kind === 'scale' && action.revertToInstances !== undefined) {
        const reverted = { ...record, request: { ...record.request, instances: action.revertToInstances }, timestamp: now };
        state.putRequest(reverted);
        this.events.history(reverted, 'SCALE_REVERTED', action.user, `${why}; back to ${action.revertToInstances} instance(s)`);
        const activeDeployId = state.activeDeployId(action.requestId);
        if (activeDeployId) this.events.enqueue({ requestId: action.requestId, deployId: activeDeployId, pendingType: 'UPDATED_REQUEST', user: action.user });
      } else if (action.kind === 'bounce') {
        this.cancelBounce(action.requestId, action.user);
      } else if (action.kind === 'skipHealthchecks' && action.revertToSkipHealthchecks !== undefined) {
        state.putRequest({ ...record, request: { ...record.request, skipHealthchecks: action.revertToSkipHealthchecks }, timestamp: now });
      }
      this.ctx.logger.info({ requestId: action.requestId, kind: action.kind }, 'expiring action reverted');
    }
    for (const expiring of this.expiring.dueMachineStates(now)) {
      this.expiring.takeMachine(expiring.machineType, expiring.machineId);
      const message = `expired after ${Math.round(expiring.durationMillis / 1000)} s`;
      if (expiring.machineType === 'agent') {
        const agent = state.agents.get(expiring.machineId);
        if (agent && agent.state !== 'DEAD') state.putAgent(withMachineState(agent, expiring.revertToState, now, expiring.user, message));
      } else {
        const rack = state.racks.get(expiring.machineId);
        if (rack) state.putRack(withMachineState(rack, expiring.revertToState, now, expiring.user, message));
      }
    }
  }

  /**
   * Ends a bounce early (expiry or DELETE …/bounce): old tasks not yet killed stay,
   * and CANCEL_BOUNCE trims the replacements back to the instance count. Caller flushes.
   */
  cancelBounce(requestId: string, user?: string): void {
    this.expiring.take(requestId, 'bounce');
    for (const record of this.ctx.state.tasksOf(requestId)) {
      const type = record.cleanup?.cleanupType;
      if (!record.killed && (type === 'BOUNCING' || type === 'INCREMENTAL_BOUNCE')) this.ctx.state.removeCleanup(record);
    }
    const activeDeployId = this.ctx.state.activeDeployId(requestId);
    if (activeDeployId) this.events.enqueue({ requestId, deployId: activeDeployId, pendingType: 'CANCEL_BOUNCE', user });
  }

  // ---------- cool-down and time limits ----------
  /** Requests in SYSTEM_COOLDOWN leave it once their window no longer holds enough failures (spec §2.6). */
  private checkCooldowns(now: number): void {
    for (const record of [...this.ctx.state.requests.values()]) {
      if (record.state !== 'SYSTEM_COOLDOWN') continue;
      const activeDeployId = this.ctx.state.activeDeployId(record.request.id);
      const stats = activeDeployId ? this.ctx.state.getDeployStatistics(record.request.id, activeDeployId) : undefined;
      if (!isFailingFast(stats, now, this.ctx.settings)) this.exitCooldown(record, undefined, 'no more failures in the cool-down window');
    }
  }

  /**
   * SYSTEM_COOLDOWN → ACTIVE (EXITED_COOLDOWN). Replacements that were held
   * back run now. Caller flushes.
   */
  exitCooldown(record: RequestRecord, user: string | undefined, why: string): void {
    const now = this.ctx.clock.now();
    this.events.setRequestState(record, 'ACTIVE', 'EXITED_COOLDOWN', user, why);
    for (const pt of this.ctx.state.pendingTasksOf(record.request.id)) {
      if (pt.pendingTaskId.nextRunAt <= now) continue;
      this.ctx.state.removePendingTask(pt.pendingTaskId.id);
      const { id: _old, ...idParts } = pt.pendingTaskId;
      this.ctx.state.putPendingTask({ ...pt, pendingTaskId: buildPendingTaskId({ ...idParts, nextRunAt: now }) });
    }
    this.ctx.logger.info({ requestId: record.request.id, why }, 'request left system cool-down');
    this.tickSoon(0);
  }

  /** Non-long-running tasks past `taskExecutionTimeLimitMillis` are stopped (TASK_EXCEEDED_TIME_LIMIT). */
  private checkTimeLimits(now: number): void {
    for (const record of this.ctx.state.requests.values()) {
      const limit = record.request.taskExecutionTimeLimitMillis;
      if (!limit || isLongRunning(record.request.requestType)) continue;
      for (const t of this.ctx.state.tasksOf(record.request.id)) {
        if (!isLeaving(t) && now - t.task.taskId.startedAt > limit) {
          this.events.cleanup(t, 'TASK_EXCEEDED_TIME_LIMIT', undefined, `ran longer than ${limit} ms`);
        }
      }
    }
  }

  /** DELETING → DELETED once no task remains (spec §2.1). Caller flushes. */
  finishDeletion(requestId: string): void {
    const record = this.ctx.state.getRequest(requestId);
    if (!record) return;
    this.events.history(record, 'DELETED');
    this.expiring.forgetRequest(requestId);
    this.ctx.state.removePendingDeploy(requestId);
    this.ctx.state.removeRequest(requestId);
    this.ctx.logger.info({ requestId }, 'request deleted');
  }

  /**
   * Reconciles what an agent reports when it registers (spec §3.2): a task the
   * agent no longer runs is lost at once (the agent restarted and forgot it);
   * a task it runs that the scheduler does not know is killed.
   */
  reconcileAgent(agent: AgentRecord, reported: readonly AgentTaskReport[]): void {
    const reportedIds = new Set(reported.map((r) => r.taskId));
    for (const record of this.ctx.state.tasksOnAgent(agent.agentId)) {
      if (reportedIds.has(record.task.taskId.id) || lastAgentState(record) === 'TASK_LAUNCHED') continue; // not yet delivered: re-sent
      this.applyUpdate(record, 'TASK_LOST', this.ctx.clock.now(), `Task was not running on agent ${agent.hostname} when it registered again`);
    }
    this.reconciler.onReport(agent, reported, this.ctx.clock.now());
  }

  /**
   * A long-running task declared lost with its agent, reported running again by
   * that agent soon enough, while its deploy is still active, is taken back
   * (spec §3.2): convergence then trims the replacement it got meanwhile.
   */
  private tryRecover(agent: AgentRecord, taskId: string): boolean {
    const state = this.ctx.state;
    const finished = state.getFinishedTask(taskId);
    if (!finished || finished.task.mesosTask.agentId.value !== agent.agentId) return false;
    if (finished.updates.at(-1)?.taskState !== 'TASK_LOST') return false;
    if (this.ctx.clock.now() - finished.finishedAt > 1.5 * this.ctx.settings.agentReregisterTimeoutSeconds * 1000) return false;
    const { requestId, deployId } = finished.task.taskId;
    const requestRecord = state.getRequest(requestId);
    if (!requestRecord || !isRunnableState(requestRecord.state) || !isLongRunning(requestRecord.request.requestType)) return false;
    if (state.activeDeployId(requestId) !== deployId) return false;
    state.recoverTask(taskId);
    this.launchAccepted.add(taskId);
    this.events.enqueue({ requestId, deployId, pendingType: 'TASK_RECOVERED', message: `${taskId} recovered on agent ${agent.hostname}` });
    this.ctx.logger.warn({ taskId, agentId: agent.agentId }, 'lost task reported running again by its agent; recovered');
    return true;
  }

  /** A heartbeat's task list: the continuous half of reconciliation. Caller flushes. */
  reconcileHeartbeat(agent: AgentRecord, reported: readonly AgentTaskReport[]): void {
    this.reconciler.onReport(agent, reported, this.ctx.clock.now());
  }
}

/** The state a rack moves to given its agents, or undefined to stay (spec §3.2, §3.3). */
function nextRackState(rack: RackRecord, agents: readonly AgentRecord[]): RackRecord['state'] | undefined {
  const all = (...states: string[]) => agents.length > 0 && agents.every((a) => states.includes(a.state));
  if (rack.state === 'STARTING_DECOMMISSION') return 'DECOMMISSIONING';
  if (rack.state === 'DECOMMISSIONING' && all('DECOMMISSIONED', 'DEAD')) return 'DECOMMISSIONED';
  if (rack.state !== 'DEAD' && rack.state !== 'DECOMMISSIONED' && rack.state !== 'DECOMMISSIONING' && all('DEAD')) return 'DEAD';
  if (rack.state === 'DEAD' && agents.some((a) => a.state === 'ACTIVE')) return 'ACTIVE';
  return undefined;
}
