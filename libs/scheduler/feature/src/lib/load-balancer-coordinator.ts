import type { SingularityRequest, SingularityTask } from '@singularity/models';
import { isHealthy, isLeaving, type TaskRecord } from '@singularity/scheduler-core';
import type { LoadBalancerRequestId, LoadBalancerState, SingularityLoadBalancerUpdate } from '@singularity/scheduler-history';
import { buildDeployRequest, buildTaskRequest, lbRequestIdForDeploy, nextTaskAttempt, type LoadBalancerClient } from './load-balancer';
import type { SchedulerContext } from './scheduler-context';
import type { ExtensionCollection } from './scheduler-state';

/** What the scheduler knows of one task at the load balancer (spec §3.5). */
export interface LbTaskRecord {
  taskId: string;
  /** An ADD (or a deploy adding it) succeeded: it must be removed before it dies. */
  added: boolean;
  updates: SingularityLoadBalancerUpdate[];
  inFlight?: { id: LoadBalancerRequestId; type: 'ADD' | 'REMOVE' };
  removedAt?: number;
  /** INVALID_REQUEST_NOOP on removal: nothing more to do. */
  gaveUp?: boolean;
  /** Kept for tasks that finished while added (lbcleanup): the request needs it. */
  task?: SingularityTask;
  /** The scheduler wants to kill it: remove it from the load balancer first. */
  removeRequested?: boolean;
}

/** The LB request of a deploy step, kept on the pending deploy. */
export interface LbDeployStep {
  state: LoadBalancerState | 'NEEDED';
  id?: LoadBalancerRequestId;
  add: string[];
  remove: string[];
  message?: string;
}

const ACTIVE_STATES: ReadonlyArray<LoadBalancerState | 'NEEDED'> = ['NEEDED', 'UNKNOWN', 'WAITING', 'CANCELING'];

/**
 * Talks to the load balancer for load-balanced requests when `loadBalancerUri`
 * is set (spec §3.5): the deploy step's DEPLOY request, ADD of healthy new
 * tasks, REMOVE before a kill (retried as a new attempt after FAILED/CANCELED,
 * then a grace period), and the lbcleanup of added tasks that died. Decisions
 * are taken in the scheduling tick; the HTTP calls run after the commit in `run`.
 */
export class LoadBalancerCoordinator {
  private readonly tasks: ExtensionCollection<LbTaskRecord>;

  constructor(
    private readonly ctx: SchedulerContext,
    private readonly client: LoadBalancerClient | undefined,
    private readonly removalGraceMillis = 0,
  ) {
    this.tasks = ctx.state.extension<LbTaskRecord>('lb-tasks');
  }

  enabledFor(request: Pick<SingularityRequest, 'loadBalanced'>): boolean {
    return this.client !== undefined && request.loadBalanced === true;
  }

  isAdded(taskId: string): boolean {
    return this.tasks.get(taskId)?.added === true;
  }

  updatesOf(taskId: string): SingularityLoadBalancerUpdate[] {
    return this.tasks.get(taskId)?.updates ?? [];
  }

  /** Task ids waiting for their removal after they died (`/tasks/lbcleanup`). */
  cleanupTaskIds(): string[] {
    return [...this.tasks.values()].filter((t) => t.task && !this.isRemovalDone(t, this.ctx.clock.now())).map((t) => t.taskId);
  }

  /** True when the task may be killed now: never added, removed (after the grace), or given up on. */
  readyToKill(record: TaskRecord, now: number): boolean {
    const lb = this.tasks.get(record.task.taskId.id);
    return !lb || !lb.added || this.isRemovalDone(lb, now);
  }

  /** The kill of an added task waits for its removal, which starts now. */
  requestRemoval(taskId: string): void {
    const lb = this.tasks.get(taskId);
    if (lb && !lb.removeRequested) this.tasks.put(taskId, { ...lb, removeRequested: true });
  }

  /** An added task ended: it goes to lbcleanup until removed. */
  onTaskFinished(task: SingularityTask): void {
    const lb = this.tasks.get(task.taskId.id);
    if (!lb) return;
    if (!lb.added || this.isRemovalDone(lb, this.ctx.clock.now())) this.tasks.delete(task.taskId.id);
    else this.tasks.put(task.taskId.id, { ...lb, task });
  }

  /** The deploy step went through: its added tasks are in, its removed ones out. */
  applyDeployStep(step: LbDeployStep, now: number): void {
    for (const id of step.add) this.tasks.put(id, { ...(this.tasks.get(id) ?? { taskId: id, updates: [] }), added: true });
    for (const id of step.remove) {
      const lb = this.tasks.get(id);
      if (lb) this.tasks.put(id, { ...lb, removedAt: now, inFlight: undefined });
    }
  }

  private isRemovalDone(lb: LbTaskRecord, now: number): boolean {
    return lb.gaveUp === true || (lb.removedAt !== undefined && now - lb.removedAt >= this.removalGraceMillis);
  }

