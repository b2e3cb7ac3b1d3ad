import { mkdir, writeFile } from 'node:fs/promises';
import type { AgentKillRequest, ExecutorTaskDefinition, TaskStatusRecord } from '@singularity/models';
import type { Logger } from '@singularity/node-util';
import { systemClock, type Clock } from '@singularity/util';
import type { ArtifactStager } from './artifact-stager';
import { artifactStagers } from './artifacts';
import { renderDeployEnv } from './deploy-env';
import { executorConfig, type ExecutorConfig } from './executor-config';
import { errorLabel, errorMessage, StagingAbortedError, TaskFailureError } from './executor-errors';
import { markTeardownCompleted, writeGlobalTaskDefinition } from './global-task-definition';
import { ProcessKiller, type KillOrder } from './process-killer';
import { renderRunnerScript, runnerScriptOptions } from './runner-script';
import { sandboxPath } from './sandbox-layout';
import type { StatusWriter } from './status-writer';
import { sigKillGraceMillis, successfulExitCodes } from './task-definition';
import { createTaskIsolation, NO_ISOLATION, type TaskIsolation } from './task-isolation';
import { TaskLogs } from './task-logs';
import { TaskProcess } from './task-process';
import { startThreadChecker } from './thread-checker';
import {
  killedBeforeStartUpdate,
  runningMessage,
  stagingFailedUpdate,
  stagingLostUpdate,
  startingMessage,
  terminalUpdateFor,
  type StatusUpdate,
} from './task-status-messages';

/**
 * Environment variables of the executor itself that must not leak into the
 * task: its log destination and the TypeScript loader's project (tools/register.js).
 */
const EXECUTOR_ONLY_ENV = ['LOG_FILE', 'SWC_NODE_PROJECT'];

/** How long to wait for leftovers of the task's process group to die after the final SIGKILL. */
export const DEFAULT_LEFTOVER_KILL_TIMEOUT_MILLIS = 2000;

export interface TaskExecutorOptions {
  definition: ExecutorTaskDefinition;
  status: StatusWriter;
  logger: Logger;
  clock?: Clock;
  /** The executor's configuration (spec slave §1.10); every default when left out. */
  config?: ExecutorConfig;
  /** Replaces the configured artifact stagers (tests). */
  stagers?: readonly ArtifactStager[];
  /** Reported in TASK_STARTING; defaults to this process. */
  executorPid?: number;
  /** Environment the runner inherits before the task's own `env`; defaults to this process's. */
  baseEnv?: NodeJS.ProcessEnv;
  leftoverKillTimeoutMillis?: number;
}

type Phase = 'created' | 'staging' | 'running' | 'exited' | 'done';

/**
 * Runs one task from its definition to its single terminal status update
 * (spec slave §1.4): STARTING, stage artifacts, write deploy.env and
 * runner.sh, spawn the runner, RUNNING, wait for the exit, clean up the
 * process group, terminal update. `kill()` may come at any time.
 */
export class TaskExecutor {
  private phase: Phase = 'created';
  private readonly abort = new AbortController();
  /** A kill that arrived before the process existed. */
  private pendingKill?: AgentKillRequest;
  private process?: TaskProcess;
  private killer?: ProcessKiller;
  private readonly clock: Clock;
  private readonly config: ExecutorConfig;
  private readonly stagers: readonly ArtifactStager[];
  private isolation: TaskIsolation = NO_ISOLATION;
  private logs?: TaskLogs;
  private threadLimit?: { used: number; max: number };

  constructor(private readonly options: TaskExecutorOptions) {
    this.clock = options.clock ?? systemClock;
    this.config = options.config ?? executorConfig();
    this.stagers = options.stagers ?? artifactStagers(this.config);
  }

  private get definition(): ExecutorTaskDefinition {
    return this.options.definition;
  }

  private get logger(): Logger {
    return this.options.logger;
  }

  /** The runner's pid (= its process group id) once it was spawned. */
  get processPid(): number | undefined {
    return this.process?.pid;
  }

  /** Resolves with the terminal record once it is written (undefined if the status file already had one). */
  async run(): Promise<TaskStatusRecord | undefined> {
    if (this.phase !== 'created') throw new Error('TaskExecutor.run() called twice');
    const existing = this.options.status.terminalRecord;
    if (existing) {
      this.logger.warn({ terminal: existing }, 'the status file already ends the task; not running it');
      this.phase = 'done';
      return undefined;
    }
    this.phase = 'staging';
    const executorPid = this.options.executorPid ?? process.pid;
    await this.writeGlobalDefinition(executorPid);
    await this.options.status.send({ state: 'TASK_STARTING', message: startingMessage(executorPid) });

    try {
      this.process = await this.stageAndSpawn();
    } catch (err) {
      return this.finishStaging(this.stagingFailure(err));
    }

    this.phase = 'running';
    const taskProcess = this.process;
    const killer = new ProcessKiller(taskProcess, this.logger, this.clock);
    this.killer = killer;
    if (this.pendingKill) killer.request(this.killOrder(this.pendingKill));
    this.logs?.started(taskProcess.pid);
    const threads = startThreadChecker({
      definition: this.definition,
      config: this.config,
      logger: this.logger,
      processPid: taskProcess.pid,
      onExceeded: (used, max) => {
        if (this.threadLimit) return;
        this.threadLimit = { used, max };
        this.logger.warn({ used, max }, 'the task uses more threads than maxTaskThreads: killing it');
        killer.request({ destroy: false, graceMillis: sigKillGraceMillis(this.definition) });
      },
    });
    await this.options.status.send({ state: 'TASK_RUNNING', message: runningMessage(taskProcess.pid) });

    const exit = await taskProcess.exited;
    this.phase = 'exited';
    killer.stop();
    threads.stop();
    this.logger.info({ exit }, 'runner exited');
    await taskProcess.killLeftovers(this.options.leftoverKillTimeoutMillis ?? DEFAULT_LEFTOVER_KILL_TIMEOUT_MILLIS);
    await this.isolation.killAll();
    const outOfMemory = await this.isolation.outOfMemory();
    const terminal = await this.finish(
      terminalUpdateFor({
        exitCode: exit.exitCode,
        exitedAt: exit.exitedAt,
        successfulExitCodes: successfulExitCodes(this.definition.executorData),
        kill: killer.facts(),
        threadLimit: this.threadLimit,
        outOfMemory,
      }),
    );
    await this.teardown();
    return terminal;
  }

