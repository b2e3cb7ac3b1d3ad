import type { SingularityTaskId } from '@singularity/models';

/**
 * One HTTP check of a task, in the reference's `SingularityTaskHealthcheckResult`
 * shape (what `/history/task/{id}` shows under `healthcheckResults`).
 */
export interface SingularityTaskHealthcheckResult {
  taskId: SingularityTaskId;
  /** When the check started (epoch ms). */
  timestamp: number;
  /** Present when a response arrived. */
  statusCode?: number;
  /** Check start to response (or failure), by the scheduler's clock. */
  durationMillis?: number;
  /** At most `maxHealthcheckResponseBodyBytes` of the body; absent when empty. */
  responseBody?: string;
  /** Present when no usable response arrived (refused, timeout, TLS, …). */
  errorMessage?: string;
  /** A refused connection: the app is still starting, so it does not count as a failure. */
  startup: boolean;
}

/** What the health rules read of a result; a full `SingularityTaskHealthcheckResult` fits. */
export type HealthcheckResultFacts = Pick<SingularityTaskHealthcheckResult, 'timestamp' | 'statusCode' | 'durationMillis' | 'errorMessage' | 'startup'>;

/** A 2xx response without an error: the check passed (Singularity's `!isFailed()`). */
export function isPassingHealthcheck(result: HealthcheckResultFacts): boolean {
  return result.errorMessage === undefined && result.statusCode !== undefined && result.statusCode >= 200 && result.statusCode < 300;
}
