import {
  buildPendingTaskId,
  isLongRunning,
  isRunnableState,
  type RequestState,
  type SingularityPendingDeploy,
  type SingularityPendingRequest,
  type SingularityPendingTask,
  type SingularityRequest,
  type TaskCleanupType,
} from '@singularity/models';
import { lowestFreeInstanceNumbers } from './instance-numbers';
import { requestNextFireTime } from './schedule';
import { isLeaving, type TaskRecord } from './task-record';

/** What the drain of one pending-request entry sees (spec §2.2). */
export interface DrainInput {
  now: number;
  pendingRequest: SingularityPendingRequest;
  request?: SingularityRequest;
  requestState?: RequestState;
  activeDeployId?: string;
  pendingDeploy?: SingularityPendingDeploy;
  /** Live tasks of the request, all deploys. */
  tasks: readonly TaskRecord[];
  /** Pending tasks of the request, all deploys. */
  pendingTasks: readonly SingularityPendingTask[];
  /** A request in SYSTEM_COOLDOWN schedules replacements this much later (spec §2.2; not NEW_DEPLOY). */
  cooldownDelayMillis?: number;
  /** Zone of SCHEDULED requests without `scheduleTimeZone` (the server's). */
  defaultTimeZone?: string;
}

export interface CleanupOrder {
  taskId: string;
  cleanupType: TaskCleanupType;
  message?: string;
}

export type DrainDecision =
  | { kind: 'drop'; reason: string }
  /** A SCHEDULED request with no future fire time: it becomes FINISHED (spec §2.2). */
  | { kind: 'finish'; reason: string }
  | {
      kind: 'apply';
      create: SingularityPendingTask[];
      deletePendingTaskIds: string[];
      cleanups: CleanupOrder[];
    };

/**
 * Turns one pending-request entry into pending tasks (or scale-down cleanups).
 * Long-running requests converge on their expected instance count; one-off
 * kinds get exactly one task per entry.
 */
export function drainPendingRequest(input: DrainInput): DrainDecision {
  const { pendingRequest: pr, request, requestState } = input;
  if (!request || !requestState) return { kind: 'drop', reason: 'request no longer exists' };
  const delay = requestState === 'SYSTEM_COOLDOWN' && pr.pendingType !== 'NEW_DEPLOY' ? (input.cooldownDelayMillis ?? 0) : 0;
  if (!isRunnableState(requestState)) return { kind: 'drop', reason: `request is ${requestState}` };
  const isPendingDeploy = input.pendingDeploy?.deployMarker.deployId === pr.deployId;
  if (pr.deployId !== input.activeDeployId && !isPendingDeploy) {
    return { kind: 'drop', reason: `deploy ${pr.deployId} is neither active nor pending` };
  }

  if (isLongRunning(request.requestType)) {
    return convergeLongRunning(input, request, isPendingDeploy ? input.pendingDeploy : undefined, delay);
  }

  switch (request.requestType) {
    case 'RUN_ONCE':
      if (pr.pendingType !== 'NEW_DEPLOY' && pr.pendingType !== 'RETRY' && pr.pendingType !== 'TASK_RECOVERED') {
        return { kind: 'drop', reason: `RUN_ONCE runs once per deploy (got ${pr.pendingType})` };
      }
      return oneTask(input, delay);
    case 'ON_DEMAND':
      if (pr.pendingType !== 'ONEOFF' && pr.pendingType !== 'RETRY' && pr.pendingType !== 'IMMEDIATE') {
        return { kind: 'drop', reason: `ON_DEMAND runs only when asked (got ${pr.pendingType})` };
      }
      return oneTask(input, delay);
    case 'SCHEDULED':
      return nextScheduledRun(input, request, delay);
    default:
      return { kind: 'drop', reason: `unsupported request type ${request.requestType}` };
  }
}

function convergeLongRunning(
  input: DrainInput,
  request: SingularityRequest,
  pendingDeploy: SingularityPendingDeploy | undefined,
  delay: number,
): DrainDecision {
  const { pendingRequest: pr } = input;
  const deployId = pr.deployId;
  let expected = request.instances ?? 1;
  const otherPending = input.pendingDeploy && input.pendingDeploy.deployMarker.deployId !== pr.deployId ? input.pendingDeploy : undefined;
  if (otherPending && otherPending.deployProgress.deployInstanceCountPerStep > 0) {
    // A canary deploy is replacing this deploy step by step: keep only what the new deploy does not cover yet.
    expected = Math.max(0, expected - otherPending.deployProgress.targetActiveInstances);
  }
  if (pendingDeploy) {
    const state = pendingDeploy.currentDeployState;
    expected = state === 'CANCELING' || state === 'CANCELED' ? 0 : pendingDeploy.deployProgress.targetActiveInstances;
  }

  const deployTasks = input.tasks.filter((t) => t.task.taskId.deployId === deployId);
  const staying = deployTasks.filter((t) => !isLeaving(t));
  const pending = input.pendingTasks
    .filter((p) => p.pendingTaskId.deployId === deployId)
    .sort((a, b) => a.pendingTaskId.instanceNo - b.pendingTaskId.instanceNo);
  const missing = expected - staying.length - pending.length;

  if (missing > 0) {
    const used = [...deployTasks.map((t) => t.task.taskId.instanceNo), ...pending.map((p) => p.pendingTaskId.instanceNo)];
    const create = lowestFreeInstanceNumbers(used, missing).map((instanceNo) => newPendingTask(pr, instanceNo, input.now, delay));
    return { kind: 'apply', create, deletePendingTaskIds: [], cleanups: [] };
  }
  if (missing < 0) {
    // Too many: drop surplus pending tasks first, then scale down the highest instance numbers.
    let surplus = -missing;
    const deletePendingTaskIds: string[] = [];
    for (let i = pending.length - 1; i >= 0 && surplus > 0; i--, surplus--) deletePendingTaskIds.push(pending[i].pendingTaskId.id);
    const cleanups = staying
      .slice()
      .sort((a, b) => b.task.taskId.instanceNo - a.task.taskId.instanceNo)
      .slice(0, surplus)
      .map((t) => ({ taskId: t.task.taskId.id, cleanupType: 'SCALING_DOWN' as const }));
    return { kind: 'apply', create: [], deletePendingTaskIds, cleanups };
  }
  return { kind: 'apply', create: [], deletePendingTaskIds: [], cleanups: [] };
}

