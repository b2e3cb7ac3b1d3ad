import {
  isDeployable,
  type DeployState,
  type SingularityDeploy,
  type SingularityDeployFailure,
  type SingularityPendingDeploy,
  type SingularityRequest,
} from '@singularity/models';
import type { SchedulerSettings } from './settings';
import { isHealthy, isLeaving, lastAgentState, type TaskRecord } from './task-record';

/** The stored pending deploy: the wire model plus what the checker needs to remember. */
export interface PendingDeployRecord extends SingularityPendingDeploy {
  /** Set by `DELETE /deploys/deploy/{d}/request/{r}`. */
  cancelRequested?: { user?: string; message?: string; timestamp: number };
  /** Tasks of this deploy that ended while it was pending, with why. */
  failures?: SingularityDeployFailure[];
}

export interface DeployCheckInput {
  now: number;
  request: SingularityRequest;
  deploy: SingularityDeploy;
  pendingDeploy: PendingDeployRecord;
  /** Live tasks of the new deploy. */
  tasks: readonly TaskRecord[];
  settings: SchedulerSettings;
}

export type DeployCheckResult =
  | { kind: 'waiting'; currentActiveInstances: number; overdue: false }
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

  const allowedFailures = deploy.maxTaskRetries ?? 0;
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
  const active = input.tasks.filter((t) => !isLeaving(t));
  const healthy = active.filter((t) => isHealthy(t, now, settings.considerTaskHealthyAfterRunningForSeconds));
  if (target > 0 && healthy.length >= target) {
    return { kind: 'finished', deployState: 'SUCCEEDED', message: `${healthy.length} task(s) healthy`, failures: [] };
  }

  const healthySeconds = deploy.considerHealthyAfterRunningForSeconds ?? settings.considerTaskHealthyAfterRunningForSeconds;
  const budgetMillis = ((deploy.deployHealthTimeoutSeconds ?? settings.deployHealthyBySeconds) + healthySeconds) * 1000;
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
