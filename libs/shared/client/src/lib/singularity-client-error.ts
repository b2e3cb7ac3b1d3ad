/**
 * A call to the Singularity API that did not succeed: a non-2xx answer
 * (`status` and the parsed `body`), or no answer at all (`status` 0, the
 * network error as `cause`).
 */
export class SingularityClientError extends Error {
  constructor(
    message: string,
    readonly method: string,
    readonly path: string,
    readonly status: number,
    /** The response body: parsed JSON when it was JSON, else its text (undefined without a response). */
    readonly body: unknown,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'SingularityClientError';
  }

  /** The message the server gave: `body.message` of a JSON error, or the text body. */
  get serverMessage(): string | undefined {
    return serverMessageOf(this.body);
  }
}

export function serverMessageOf(body: unknown): string | undefined {
  if (typeof body === 'string') return body.trim() || undefined;
  if (body && typeof body === 'object') {
    const message = (body as { message?: unknown }).message;
    if (typeof message === 'string') return message;
    return JSON.stringify(body);
  }
  return undefined;
}
