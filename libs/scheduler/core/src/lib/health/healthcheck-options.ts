import type { HealthcheckProtocol, SingularityDeploy } from '@singularity/models';
import { healthcheckSettings, type HealthcheckSettings } from './healthcheck-settings';

/**
 * A deploy's HTTP health check with every default filled in (spec §3.4, §5):
 * what the checker and the tracker work from, so neither looks at settings.
 */
export interface ResolvedHealthcheck {
  /** As the deploy gives it; `healthcheckUrl` drops one leading `/`. */
  uri: string;
  /** Index into the task's allocated ports; ignored when `portNumber` is set. */
  portIndex: number;
  portNumber?: number;
  protocol: HealthcheckProtocol;
  method: 'GET' | 'POST';
  /** Unset: the first check comes after `startupIntervalSeconds`, as in Singularity. */
  startupDelaySeconds?: number;
  startupIntervalSeconds: number;
  intervalSeconds: number;
  responseTimeoutSeconds: number;
  startupTimeoutSeconds: number;
  maxRetries: number;
  failureStatusCodes: number[];
}

/**
 * The effective HTTP check of `deploy`, or `undefined` when it has none (no
 * `healthcheck.uri`; a `healthcheckResultFilePath`-only check is not HTTP).
 * Legacy flat `healthcheckUri`… fields were folded into `healthcheck` by
 * validation and are not read here.
 */
export function resolveHealthcheck(
  deploy: Pick<SingularityDeploy, 'healthcheck'>,
  settings: Partial<HealthcheckSettings> = {},
): ResolvedHealthcheck | undefined {
  const options = deploy.healthcheck;
  if (!options?.uri) return undefined;
  const timings = resolveTimings(deploy, settings);
  const s = healthcheckSettings(settings);
  const startupDelaySeconds = options.startupDelaySeconds ?? s.startupDelaySeconds;
  const resolved: ResolvedHealthcheck = {
    uri: options.uri,
    portIndex: options.portIndex ?? 0,
    protocol: options.protocol ?? 'HTTP',
    method: options.method ?? 'GET',
    startupIntervalSeconds: options.startupIntervalSeconds ?? s.startupIntervalSeconds,
    ...timings,
    failureStatusCodes: [...(options.failureStatusCodes ?? s.healthcheckFailureStatusCodes)],
  };
  if (options.portNumber !== undefined) resolved.portNumber = options.portNumber;
  if (startupDelaySeconds !== undefined) resolved.startupDelaySeconds = startupDelaySeconds;
  return resolved;
}

type BudgetTimings = Pick<ResolvedHealthcheck, 'startupTimeoutSeconds' | 'intervalSeconds' | 'responseTimeoutSeconds' | 'maxRetries'>;

function resolveTimings(deploy: Pick<SingularityDeploy, 'healthcheck'>, settings: Partial<HealthcheckSettings>): BudgetTimings {
  const options = deploy.healthcheck ?? {};
  const s = healthcheckSettings(settings);
  return {
    intervalSeconds: options.intervalSeconds ?? s.healthcheckIntervalSeconds,
    responseTimeoutSeconds: options.responseTimeoutSeconds ?? s.healthcheckTimeoutSeconds,
    startupTimeoutSeconds: options.startupTimeoutSeconds ?? s.startupTimeoutSeconds,
    maxRetries: options.maxRetries ?? s.healthcheckMaxRetries ?? 0,
  };
}

/**
 * The longest a task may take to pass its check: the startup timeout plus one
 * interval and one response timeout per allowed attempt,
 * `startup + (interval + timeout) × (maxRetries + 1)` (45 + 10 × 1 = 55 s by
 * default). Used for the deploy's overdue budget and, while a deploy is
 * pending, as the tracker's total budget (spec §2.3 step 5, §3.4).
 */
export function healthcheckBudgetSeconds(options: BudgetTimings): number {
  return options.startupTimeoutSeconds + (options.intervalSeconds + options.responseTimeoutSeconds) * (options.maxRetries + 1);
}

/**
 * How long a deploy step may launch before it is OVERDUE (spec §2.3 step 5):
 * `deployHealthTimeoutSeconds` (120) plus, when the deploy has a health check
 * that is not skipped on deploy, `healthcheckBudgetSeconds`, else
 * `considerHealthyAfterRunningForSeconds` (5).
 *
 * As in Singularity, any `healthcheck` object counts as an active check (also a
 * `healthcheckResultFilePath` one); the request's `skipHealthchecks` does not
 * change the budget.
 */
export function deployHealthBudgetMillis(
  deploy: Pick<SingularityDeploy, 'healthcheck' | 'deployHealthTimeoutSeconds' | 'skipHealthchecksOnDeploy' | 'considerHealthyAfterRunningForSeconds'>,
  settings: Partial<HealthcheckSettings> = {},
): number {
  const s = healthcheckSettings(settings);
  const base = deploy.deployHealthTimeoutSeconds ?? s.deployHealthyBySeconds;
  const checked = deploy.healthcheck !== undefined && deploy.skipHealthchecksOnDeploy !== true;
  const extra = checked
    ? healthcheckBudgetSeconds(resolveTimings(deploy, settings))
    : (deploy.considerHealthyAfterRunningForSeconds ?? s.considerTaskHealthyAfterRunningForSeconds);
  return (base + extra) * 1000;
}
