export interface EventuallyOptions {
  /** Give up after this long (default 5000 ms). */
  timeoutMs?: number;
  /** Pause between attempts (default 50 ms). */
  intervalMs?: number;
  /** What is awaited, for the failure message, e.g. "task 3 is RUNNING". */
  description?: string;
}

/** Thrown by `eventually` when time runs out; `cause` is the last attempt's error. */
export class EventuallyTimeoutError extends Error {
  constructor(
    message: string,
    readonly attempts: number,
    override readonly cause?: unknown,
  ) {
    super(message);
    this.name = 'EventuallyTimeoutError';
  }
}

/**
 * Polls `fn` until it succeeds: it neither throws nor returns `false`. Resolves
 * with its value. Use it to wait for another process or an I/O loop, never for
 * logic a test can drive with a manual clock (conventions §6).
 *
 *   await eventually(async () => expect((await client.getActiveTasks()).length).toBe(2),
 *                    { description: 'two tasks active' });
 *
 * An attempt still pending at the deadline counts as a failure, so a hung call
 * cannot hang the test.
 */
export async function eventually<T>(fn: () => T | Promise<T>, options: EventuallyOptions = {}): Promise<Exclude<Awaited<T>, false>> {
  const { timeoutMs = 5000, intervalMs = 50, description = 'condition' } = options;
  const deadline = Date.now() + timeoutMs;
  let attempts = 0;
  let lastFailure: unknown;
  for (;;) {
    attempts++;
    const remaining = Math.max(deadline - Date.now(), 0);
    const outcome = await settleWithin(fn, remaining);
    if (outcome.kind === 'value' && outcome.value !== false) return outcome.value as Exclude<Awaited<T>, false>;
    if (outcome.kind === 'error') lastFailure = outcome.error;
    else if (outcome.kind === 'value') lastFailure = new Error('returned false');
    // An attempt cut off by the deadline says less than the failure before it, if there was one.
    else lastFailure ??= new Error(`the last attempt was still running after ${timeoutMs} ms`);
    if (Date.now() >= deadline) break;
    await sleep(Math.min(intervalMs, Math.max(deadline - Date.now(), 0)));
  }
  const reason = lastFailure instanceof Error ? lastFailure.message : String(lastFailure);
  throw new EventuallyTimeoutError(
    `eventually: "${description}" was still not satisfied after ${timeoutMs} ms (${attempts} attempt${attempts === 1 ? '' : 's'}); last failure: ${reason}`,
    attempts,
    lastFailure,
  );
}

type Outcome<T> = { kind: 'value'; value: Awaited<T> } | { kind: 'error'; error: unknown } | { kind: 'pending' };

async function settleWithin<T>(fn: () => T | Promise<T>, ms: number): Promise<Outcome<T>> {
  let timer: NodeJS.Timeout | undefined;
  const attempt = (async (): Promise<Outcome<T>> => {
    try {
      return { kind: 'value', value: await fn() };
    } catch (error) {
      return { kind: 'error', error };
    }
  })();
  const timeout = new Promise<Outcome<T>>((resolve) => {
    timer = setTimeout(() => resolve({ kind: 'pending' }), Math.max(ms, 1));
  });
  try {
    return await Promise.race([attempt, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
