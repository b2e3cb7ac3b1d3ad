import type { Logger } from '@singularity/node-util';
import { systemClock, type Clock } from '@singularity/util';
import type { KillFacts } from './task-status-messages';

/** Something whose processes can be signalled all at once: the task's process group. */
export interface KillTarget {
  /** Returns false when nothing was left to signal. */
  signal(signal: NodeJS.Signals): boolean;
}

export interface KillOrder {
  /** SIGKILL at once instead of SIGTERM and a grace. */
  destroy: boolean;
  user?: string;
  /** TERM→KILL grace; ignored for a destroy. */
  graceMillis: number;
}

/** What a kill request led to. */
export type KillAction = 'sigterm' | 'sigkill' | 'ignored';

/** Timer functions, replaceable in tests. */
export interface Timers {
  setTimeout(callback: () => void, millis: number): unknown;
  clearTimeout(handle: unknown): void;
}

const realTimers: Timers = {
  setTimeout: (callback, millis) => setTimeout(callback, millis),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/**
 * Kill semantics of a running task (spec slave §1.8): the first kill sends
 * SIGTERM to the process group and SIGKILL after the grace; a destroy sends
 * SIGKILL at once (also to a task already waiting out a grace). Repeated
 * kills add nothing: one SIGTERM, one timer. `stop()` (the process exited)
 * cancels the timer.
 */
export class ProcessKiller {
  private kill?: KillFacts;
  private timer?: unknown;
  private sigkillSent = false;
  private stopped = false;

  constructor(
    private readonly target: KillTarget,
    private readonly logger: Logger,
    private readonly clock: Clock = systemClock,
    private readonly timers: Timers = realTimers,
  ) {}

  request(order: KillOrder): KillAction {
    if (this.stopped) {
      this.logger.info({ order }, 'kill ignored: the process already exited');
      return 'ignored';
    }
    if (!this.kill) {
      this.kill = { requestedAt: this.clock.now(), destroy: order.destroy, user: order.user, graceMillis: order.graceMillis, killedAfterGrace: false };
      if (order.destroy) return this.sigkill('destroy requested');
      this.logger.info({ graceMillis: order.graceMillis }, 'sending SIGTERM to the process group');
      this.target.signal('SIGTERM');
      this.timer = this.timers.setTimeout(() => {
        this.timer = undefined;
        if (this.stopped || this.sigkillSent || !this.kill) return;
        this.kill.killedAfterGrace = true;
        this.sigkill(`still running ${order.graceMillis}ms after SIGTERM`);
      }, order.graceMillis);
      return 'sigterm';
    }
    if (order.destroy && !this.sigkillSent) {
      this.kill.destroy = true;
      this.kill.user = order.user;
      return this.sigkill('destroy requested while waiting for a graceful exit');
    }
    this.logger.info({ order, kill: this.kill }, 'kill ignored: the task is already being killed');
    return 'ignored';
  }

  /** The process exited: no more signals. */
  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) this.timers.clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** The kill, if one was requested before the process exited. */
  facts(): KillFacts | undefined {
    return this.kill ? { ...this.kill } : undefined;
  }

  private sigkill(why: string): KillAction {
    if (this.timer !== undefined) this.timers.clearTimeout(this.timer);
    this.timer = undefined;
    this.sigkillSent = true;
    this.logger.warn({ why }, 'sending SIGKILL to the process group');
    this.target.signal('SIGKILL');
    return 'sigkill';
  }
}
