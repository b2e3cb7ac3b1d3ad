import type { SingularityHostState } from '@singularity/models';
import type { Logger } from '@singularity/node-util';
import type { StateOp, StateSnapshot, StateStore } from '@singularity/scheduler-state';
import type { Clock } from '@singularity/util';
import type { SchedulerRuntime } from '../scheduler-runtime';
import type { LeaderElection } from './leader-election';

/** The ZooKeeper store's connection events (`ZooKeeperStateStore.onConnectionEvent`). */
export type StoreConnectionEvent = 'connected' | 'disconnected' | 'expired';

export interface StoreConnectionSource {
  onConnectionEvent(listener: (event: StoreConnectionEvent) => void): () => void;
}

/** The text of the 503 that write requests get while live state cannot be written. */
export const ZOOKEEPER_UNREACHABLE_MESSAGE = 'ZooKeeper is unreachable: live state cannot be written; retry later';

export interface LeaderGuardOptions {
  election: Pick<LeaderElection, 'on' | 'connection' | 'confirm'>;
  clock: Clock;
  logger: Logger;
  /**
   * A process that stood still this long (a long pause, SIGSTOP, a VM freeze) cannot know whether its
   * sessions survived meanwhile: it acts on nothing until a round trip to ZooKeeper confirms its
   * leadership. A third of the session timeout (ZooKeeper's ping interval) suits. Off when absent.
   */
  stallMillis?: number;
  /**
   * Called once when this leader must stop (leadership lost, a session expired, a commit failed), after
   * the loop was stopped. main.ts exits the process with a non-zero code; its supervisor restarts it as
   * a standby, which loads live state afresh if it is elected again.
   */
  onFatal(reason: string): void;
}

/**
 * Keeps a leading scheduler from acting on state it cannot vouch for
 * (spec §3.6; docs/high-availability.md):
 *
 * - **fatal** (leadership lost, the election's or the store's session expired,
 *   a commit failed so that `SchedulerState.broken` is set): the loop stops at
 *   once, then `onFatal` (the process exits). Nothing is flushed on the way
 *   out: memory may be ahead of the store.
 * - **unavailable** (a session merely disconnected): `available()` is false,
 *   so write requests get a 503 without touching memory and the loop skips
 *   its ticks. When both sessions are connected again, every agent's
 *   last-heartbeat time is moved to now *before* the loop resumes: our own
 *   outage must not make agents DEAD or their tasks LOST.
 */
export class LeaderGuard {
  private storeConnected = true;
  private electionConnected: boolean;
  private fatalReason: string | undefined;
  private standingDown = false;
  private runtime: SchedulerRuntime | undefined;
  private readonly unsubscribe: Array<() => void> = [];
  /** Stall detection (monotonic ms): when this process last ran, and whether it must confirm its leadership first. */
  private lastRan = performance.now();
  private stalled = false;
  private readonly stallTimer: NodeJS.Timeout | undefined;

  constructor(private readonly options: LeaderGuardOptions) {
    this.electionConnected = options.election.connection() === 'connected';
    this.unsubscribe.push(
      options.election.on('lost', (reason) => this.fail(`leadership lost: ${reason}`)),
      options.election.on('connection', (state) => this.setConnected('election', state === 'connected')),
    );
    const stallMillis = options.stallMillis;
    if (stallMillis !== undefined) {
      this.stallTimer = setInterval(() => this.noteRunning(), Math.max(10, Math.min(200, stallMillis / 4)));
      this.stallTimer.unref();
    }
  }

  /** Whether writes may touch live state and the loop may tick now. */
  available(): boolean {
    this.noteRunning();
    return this.fatalReason === undefined && !this.standingDown && !this.stalled && this.storeConnected && this.electionConnected;
  }

  /** Why not available, for `/health` and logs. */
  unavailableReason(): string | undefined {
    if (this.fatalReason) return `stopping: ${this.fatalReason}`;
    if (this.standingDown) return 'shutting down';
    if (!this.storeConnected) return 'the state store lost its connection to ZooKeeper';
    if (!this.electionConnected) return 'the leader election lost its connection to ZooKeeper';
    if (this.stalled) return 'this process stood still; confirming its leadership with ZooKeeper';
    return undefined;
  }

  /** Follows the store's session: disconnected pauses, expired is fatal. */
  watchStore(store: StoreConnectionSource): void {
    this.unsubscribe.push(
      store.onConnectionEvent((event) => {
        if (event === 'expired') this.fail('the state store\'s ZooKeeper session expired');
        else this.setConnected('store', event === 'connected');
      }),
    );
  }

  /**
   * The store as the runtime should use it: a commit that fails is fatal, because `SchedulerState` is
   * then `broken` (memory ahead of the store).
   */
  guardStore(store: StateStore): StateStore {
    return {
      open: () => store.open(),
      load: (): Promise<StateSnapshot> => store.load(),
      commit: (ops: readonly StateOp[]) =>
        store.commit(ops).catch((err: unknown) => {
          this.fail(`a commit to the state store failed, so memory is ahead of it (${(err as Error)?.message ?? String(err)})`);
          throw err;
        }),
      close: () => store.close(),
      describe: () => store.describe(),
    };
  }

