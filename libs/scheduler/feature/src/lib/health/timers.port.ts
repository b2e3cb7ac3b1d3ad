/**
 * Timer functions as a port (conventions §6): the health checker schedules its
 * checks and response timeouts through it, so tests step time with
 * `ManualTimers` instead of sleeping. Same shape as the executor's `Timers`.
 */
export interface TimerPort {
  setTimeout(callback: () => void, millis: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** Node's timers, unref'd: pending health checks never keep the process alive. */
export const systemTimers: TimerPort = {
  setTimeout: (callback, millis) => setTimeout(callback, millis).unref(),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};
