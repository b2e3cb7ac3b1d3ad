import {
  isDeployable,
  type DeployState,
  type SingularityDeploy,
  type SingularityDeployFailure,
  type SingularityPendingDeploy,
  type SingularityRequest,
} from '@singularity/models';
import { deployHealthBudgetMillis } from './health';
import type { SchedulerSettings } from './settings';
import { isHealthy, isLeaving, lastAgentState, type TaskRecord } from './task-record';

/** The stored pending deploy: the wire model plus what the checker needs to remember. */
export interface PendingDeployRecord extends SingularityPendingDeploy {
  /** Set by `DELETE /deploys/deploy/{d}/request/{r}`. */
  cancelRequested?: { user?: string; message?: string; timestamp: number };
  /** Tasks of this deploy that ended while it was pending, with why. */
  failures?: SingularityDeployFailure[];
  /** Canary step number, from 1. */
  step?: number;
  /** When the current step's tasks were all healthy (TIMED acceptance waits from here). */
  stepCompletedAt?: number;
}

export interface DeployCheckInput {
  now: number;
  request: SingularityRequest;
  deploy: SingularityDeploy;
  pendingDeploy: PendingDeployRecord;
  /** Live tasks of the new deploy. */
  tasks: readonly TaskRecord[];
  /** Live tasks of the request's other deploys (retired step by step in a canary deploy). */
  otherTasks?: readonly TaskRecord[];
  settings: SchedulerSettings;
}

export type DeployCheckResult =
  | { kind: 'waiting'; currentActiveInstances: number; overdue: false; stepCompletedAt?: number }
  | { kind: 'advance'; newTarget: number; step: number; retireTaskIds: string[]; message: string }
  | { kind: 'finished'; deployState: Exclude<DeployState, 'WAITING' | 'CANCELING'>; message: string; failures: SingularityDeployFailure[] };

/**
 * One check of a pending deploy (spec §2.3, first cut: a single step, health =
 * RUNNING for `considerHealthyAfterRunningForSeconds`). Rollback is the
 * caller's job: on anything but SUCCEEDED the previous deploy stays active.
 */
export function checkPendingDeploy(input: DeployCheckInput): DeployCheckResult {
  const { request, deploy, pendingDeploy, now, settings } = input;
  if (pendingDeploy.cancelRequested) {
    const by = pendingDeploy.cancelRequested.user ? ` by ${pendingDeploy.cancelRequested.user}` : '';
    const why = pendingDeploy.cancelRequested.message ? `: ${pendingDeploy.cancelRequested.message}` : '';
    return {
      kind: 'finished',
      deployState: 'CANCELED',
      message: `Deploy was canceled${by}${why}`,
      failures: [{ reason: 'DEPLOY_CANCELLED', message: `canceled${by}${why}` }],
    };
  }
  if (!isDeployable(request.requestType)) {
    return { kind: 'finished', deployState: 'SUCCEEDED', message: `${request.requestType} deploys take effect at once`, failures: [] };
  }

  const canary = deploy.canaryDeploySettings?.enableCanaryDeploy ? deploy.canaryDeploySettings : undefined;
  const allowedFailures = canary?.allowedTasksFailuresPerGroup ?? deploy.maxTaskRetries ?? 0;
  const failures = pendingDeploy.failures ?? [];
  if (failures.length > allowedFailures) {
    const first = failures[0];
    return {
      kind: 'finished',
      deployState: 'FAILED',
      message: `${failures.length} task(s) of the new deploy failed${allowedFailures ? ` (allowed ${allowedFailures})` : ''}: ${first.message ?? first.reason}`,
      failures,
    };
  }

  const target = pendingDeploy.deployProgress.targetActiveInstances;
  const instances = request.instances ?? 1;
  const active = input.tasks.filter((t) => !isLeaving(t));
  const unhealthy = active.filter((t) => t.health?.status === 'UNHEALTHY');
  if (unhealthy.length > 0) {
    return {
      kind: 'finished',
      deployState: 'FAILED',
      message: `${unhealthy.length} task(s) of the new deploy failed health checks: ${unhealthy[0].health?.message ?? 'unhealthy'}`,
      failures: unhealthy.map((t) => ({ reason: 'TASK_FAILED_HEALTH_CHECKS' as const, taskId: t.task.taskId, message: t.health?.message })),
    };
  }
  const healthy = active.filter((t) => isHealthy(t, now, settings.considerTaskHealthyAfterRunningForSeconds));
  if (target > 0 && healthy.length >= target) {
    if (!canary || target >= instances) {
      return { kind: 'finished', deployState: 'SUCCEEDED', message: `${healthy.length} task(s) healthy`, failures: [] };
    }
    // Step complete. TIMED acceptance waits between groups; CHECKS hooks are not built yet and act as NONE.
    const completedAt = pendingDeploy.stepCompletedAt ?? now;
    if (canary.acceptanceMode === 'TIMED' && now - completedAt < canary.waitMillisBetweenGroups) {
      return { kind: 'waiting', currentActiveInstances: active.length, overdue: false, stepCompletedAt: completedAt };
    }
    const step = pendingDeploy.step ?? 1;
    const newTarget = step >= canary.canaryCycleCount ? instances : Math.min(instances, target + canary.instanceGroupSize);
    // Keep only as many old tasks as the new deploy does not yet cover, retiring the lowest instance numbers first.
    const old = (input.otherTasks ?? []).filter((t) => !isLeaving(t)).sort((a, b) => a.task.taskId.instanceNo - b.task.taskId.instanceNo);
    const retire = old.slice(0, Math.max(0, old.length - Math.max(0, instances - target)));
    return {
      kind: 'advance',
      newTarget,
      step: step + 1,
      retireTaskIds: retire.map((t) => t.task.taskId.id),
      message: `step ${step} healthy (${healthy.length} of ${instances}); next target ${newTarget}`,
    };
  }

  // deployHealthTimeoutSeconds plus the health-check budget, or the healthy period without a check (spec §2.3.5).
  const budgetMillis = deployHealthBudgetMillis(deploy, settings);
  const startedAt = pendingDeploy.deployProgress.timestamp || pendingDeploy.deployMarker.timestamp;
  if (now - startedAt > budgetMillis) {
    const notHealthy = active.filter((t) => !healthy.includes(t));
    const overdueFailures: SingularityDeployFailure[] = notHealthy.map((t) => ({
      reason: lastAgentState(t) === 'TASK_RUNNING' ? 'TASK_FAILED_HEALTH_CHECKS' : 'TASK_NEVER_ENTERED_RUNNING',
      taskId: t.task.taskId,
      message: `task was ${lastAgentState(t)} when the deploy became overdue`,
    }));
    if (overdueFailures.length === 0) overdueFailures.push({ reason: 'DEPLOY_OVERDUE', message: `only ${healthy.length} of ${target} task(s) healthy` });
    return {
      kind: 'finished',
      deployState: 'OVERDUE',
      message: `Deploy was not healthy within ${Math.round(budgetMillis / 1000)} s (${healthy.length} of ${target} task(s) healthy)`,
      failures: overdueFailures,
    };
  }
  return { kind: 'waiting', currentActiveInstances: active.length, overdue: false };
}