  /** The runtime to stop on a fatal event and whose agents to refresh after an outage. */
  attach(runtime: SchedulerRuntime): void {
    this.runtime = runtime;
    if (this.fatalReason) this.stopLoop(runtime);
  }

  /** A clean shutdown begins: later failures (commits after close) are expected, not fatal. */
  standDown(): void {
    this.standingDown = true;
    clearInterval(this.stallTimer);
    for (const off of this.unsubscribe.splice(0)) off();
  }

  /** Stops this leader for good (idempotent). */
  fail(reason: string): void {
    if (this.fatalReason !== undefined || this.standingDown) return;
    this.fatalReason = reason;
    clearInterval(this.stallTimer);
    if (this.runtime) this.stopLoop(this.runtime);
    this.options.logger.fatal(
      { reason },
      `this scheduler must stop leading: ${reason}. It stops acting now and exits; another instance takes over with the state in ZooKeeper (run schedulers under a supervisor that restarts them)`,
    );
    this.options.onFatal(reason);
  }

  private stopLoop(runtime: SchedulerRuntime): void {
    // First thing: no tick, webhook round or history move may start from here on.
    void runtime.scheduler.stop().catch(() => undefined);
    void runtime.webhookDispatcher.stop().catch(() => undefined);
    void runtime.historyPersister.stop().catch(() => undefined);
  }

  private setConnected(which: 'store' | 'election', connected: boolean): void {
    this.transition(() => {
      if (which === 'store') this.storeConnected = connected;
      else this.electionConnected = connected;
    });
  }

  /** Applies `change`; logs a pause, or refreshes the agents before the loop resumes. */
  private transition(change: () => void): void {
    const before = this.available();
    change();
    const after = this.available();
    if (before && !after) {
      this.options.logger.warn({ reason: this.unavailableReason() }, 'live state cannot be written for now: writes get 503 and the scheduling loop pauses');
    } else if (!before && after) {
      const refreshed = this.refreshHeartbeats();
      this.options.logger.info({ agents: refreshed }, 'ZooKeeper is reachable again: agents\' heartbeat times refreshed, the scheduling loop resumes');
      this.runtime?.scheduler.tickSoon(0);
    }
  }

  /**
   * Called whenever this process runs (a timer, every `available()`): a gap longer than `stallMillis`
   * means it stood still and its sessions may have expired meanwhile without it hearing so yet (the
   * ZooKeeper client reads its socket only after the timers that are due), so it pauses until a round
   * trip confirms the leadership. The first code to run after the gap takes the pause.
   */
  private noteRunning(): void {
    const now = performance.now();
    const gap = now - this.lastRan;
    this.lastRan = now;
    const stallMillis = this.options.stallMillis;
    if (stallMillis === undefined || this.stalled || gap <= stallMillis || this.fatalReason !== undefined || this.standingDown) return;
    this.stalled = true;
    this.options.logger.warn({ stoodStillMs: Math.round(gap) }, 'this process stood still; it acts on nothing until ZooKeeper confirms its leadership');
    void this.confirmLeadership();
  }

  private async confirmLeadership(): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      if (this.fatalReason !== undefined || this.standingDown) return;
      try {
        await this.options.election.confirm();
        if (this.fatalReason !== undefined || this.standingDown) return;
        this.options.logger.info({ attempts: attempt }, 'leadership confirmed after the stall');
        this.transition(() => (this.stalled = false));
        return;
      } catch (err) {
        // Expiry or a lost znode arrive as events (fatal); anything else is retried while paused.
        const level = attempt === 1 || attempt % 50 === 0 ? 'warn' : 'debug';
        this.options.logger[level]({ err: (err as Error).message, attempt }, 'could not confirm the leadership yet; still paused');
        await new Promise((resolve) => setTimeout(resolve, 200).unref());
      }
    }
  }

  /** Every agent counts as seen now: heartbeats refused during our outage must not make it DEAD. */
  private refreshHeartbeats(): number {
    const runtime = this.runtime;
    if (!runtime) return 0;
    const now = this.options.clock.now();
    for (const agent of runtime.ctx.state.agents.values()) agent.lastSeenAt = Math.max(agent.lastSeenAt, now);
    return runtime.ctx.state.agents.size;
  }
}

/** `/state` `hostStates` from the election's host registry: every live instance, `master` for the leader. */
export function hostStatesOf(election: Pick<LeaderElection, 'instances' | 'leader'>, now: number): SingularityHostState[] {
  const leaderId = election.leader()?.id;
  return election.instances().map((instance) => {
    const master = instance.id === leaderId;
    return {
      master,
      uptime: Math.max(0, now - instance.startedAt),
      driverStatus: master ? 'DRIVER_RUNNING' : 'DRIVER_NOT_STARTED',
      hostAddress: instance.hostAddress,
      hostname: instance.hostname,
      mesosConnected: master,
      availableCachedCpus: 0,
      availableCachedMemory: 0,
    };
  });
}
