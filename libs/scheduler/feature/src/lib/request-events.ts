import type { RequestHistoryType, RequestState, SingularityPendingRequest, SingularityTaskCleanup, TaskCleanupType } from '@singularity/models';
import { cleaningMessage, pendingRequestKey, type TaskRecord } from '@singularity/scheduler-core';
import type { SchedulerContext } from './scheduler-context';
import type { RequestRecord } from './scheduler-state';

/**
 * Small state transitions shared by the request, deploy and task services, so
 * each rule (history entry, TASK_CLEANING marker, queue key) lives in one place.
 */
export class RequestEvents {
  private lastHistoryAt = new Map<string, number>();

  constructor(private readonly ctx: SchedulerContext) {}

  setRequestState(record: RequestRecord, state: RequestState, event?: RequestHistoryType, user?: string, message?: string): RequestRecord {
    const now = this.ctx.clock.now();
    const next: RequestRecord = { request: record.request, state, timestamp: now };
    this.ctx.state.putRequest(next);
    if (event) this.history(next, event, user, message);
    return next;
  }

  history(record: RequestRecord, eventType: RequestHistoryType, user?: string, message?: string): void {
    // History keys are (request, time, type); keep times strictly increasing per request.
    const last = this.lastHistoryAt.get(record.request.id) ?? 0;
    const createdAt = Math.max(this.ctx.clock.now(), last + 1);
    this.lastHistoryAt.set(record.request.id, createdAt);
    this.ctx.state.addRequestHistory({ createdAt, eventType, request: record.request, user, message });
  }

  enqueue(pr: Omit<SingularityPendingRequest, 'timestamp'> & { timestamp?: number }): SingularityPendingRequest {
    const full: SingularityPendingRequest = { ...pr, timestamp: pr.timestamp ?? this.ctx.clock.now() };
    this.ctx.state.putPendingRequest(pendingRequestKey(full), full);
    return full;
  }

  /** Records a cleanup for a task and the TASK_CLEANING update that shows it (spec §1 Tasks). */
  cleanup(record: TaskRecord, cleanupType: TaskCleanupType, user?: string, message?: string, actionId?: string): SingularityTaskCleanup {
    const now = this.ctx.clock.now();
    const cleanup: SingularityTaskCleanup = { cleanupType, timestamp: now, taskId: record.task.taskId, user, message, actionId };
    this.ctx.state.putCleanup(record, cleanup);
    if (!record.updates.some((u) => u.taskState === 'TASK_CLEANING')) {
      this.ctx.state.addTaskUpdate(record, {
        taskId: record.task.taskId,
        timestamp: now,
        taskState: 'TASK_CLEANING',
        statusMessage: cleaningMessage(cleanupType, user, message),
      });
    }
    return cleanup;
  }

  /** Drops the queue entries and pending tasks of a request (pause, delete). */
  dropPendingWork(requestId: string, deployId?: string): void {
    for (const pt of this.ctx.state.pendingTasksOf(requestId)) {
      if (!deployId || pt.pendingTaskId.deployId === deployId) this.ctx.state.removePendingTask(pt.pendingTaskId.id);
    }
    for (const [key, pr] of [...this.ctx.state.pendingRequests]) {
      if (pr.requestId === requestId && (!deployId || pr.deployId === deployId)) this.ctx.state.removePendingRequest(key);
    }
  }
}
