import { mkdirSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import type { AgentKillRequest, AgentLaunchRequest, AgentRegistration, AgentTaskReport } from '@singularity/models';
import type { Logger } from '@singularity/node-util';
import { UnavailableError, systemClock, type Clock } from '@singularity/util';
import type { AgentConfig } from './agent-config';
import { createAgentHttpServer, type AgentHealth, type AgentOperations } from './agent-http.server';
import { SandboxFiles } from './sandbox-files';
import { reportTaskCgroups } from './cgroup-probe';
import { TaskStatisticsReader } from './task-statistics';
import { AgentHousekeeping } from './agent-housekeeping';
import { loadOrCreateAgentId, lockDataDir } from './agent-identity';
import { executorsDir, finishedExecutorsDir } from './control-files';
import { checkExecutorConfig, writeExecutorConfig } from './executor-config-file';
import { HttpSchedulerLink, type SchedulerLink } from './scheduler-link';
import { SchedulerSession } from './scheduler-session';
import { StatusRelay } from './status-relay';
import { TaskLauncher } from './task-launcher';
import { TaskTable } from './task-table';

export interface AgentDependencies {
  logger: Logger;
  /** Defaults to HTTP at `config.schedulerUrl`. */
  schedulerLink?: SchedulerLink;
  clock?: Clock;
}

/**
 * The node agent (our Mesos agent): one per machine. `start()` recovers the
 * task table from the data directory, re-attaches running executors, serves
 * the HTTP API, relays status updates and registers with the scheduler;
 * `stop()` leaves executors running unless `killTasksOnShutdown` is set.
 */
export class Agent implements AgentOperations {
  private readonly logger: Logger;
  private readonly clock: Clock;
  private readonly link: SchedulerLink;
  private readonly table: TaskTable;
  private http?: FastifyInstance;
  private relay?: StatusRelay;
  private launcher?: TaskLauncher;
  private session?: SchedulerSession;
  private housekeeping?: AgentHousekeeping;
  private lock?: { release(): void };
  private stopping = false;
  private stopped?: Promise<void>;
  private boundPort = 0;
  private id = '';

  constructor(
    readonly config: AgentConfig,
    deps: AgentDependencies,
  ) {
    this.logger = deps.logger;
    this.clock = deps.clock ?? systemClock;
    this.link = deps.schedulerLink ?? new HttpSchedulerLink(config.schedulerUrl, config.schedulerTimeoutMillis);
    this.table = new TaskTable(config.dataDir, this.logger, this.clock);
  }

  get agentId(): string {
    return this.id;
  }

  /** The port the HTTP server listens on (the real one when `httpPort` is 0). */
  get port(): number {
    return this.boundPort;
  }

  async start(): Promise<void> {
    const config = this.config;
    for (const dir of [config.dataDir, executorsDir(config.dataDir), finishedExecutorsDir(config.dataDir), config.sandboxRoot]) mkdirSync(dir, { recursive: true });
    this.lock = lockDataDir(config.dataDir);
    const identity = loadOrCreateAgentId(config.dataDir);
    this.id = identity.agentId;
    const logger = this.logger;
    let executorConfigFile: string;
    try {
      executorConfigFile = writeExecutorConfig(config.dataDir, config.executorConfigFile);
      if (config.checkExecutorConfig) checkExecutorConfig(config.executorCommand, executorConfigFile);
    } catch (err) {
      this.lock.release();
      throw err;
    }
    await reportTaskCgroups(executorConfigFile, logger); // says once when tasks run without cgroups

    this.relay = new StatusRelay(
      this.table,
      this.link,
      { agentId: this.id, pollMillis: config.statusPollMillis, retryMillis: config.statusRetryMillis, maxRetryMillis: config.maxRetryMillis, batchSize: config.statusBatchSize },
      logger.child({ component: 'status-relay' }),
      this.clock,
    );
    this.launcher = new TaskLauncher(
      this.table,
      this.relay,
      {
        dataDir: config.dataDir,
        sandboxRoot: config.sandboxRoot,
        executorCommand: config.executorCommand,
        executorConfigFile,
        defaultSigKillProcessesAfterMillis: config.defaultSigKillProcessesAfterMillis,
        executorCheckMillis: config.executorCheckMillis,
        executorKillMarginMillis: config.executorKillMarginMillis,
      },
      logger.child({ component: 'launcher' }),
      this.clock,
    );

    // Recover before anything can launch or report: registration carries this task list.
    const recovered = this.table.recover();
    this.launcher.reattach(recovered);
    this.housekeeping = new AgentHousekeeping(config, executorConfigFile, this.table, logger, this.clock);

    const statistics = new TaskStatisticsReader((taskId) => this.table.get(taskId)?.definition);
    this.http = createAgentHttpServer(this, logger, new SandboxFiles(config.sandboxRoot, config.hostname), statistics);
    try {
      await this.http.listen({ host: config.listenHost, port: config.httpPort });
    } catch (err) {
      this.lock.release();
      throw err;
    }
    const address = this.http.server.address();
    this.boundPort = typeof address === 'object' && address ? address.port : config.httpPort;

    this.launcher.start();
    this.relay.start();
    this.housekeeping.start();
    this.session = new SchedulerSession(
      this.link,
      () => this.registration(),
      () => this.table.report(),
      { registerRetryMillis: config.registerRetryMillis, maxRetryMillis: config.maxRetryMillis },
      logger.child({ component: 'scheduler-session' }),
      () => this.relay?.wake(),
    );
    this.session.start();

    logger.info(
      {
        agentId: this.id,
        newAgentId: identity.created,
        listen: `http://${config.listenHost}:${this.boundPort}`,
        address: `${config.address}:${this.boundPort}`,
        dataDir: config.dataDir,
        sandboxRoot: config.sandboxRoot,
        executorConfig: executorConfigFile,
        schedulerUrl: config.schedulerUrl,
        resources: { cpus: config.cpus, memoryMb: config.memoryMb, diskMb: config.diskMb },
        portRange: config.portRange,
        rackId: config.rackId,
        recoveredTasks: recovered.length,
      },
      `agent ${this.id} listening on ${config.listenHost}:${this.boundPort} (reachable at ${config.address}:${this.boundPort}); data in ${config.dataDir}; scheduler at ${config.schedulerUrl}; ${recovered.length} task(s) recovered`,
    );
  }

  /** Resolves once the scheduler accepted this agent's registration. */
  whenRegistered(): Promise<void> {
    if (!this.session) return Promise.reject(new Error('the agent is not started'));
    return this.session.whenRegistered();
  }

  /**
   * Stops accepting launches. With `killTasksOnShutdown` it kills every task,
   * waits (at most the longest grace + 5 s) for their terminal records and
   * tries to relay them (at most `shutdownRelayTimeoutMillis`); otherwise
   * executors keep running for the next agent to re-attach. Safe to call twice.
   */
  stop(): Promise<void> {
    this.stopped ??= this.doStop();
    return this.stopped;
  }

  private async doStop(): Promise<void> {
    this.stopping = true;
    const config = this.config;
    if (this.launcher && this.relay) {
      if (config.killTasksOnShutdown) await this.killAllTasks();
      // Without killing, whatever is not relayed now waits safely on disk for the next start: keep it short.
      const relayed = await this.relay.drain(config.killTasksOnShutdown ? config.shutdownRelayTimeoutMillis : Math.min(config.shutdownRelayTimeoutMillis, 2000));
      if (!relayed) this.logger.warn({ waiting: this.relay.pendingCount() }, 'stopping with status updates not yet acknowledged; they are relayed after the next start');
    }
    await this.session?.stop();
    await this.relay?.stop();
    this.launcher?.stop();
    this.housekeeping?.stop();
    await this.http?.close();
    this.lock?.release();
    const left = this.table.list().filter((e) => !e.executorGone).length;
    this.logger.info({ runningExecutors: left }, left > 0 ? `agent stopped; ${left} executor(s) keep running` : 'agent stopped');
  }

  private async killAllTasks(): Promise<void> {
    const launcher = this.launcher as TaskLauncher;
    const relay = this.relay as StatusRelay;
    const live = this.table.list().filter((e) => e.terminalSeq === undefined && !e.executorGone);
    if (live.length === 0) return;
    let grace = 0;
    for (const entry of live) {
      const request: AgentKillRequest = { message: 'The agent is shutting down', user: 'agent' };
      grace = Math.max(grace, launcher.killGraceMillis(entry, request));
      launcher.kill(entry.taskId, request);
    }
    this.logger.info({ tasks: live.length, waitMillis: grace + 5000 }, `shutting down: killed ${live.length} task(s); waiting for their ends`);
    const deadline = Date.now() + grace + 5000;
    for (;;) {
      for (const entry of live) if (entry.terminalSeq === undefined) relay.collect(entry);
      launcher.checkExecutors();
      const waiting = live.filter((e) => e.terminalSeq === undefined);
      if (waiting.length === 0) return;
      if (Date.now() >= deadline) {
        this.logger.warn({ tasks: waiting.map((e) => e.taskId) }, 'tasks did not report an end within the grace period; stopping anyway');
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  private registration(): AgentRegistration {
    const c = this.config;
    return {
      agentId: this.id,
      hostname: c.hostname,
      address: c.address,
      port: this.boundPort,
      rackId: c.rackId,
      attributes: c.attributes,
      resources: { cpus: c.cpus, memoryMb: c.memoryMb, diskMb: c.diskMb },
      portRange: c.portRange,
      version: c.version,
      tasks: this.table.report(),
    };
  }

  // ---- AgentOperations (the HTTP API) ----

  health(): AgentHealth {
    return { ok: !this.stopping, agentId: this.id, tasks: this.table.size, registered: this.session?.registered ?? false, stopping: this.stopping, version: this.config.version };
  }

  tasks(): AgentTaskReport[] {
    return this.table.report();
  }

  launch(request: AgentLaunchRequest): { launched: boolean; task?: AgentTaskReport } {
    const launcher = this.requireLauncher();
    const known = this.table.get(request.spec.taskId);
    if (known || this.table.isFinished(request.spec.taskId)) {
      this.logger.info({ taskId: request.spec.taskId }, 'launch of a known task ignored');
      return { launched: false, task: this.table.report().find((t) => t.taskId === request.spec.taskId) };
    }
    if (this.stopping) throw new UnavailableError('The agent is shutting down and accepts no launches');
    const outcome = launcher.launch(request.spec);
    return { launched: outcome.launched, task: this.table.report().find((t) => t.taskId === request.spec.taskId) };
  }

  kill(taskId: string, request: AgentKillRequest): 'killing' | 'finished' | 'unknown' {
    return this.requireLauncher().kill(taskId, request);
  }

  private requireLauncher(): TaskLauncher {
    if (!this.launcher) throw new UnavailableError('The agent is starting');
    return this.launcher;
  }
}