  /**
   * After the tick's commit: sends and polls LB requests, records the updates
   * and commits them. Returns true when something changed (the caller ticks again).
   */
  async run(now: number): Promise<boolean> {
    if (!this.client) return false;
    const client = this.client;
    const state = this.ctx.state;
    let changed = false;

    // Deploy steps.
    for (const pending of [...state.pendingDeploys.values()]) {
      const step = (pending as { lb?: LbDeployStep }).lb;
      if (!step || !ACTIVE_STATES.includes(step.state)) continue;
      const { requestId, deployId } = pending.deployMarker;
      const request = state.getRequest(requestId)?.request;
      const deploy = state.getDeploy(requestId, deployId);
      if (!request || !deploy) continue;
      let update: SingularityLoadBalancerUpdate;
      let id = step.id;
      if (step.state === 'NEEDED' || !id) {
        id = lbRequestIdForDeploy(requestId, deployId, pending.deployProgress.targetActiveInstances, now);
        const tasksOf = (ids: string[]) => ids.map((t) => state.getTask(t)?.task).filter((t): t is SingularityTask => t !== undefined);
        update = await client.enqueue(buildDeployRequest(request, deploy, tasksOf(step.add), tasksOf(step.remove), id));
      } else {
        update = await client.getState(id);
      }
      const current = state.getPendingDeploy(requestId);
      if (!current || current.deployMarker.deployId !== deployId) continue;
      state.putPendingDeploy({ ...current, lb: { ...step, id, state: update.loadBalancerState, message: update.message } } as typeof current);
      changed = true;
    }

    // Tasks: ADD healthy new tasks of load-balanced requests; REMOVE those asked to go.
    for (const [taskId, lb] of [...this.tasks.entries()]) {
      if (this.isRemovalDone(lb, now) || !lb.added) continue;
      const live = state.getTask(taskId);
      const wantsRemoval = lb.task !== undefined || lb.removeRequested === true;
      if (!wantsRemoval) continue;
      const task = live?.task ?? lb.task;
      if (!task) continue;
      const last = lb.updates.at(-1);
      let update: SingularityLoadBalancerUpdate;
      if (lb.inFlight?.type === 'REMOVE' && last && !['FAILED', 'CANCELED'].includes(last.loadBalancerState)) {
        update = await client.getState(lb.inFlight.id);
      } else {
        const attempt = lb.inFlight?.type === 'REMOVE' ? nextTaskAttempt(last) : 1;
        const req = buildTaskRequest(task, 'REMOVE', attempt);
        update = await client.enqueue(req);
        lb.inFlight = { id: req.id, type: 'REMOVE' };
      }
      this.record(taskId, lb, update, now);
      changed = true;
    }
    for (const requestRecord of state.requests.values()) {
      if (!this.enabledFor(requestRecord.request)) continue;
      const activeDeployId = state.activeDeployId(requestRecord.request.id);
      const pendingDeployId = state.getPendingDeploy(requestRecord.request.id)?.deployMarker.deployId;
      for (const t of state.tasksOf(requestRecord.request.id)) {
        const id = t.task.taskId.id;
        const lb = this.tasks.get(id);
        if (lb?.added || isLeaving(t) || t.task.taskId.deployId !== activeDeployId || t.task.taskId.deployId === pendingDeployId) continue;
        if (!isHealthy(t, now, this.ctx.settings.considerTaskHealthyAfterRunningForSeconds)) continue;
        let update: SingularityLoadBalancerUpdate;
        const current = lb ?? { taskId: id, added: false, updates: [] };
        if (current.inFlight?.type === 'ADD' && !['FAILED', 'CANCELED', 'INVALID_REQUEST_NOOP'].includes(current.updates.at(-1)?.loadBalancerState ?? '')) {
          update = await client.getState(current.inFlight.id);
        } else if (current.updates.at(-1)?.loadBalancerState === 'FAILED') {
          continue; // the scheduler replaces it (UNHEALTHY_NEW_TASK)
        } else {
          const req = buildTaskRequest(t.task, 'ADD');
          update = await client.enqueue(req);
          current.inFlight = { id: req.id, type: 'ADD' };
        }
        this.record(id, current, update, now);
        changed = true;
      }
    }
    if (changed) await state.flush();
    return changed;
  }

  /** ADD results the tick acts on: tasks whose ADD failed. */
  failedAdds(): string[] {
    return [...this.tasks.values()].filter((t) => !t.added && t.inFlight?.type === 'ADD' && t.updates.at(-1)?.loadBalancerState === 'FAILED').map((t) => t.taskId);
  }

  private record(taskId: string, lb: LbTaskRecord, update: SingularityLoadBalancerUpdate, now: number): void {
    const next: LbTaskRecord = { ...lb, updates: [...lb.updates, update].slice(-20) };
    const state = update.loadBalancerState;
    if (lb.inFlight?.type === 'ADD' && state === 'SUCCESS') {
      next.added = true;
      next.inFlight = undefined;
    }
    if (lb.inFlight?.type === 'REMOVE') {
      if (state === 'SUCCESS') next.removedAt = now;
      if (state === 'INVALID_REQUEST_NOOP') next.gaveUp = true;
    }
    this.tasks.put(taskId, next);
  }
}
