/** Time is an input (conventions §6): loops and logic read it through this port. */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** A clock that only moves when told to; for tests of timeouts and delays. */
export class ManualClock implements Clock {
  constructor(private current = 1_700_000_000_000) {}
  now(): number {
    return this.current;
  }
  advance(millis: number): number {
    this.current += millis;
    return this.current;
  }
  set(millis: number): void {
    this.current = millis;
  }
}
