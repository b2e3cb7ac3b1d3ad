/** Capped exponential backoff: base, 2×base, 4×base … up to `max`; `reset()` after a success. */
export class RetryBackoff {
  private attempt = 0;

  constructor(
    private readonly baseMillis: number,
    private readonly maxMillis: number,
  ) {}

  /** The delay before the next attempt; each call doubles the following one. */
  next(): number {
    const delay = Math.min(this.baseMillis * 2 ** Math.min(this.attempt, 30), this.maxMillis);
    this.attempt++;
    return delay;
  }

  /** Failed attempts since the last success. */
  get failures(): number {
    return this.attempt;
  }

  reset(): void {
    this.attempt = 0;
  }
}

/** "1.5s", for progress logs. */
export function describeDelay(millis: number): string {
  return `${Number((millis / 1000).toFixed(millis < 10000 ? 1 : 0))}s`;
}