  /** After the terminal update (spec slave §1.8): log teardown, then the cgroups go. Never throws. */
  private async teardown(): Promise<void> {
    try {
      const complete = this.logs ? await this.logs.finish() : true;
      if (complete) await markTeardownCompleted(this.config, this.definition.taskId);
    } catch (err) {
      this.logger.error({ err }, 'log teardown failed');
    }
    try {
      await this.isolation.release();
    } catch (err) {
      this.logger.error({ err }, 'could not release the task cgroups');
    }
  }

  /**
   * A kill or destroy request (spec slave §1.8). Before the process runs it
   * aborts staging; while it runs it goes to the process killer; after the
   * exit it is a no-op.
   */
  kill(request: AgentKillRequest = {}): void {
    this.logger.info({ request, phase: this.phase }, 'kill requested');
    switch (this.phase) {
      case 'created':
      case 'staging':
        // A destroy replaces a pending plain kill; otherwise the first one stays.
        if (!this.pendingKill || (request.destroy && !this.pendingKill.destroy)) this.pendingKill = request;
        this.abort.abort(new StagingAbortedError());
        return;
      case 'running':
        this.killer?.request(this.killOrder(request));
        return;
      default:
        this.logger.info('kill ignored: the task already exited');
    }
  }

  private killOrder(request: AgentKillRequest): KillOrder {
    return { destroy: request.destroy === true, user: request.user, graceMillis: sigKillGraceMillis(this.definition, request) };
  }

  private async stageAndSpawn(): Promise<TaskProcess> {
    const definition = this.definition;
    const data = definition.executorData;
    const sandbox = definition.sandboxDirectory;
    const signal = this.abort.signal;
    signal.throwIfAborted();
    // Render first: a bad env name or limit fails the task before anything is staged.
    const deployEnv = renderDeployEnv(definition.env);
    const runner = renderRunnerScript(runnerScriptOptions(definition, this.config));
    await mkdir(sandbox, { recursive: true });
    for (const stager of this.stagers) {
      signal.throwIfAborted();
      this.logger.info({ stager: stager.name }, 'staging');
      await stager.stage(data, { sandboxDirectory: sandbox, signal, logger: this.logger });
    }
    signal.throwIfAborted();
    await writeFile(sandboxPath(sandbox, 'deployEnv'), deployEnv, { mode: 0o644 });
    await writeFile(sandboxPath(sandbox, 'runnerScript'), runner, { mode: 0o755 });
    await writeFile(sandboxPath(sandbox, 'serviceLog'), '', { flag: 'a', mode: 0o644 });
    this.logger.info({ sandbox }, 'wrote deploy.env, runner.sh and service.log');
    signal.throwIfAborted();
    const context = { definition, config: this.config, logger: this.logger };
    this.logs = await TaskLogs.prepare(context);
    signal.throwIfAborted();
    this.isolation = await createTaskIsolation(context);
    signal.throwIfAborted();
    return TaskProcess.start({
      sandboxDirectory: sandbox,
      env: this.runnerEnv(),
      logger: this.logger,
      clock: this.clock,
      spawnPrefix: this.isolation.spawnPrefix,
    });
  }

  /**
   * Spec slave §1.4 step 2. Without it executor cleanup cannot find the task
   * should this executor die before its teardown; the task itself does not
   * need it, so a failure is logged and the task goes on.
   */
  private async writeGlobalDefinition(executorPid: number): Promise<void> {
    try {
      if (await writeGlobalTaskDefinition(this.config, this.definition, executorPid)) {
        this.logger.info({ directory: this.config.executor.globalTaskDefinitionDirectory }, 'wrote the task definition for executor cleanup');
      }
    } catch (err) {
      this.logger.error({ err }, 'could not write the task definition for executor cleanup; it will not clean up after this task');
    }
  }

  private runnerEnv(): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = { ...(this.options.baseEnv ?? process.env) };
    for (const name of EXECUTOR_ONLY_ENV) delete env[name];
    return { ...env, ...this.definition.env };
  }

  private stagingFailure(err: unknown): StatusUpdate {
    if (this.pendingKill) {
      this.logger.info({ err }, 'staging stopped by a kill');
      return killedBeforeStartUpdate();
    }
    if (err instanceof TaskFailureError) {
      this.logger.error({ err }, 'task failed while staging');
      return stagingFailedUpdate(err.message);
    }
    this.logger.error({ err }, 'unexpected error while staging');
    return stagingLostUpdate(errorLabel(err), errorMessage(err));
  }

  private async finish(update: StatusUpdate): Promise<TaskStatusRecord | undefined> {
    this.phase = 'done';
    return this.options.status.send(update);
  }

  /** A staging failure: the terminal update, then whatever was set up goes. */
  private async finishStaging(update: StatusUpdate): Promise<TaskStatusRecord | undefined> {
    const terminal = await this.finish(update);
    await this.teardown();
    return terminal;
  }
}
