import type { ValidationLimits } from '@singularity/models';
import type { Logger } from '@singularity/node-util';
import type { StateStore } from '@singularity/scheduler-state';
import type { Clock } from '@singularity/util';
import { AgentService } from './agent.service';
import type { AgentGateway } from './agent-gateway';
import type { TimerPort } from './health';
import type { LoadBalancerClient } from './load-balancer';
import { WebhookDispatcher, WebhookService, type WebhookDispatcherOptions } from './webhooks';
import { InMemoryHistoryRepository, type HistoryPurgingConfig, type HistoryRepository } from '@singularity/scheduler-history';
import { HistoryPersister } from './history-persister';
import { HistoryService } from './history.service';
import { SandboxService } from './sandbox.service';
import { DeployService } from './deploy.service';
import { MachineService } from './machine.service';
import type { ReadModels } from './read-models';
import { RequestService } from './request.service';
import type { SchedulerConfigSettings, SchedulerContext } from './scheduler-context';
import { SchedulerState } from './scheduler-state';
import { TaskService } from './task.service';
import { TaskScheduler } from './task-scheduler';

export interface SchedulerRuntimeOptions {
  store: StateStore;
  clock: Clock;
  logger: Logger;
  settings: SchedulerConfigSettings;
  limits: ValidationLimits;
  gateway: AgentGateway;
  /** Timers of the health checks (default: real ones; tests pass manual ones). */
  timers?: TimerPort;
  /** The load balancer (spec §3.5); off when absent (`loadBalancerUri` unset). */
  loadBalancer?: LoadBalancerClient;
  /** The SQL history (spec §3.6); an in-memory one when absent (tests, no database). */
  history?: HistoryRepository;
  /** `historyPurging` (spec §5); purging is off by default. */
  historyPurging?: HistoryPurgingConfig;
  /** Webhook delivery (spec §3.6, §5): settings and poster; defaults when absent. */
  webhooks?: WebhookDispatcherOptions;
  /** High availability (docs/high-availability.md): the loop's pause switch and the instances for `/state`. */
  paused?: SchedulerContext['paused'];
  hostStates?: SchedulerContext['hostStates'];
}

/**
 * The scheduler's composition root below HTTP: loads live state from the
 * store, then wires the scheduling loop and the services the controllers call.
 */
export class SchedulerRuntime {
  readonly startedAt: number;
  private constructor(
    readonly ctx: SchedulerContext,
    readonly scheduler: TaskScheduler,
    readonly requests: RequestService,
    readonly deploys: DeployService,
    readonly tasks: TaskService,
    readonly agents: AgentService,
    readonly machines: MachineService,
    readonly read: ReadModels,
    readonly webhooks: WebhookService,
    readonly webhookDispatcher: WebhookDispatcher,
    readonly history: HistoryService,
    readonly historyPersister: HistoryPersister,
    readonly sandbox: SandboxService,
    private readonly store: StateStore,
    private readonly historyRepository: HistoryRepository,
  ) {
    this.startedAt = ctx.clock.now();
  }

  static async open(options: SchedulerRuntimeOptions): Promise<SchedulerRuntime> {
    await options.store.open();
    const state = new SchedulerState(options.store);
    await state.load();
    const ctx: SchedulerContext = { state, clock: options.clock, logger: options.logger, settings: options.settings, paused: options.paused, hostStates: options.hostStates };
    const scheduler = new TaskScheduler(ctx, options.gateway, options.timers, options.loadBalancer);
    options.logger.info(
      { store: options.store.describe(), requests: state.requests.size, activeTasks: state.tasks.size, agents: state.agents.size },
      'live state loaded',
    );
    const webhooks = new WebhookService(ctx);
    const historyRepository = options.history ?? new InMemoryHistoryRepository();
    const history = new HistoryService(ctx, historyRepository, (taskId) => scheduler.lb.updatesOf(taskId));
    return new SchedulerRuntime(
      ctx,
      scheduler,
      new RequestService(ctx, scheduler, options.limits),
      new DeployService(ctx, scheduler, options.limits),
      new TaskService(ctx, scheduler),
      new AgentService(ctx, scheduler),
      new MachineService(ctx, scheduler),
      scheduler.read,
      webhooks,
      new WebhookDispatcher(ctx, { timers: options.timers, ...options.webhooks }),
      history,
      new HistoryPersister(ctx, historyRepository, options.historyPurging, (taskId) => scheduler.lb.updatesOf(taskId)),
      new SandboxService(ctx, history),
      options.store,
      historyRepository,
    );
  }

  /** Starts the scheduling loop (the leader's work). */
  start(): void {
    this.scheduler.start();
    this.webhookDispatcher.start();
    this.historyPersister.start();
  }

  async stop(): Promise<void> {
    await this.scheduler.stop();
    await this.webhookDispatcher.stop();
    await this.historyPersister.stop();
    // A last move of what finished, so a clean stop leaves the history complete.
    await this.historyPersister.persistOnce();
    await this.ctx.state.flush().catch(() => undefined);
    await this.store.close();
    await this.historyRepository.close();
  }
}
