import { DEFAULT_VALIDATION_LIMITS } from '@singularity/models';
import { createLogger } from '@singularity/node-util';
import { DEFAULT_COOLDOWN_SETTINGS, DEFAULT_SCHEDULER_SETTINGS } from '@singularity/scheduler-core';
import { InMemoryStateStore, type StateOp } from '@singularity/scheduler-state';
import { ManualClock } from '@singularity/util';
import { FakeAgentGateway } from '../scheduler.harness';
import { SchedulerRuntime } from '../scheduler-runtime';
import type { LeaderElectionEvents } from './leader-election';
import { LeaderGuard, type StoreConnectionEvent } from './leader-guard';

const logger = createLogger('leader-guard-spec', {}, process.env['LOG_LEVEL'] ?? 'silent');

/** The election as the guard sees it: events the test fires by hand. */
class FakeElection {
  state: 'connected' | 'disconnected' = 'connected';
  /** What `confirm()` does: the test decides whether ZooKeeper confirms the leadership. */
  confirmation: () => Promise<void> = async () => undefined;
  confirms = 0;
  confirm(): Promise<void> {
    this.confirms++;
    return this.confirmation();
  }
  private readonly listeners = new Map<string, Set<(...args: never[]) => void>>();
  connection() {
    return this.state;
  }
  on<E extends keyof LeaderElectionEvents>(event: E, listener: LeaderElectionEvents[E]): () => void {
    const set = this.listeners.get(event) ?? new Set();
    set.add(listener as (...args: never[]) => void);
    this.listeners.set(event, set);
    return () => set.delete(listener as (...args: never[]) => void);
  }
  emit<E extends keyof LeaderElectionEvents>(event: E, ...args: Parameters<LeaderElectionEvents[E]>): void {
    for (const listener of this.listeners.get(event) ?? []) (listener as (...a: unknown[]) => void)(...args);
  }
}

/** The ZooKeeper store's connection events, fired by hand. */
class FakeStoreConnection {
  private listener: ((event: StoreConnectionEvent) => void) | undefined;
  onConnectionEvent(listener: (event: StoreConnectionEvent) => void) {
    this.listener = listener;
    return () => (this.listener = undefined);
  }
  fire(event: StoreConnectionEvent) {
    this.listener?.(event);
  }
}

/** An in-memory store whose commits can be made to fail. */
class FailingStore extends InMemoryStateStore {
  failCommits = false;
  override async commit(ops: readonly StateOp[]): Promise<void> {
    if (this.failCommits) throw new Error('session expired');
    return super.commit(ops);
  }
}

