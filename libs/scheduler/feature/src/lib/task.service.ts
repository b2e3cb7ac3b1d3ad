import {
  validateKillTaskRequest,
  type SingularityPendingTask,
  type SingularityTask,
  type SingularityTaskCleanup,
  type SingularityTaskRequest,
} from '@singularity/models';
import { ConflictError, NotFoundError } from '@singularity/util';
import { RequestEvents } from './request-events';
import type { SchedulerContext } from './scheduler-context';
import type { TaskScheduler } from './task-scheduler';

/** The task endpoints: listings and user kills (spec §2.6 Kill). */
export class TaskService {
  private readonly events: RequestEvents;

  constructor(
    private readonly ctx: SchedulerContext,
    private readonly scheduler: TaskScheduler,
  ) {
    this.events = new RequestEvents(ctx);
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
   * A task's history (`SingularityTaskHistory`) from live state: active and
   * recently finished tasks. The SQL-backed history comes with the history issue.
   */
  history(taskId: string) {
    const live = this.ctx.state.getTask(taskId) ?? this.ctx.state.getFinishedTask(taskId);
    if (!live) throw new NotFoundError(`Couldn't find task history for ${taskId}`);
    return {
      task: live.task,
      taskUpdates: live.updates,
      healthcheckResults: [],
      loadBalancerUpdates: [],
      shellCommandHistory: [],
      taskMetadata: [],
    };
  }

  /** Pending tasks with their request and deploy, oldest due first. */
  scheduled(requestId?: string): SingularityTaskRequest[] {
    const pending: SingularityPendingTask[] = requestId ? this.ctx.state.pendingTasksOf(requestId) : [...this.ctx.state.pendingTasks.values()];
    const out: SingularityTaskRequest[] = [];
    for (const pendingTask of pending.sort((a, b) => a.pendingTaskId.nextRunAt - b.pendingTaskId.nextRunAt)) {
      const request = this.ctx.state.getRequest(pendingTask.pendingTaskId.requestId)?.request;
      const deploy = this.ctx.state.getDeploy(pendingTask.pendingTaskId.requestId, pendingTask.pendingTaskId.deployId);
      if (request && deploy) out.push({ request, deploy, pendingTask });
    }
    return out;
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
