/**
 * The scheduler-wide health-check settings of spec §5 (Deploy/health). A deploy's
 * `healthcheck` options override the per-check ones; these are the fallbacks.
 *
 * Every function taking settings accepts a `Partial` merged over
 * `DEFAULT_HEALTHCHECK_SETTINGS`, so the scheduler's `SchedulerSettings` (which
 * shares `deployHealthyBySeconds` and `considerTaskHealthyAfterRunningForSeconds`)
 * can be passed as it is.
 */
export interface HealthcheckSettings {
  /** Pause after a response (or timeout) before the next check. */
  healthcheckIntervalSeconds: number;
  /** Timeout of one check. */
  healthcheckTimeoutSeconds: number;
  /** How long after RUNNING a refused connection is still "starting up". */
  startupTimeoutSeconds: number;
  /** Pause between checks while the connection is refused. */
  startupIntervalSeconds: number;
  /** Pause before the first check; unset = `startupIntervalSeconds`. */
  startupDelaySeconds?: number;
  /** Counted failures tolerated; unset = 0. */
  healthcheckMaxRetries?: number;
  /** Statuses that make a task unhealthy at once. */
  healthcheckFailureStatusCodes: number[];
  /** How much of a response body a result keeps. */
  maxHealthcheckResponseBodyBytes: number;
  /** Base of the overdue budget of a deploy step (spec §2.3 step 5). */
  deployHealthyBySeconds: number;
  /** Without an HTTP check a task is healthy after RUNNING this long (spec §3.4). */
  considerTaskHealthyAfterRunningForSeconds: number;
}

export const DEFAULT_HEALTHCHECK_SETTINGS: Readonly<HealthcheckSettings> = Object.freeze({
  healthcheckIntervalSeconds: 5,
  healthcheckTimeoutSeconds: 5,
  startupTimeoutSeconds: 45,
  startupIntervalSeconds: 2,
  startupDelaySeconds: undefined,
  healthcheckMaxRetries: undefined,
  healthcheckFailureStatusCodes: [],
  maxHealthcheckResponseBodyBytes: 8192,
  deployHealthyBySeconds: 120,
  considerTaskHealthyAfterRunningForSeconds: 5,
});

/** `settings` over the defaults; an `undefined` value keeps the default. */
export function healthcheckSettings(settings: Partial<HealthcheckSettings> = {}): HealthcheckSettings {
  const merged: HealthcheckSettings = { ...DEFAULT_HEALTHCHECK_SETTINGS };
  for (const [key, value] of Object.entries(settings) as Array<[keyof HealthcheckSettings, unknown]>) {
    if (value !== undefined && key in DEFAULT_HEALTHCHECK_SETTINGS) (merged as unknown as Record<string, unknown>)[key] = value;
  }
  return merged;
}
