/**
 * Errors that decide which terminal state a task gets (spec slave §1.7).
 *
 * - {@link TaskFailureError}: the task itself is at fault (a checksum that does
 *   not match, an artifact aimed outside the sandbox, an invalid environment
 *   variable name). Retrying on another agent would fail the same way, so the
 *   task is reported `TASK_FAILED` with the error's message as is.
 * - {@link InvalidTaskDefinitionError}: the task definition cannot be used at
 *   all; reported `TASK_LOST` "Unexpected exception while launching task …".
 * - Anything else thrown while staging is unexpected (I/O errors and the like)
 *   and is reported `TASK_LOST` "<Error> while initializing task: <msg>".
 */
export class TaskFailureError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** An artifact or other path of the task would resolve outside the sandbox `T`. */
export class SandboxEscapeError extends TaskFailureError {}

/** A downloaded or embedded artifact does not have the expected md5 sum or size. */
export class ArtifactVerificationError extends TaskFailureError {}

/**
 * A remote artifact could not be fetched (S3 error, HTTP status other than
 * 2xx, timeout, too many redirects). The deploy names something that cannot
 * be had, so the task fails; the message names the artifact and the cause.
 */
export class ArtifactDownloadError extends TaskFailureError {}

/**
 * An archive holds an entry that could leave its target directory or the
 * sandbox (absolute path, `..`, a link pointing outside `T`, a device file).
 * Nothing of it is extracted.
 */
export class UnsafeArchiveError extends SandboxEscapeError {}

/** An archive artifact that cannot be read or extracted (not a tar file, truncated, `tar` failed). */
export class ArtifactArchiveError extends TaskFailureError {}

/** The artifact signature check failed (spec slave §1.5): command exit code, or an unpaired signature/artifact. */
export class ArtifactSignatureError extends TaskFailureError {}

export class InvalidTaskDefinitionError extends Error {
  constructor(
    message: string,
    /** Dotted path of the offending field, when there is one. */
    readonly field?: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** The staging phase was aborted by a kill request. */
export class StagingAbortedError extends Error {
  constructor() {
    super('staging aborted by a kill request');
    this.name = new.target.name;
  }
}

/** `Error` subclasses report their class name; plain Node errors their code (`EACCES`), like Java's exception names. */
export function errorLabel(err: unknown): string {
  if (err instanceof Error) {
    if (err.name && err.name !== 'Error') return err.name;
    const code = (err as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && code) return code;
    return 'Error';
  }
  return 'Error';
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
