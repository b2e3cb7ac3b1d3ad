import type { Logger } from '@singularity/node-util';
import type { ExecutorData } from '@singularity/models';
import { TaskFailureError } from './executor-errors';

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

/**
 * Refuses remote artifacts until their stagers exist (S3, external URLs,
 * signatures are a later issue). Running the task without them would start a
 * service that is missing files, so the task fails instead.
 */
export class UnsupportedArtifactsStager implements ArtifactStager {
  readonly name = 'unsupported-artifacts';

  async stage(data: ExecutorData): Promise<void> {
    const kinds: Array<[string, unknown[] | undefined]> = [
      ['S3 artifacts', data.s3Artifacts],
      ['S3 artifact signatures', data.s3ArtifactSignatures],
      ['External artifacts', data.externalArtifacts],
    ];
    for (const [kind, list] of kinds) {
      if (list && list.length > 0) throw new TaskFailureError(`${kind} are not supported by this executor yet`);
    }
  }
}
