import type { SingularityRequest } from '@singularity/models';
import type { PlacementSettings } from './placement.types';

/** Spec §5: SERVICE and WORKER have their own defaults; other types use `defaultTaskPriorityLevel`. */
export const SERVICE_PRIORITY_LEVEL = 0.7;
export const WORKER_PRIORITY_LEVEL = 0.5;

/** A request's priority level in [0, 1]: its own `taskPriorityLevel`, else the default of its type. */
export function taskPriorityLevel(
  request: SingularityRequest,
  settings: Pick<PlacementSettings, 'defaultTaskPriorityLevel'>,
): number {
  if (request.taskPriorityLevel !== undefined && request.taskPriorityLevel !== null) return request.taskPriorityLevel;
  if (request.requestType === 'SERVICE') return SERVICE_PRIORITY_LEVEL;
  if (request.requestType === 'WORKER') return WORKER_PRIORITY_LEVEL;
  return settings.defaultTaskPriorityLevel;
}

/**
 * How urgently a due task wants an agent (spec §3.1): `max(now − nextRunAt, 1) × priority`. The
 * floor of 1 ms keeps a task that is due right now ranked by its priority instead of scoring 0.
 */
export function taskWeight(nextRunAt: number, now: number, priorityLevel: number): number {
  return Math.max(now - nextRunAt, 1) * priorityLevel;
}
