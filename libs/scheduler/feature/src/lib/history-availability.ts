import type { HistoryRepository } from '@singularity/scheduler-history';
import { UnavailableError } from '@singularity/util';

// Network errors of the driver and PostgreSQL's connection-class SQLSTATEs (08…, 57P01-57P03: shutting down, cannot connect now).
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', 'EPIPE', '57P01', '57P02', '57P03']);

/** Whether `err` says the history database cannot be reached (rather than a bug or a bad query). */
export function isDatabaseUnavailable(err: unknown): boolean {
  for (let e = err as { code?: unknown; message?: unknown; cause?: unknown } | undefined, depth = 0; e && depth < 5; e = e.cause as typeof e, depth++) {
    const code = typeof e.code === 'string' ? e.code : undefined;
    if (code && (NETWORK_CODES.has(code) || code.startsWith('08'))) return true;
    const message = typeof e.message === 'string' ? e.message : '';
    if (/Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error/i.test(message)) return true;
    if (Array.isArray((e as { errors?: unknown }).errors)) return ((e as { errors: unknown[] }).errors).some(isDatabaseUnavailable);
  }
  return false;
}

/**
 * The repository with its "database unreachable" failures turned into a 503
 * that says what to do, instead of a 500 with a driver message: the history
 * endpoints answer this while PostgreSQL is down (live state is unaffected,
 * and finished tasks move to SQL once it is back).
 */
export function withAvailabilityErrors(repository: HistoryRepository): HistoryRepository {
  return new Proxy(repository, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        const result = (value as (...a: unknown[]) => unknown).apply(target, args);
        if (!(result instanceof Promise)) return result;
        return result.catch((err: unknown) => {
          if (isDatabaseUnavailable(err)) {
            throw new UnavailableError(`The history database is unavailable (${(err as Error).message}); live state is unaffected, retry later`);
          }
          throw err;
        });
      };
    },
  });
}
