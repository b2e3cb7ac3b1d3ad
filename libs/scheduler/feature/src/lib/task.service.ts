import {
  validateKillTaskRequest,
  type SingularityPendingTask,
  type SingularityTask,
  type SingularityTaskCleanup,
  type SingularityTaskHistoryUpdate,
  type SingularityTaskRequest,
} from '@singularity/models';
import { ConflictError, InvalidRequestError, NotFoundError } from '@singularity/util';
import { taskHistoryOf } from './history-persister';
import type { RequestEvents } from './request-events';
import type { SchedulerContext } from './scheduler-context';
import type { TaskScheduler } from './task-scheduler';

/** The task endpoints: listings and user kills (spec §2.6 Kill). */
export class TaskService {
  private readonly events: RequestEvents;

  constructor(
    private readonly ctx: SchedulerContext,
    private readonly scheduler: TaskScheduler,
  ) {
    this.events = scheduler.events;
  }

  active(): SingularityTask[] {
    return [...this.ctx.state.tasks.values()].map((t) => t.task);
  }

  activeOnAgent(agentId: string): SingularityTask[] {
    return this.ctx.state.tasksOnAgent(agentId).map((t) => t.task);
  }

  get(taskId: string): SingularityTask {
    const record = this.ctx.state.getTask(taskId);
    if (!record) throw new NotFoundError(`Couldn't find active task with id ${taskId}`);
    return record.task;
  }

  /**
   * A task's history (`SingularityTaskHistory`) from live state only: active and
   * finished tasks not yet moved to SQL (`HistoryService.task` also reads SQL).
   */
  history(taskId: string) {
    const live = this.ctx.state.getTask(taskId) ?? this.ctx.state.getFinishedTask(taskId);
    if (!live) throw new NotFoundError(`Couldn't find task history for ${taskId}`);
    return taskHistoryOf(live);
  }

  /**
   * Pending tasks with their request and deploy, oldest due first; `placement`
   * says why one is still pending after a scheduling round.
   */
  scheduled(requestId?: string): Array<SingularityTaskRequest & { placement?: { reasons: Record<string, number | undefined>; summary: string } }> {
    const pending: SingularityPendingTask[] = requestId ? this.ctx.state.pendingTasksOf(requestId) : [...this.ctx.state.pendingTasks.values()];
    const out: Array<SingularityTaskRequest & { placement?: { reasons: Record<string, number | undefined>; summary: string } }> = [];
    for (const pendingTask of pending.sort((a, b) => a.pendingTaskId.nextRunAt - b.pendingTaskId.nextRunAt)) {
      const request = this.ctx.state.getRequest(pendingTask.pendingTaskId.requestId)?.request;
      const deploy = this.ctx.state.getDeploy(pendingTask.pendingTaskId.requestId, pendingTask.pendingTaskId.deployId);
      if (!request || !deploy) continue;
      // Why it is still pending, as of the last round (conventions §4); an extra field old clients ignore.
      const unplaced = this.scheduler.unplacedReasons(pendingTask.pendingTaskId.id);
      out.push(unplaced ? { request, deploy, pendingTask, placement: { reasons: unplaced.reasons, summary: unplaced.summary } } : { request, deploy, pendingTask });
    }
    return out;
  }

  /** Tasks with a cleanup in force (`GET /tasks/cleaning`). */
  cleaning(): SingularityTaskCleanup[] {
    return this.ctx.state.leavingTasks().flatMap((t) => (t.cleanup ? [t.cleanup] : []));
  }

  /** Tasks the scheduler has told an agent to kill (`GET /tasks/killed`, SingularityKilledTaskIdRecord[]). */
  killed() {
    return this.ctx.state.leavingTasks().flatMap((t) =>
      t.killed
        ? [{ taskId: t.task.taskId, timestamp: t.killed.lastAttemptAt, originalTimestamp: t.killed.firstAttemptAt, taskCleanupType: t.killed.cleanupType, retries: t.killed.attempts - 1 }]
        : [],
    );
  }

  cleanupOf(taskId: string): SingularityTaskCleanup {
    const cleanup = this.ctx.state.getTask(taskId)?.cleanup;
    if (!cleanup) throw new NotFoundError(`No cleanup for task ${taskId}`);
    return cleanup;
  }

