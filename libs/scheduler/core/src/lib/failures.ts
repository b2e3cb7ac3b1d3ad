import { isLongRunning, type ExtendedTaskState, type RequestType } from '@singularity/models';

export const TASK_FAILURE_TYPES = ['OOM', 'OUT_OF_DISK_SPACE', 'BAD_EXIT_CODE', 'UNEXPECTED_EXIT', 'LOST_SLAVE', 'MESOS_ERROR', 'STARTUP_FAILURE'] as const;
export type TaskFailureType = (typeof TASK_FAILURE_TYPES)[number];

export interface TaskFailureEvent {
  instance: number;
  timestamp: number;
  type: TaskFailureType;
}

/**
 * Per-deploy counters behind retries and cool-down (`SingularityDeployStatistics`):
 * sequential successes/failures, retries of one-off runs, and the last 50
 * failure events.
 */
export interface DeployStatistics {
  requestId: string;
  deployId: string;
  numSuccess: number;
  numFailures: number;
  numSequentialRetries: number;
  lastFinishAt?: number;
  lastTaskState?: ExtendedTaskState;
  taskFailureEvents: TaskFailureEvent[];
}

export interface CooldownSettings {
  /** Failures within the window that put a request into SYSTEM_COOLDOWN (spec §2.6). */
  cooldownFailureThreshold: number;
  evaluateCooldownOverMinutes: number;
  /** Replacements of a request in cool-down wait at least this long. */
  cooldownMinScheduleSeconds: number;
}

export const DEFAULT_COOLDOWN_SETTINGS: CooldownSettings = {
  cooldownFailureThreshold: 5,
  evaluateCooldownOverMinutes: 1,
  cooldownMinScheduleSeconds: 120,
};

const MAX_FAILURE_EVENTS = 50;

export function emptyDeployStatistics(requestId: string, deployId: string): DeployStatistics {
  return { requestId, deployId, numSuccess: 0, numFailures: 0, numSequentialRetries: 0, taskFailureEvents: [] };
}

/**
 * What kind of failure a task end is, or undefined when it is not a failure:
 * a success, a kill the scheduler or a user asked for, or a launch the agent
 * refused as invalid (spec §2.6: those never count towards cool-down).
 */
export function failureTypeOf(end: {
  state: ExtendedTaskState;
  reason?: string;
  message?: string;
  requestType: RequestType;
  killedOnPurpose: boolean;
  /** Whether the task ever reached TASK_RUNNING; absent counts as yes. */
  everRunning?: boolean;
  /** The scheduler killed it because it never became healthy (UNHEALTHY_NEW_TASK, OVERDUE_NEW_TASK). */
  killedAsUnhealthyNewTask?: boolean;
}): TaskFailureType | undefined {
  // A new task that never passed its health checks failed to start, even though the scheduler
  // is the one that killed it: the startup crash-loop rule needs to see these.
  if (end.killedAsUnhealthyNewTask) return 'STARTUP_FAILURE';
  if (end.killedOnPurpose || end.state === 'TASK_KILLED') return undefined;
  if (end.reason === 'REASON_TASK_INVALID') return undefined;
  const text = `${end.reason ?? ''} ${end.message ?? ''}`;
  switch (end.state) {
    case 'TASK_FINISHED':
      // A long-running task is not supposed to end at all.
      return isLongRunning(end.requestType) ? 'UNEXPECTED_EXIT' : undefined;
    case 'TASK_FAILED':
      if (/MEMORY|OOM|out of memory/i.test(text)) return 'OOM';
      if (/DISK/i.test(text)) return 'OUT_OF_DISK_SPACE';
      // Died before it ever ran (artifacts, bad command…): a startup failure, not a crash of a running task.
      return end.everRunning === false ? 'STARTUP_FAILURE' : 'BAD_EXIT_CODE';
    case 'TASK_LOST':
    case 'TASK_LOST_WHILE_DOWN':
    case 'TASK_GONE':
    case 'TASK_UNREACHABLE':
      return /AGENT|SLAVE|heartbeat/i.test(text) ? 'LOST_SLAVE' : 'MESOS_ERROR';
    case 'TASK_ERROR':
    case 'TASK_DROPPED':
      return 'STARTUP_FAILURE';
    default:
      return undefined;
  }
}

/** The statistics after one task end. Pure: returns a new object. */
export function recordTaskEnd(
  stats: DeployStatistics,
  end: { state: ExtendedTaskState; instanceNo: number; timestamp: number; failure: TaskFailureType | undefined; isRetry: boolean },
): DeployStatistics {
  const next: DeployStatistics = { ...stats, lastFinishAt: end.timestamp, lastTaskState: end.state };
  if (end.failure) {
    next.numFailures = stats.numFailures + 1;
    next.numSuccess = 0;
    next.taskFailureEvents = [...stats.taskFailureEvents, { instance: end.instanceNo, timestamp: end.timestamp, type: end.failure }].slice(-MAX_FAILURE_EVENTS);
  } else if (end.state === 'TASK_FINISHED') {
    next.numSuccess = stats.numSuccess + 1;
    next.numFailures = 0;
  }
  // A retry extends the chain; any other run starts a new one.
  next.numSequentialRetries = end.isRetry ? stats.numSequentialRetries + 1 : 0;
  return next;
}

type FastFailureSettings = Pick<CooldownSettings, 'cooldownFailureThreshold' | 'evaluateCooldownOverMinutes'>;

/**
 * The failures inside the cool-down window ending at `now` when they are
 * enough for a fast failure loop, else none. One rule for both SYSTEM_COOLDOWN
 * and the FAST_FAILURE_LOOP crash loop (spec §2.6, scenario 36).
 */
export function fastFailureLoop(events: readonly TaskFailureEvent[], now: number, settings: FastFailureSettings): TaskFailureEvent[] {
  const inWindow = failuresInCooldownWindow(events, now, settings);
  return inWindow.length >= settings.cooldownFailureThreshold ? inWindow : [];
}

function failuresInCooldownWindow(events: readonly TaskFailureEvent[], now: number, settings: FastFailureSettings): TaskFailureEvent[] {
  const since = now - settings.evaluateCooldownOverMinutes * 60_000;
  return events.filter((e) => e.timestamp > since);
}

/** Failures counted in the cool-down window ending at `now`. */
export function recentFailures(stats: DeployStatistics | undefined, now: number, settings: FastFailureSettings): number {
  return stats ? failuresInCooldownWindow(stats.taskFailureEvents, now, settings).length : 0;
}

/** FAST_FAILURE_LOOP (spec §2.6, scenario 36): enough failures within the window. */
export function isFailingFast(stats: DeployStatistics | undefined, now: number, settings: FastFailureSettings): boolean {
  return stats !== undefined && fastFailureLoop(stats.taskFailureEvents, now, settings).length > 0;
}

/**
 * Whether a failed one-off run is run again (spec §2.4 Retries): while
 * sequential retries stay below `numRetriesOnFailure`, never for a SCHEDULED
 * run a user started or an ON_DEMAND run a user killed.
 */
export function shouldRetry(args: {
  requestType: RequestType;
  numRetriesOnFailure?: number;
  stats: DeployStatistics;
  failure: TaskFailureType | undefined;
  userTriggered: boolean;
}): boolean {
  if (isLongRunning(args.requestType) || !args.failure) return false;
  if (args.requestType === 'SCHEDULED' && args.userTriggered) return false;
  return args.stats.numSequentialRetries < (args.numRetriesOnFailure ?? 0);
}
