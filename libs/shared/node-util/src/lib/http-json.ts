/**
 * JSON over HTTP between our own processes: the agent posting to the
 * scheduler's `AGENT_API`, the scheduler posting launches and kills to agents.
 * Both want the same things from a call: a hard time limit (a hung peer must
 * not stall a loop), one error type whatever went wrong, and an error message
 * an operator can act on (which call, to where, and why it failed).
 */

export interface PostJsonOptions {
  /** The whole call, body included, is aborted after this long. */
  timeoutMillis: number;
  /** Non-2xx statuses that are answers, not failures (e.g. 404 where "unknown" is a result). */
  tolerateStatuses?: readonly number[];
}

export interface JsonResponse<T = unknown> {
  status: number;
  /** The body as received ('' when empty or when it could not be read to the end). */
  text: string;
  /** The parsed body; undefined when it is empty or not JSON (look at `text` to tell). */
  json?: T;
}

/**
 * An HTTP call failed: no answer at all (`status` 0: refused, unresolvable,
 * timed out) or an answer with a status that is neither 2xx nor tolerated.
 */
export class HttpCallError extends Error {
  constructor(
    readonly method: string,
    readonly url: string,
    /** The HTTP status, or 0 when the peer did not answer. */
    readonly status: number,
    /** Why: the network error's code or message, or the answer's body (shortened). */
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(status === 0 ? `${method} ${url} failed: ${reason}` : `${method} ${url} answered ${status}: ${reason}`, options);
    this.name = 'HttpCallError';
  }

  /** True when the peer never answered, so the request may not have reached it. */
  get unreachable(): boolean {
    return this.status === 0;
  }
}

/** How much of an error answer's body goes into the message. */
const BODY_EXCERPT_CHARS = 300;

/**
 * POSTs `body` as JSON to `url`. Resolves with the answer when its status is
 * 2xx or in `tolerateStatuses`; otherwise, or when there is no answer within
 * `timeoutMillis`, rejects with an {@link HttpCallError}.
 */
export async function postJson<T = unknown>(url: string, body: unknown, options: PostJsonOptions): Promise<JsonResponse<T>> {
  const method = 'POST';
  let response: Response;
  try {
    response = await fetch(url, {
      method,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(options.timeoutMillis),
    });
  } catch (err) {
    throw new HttpCallError(method, url, 0, networkReason(err, options.timeoutMillis), { cause: err });
  }
  // The status line is the answer; a body lost on the way (reset, timeout) only leaves the text empty.
  const text = await response.text().catch(() => '');
  if (!response.ok && !(options.tolerateStatuses ?? []).includes(response.status)) {
    throw new HttpCallError(method, url, response.status, text.slice(0, BODY_EXCERPT_CHARS));
  }
  return { status: response.status, text, json: parseJson<T>(text) };
}

/** fetch() hides the useful part in `cause` ("fetch failed" ← ECONNREFUSED). */
function networkReason(err: unknown, timeoutMillis: number): string {
  const error = err as Error & { cause?: { code?: string; message?: string } };
  if (error.name === 'TimeoutError') return `no answer within ${timeoutMillis} ms`;
  return error.cause?.code ?? error.cause?.message ?? error.message ?? String(err);
}

function parseJson<T>(text: string): T | undefined {
  if (!text) return undefined;
  try {
    return JSON.parse(text) as T;
  } catch {
    return undefined;
  }
}
