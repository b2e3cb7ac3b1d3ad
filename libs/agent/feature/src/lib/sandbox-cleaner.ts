import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { basename, isAbsolute, join, relative } from 'node:path';
import { isTerminalTaskState, safeTaskId, type ExecutorTaskDefinition, type AgentReportedTaskState } from '@singularity/models';
import type { Logger } from '@singularity/node-util';
import { systemClock, type Clock } from '@singularity/util';
import { FINISHED_AT_FILE, controlPaths, finishedExecutorsDir, readJsonIfPresent, readStatusRecords } from './control-files';

export interface SandboxCleanerOptions {
  dataDir: string;
  /** The executors' `taskAppDirectory` (`app`), relative to T. */
  appDirectory: string;
  /** Delay after the acknowledged end before `T/app` goes (spec slave §4 step 8: 15 minutes). */
  appCleanupDelayMillis: number;
  /** The same for failed tasks (TASK_FAILED, TASK_LOST, TASK_ERROR): `cleanupAppDirectoryOfFailedTasksAfterMillis`. */
  failedAppCleanupDelayMillis: number;
  /** After this the whole sandbox and the finished control directory go. */
  retentionMillis: number;
  /**
   * The executors' `globalTaskDefinitionDirectory` and suffix: a task's
   * definition goes with its sandbox, so that they do not pile up where no
   * executor cleanup runs (it would drop them too, once the sandbox is gone).
   */
  taskDefinitions?: { directory: string; suffix: string };
}

/** States after which `app/` is kept longer, for a post-mortem (the original's `isFailed()`). */
const FAILED_STATES: ReadonlySet<string> = new Set<AgentReportedTaskState>(['TASK_FAILED', 'TASK_LOST', 'TASK_ERROR']);

/** Never wait longer than this between sweeps, whatever is due (clock changes, files changed by hand). */
const MAX_SLEEP_MILLIS = 60 * 60 * 1000;
/** After a failed removal, try again this much later. */
const RETRY_MILLIS = 60 * 1000;

/** What the cleaner knows about one task in `executors-finished/`, all derived from its control directory. */
interface FinishedTask {
  controlDirectory: string;
  taskId?: string;
  /** T, when task.json names one that is safe to delete. */
  sandboxDirectory?: string;
  /** When the end was acknowledged (the control directory moved). */
  finishedAt: number;
  failed: boolean;
  preserveApp: boolean;
  appRemoved: boolean;
  retryAt?: number;
}

export interface SweepReport {
  /** Task ids whose `app/` was removed. */
  appsRemoved: string[];
  /** Control directories removed with their sandboxes. */
  removed: string[];
}

/**
 * Sandbox clean-up on the agent (issue 4 item 6, spec slave §4 step 8 and
 * §1.8 "the sandbox to the agent's GC"). Once a task's end is acknowledged
 * and its control directory is in `executors-finished/`:
 *
 *   finishedAt + appCleanupDelayMillis (failed: failedAppCleanupDelayMillis)  → rm -r T/app
 *                                                    unless preserveTaskSandboxAfterFinish
 *   finishedAt + retentionMillis                     → rm -r T and the control directory
 *
 * Until then the sandbox stays browsable through the agent and the scheduler.
 * Nothing is stored besides the control directories: `start()` derives the
 * pending work from them (task.json, status.jsonl, `finished-at`), so a
 * restarted agent still does it.
 */
export class SandboxCleaner {
  private readonly tasks = new Map<string, FinishedTask>();
  private timer?: NodeJS.Timeout;
  private stopped = true;
  private sweeping?: Promise<SweepReport>;

  constructor(
    private readonly options: SandboxCleanerOptions,
    private readonly logger: Logger,
    private readonly clock: Clock = systemClock,
  ) {}

  /** Loads every finished task, sweeps what is overdue, then sleeps until the next thing is due. */
  start(): void {
    this.stopped = false;
    this.recover();
    void this.sweepAndArm();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Reads `executors-finished/*`; returns how many tasks wait for a clean-up. */
  recover(): number {
    const root = finishedExecutorsDir(this.options.dataDir);
    let names: string[] = [];
    try {
      names = readdirSync(root);
    } catch {
      // No finished task yet.
    }
    for (const name of names) this.load(join(root, name));
    this.logger.info({ tasks: this.tasks.size }, 'finished tasks waiting for sandbox clean-up');
    return this.tasks.size;
  }

  /** A task's end was acknowledged: its control directory is now `controlDirectory` (in executors-finished/). */
  taskFinished(controlDirectory: string): void {
    const task = this.load(controlDirectory);
    if (task) this.logger.info({ taskId: task.taskId, failed: task.failed, preserveApp: task.preserveApp, ...this.dueTimes(task) }, 'sandbox clean-up scheduled');
    this.arm();
  }

  /** Does whatever is due now; one sweep at a time. */
  sweep(): Promise<SweepReport> {
    this.sweeping ??= Promise.resolve()
      .then(() => this.doSweep())
      .finally(() => (this.sweeping = undefined));
    return this.sweeping;
  }

  private async sweepAndArm(): Promise<void> {
    try {
      await this.sweep();
    } catch (err) {
      this.logger.error({ err }, 'sandbox clean-up failed');
    }
    this.arm();
  }

  private arm(): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    const now = this.clock.now();
    let next = now + MAX_SLEEP_MILLIS;
    for (const task of this.tasks.values()) next = Math.min(next, this.nextDue(task));
    this.timer = setTimeout(() => void this.sweepAndArm(), Math.max(0, next - now));
    this.timer.unref();
  }