  scheduledTask(pendingTaskId: string): SingularityTaskRequest {
    const found = this.scheduled().find((t) => t.pendingTask.pendingTaskId.id === pendingTaskId);
    if (!found) throw new NotFoundError(`Couldn't find pending task ${pendingTaskId}`);
    return found;
  }

  /** `DELETE /tasks/scheduled/task/{id}`: drops a pending run of an ON_DEMAND request. */
  async deleteScheduled(pendingTaskId: string): Promise<SingularityTaskRequest> {
    const found = this.scheduledTask(pendingTaskId);
    if (found.request.requestType !== 'ON_DEMAND') {
      throw new InvalidRequestError(`requestType: only pending tasks of ON_DEMAND requests can be deleted (${found.request.id} is ${found.request.requestType})`, 'requestType');
    }
    this.ctx.state.removePendingTask(pendingTaskId);
    await this.ctx.state.flush();
    return found;
  }

  /**
   * Where a task or a run is (`/track/task/{id}`, `/track/run/{requestId}/{runId}`,
   * SingularityTaskState): launched (active or finished) or still pending.
   */
  trackTask(taskId: string) {
    const live = this.ctx.state.getTask(taskId) ?? this.ctx.state.getFinishedTask(taskId);
    if (live) return this.taskState(live.task, live.updates);
    const pending = this.ctx.state.pendingTasks.get(taskId);
    if (pending) return { pendingTaskId: pending.pendingTaskId, runId: pending.runId, pending: true, taskHistory: [] };
    throw new NotFoundError(`Couldn't find task ${taskId}`);
  }

  trackRun(requestId: string, runId: string) {
    const withRun = (t: { task: SingularityTask }) => t.task.taskRequest.pendingTask.runId === runId;
    const live = this.ctx.state.tasksOf(requestId).find(withRun) ?? this.ctx.state.finishedTasksOf(requestId).find(withRun);
    if (live) return this.taskState(live.task, live.updates);
    const pending = this.ctx.state.pendingTasksOf(requestId).find((p) => p.runId === runId);
    if (pending) return { pendingTaskId: pending.pendingTaskId, runId, pending: true, taskHistory: [] };
    if ([...this.ctx.state.pendingRequests.values()].some((p) => p.requestId === requestId && p.runId === runId)) return { runId, pending: true, taskHistory: [] };
    throw new NotFoundError(`Couldn't find run ${runId} of request ${requestId}`);
  }

  private taskState(task: SingularityTask, updates: SingularityTaskHistoryUpdate[]) {
    return { taskId: task.taskId, runId: task.taskRequest.pendingTask.runId, currentState: updates.at(-1)?.taskState, taskHistory: updates, pending: false };
  }

  /** Why a pending task has not been placed yet, as of the last scheduling round. */
  pendingReasons(pendingTaskId: string) {
    return this.scheduler.unplacedReasons(pendingTaskId);
  }

  async kill(taskId: string, body: unknown, user?: string): Promise<SingularityTaskCleanup> {
    const options = validateKillTaskRequest(body);
    const record = this.ctx.state.getTask(taskId);
    if (!record) throw new NotFoundError(`Couldn't find active task with id ${taskId}`);
    if (record.cleanup?.cleanupType === 'USER_REQUESTED_DESTROY' || record.killed?.destroy) {
      throw new ConflictError(`Task ${taskId} is already being destroyed`, record.cleanup ?? record.killed);
    }
    const type = options.override ? 'USER_REQUESTED_DESTROY' : options.waitForReplacementTask ? 'USER_REQUESTED_TASK_BOUNCE' : 'USER_REQUESTED';
    if (record.killed && type !== 'USER_REQUESTED_DESTROY') {
      // Already killed; the kill is re-sent on its own schedule. Report what is in force.
      return { cleanupType: record.killed.cleanupType, timestamp: record.killed.firstAttemptAt, taskId: record.task.taskId, user: record.killed.user };
    }
    if (record.killed) this.ctx.state.putKilled(record, { ...record.killed, destroy: true, lastAttemptAt: 0 });
    const cleanup = this.events.cleanup(record, type, user, options.message, options.actionId);
    if (type === 'USER_REQUESTED_TASK_BOUNCE') {
      this.events.enqueue({ requestId: record.task.taskId.requestId, deployId: record.task.taskId.deployId, pendingType: 'TASK_BOUNCE', user, actionId: options.actionId });
    }
    await this.ctx.state.flush();
    this.scheduler.tickSoon(0);
    return cleanup;
  }
}
