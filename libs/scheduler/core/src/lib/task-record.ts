import {
  isTerminalTaskState,
  type ExtendedTaskState,
  type SingularityTask,
  type SingularityTaskCleanup,
  type SingularityTaskHistoryUpdate,
} from '@singularity/models';
import type { SingularityTaskHealthcheckResult } from './health';

/**
 * Everything the scheduler knows about one live task: the launch record, its
 * history updates (oldest first) and, when it is being stopped, its cleanup or
 * kill record. Pure logic reads tasks only through this shape.
 */
export interface TaskRecord {
  task: SingularityTask;
  updates: SingularityTaskHistoryUpdate[];
  cleanup?: SingularityTaskCleanup;
  killed?: KilledTaskRecord;
  /** HTTP health-check results, oldest first (spec §3.4). */
  healthcheckResults?: SingularityTaskHealthcheckResult[];
  /** Set while an HTTP check decides the task's health; absent when no check applies. */
  health?: { status: 'PENDING' | 'HEALTHY' | 'UNHEALTHY'; message?: string };
}

/** A kill that was sent to the agent; re-sent if the task does not die (spec §2.5). */
export interface KilledTaskRecord {
  taskId: string;
  cleanupType: SingularityTaskCleanup['cleanupType'];
  user?: string;
  destroy: boolean;
  firstAttemptAt: number;
  lastAttemptAt: number;
  attempts: number;
}

export function lastState(record: Pick<TaskRecord, 'updates'>): ExtendedTaskState {
  return record.updates.length ? record.updates[record.updates.length - 1].taskState : 'TASK_LAUNCHED';
}

/** The agent-reported state, ignoring the scheduler's own TASK_CLEANING/TASK_KILLING markers. */
export function lastAgentState(record: Pick<TaskRecord, 'updates'>): ExtendedTaskState {
  for (let i = record.updates.length - 1; i >= 0; i--) {
    const state = record.updates[i].taskState;
    if (state !== 'TASK_CLEANING' && state !== 'TASK_KILLING') return state;
  }
  return 'TASK_LAUNCHED';
}

export function runningSince(record: Pick<TaskRecord, 'updates'>): number | undefined {
  return record.updates.find((u) => u.taskState === 'TASK_RUNNING')?.timestamp;
}

export function isDone(record: Pick<TaskRecord, 'updates'>): boolean {
  return isTerminalTaskState(lastAgentState(record));
}

/** A task that is leaving: a cleanup or kill is recorded. It no longer counts as an instance. */
export function isLeaving(record: TaskRecord): boolean {
  return record.cleanup !== undefined || record.killed !== undefined;
}

/**
 * A task with an HTTP health check is healthy once a check passed; without one
 * it is healthy once it has been RUNNING for `considerHealthyAfterRunningForSeconds`
 * (spec §3.4).
 */
export function isHealthy(record: TaskRecord, now: number, defaultHealthySeconds: number): boolean {
  if (lastAgentState(record) !== 'TASK_RUNNING') return false;
  if (record.health) return record.health.status === 'HEALTHY';
  const since = runningSince(record);
  if (since === undefined) return false;
  const seconds = record.task.taskRequest.deploy.considerHealthyAfterRunningForSeconds ?? defaultHealthySeconds;
  return now - since >= seconds * 1000;
}
