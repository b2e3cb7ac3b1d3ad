import type { Logger } from '@singularity/node-util';
import type { ExecutorData } from '@singularity/models';

/** What a stager gets besides the task's executorData. */
export interface StagingContext {
  /** The task's sandbox `T`; every artifact must land inside it. */
  sandboxDirectory: string;
  /** Aborted when the task is killed while staging: stop and throw (e.g. `signal.throwIfAborted()`). */
  signal: AbortSignal;
  logger: Logger;
}

/**
 * One kind of artifact (spec slave §1.4 step 3, §1.5): embedded, S3, external,
 * signatures. The executor runs its stagers in order; a stager throws a
 * `TaskFailureError` for a bad artifact (md5, size, target outside `T`), any
 * other error for an unexpected failure.
 */
export interface ArtifactStager {
  readonly name: string;
  stage(data: ExecutorData, context: StagingContext): Promise<void>;
}