/**
 * The next run of a SCHEDULED request (spec §2.2, §2.4): never two at once (a
 * run in progress queues the next when it ends), at the next fire time unless
 * run now or retried, never in the past, after `runAt`, after
 * `waitAtLeastMillisAfterTaskFinishesForReschedule` following a finished run,
 * and after the cool-down delay. A new entry replaces the scheduled (not
 * run-now) pending run, so a changed schedule or deploy takes effect.
 */
function nextScheduledRun(input: DrainInput, request: SingularityRequest, delay: number): DrainDecision {
  const { pendingRequest: pr, now } = input;
  if (input.tasks.some((t) => !isLeaving(t))) return { kind: 'drop', reason: 'a run is already in progress; its end schedules the next' };
  const runNow = pr.pendingType === 'IMMEDIATE' || pr.pendingType === 'RETRY';
  let nextRunAt = now;
  if (!runNow) {
    const fire = requestNextFireTime(request, now, input.defaultTimeZone ?? 'UTC');
    if (fire === undefined) return { kind: 'finish', reason: `schedule '${request.quartzSchedule ?? request.schedule}' has no future fire time` };
    nextRunAt = fire;
    if (pr.pendingType === 'TASK_DONE') nextRunAt = Math.max(nextRunAt, now + (request.waitAtLeastMillisAfterTaskFinishesForReschedule ?? 0));
  }
  nextRunAt = Math.max(nextRunAt, pr.runAt ?? 0, now + delay);
  const replaced = input.pendingTasks.filter((p) => p.pendingTaskId.pendingType !== 'IMMEDIATE' && p.pendingTaskId.pendingType !== 'RETRY');
  if (runNow && input.pendingTasks.some((p) => p.pendingTaskId.pendingType === 'IMMEDIATE' || p.pendingTaskId.pendingType === 'RETRY')) {
    return { kind: 'drop', reason: 'a run-now is already pending' };
  }
  return {
    kind: 'apply',
    create: [pendingTaskAt(pr, 1, nextRunAt, now)],
    deletePendingTaskIds: runNow ? [] : replaced.map((p) => p.pendingTaskId.id),
    cleanups: [],
  };
}

function oneTask(input: DrainInput, delay: number): DrainDecision {
  const { pendingRequest: pr } = input;
  const used = [
    ...input.tasks.filter((t) => t.task.taskId.deployId === pr.deployId).map((t) => t.task.taskId.instanceNo),
    ...input.pendingTasks.filter((p) => p.pendingTaskId.deployId === pr.deployId).map((p) => p.pendingTaskId.instanceNo),
  ];
  const [instanceNo] = lowestFreeInstanceNumbers(used, 1);
  return { kind: 'apply', create: [newPendingTask(pr, instanceNo, input.now, delay)], deletePendingTaskIds: [], cleanups: [] };
}

function newPendingTask(pr: SingularityPendingRequest, instanceNo: number, now: number, delay: number): SingularityPendingTask {
  return pendingTaskAt(pr, instanceNo, Math.max(now + delay, pr.runAt ?? 0), now);
}

function pendingTaskAt(pr: SingularityPendingRequest, instanceNo: number, nextRunAt: number, now: number): SingularityPendingTask {
  const task: SingularityPendingTask = {
    pendingTaskId: buildPendingTaskId({
      requestId: pr.requestId,
      deployId: pr.deployId,
      nextRunAt,
      instanceNo,
      pendingType: pr.pendingType,
      createdAt: now,
    }),
  };
  const copy = <K extends keyof SingularityPendingTask & keyof SingularityPendingRequest>(key: K) => {
    if (pr[key] !== undefined) (task as unknown as Record<string, unknown>)[key] = pr[key];
  };
  (
    [
      'cmdLineArgsList',
      'user',
      'runId',
      'skipHealthchecks',
      'message',
      'resources',
      'runAsUserOverride',
      'envOverrides',
      'requiredAgentAttributeOverrides',
      'requiredSlaveAttributeOverrides',
      'allowedAgentAttributeOverrides',
      'allowedSlaveAttributeOverrides',
      'extraArtifacts',
      'actionId',
    ] as const
  ).forEach(copy);
  return task;
}

/**
 * The queue key of a pending request: one entry per (request, deploy), except
 * run-now kinds (and retries of one-off runs) that are also keyed by timestamp
 * and run id (spec §1 Pending).
 */
export function pendingRequestKey(pr: Pick<SingularityPendingRequest, 'requestId' | 'deployId' | 'pendingType' | 'timestamp' | 'runId'>): string {
  // RETRY too: two lost one-off runs of a request must each be retried.
  if (pr.pendingType === 'ONEOFF' || pr.pendingType === 'IMMEDIATE' || pr.pendingType === 'RETRY') {
    return `${pr.requestId}:${pr.deployId}:${pr.timestamp}:${pr.runId ?? ''}`;
  }
  return `${pr.requestId}:${pr.deployId}`;
}