  private dueTimes(task: FinishedTask): { appDueAt?: number; removeAt: number } {
    const appDelay = task.failed ? this.options.failedAppCleanupDelayMillis : this.options.appCleanupDelayMillis;
    return {
      appDueAt: task.preserveApp || task.appRemoved ? undefined : task.finishedAt + appDelay,
      removeAt: task.finishedAt + this.options.retentionMillis,
    };
  }

  private nextDue(task: FinishedTask): number {
    const { appDueAt, removeAt } = this.dueTimes(task);
    const due = Math.min(appDueAt ?? Infinity, removeAt);
    return task.retryAt !== undefined ? Math.max(due, task.retryAt) : due;
  }

  private doSweep(): SweepReport {
    const now = this.clock.now();
    const report: SweepReport = { appsRemoved: [], removed: [] };
    for (const task of [...this.tasks.values()]) {
      if (task.retryAt !== undefined && now < task.retryAt) continue;
      const { appDueAt, removeAt } = this.dueTimes(task);
      try {
        if (now >= removeAt) {
          if (task.sandboxDirectory) rmSync(task.sandboxDirectory, { recursive: true, force: true });
          rmSync(task.controlDirectory, { recursive: true, force: true });
          const definitions = this.options.taskDefinitions;
          if (definitions && task.taskId) rmSync(join(definitions.directory, `${safeTaskId(task.taskId)}${definitions.suffix}`), { force: true });
          this.tasks.delete(task.controlDirectory);
          report.removed.push(task.controlDirectory);
          this.logger.info({ taskId: task.taskId, sandbox: task.sandboxDirectory }, 'sandbox retention over: removed the sandbox and the control directory');
        } else if (appDueAt !== undefined && now >= appDueAt && task.sandboxDirectory) {
          rmSync(join(task.sandboxDirectory, this.options.appDirectory), { recursive: true, force: true });
          task.appRemoved = true;
          report.appsRemoved.push(task.taskId ?? task.controlDirectory);
          this.logger.info({ taskId: task.taskId, failed: task.failed }, `removed ${this.options.appDirectory}/ of a finished task`);
        }
        task.retryAt = undefined;
      } catch (err) {
        task.retryAt = now + RETRY_MILLIS;
        this.logger.warn({ err, taskId: task.taskId }, 'sandbox clean-up failed; trying again later');
      }
    }
    return report;
  }

  /** Derives a task's clean-up from its finished control directory. */
  private load(controlDirectory: string): FinishedTask | undefined {
    let info;
    try {
      info = statSync(controlDirectory);
    } catch {
      return undefined;
    }
    if (!info.isDirectory()) return undefined;
    const definition = readJsonIfPresent<ExecutorTaskDefinition>(join(controlDirectory, 'task.json'));
    const taskId = typeof definition?.taskId === 'string' ? definition.taskId : undefined;
    const sandboxDirectory = taskId ? this.deletableSandbox(taskId, definition?.sandboxDirectory) : undefined;
    const paths = controlPaths(controlDirectory, sandboxDirectory ?? '');
    const terminal = taskId ? readStatusRecords(paths.statusFile, 0, taskId).records.find((r) => isTerminalTaskState(r.state)) : undefined;
    const task: FinishedTask = {
      controlDirectory,
      taskId,
      sandboxDirectory,
      finishedAt: finishedAt(controlDirectory, paths.ackedFile, info.mtimeMs),
      failed: terminal ? FAILED_STATES.has(terminal.state) : false,
      preserveApp: definition?.executorData?.preserveTaskSandboxAfterFinish === true,
      appRemoved: !sandboxDirectory || !existsSync(join(sandboxDirectory, this.options.appDirectory)),
    };
    this.tasks.set(controlDirectory, task);
    return task;
  }

  /** T as task.json names it, when it is what the launcher made of this task id (never anything else). */
  private deletableSandbox(taskId: string, sandbox: unknown): string | undefined {
    if (typeof sandbox !== 'string' || !isAbsolute(sandbox) || basename(sandbox) !== safeTaskId(taskId)) {
      this.logger.warn({ taskId, sandbox }, 'task.json names no sandbox the cleaner may delete; leaving it');
      return undefined;
    }
    const rel = relative('/', sandbox);
    return rel && !rel.startsWith('..') ? sandbox : undefined;
  }
}

/** `finished-at` (written when the control directory moved), else when the last ack came, else the directory's mtime. */
function finishedAt(controlDirectory: string, ackedFile: string, fallback: number): number {
  try {
    const value = Number(readFileSync(join(controlDirectory, FINISHED_AT_FILE), 'utf8').trim());
    if (Number.isFinite(value) && value > 0) return value;
  } catch {
    // Older control directory.
  }
  try {
    return statSync(ackedFile).mtimeMs;
  } catch {
    return fallback;
  }
}
