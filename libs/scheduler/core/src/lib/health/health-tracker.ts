import { healthcheckBudgetSeconds, type ResolvedHealthcheck } from './healthcheck-options';
import { isPassingHealthcheck, type HealthcheckResultFacts } from './healthcheck-result';

export type HealthStatus = 'PENDING' | 'HEALTHY' | 'UNHEALTHY';

// Reasons of a final verdict (spec §3.4). `message` adds the numbers.
export const HEALTHY_RESPONSE = 'responded with a 2xx status';
export const FAILURE_STATUS_CODE = 'responded with a failure status code';
export const MAX_RETRIES_EXCEEDED = 'failed more than maxRetries checks';
export const REFUSED_PAST_STARTUP_TIMEOUT = 'refused past startup timeout';
export const DEPLOY_BUDGET_EXCEEDED = 'not healthy within the health-check budget of the pending deploy';

export type HealthReason =
  | typeof HEALTHY_RESPONSE
  | typeof FAILURE_STATUS_CODE
  | typeof MAX_RETRIES_EXCEEDED
  | typeof REFUSED_PAST_STARTUP_TIMEOUT
  | typeof DEPLOY_BUDGET_EXCEEDED;

/**
 * Where a task's health check stands. HEALTHY and UNHEALTHY are final (checking
 * stops, no `nextCheckAt`); PENDING says when the next check should start.
 */
export type HealthVerdict =
  | { status: 'PENDING'; nextCheckAt: number; countedFailures: number }
  | { status: 'HEALTHY' | 'UNHEALTHY'; reason: HealthReason; message: string; nextCheckAt?: undefined; countedFailures: number };

export interface HealthInput {
  options: ResolvedHealthcheck;
  /** When the task became RUNNING: the startup timeout and budgets count from here. */
  runningSince: number;
  now: number;
  /** Every result of the task so far, oldest first. */
  results: readonly HealthcheckResultFacts[];
  /** The task belongs to the pending deploy: the total budget applies (spec §3.4 last rule). */
  duringDeploy?: boolean;
}

/**
 * The health rules of spec §3.4 as a pure function of the results so far.
 *
 * Results are read oldest first and the first decisive one wins:
 * - a 2xx response (without error) → HEALTHY;
 * - a status in `failureStatusCodes` → UNHEALTHY at once;
 * - a refused connection (`startup`) is not counted; one that started at or
 *   after `runningSince + startupTimeoutSeconds` → UNHEALTHY;
 * - any other failure (non-2xx status, timeout, other error) is counted, and
 *   failure number `maxRetries + 1` → UNHEALTHY (maxRetries 2 fails on the 3rd).
 *
 * Then time: the latest result refused and `now` past the startup timeout →
 * UNHEALTHY; during a deploy, a failed latest result and `now` past
 * `healthcheckBudgetSeconds` since RUNNING → UNHEALTHY (as in Singularity,
 * only once a check has failed, so a long `startupDelaySeconds` is not cut
 * short). Otherwise PENDING, next check:
 * - none yet: `startupDelaySeconds` (or `startupIntervalSeconds`) after RUNNING;
 * - after a refusal: `startupIntervalSeconds` after it ended, but no later than
 *   the startup timeout, so the last startup check happens at the deadline;
 * - after a counted failure: `intervalSeconds` after it ended.
 */
export function evaluateHealth(input: HealthInput): HealthVerdict {
  const { options, runningSince, now, results, duringDeploy = false } = input;
  const startupDeadline = runningSince + options.startupTimeoutSeconds * 1000;
  let countedFailures = 0;
  const final = (status: 'HEALTHY' | 'UNHEALTHY', reason: HealthReason, message: string): HealthVerdict => ({ status, reason, message, countedFailures });

  for (const result of results) {
    if (isPassingHealthcheck(result)) return final('HEALTHY', HEALTHY_RESPONSE, `HTTP ${result.statusCode}`);
    if (result.statusCode !== undefined && options.failureStatusCodes.includes(result.statusCode)) {
      return final('UNHEALTHY', FAILURE_STATUS_CODE, `HTTP ${result.statusCode} is one of the failure status codes`);
    }
    if (result.startup) {
      if (result.timestamp >= startupDeadline) return final('UNHEALTHY', REFUSED_PAST_STARTUP_TIMEOUT, startupMessage(options));
      continue;
    }
    countedFailures++;
    if (countedFailures > options.maxRetries) {
      return final('UNHEALTHY', MAX_RETRIES_EXCEEDED, `${countedFailures} failed checks with maxRetries ${options.maxRetries}`);
    }
  }

  const last = results.length ? results[results.length - 1] : undefined;
  if (last?.startup && now > startupDeadline) return final('UNHEALTHY', REFUSED_PAST_STARTUP_TIMEOUT, startupMessage(options));
  const budgetSeconds = healthcheckBudgetSeconds(options);
  if (duringDeploy && last && now - runningSince > budgetSeconds * 1000) {
    return final('UNHEALTHY', DEPLOY_BUDGET_EXCEEDED, `not healthy ${budgetSeconds} s after RUNNING`);
  }
  return { status: 'PENDING', nextCheckAt: nextCheckAt(options, runningSince, startupDeadline, last), countedFailures };
}

function startupMessage(options: ResolvedHealthcheck): string {
  return `connection still refused ${options.startupTimeoutSeconds} s after RUNNING`;
}

function nextCheckAt(options: ResolvedHealthcheck, runningSince: number, startupDeadline: number, last: HealthcheckResultFacts | undefined): number {
  if (!last) return runningSince + (options.startupDelaySeconds ?? options.startupIntervalSeconds) * 1000;
  const ended = last.timestamp + (last.durationMillis ?? 0);
  if (last.startup) return Math.max(ended, Math.min(ended + options.startupIntervalSeconds * 1000, startupDeadline));
  return ended + options.intervalSeconds * 1000;
}

/**
 * The results of one task and its verdict: `evaluateHealth` with the results
 * kept for you. Pure: time comes in as `now`.
 */
export class HealthcheckTracker {
  private readonly recorded: HealthcheckResultFacts[];

  constructor(
    readonly options: ResolvedHealthcheck,
    readonly runningSince: number,
    results: readonly HealthcheckResultFacts[] = [],
  ) {
    this.recorded = [...results];
  }

  get results(): readonly HealthcheckResultFacts[] {
    return this.recorded;
  }

  record(result: HealthcheckResultFacts): void {
    this.recorded.push(result);
  }

  verdict(now: number, duringDeploy = false): HealthVerdict {
    return evaluateHealth({ options: this.options, runningSince: this.runningSince, now, results: this.recorded, duringDeploy });
  }
}
