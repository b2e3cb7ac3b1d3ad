import { ManualClock } from '@singularity/util';
import type { TimerPort } from './timers.port';

interface ManualTimer {
  id: number;
  dueAt: number;
  callback: () => void;
}

/**
 * Test support: timers on a `ManualClock` that fire only when the test calls
 * `advance`. Share the clock with the code under test so timestamps and
 * timers agree.
 */
export class ManualTimers implements TimerPort {
  private nextId = 1;
  private readonly timers = new Map<number, ManualTimer>();

  constructor(readonly clock: ManualClock = new ManualClock()) {}

  setTimeout(callback: () => void, millis: number): unknown {
    const id = this.nextId++;
    this.timers.set(id, { id, dueAt: this.clock.now() + Math.max(0, millis), callback });
    return id;
  }

  clearTimeout(handle: unknown): void {
    if (typeof handle === 'number') this.timers.delete(handle);
  }

  /** How many timers are waiting. */
  get pending(): number {
    return this.timers.size;
  }

  /** When the earliest waiting timer is due, if any. */
  nextDueAt(): number | undefined {
    return this.earliest()?.dueAt;
  }

  /**
   * Moves the clock forward by `millis`, firing every timer due on the way in
   * due order (ties in the order they were set), each with the clock at its due
   * time; timers set by those callbacks fire too when due in the window.
   * Returns how many fired.
   */
  advance(millis: number): number {
    const until = this.clock.now() + millis;
    let fired = 0;
    for (let timer = this.earliest(); timer && timer.dueAt <= until; timer = this.earliest()) {
      this.timers.delete(timer.id);
      if (timer.dueAt > this.clock.now()) this.clock.set(timer.dueAt);
      timer.callback();
      fired++;
    }
    this.clock.set(until);
    return fired;
  }

  private earliest(): ManualTimer | undefined {
    let best: ManualTimer | undefined;
    for (const timer of this.timers.values()) if (!best || timer.dueAt < best.dueAt) best = timer;
    return best;
  }
}
