import { existsSync } from 'node:fs';
import { lstat, mkdir, readdir, realpath, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { isTerminalTaskState, type SingularityTaskHistoryUpdate } from '@singularity/models';
import { isProcessAlive, writeJsonAtomic, type Logger } from '@singularity/node-util';
import { systemClock, type Clock } from '@singularity/util';
import { readGlobalTaskDefinitions, removeGlobalTaskDefinition, type GlobalTaskDefinition } from '../global-task-definition';
import { planLogrotate } from '../logrotate-config';
import { SANDBOX_FILES } from '../sandbox-layout';
import { TaskLogs } from '../task-logs';
import { compressLeftoverRotations } from './leftover-rotations';
import type { ExecutorCleanupConfig } from './executor-cleanup-config';

/** What one run found and did (spec slave §4 step 10); written as `<ms>.cleanup.json`. */
export interface ExecutorCleanupResult {
  totalTaskFiles: number;
  /** Tasks the scheduler lists as active on this agent (the original asked Mesos). */
  mesosRunningTasks: number;
  waitingTasks: number;
  runningTasksIgnored: number;
  successfullyCleanedTasks: number;
  ioErrorTasks: number;
  errorTasks: number;
  invalidTasks: number;
  errorMessage?: string;
}

/** How the cleanup asks the scheduler (spec slave §4 steps 1, 2, 4). */
export interface CleanupScheduler {
  /** This machine's agent id. */
  agentId(): Promise<string>;
  activeTaskIds(agentId: string): Promise<string[]>;
  /** The agent's state as the scheduler has it (`DECOMMISSIONED`, …); undefined when unknown. */
  agentState(agentId: string): Promise<string | undefined>;
  /** The task's updates; undefined when the scheduler knows nothing of it (404). */
  taskUpdates(taskId: string): Promise<SingularityTaskHistoryUpdate[] | undefined>;
}

export interface ExecutorCleanupOptions {
  config: ExecutorCleanupConfig;
  scheduler: CleanupScheduler;
  logger: Logger;
  clock?: Clock;
}

/** States after which `app/` is kept longer, for a post-mortem (spec slave §4 step 8). */
const FAILED_STATES: ReadonlySet<string> = new Set(['TASK_FAILED', 'TASK_LOST', 'TASK_ERROR']);

type TaskOutcome = 'success' | 'waiting' | 'error' | 'ioError';

export const SAFE_MODE_MESSAGE = 'Running in safe mode and found 0 running tasks - aborting cleanup';

/**
 * Executor cleanup (spec slave §4): a one-shot pass, run hourly, over the
 * task definitions the executors left in `globalTaskDefinitionDirectory`.
 * It finishes what a dead executor could not (rotation, upload metadata),
 * removes what a finished task no longer needs (`app/`, files marked
 * `deleteInExecutorCleanup`) and, once a task is done with, its definition.
 * It never touches a task the scheduler lists as active or whose executor
 * still runs, and it touches nothing at all when it cannot tell which tasks
 * are active (scheduler unreachable, or none listed on a live agent in safe
 * mode). `logs/` is never deleted here: the S3 uploader removes what it
 * shipped.
 */
export class ExecutorCleanup {
  private readonly clock: Clock;

  constructor(private readonly options: ExecutorCleanupOptions) {
    this.clock = options.clock ?? systemClock;
  }

  private get settings(): ExecutorCleanupConfig['executorCleanup'] {
    return this.options.config.executorCleanup;
  }

  private get logger(): Logger {
    return this.options.logger;
  }

  /** One pass; writes the result file when a results directory is configured. Throws only on a crash. */
  async run(): Promise<ExecutorCleanupResult> {
    const result = await this.clean();
    const directory = this.settings.executorCleanupResultsDirectory;
    if (directory) {
      await mkdir(directory, { recursive: true });
      const file = join(directory, `${this.clock.now()}${this.settings.executorCleanupResultsSuffix}`);
      await writeJsonAtomic(file, result);
      this.logger.info({ file }, 'wrote the cleanup results');
    }
    return result;
  }

  private async clean(): Promise<ExecutorCleanupResult> {
    const { globalTaskDefinitionDirectory, globalTaskDefinitionSuffix } = this.options.config.executor;
    const entries = await readGlobalTaskDefinitions(globalTaskDefinitionDirectory!, globalTaskDefinitionSuffix);
    const result: ExecutorCleanupResult = {
      totalTaskFiles: entries.length,
      mesosRunningTasks: 0,
      waitingTasks: 0,
      runningTasksIgnored: 0,
      successfullyCleanedTasks: 0,
      ioErrorTasks: 0,
      errorTasks: 0,
      invalidTasks: 0,
    };

    let agentId: string;
    let active: Set<string>;
    try {
      agentId = await this.options.scheduler.agentId();
      active = new Set(await this.options.scheduler.activeTaskIds(agentId));
    } catch (err) {
      result.errorMessage = `Could not tell which tasks are active, so nothing was cleaned: ${(err as Error).message}`;
      this.logger.error({ err }, result.errorMessage);
      return result;
    }
    result.mesosRunningTasks = active.size;

    if (active.size === 0) {
      const state = await this.options.scheduler.agentState(agentId).catch((err: unknown) => {
        this.logger.warn({ err, agentId }, 'could not read the agent state; taking it as not decommissioned');
        return undefined;
      });
      const decommissioned = state === 'DECOMMISSIONED';
      if (!decommissioned && this.settings.safeModeWontRunWithNoTasks) {
        result.errorMessage = SAFE_MODE_MESSAGE;
        this.logger.warn({ agentId, state }, result.errorMessage);
        return result;
      }
      if (decommissioned && !this.settings.cleanTasksWhenDecommissioned) {
        result.errorMessage = 'The agent is decommissioned and cleanTasksWhenDecommissioned is off - aborting cleanup';
        this.logger.warn({ agentId }, result.errorMessage);
        return result;
      }
    }
    if (this.settings.runDockerCleanup) this.logger.warn('runDockerCleanup: Docker containers are not supported by this executor; skipped');

    for (const entry of entries) {
      if ('error' in entry) {
        result.invalidTasks += 1;
        this.logger.warn({ file: entry.file, error: entry.error }, 'unreadable task definition; left in place');
        continue;
      }
      const { definition } = entry;
      if (active.has(definition.taskId) || isProcessAlive(definition.executorPid, definition.executorStartTime)) {
        result.runningTasksIgnored += 1;
        continue;
      }
      const outcome = await this.cleanTask(entry.file, definition);
      if (outcome === 'success') result.successfullyCleanedTasks += 1;
      else if (outcome === 'waiting') result.waitingTasks += 1;
      else if (outcome === 'ioError') result.ioErrorTasks += 1;
      else result.errorTasks += 1;
    }
    this.logger.info({ ...result }, 'executor cleanup done');
    return result;
  }

  private async cleanTask(file: string, definition: GlobalTaskDefinition): Promise<TaskOutcome> {
    const logger = this.logger.child({ taskId: definition.taskId });
    let updates: SingularityTaskHistoryUpdate[] | undefined;
    try {
      updates = await this.options.scheduler.taskUpdates(definition.taskId);
    } catch (err) {
      logger.error({ err }, 'could not read the task history; trying again next run');
      return 'error';
    }

    const sandbox = definition.sandboxDirectory;
    if (!existsSync(sandbox)) {
      // Nothing left to rotate or remove: only the configs that point at it.
      try {
        await this.removeRotationConfigs(definition);
        await removeGlobalTaskDefinition(file);
        logger.info({ sandbox }, 'the sandbox is gone: removed its rotation configs and the definition');
        return 'success';
      } catch (err) {
        logger.error({ err }, 'could not remove the configs of a task without sandbox');
        return 'ioError';
      }
    }

    try {
      await compressLeftoverRotations(join(sandbox, this.options.config.executor.logrotateToDirectory), this.settings.compressionType, logger);
    } catch (err) {
      logger.error({ err }, 'could not mend the rotated logs');
      return 'ioError';
    }

    if (!definition.teardownCompleted) {
      // The executor died before its teardown (spec slave §4 step 6): rotate and queue the upload now.
      logger.info('the executor did not finish its teardown: running it');
      const logs = await TaskLogs.forCleanup({ definition, config: this.options.config, logger }).catch((err: unknown) => {
        logger.error({ err }, 'cannot tear down the task logs');
        return undefined;
      });
      if (!logs || !(await logs.finish())) return 'ioError';
    }

    const last = lastUpdate(updates);
    const now = this.clock.now();
    const ended = last === undefined || (isTerminalTaskState(last.taskState) && now - last.timestamp >= this.settings.cleanupLogsAfterTaskEndMillis);
    if (!ended) {
      logger.info({ lastState: last?.taskState }, 'the task ended less than cleanupLogsAfterTaskEndMillis ago (or has not ended): waiting');
      return 'waiting';
    }
    try {
      await this.removeMarkedFiles(sandbox, logger);
    } catch (err) {
      logger.error({ err }, 'could not remove the files marked deleteInExecutorCleanup');
      return 'ioError';
    }

    const appOutcome = await this.removeApp(definition, last, now, logger);
    if (appOutcome !== 'success') return appOutcome;
    try {
      await removeGlobalTaskDefinition(file);
    } catch (err) {
      logger.error({ err }, 'could not remove the task definition');
      return 'ioError';
    }
    logger.info('cleaned');
    return 'success';
  }

  /** Spec slave §4 step 8. */
  private async removeApp(definition: GlobalTaskDefinition, last: SingularityTaskHistoryUpdate | undefined, now: number, logger: Logger): Promise<TaskOutcome> {
    if (definition.executorData.preserveTaskSandboxAfterFinish) return 'success';
    if (last && FAILED_STATES.has(last.taskState) && now - last.timestamp < this.settings.cleanupAppDirectoryOfFailedTasksAfterMillis) {
      logger.info({ lastState: last.taskState }, 'the task failed recently: keeping app/ for a post-mortem');
      return 'waiting';
    }
    const app = join(definition.sandboxDirectory, this.options.config.executor.taskAppDirectory);
    try {
      await rm(app, { recursive: true, force: true });
      return 'success';
    } catch (err) {
      logger.error({ err, app }, 'could not remove app/');
      return 'ioError';
    }
  }

  /** `logrotateAdditionalFiles` entries with `deleteInExecutorCleanup` (spec slave §4 step 7), matched inside T only. */
  private async removeMarkedFiles(sandbox: string, logger: Logger): Promise<void> {
    for (const entry of this.options.config.executor.logrotateAdditionalFiles) {
      if (!('deleteInExecutorCleanup' in entry) || !entry.deleteInExecutorCleanup) continue;
      for (const path of await matchInSandbox(sandbox, entry.filename)) {
        await rm(path, { force: true });
        logger.info({ path }, 'removed a file marked deleteInExecutorCleanup');
      }
    }
  }

  private async removeRotationConfigs(definition: GlobalTaskDefinition): Promise<void> {
    const settings = this.options.config.executor;
    const plan = planLogrotate({
      taskId: definition.taskId,
      sandboxDirectory: definition.sandboxDirectory,
      serviceLog: SANDBOX_FILES.serviceLog,
      frequency: definition.executorData.logrotateFrequency ?? settings.logrotateFrequency,
      additionalFiles: settings.logrotateAdditionalFiles,
      logrotateCommand: settings.logrotateCommand,
      settings,
    });
    for (const path of [...plan.confPaths, ...(plan.cron ? [plan.cron.path] : [])]) await rm(path, { force: true });
  }
}

function lastUpdate(updates: SingularityTaskHistoryUpdate[] | undefined): SingularityTaskHistoryUpdate | undefined {
  let last: SingularityTaskHistoryUpdate | undefined;
  for (const update of updates ?? []) if (!last || update.timestamp >= last.timestamp) last = update;
  return last;
}

/**
 * Files of `sandbox` matching `pattern` (relative; `*` and `?` in the last
 * part only). Patterns that would leave the sandbox match nothing.
 */
export async function matchInSandbox(sandbox: string, pattern: string): Promise<string[]> {
  const parts = pattern.split('/').filter((p) => p !== '' && p !== '.');
  if (pattern.startsWith('/') || parts.includes('..') || parts.length === 0) return [];
  const name = parts.pop()!;
  const directory = join(sandbox, ...parts);
  // A symlinked directory on the way must not lead out of T.
  const [realSandbox, realDirectory] = await Promise.all([realpath(sandbox), realpath(directory).catch(() => undefined)]);
  if (!realDirectory || (realDirectory !== realSandbox && !realDirectory.startsWith(`${realSandbox}/`))) return [];
  if (!/[*?]/.test(name)) {
    const path = join(directory, name);
    return (await lstat(path).then((s) => s.isFile(), () => false)) ? [path] : [];
  }
  const regex = new RegExp(`^${name.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]')}$`);
  const names = await readdir(directory).catch(() => [] as string[]);
  const matches: string[] = [];
  for (const candidate of names) {
    if (!regex.test(candidate)) continue;
    const path = join(directory, candidate);
    if (await lstat(path).then((s) => s.isFile(), () => false)) matches.push(path);
  }
  return matches;
}
