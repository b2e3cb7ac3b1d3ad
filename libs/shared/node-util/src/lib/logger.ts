import pino, { type Logger } from 'pino';

export type { Logger };

/**
 * Structured JSON logs (one line per event) for every long-running program.
 * `LOG_LEVEL` sets the level (default info); `LOG_FILE` sends lines to a file
 * instead of stdout.
 */
export function createLogger(name: string, bindings: Record<string, unknown> = {}, level = process.env.LOG_LEVEL ?? 'info'): Logger {
  const destination = process.env.LOG_FILE ? pino.destination({ dest: process.env.LOG_FILE, sync: false, mkdir: true }) : pino.destination(1);
  return pino({ name, level, base: { pid: process.pid, ...bindings } }, destination);
}