describe('LeaderGuard', () => {
  const HEARTBEAT_TIMEOUT_SECONDS = 60;
  let clock: ManualClock;
  let election: FakeElection;
  let storeConnection: FakeStoreConnection;
  let store: FailingStore;
  let fatal: string[];
  let guard: LeaderGuard;
  let runtime: SchedulerRuntime;

  beforeEach(async () => {
    clock = new ManualClock();
    election = new FakeElection();
    storeConnection = new FakeStoreConnection();
    store = new FailingStore();
    fatal = [];
    guard = new LeaderGuard({ election, clock, logger, onFatal: (reason) => fatal.push(reason) });
    guard.watchStore(storeConnection);
    runtime = await SchedulerRuntime.open({
      store: guard.guardStore(store),
      clock,
      gateway: new FakeAgentGateway(),
      logger,
      limits: DEFAULT_VALIDATION_LIMITS,
      paused: () => !guard.available(),
      settings: {
        ...DEFAULT_SCHEDULER_SETTINGS,
        ...DEFAULT_COOLDOWN_SETTINGS,
        heartbeatIntervalMillis: 5000,
        agentHeartbeatTimeoutSeconds: HEARTBEAT_TIMEOUT_SECONDS,
        startNewReconcileEverySeconds: 600,
        deleteDeadAgentsAfterHours: 168,
        persistHistoryEverySeconds: 120,
        agentReregisterTimeoutSeconds: 600,
        tickDebounceMillis: 0,
      },
    });
    guard.attach(runtime);
    await runtime.agents.register({
      agentId: 'agent-1',
      hostname: 'agent-1',
      address: '127.0.0.1',
      port: 5051,
      resources: { cpus: 8, memoryMb: 16384, diskMb: 100000 },
      portRange: { begin: 31000, end: 31999 },
      tasks: [],
    });
  });
  afterEach(async () => {
    guard.standDown();
    store.failCommits = false;
    await runtime.stop();
  });

  const agentState = () => runtime.ctx.state.agents.get('agent-1')?.state;

  it('pauses the loop while the store is disconnected and keeps agents alive across the outage', async () => {
    await runtime.scheduler.tick();
    const lastTick = runtime.scheduler.lastTickAt;
    storeConnection.fire('disconnected');
    expect(guard.available()).toBe(false);
    expect(guard.unavailableReason()).toMatch(/state store lost its connection/);

    // Far longer than the heartbeat timeout, with no heartbeat getting through.
    clock.advance(10 * HEARTBEAT_TIMEOUT_SECONDS * 1000);
    await runtime.scheduler.tick();
    expect(runtime.scheduler.lastTickAt).toBe(lastTick);
    expect(agentState()).toBe('ACTIVE');

    storeConnection.fire('connected');
    expect(guard.available()).toBe(true);
    expect(runtime.ctx.state.agents.get('agent-1')?.lastSeenAt).toBe(clock.now());
    await runtime.scheduler.tick();
    expect(runtime.scheduler.lastTickAt).toBe(clock.now());
    expect(agentState()).toBe('ACTIVE');
    expect(fatal).toEqual([]);
  });

  it('also pauses while the election session is disconnected, until both are connected', () => {
    election.state = 'disconnected';
    election.emit('connection', 'disconnected');
    storeConnection.fire('disconnected');
    expect(guard.available()).toBe(false);
    storeConnection.fire('connected');
    expect(guard.available()).toBe(false);
    expect(guard.unavailableReason()).toMatch(/leader election lost its connection/);
    election.emit('connection', 'connected');
    expect(guard.available()).toBe(true);
  });

  it('still declares an agent dead that stays silent after the outage ended', async () => {
    storeConnection.fire('disconnected');
    clock.advance(5 * HEARTBEAT_TIMEOUT_SECONDS * 1000);
    storeConnection.fire('connected');
    clock.advance((HEARTBEAT_TIMEOUT_SECONDS + 1) * 1000);
    await runtime.scheduler.tick();
    expect(agentState()).toBe('DEAD');
  });

  it.each([
    ['the store session expires', () => storeConnection.fire('expired'), /state store's ZooKeeper session expired/],
    ['leadership is lost', () => election.emit('lost', 'znode gone'), /leadership lost: znode gone/],
  ])('is fatal when %s: the loop stops, nothing is available, onFatal once', async (_what, trigger, reason) => {
    runtime.scheduler.start();
    await new Promise((r) => setTimeout(r, 20));
    expect(runtime.scheduler.lastTickAt).toBe(clock.now());
    trigger();
    trigger();
    expect(fatal).toHaveLength(1);
    expect(fatal[0]).toMatch(reason);
    expect(guard.available()).toBe(false);
    const lastTick = runtime.scheduler.lastTickAt;
    clock.advance(1000);
    runtime.scheduler.tickSoon(0);
    await new Promise((r) => setTimeout(r, 20));
    await runtime.scheduler.tick();
    expect(runtime.scheduler.lastTickAt).toBe(lastTick);
  });

  it('is fatal when a commit fails (SchedulerState is broken then)', async () => {
    store.failCommits = true;
    await expect(runtime.agents.register({ agentId: 'agent-2', hostname: 'h2', address: '127.0.0.1', port: 5051, resources: { cpus: 1, memoryMb: 1, diskMb: 1 }, portRange: { begin: 1, end: 2 } })).rejects.toThrow(
      /session expired/,
    );
    expect(runtime.ctx.state.broken).toBeDefined();
    expect(fatal).toHaveLength(1);
    expect(fatal[0]).toMatch(/a commit to the state store failed/);
  });

  describe('after the process stood still (a long pause, SIGSTOP)', () => {
    let stallGuard: LeaderGuard;
    afterEach(() => stallGuard.standDown());
    const standStill = (ms: number) => {
      const until = performance.now() + ms;
      while (performance.now() < until) {
        // busy: no timer, no I/O callback runs meanwhile
      }
    };

    it('acts on nothing until ZooKeeper confirms the leadership, then refreshes the agents and resumes', async () => {
      stallGuard = new LeaderGuard({ election, clock, logger, onFatal: (reason) => fatal.push(reason), stallMillis: 50 });
      stallGuard.attach(runtime);
      let confirm: (() => void) | undefined;
      election.confirmation = () => new Promise<void>((resolve) => (confirm = resolve));
      expect(stallGuard.available()).toBe(true);

      standStill(80);
      clock.advance(10 * HEARTBEAT_TIMEOUT_SECONDS * 1000);
      // The first code to run after the gap (here: the write gate) finds the guard paused.
      expect(stallGuard.available()).toBe(false);
      expect(stallGuard.unavailableReason()).toMatch(/stood still/);
      expect(election.confirms).toBe(1);
      await new Promise((r) => setTimeout(r, 20));
      expect(stallGuard.available()).toBe(false);

      confirm?.();
      await new Promise((r) => setTimeout(r, 0));
      expect(stallGuard.available()).toBe(true);
      expect(runtime.ctx.state.agents.get('agent-1')?.lastSeenAt).toBe(clock.now());
      expect(fatal).toEqual([]);
    });

    it('stays paused while the confirmation fails, and a lost leadership is fatal', async () => {
      stallGuard = new LeaderGuard({ election, clock, logger, onFatal: (reason) => fatal.push(reason), stallMillis: 50 });
      election.confirmation = async () => {
        throw new Error('the leader election has no connected session');
      };
      standStill(80);
      expect(stallGuard.available()).toBe(false);
      await new Promise((r) => setTimeout(r, 450));
      expect(election.confirms).toBeGreaterThanOrEqual(2);
      expect(stallGuard.available()).toBe(false);
      election.emit('lost', 'its ZooKeeper session expired');
      expect(fatal.some((reason) => /session expired/.test(reason))).toBe(true);
    });

    it('does not pause for gaps shorter than stallMillis', () => {
      stallGuard = new LeaderGuard({ election, clock, logger, onFatal: (reason) => fatal.push(reason), stallMillis: 1000 });
      standStill(30);
      expect(stallGuard.available()).toBe(true);
      expect(election.confirms).toBe(0);
    });
  });

  it('ignores failures once it stood down for a clean shutdown', () => {
    guard.standDown();
    storeConnection.fire('expired');
    election.emit('lost', 'closed');
    expect(fatal).toEqual([]);
  });
});
