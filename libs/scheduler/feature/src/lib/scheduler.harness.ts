import type { AgentKillRequest, AgentRegistration, ExecutorLaunchSpec, TaskStatusRecord } from '@singularity/models';
import { createLogger } from '@singularity/node-util';
import { InMemoryStateStore, type StateStore } from '@singularity/scheduler-state';
import { DEFAULT_COOLDOWN_SETTINGS, DEFAULT_SCHEDULER_SETTINGS } from '@singularity/scheduler-core';
import { DEFAULT_VALIDATION_LIMITS } from '@singularity/models';
import { ManualClock } from '@singularity/util';
import type { AgentAddress, AgentGateway } from './agent-gateway';
import { ManualTimers } from './health';
import { SchedulerRuntime } from './scheduler-runtime';
import type { SchedulerConfigSettings } from './scheduler-context';
import type { HistoryRepository } from '@singularity/scheduler-history';
import type { LoadBalancerClient } from './load-balancer';

/**
 * A FakeAgentGateway: records launches and kills instead of calling agents
 * over HTTP. Agents' answers are simulated by the test through `report()`.
 */
export class FakeAgentGateway implements AgentGateway {
  readonly launches: Array<{ agentId: string; spec: ExecutorLaunchSpec }> = [];
  readonly kills: Array<{ agentId: string; taskId: string; request: AgentKillRequest }> = [];
  unreachable = new Set<string>();

  async launch(agent: AgentAddress, spec: ExecutorLaunchSpec): Promise<void> {
    if (this.unreachable.has(agent.agentId)) throw new Error(`agent ${agent.agentId} unreachable`);
    this.launches.push({ agentId: agent.agentId, spec });
  }

  async kill(agent: AgentAddress, taskId: string, request: AgentKillRequest): Promise<'ok' | 'unknown'> {
    this.kills.push({ agentId: agent.agentId, taskId, request });
    return 'ok';
  }
}

/**
 * The scheduler harness (conventions §10): the real runtime over a state store,
 * a manual clock, and a recording gateway. Tests drive ticks and agent reports
 * and assert both what was sent to agents and the resulting state.
 */
export class SchedulerHarness {
  private seq = new Map<string, number>();

  private constructor(
    readonly runtime: SchedulerRuntime,
    readonly clock: ManualClock,
    readonly gateway: FakeAgentGateway,
    readonly store: StateStore,
    /** Timers of the health checks, on the harness clock: `advance` fires the due checks. */
    readonly timers: ManualTimers,
  ) {}

  static async create(
    options: {
      store?: StateStore;
      clock?: ManualClock;
      gateway?: FakeAgentGateway;
      history?: HistoryRepository;
      loadBalancer?: LoadBalancerClient;
      lbGraceMillis?: number;
      settings?: Partial<SchedulerConfigSettings>;
    } = {},
  ): Promise<SchedulerHarness> {
    const clock = options.clock ?? new ManualClock();
    const gateway = options.gateway ?? new FakeAgentGateway();
    const store = options.store ?? new InMemoryStateStore();
    const timers = new ManualTimers(clock);
    const runtime = await SchedulerRuntime.open({
      timers,
      history: options.history,
      loadBalancer: options.loadBalancer,
      store,
      clock,
      gateway,
      logger: createLogger('scheduler-test', {}, process.env.LOG_LEVEL ?? 'warn'),
      settings: { ...DEFAULT_SCHEDULER_SETTINGS, ...DEFAULT_COOLDOWN_SETTINGS, heartbeatIntervalMillis: 5000, agentHeartbeatTimeoutSeconds: 60, startNewReconcileEverySeconds: 600, deleteDeadAgentsAfterHours: 168, persistHistoryEverySeconds: 120, loadBalancerRemovalGracePeriodMillis: options.lbGraceMillis ?? 0, agentReregisterTimeoutSeconds: 600, tickDebounceMillis: 0, ...options.settings },
      limits: DEFAULT_VALIDATION_LIMITS,
    });
    return new SchedulerHarness(runtime, clock, gateway, store, timers);
  }

  async registerAgent(overrides: Partial<AgentRegistration> = {}): Promise<string> {
    const agentId = overrides.agentId ?? 'agent-1';
    await this.runtime.agents.register({
      agentId,
      hostname: overrides.hostname ?? agentId,
      address: '127.0.0.1',
      port: 5051,
      rackId: 'DEFAULT',
      attributes: {},
      resources: { cpus: 8, memoryMb: 16384, diskMb: 100000 },
      portRange: { begin: 31000, end: 31999 },
      version: 'test',
      tasks: [],
      ...overrides,
    });
    return agentId;
  }

  /** Simulates a heartbeat from an agent at the current manual time. */
  async heartbeat(agentId = 'agent-1', tasks?: Array<{ taskId: string; state: string }>): Promise<void> {
    await this.runtime.agents.heartbeat(agentId, tasks ? { tasks } : {});
  }

  /** Moves time on by `millis`, running the health checks that fall due, and waits for them. */
  async advance(millis: number): Promise<void> {
    const until = this.clock.now() + millis;
    // Checks schedule their next check only once their HTTP call ended: fire, wait, repeat.
    for (let next = this.timers.nextDueAt(); next !== undefined && next <= until; next = this.timers.nextDueAt()) {
      this.timers.advance(Math.max(0, next - this.clock.now()));
      await this.runtime.scheduler.health.idle();
    }
    this.clock.set(until);
    await this.runtime.ctx.state.flush();
  }

  /** One scheduling round at the current manual time. */
  async tick(): Promise<void> {
    await this.runtime.scheduler.tick();
  }

  /** Simulates the agent relaying one status update for a task. */
  async report(taskId: string, state: TaskStatusRecord['state'], message?: string): Promise<void> {
    const agentId = this.runtime.ctx.state.getTask(taskId)?.task.mesosTask.agentId.value ?? 'agent-1';
    const seq = (this.seq.get(taskId) ?? 0) + 1;
    this.seq.set(taskId, seq);
    await this.runtime.agents.statusUpdates(agentId, { updates: [{ seq, taskId, state, message, timestamp: this.clock.now() }] });
  }

  /** Launched task ids not yet reported on, oldest first. */
  launchedIds(): string[] {
    return this.gateway.launches.map((l) => l.spec.taskId);
  }

  activeTaskIds(requestId?: string): string[] {
    return this.runtime.tasks
      .active()
      .filter((t) => !requestId || t.taskId.requestId === requestId)
      .map((t) => t.taskId.id)
      .sort();
  }

  async stop(): Promise<void> {
    await this.runtime.stop();
  }
}
