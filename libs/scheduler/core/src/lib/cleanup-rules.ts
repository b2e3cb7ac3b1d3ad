import type { TaskCleanupType } from '@singularity/models';

/**
 * When a task cleanup kills its task (spec §2.5 table): at once, or only once
 * the request's active deploy is whole and healthy again ("wait").
 */
const KILL_NOW_ALWAYS = new Set<TaskCleanupType>([
  'DECOMMISSION_TIMEOUT',
  'DEPLOY_CANCELED',
  'DEPLOY_FAILED',
  'OVERDUE_NEW_TASK',
  'PAUSE',
  'PRIORITY_KILL',
  'REQUEST_DELETING',
  'TASK_EXCEEDED_TIME_LIMIT',
  'UNHEALTHY_NEW_TASK',
  'USER_REQUESTED',
  'USER_REQUESTED_DESTROY',
]);
const KILL_NOW_IF_LONG_RUNNING = new Set<TaskCleanupType>(['DEPLOY_STEP_FINISHED', 'NEW_DEPLOY_SUCCEEDED', 'SCALING_DOWN']);
const KILL_NOW_IF_NOT_LONG_RUNNING = new Set<TaskCleanupType>(['INCREMENTAL_DEPLOY_CANCELLED', 'INCREMENTAL_DEPLOY_FAILED']);

export function killsImmediately(type: TaskCleanupType, longRunning: boolean): boolean {
  if (KILL_NOW_ALWAYS.has(type)) return true;
  if (KILL_NOW_IF_LONG_RUNNING.has(type)) return longRunning;
  if (KILL_NOW_IF_NOT_LONG_RUNNING.has(type)) return !longRunning;
  return false;
}

/** Cleanups that skip the graceful period (spec §2.5). */
export function killsHard(type: TaskCleanupType): boolean {
  return type === 'USER_REQUESTED_DESTROY' || type === 'REQUEST_DELETING';
}

/** The TASK_CLEANING message: `"{CLEANUP_TYPE}[ by user][ - message]"` (spec §1 Tasks). */
export function cleaningMessage(type: TaskCleanupType, user?: string, message?: string): string {
  return `${type}${user ? ` by ${user}` : ''}${message ? ` - ${message}` : ''}`;
}
