import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, rmSync } from 'node:fs';
import type { AgentKillRequest, ExecutorLaunchSpec, ExecutorTaskDefinition, TaskStatusRecord } from '@singularity/models';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  CGROUP_RECORD_FILE,
  findProcessWithArg,
  isProcessAlive,
  killProcessTree,
  parseCgroupRecord,
  processStartTime,
  signalProcess,
  TaskCgroup,
  type Logger,
} from '@singularity/node-util';
import { ConflictError, systemClock, type Clock } from '@singularity/util';
import { appendStatusRecord, taskPaths, writeJsonAtomic, type ExecutorProcessRecord } from './control-files';
import type { StatusRelay } from './status-relay';
import type { TaskEntry, TaskTable } from './task-table';

export interface TaskLauncherOptions {
  dataDir: string;
  sandboxRoot: string;
  /** Program and arguments; `--task-definition <controlDir>/task.json` is appended. */
  executorCommand: string[];
  /** Passed as `--config` to every executor (the agent writes it at start). */
  executorConfigFile?: string;
  defaultSigKillProcessesAfterMillis: number;
  /** How often executors this agent did not spawn itself (re-attached after a restart) are probed. */
  executorCheckMillis: number;
  /** Extra time an executor gets after a kill's grace period before the agent SIGKILLs it and its task. */
  executorKillMarginMillis: number;
}

export type LaunchOutcome = { launched: true; entry: TaskEntry } | { launched: false; entry?: TaskEntry; finished: boolean };

/** `unknown`: never ran here; `finished`: already ended (no-op); `killing`: SIGTERM sent. */
export type KillOutcome = 'unknown' | 'finished' | 'killing';

/** Why an executor is known to be gone, for the terminal record the agent writes in its place. */
type GoneCause =
  | { kind: 'exited'; code: number | null; signal: NodeJS.Signals | null }
  | { kind: 'vanished' }
  | { kind: 'not-started'; message: string };

/**
 * Starts one executor per task and watches it. The executor runs detached
 * (own session and process group, unref'd) so it outlives the agent; all the
 * agent needs to find it again is in the control directory.
 *
 * The status file has one writer at a time: the agent writes seq 1
 * (TASK_STAGING) before the executor exists, the executor everything after,
 * and the agent again only a terminal record for an executor that died
 * without one.
 */
export class TaskLauncher {
  private monitor?: NodeJS.Timeout;
  private stopped = false;

  constructor(
    private readonly table: TaskTable,
    private readonly relay: StatusRelay,
    private readonly options: TaskLauncherOptions,
    private readonly logger: Logger,
    private readonly clock: Clock = systemClock,
  ) {}

  /** Starts probing re-attached executors. */
  start(): void {
    this.stopped = false;
    const probe = () => {
      this.checkExecutors();
      this.monitor = setTimeout(probe, this.options.executorCheckMillis);
      this.monitor.unref();
    };
    this.monitor = setTimeout(probe, this.options.executorCheckMillis);
    this.monitor.unref();
  }

  /** Stops watching; executors keep running (a later agent re-attaches them). */
  stop(): void {
    this.stopped = true;
    if (this.monitor) clearTimeout(this.monitor);
    for (const entry of this.table.list()) {
      if (entry.killTimer) clearTimeout(entry.killTimer);
      entry.killTimer = undefined;
      entry.child?.removeAllListeners('exit');
      entry.child = undefined;
    }
  }

  /**
   * Launches the task unless it is known (idempotent: the scheduler re-sends
   * launches it has no answer for). Synchronous, so a concurrent duplicate
   * sees the first one's entry. Throws when nothing could be recorded (the
   * caller answers 5xx and the scheduler retries); once TASK_STAGING is
   * written, every later failure becomes a terminal status instead.
   */
  launch(spec: ExecutorLaunchSpec): LaunchOutcome {
    const known = this.table.get(spec.taskId);
    if (known) return { launched: false, entry: known, finished: false };
    if (this.table.isFinished(spec.taskId)) return { launched: false, finished: true };
    const paths = taskPaths(this.options.dataDir, this.options.sandboxRoot, spec.taskId);
    if (existsSync(paths.controlDirectory)) {
      throw new ConflictError(`task id ${spec.taskId} maps to the control directory of another task (${paths.controlDirectory})`);
    }
    const definition: ExecutorTaskDefinition = {
      ...spec,
      sandboxDirectory: paths.sandboxDirectory,
      controlDirectory: paths.controlDirectory,
      statusFile: paths.statusFile,
      killFile: paths.killFile,
      defaultSigKillProcessesAfterMillis: this.options.defaultSigKillProcessesAfterMillis,
    };
    try {
      mkdirSync(paths.controlDirectory, { recursive: true });
      mkdirSync(paths.sandboxDirectory, { recursive: true });
      writeJsonAtomic(paths.taskFile, definition);
      appendStatusRecord(paths.statusFile, { seq: 1, taskId: spec.taskId, state: 'TASK_STAGING', message: 'Starting the executor', timestamp: this.clock.now() });
    } catch (err) {
      rmSync(paths.controlDirectory, { recursive: true, force: true });
      throw err;
    }
    const entry: TaskEntry = {
      taskId: spec.taskId,
      paths,
      definition,
      executorGone: false,
      readOffset: 0,
      lastSeq: 0,
      lastState: 'TASK_STAGING',
      ackedSeq: 0,
      pending: [],
    };
    this.table.add(entry);
    this.relay.collect(entry);
    this.spawnExecutor(entry);
    return { launched: true, entry };
  }

  /** Writes kill.json, then SIGTERMs the executor, which kills the task (spec slave §1.8). */
  kill(taskId: string, request: AgentKillRequest): KillOutcome {
    const entry = this.table.get(taskId);
    if (!entry) return this.table.isFinished(taskId) ? 'finished' : 'unknown';
    this.relay.collect(entry);
    if (entry.terminalSeq !== undefined || entry.executorGone || !entry.executor) return 'finished';
    writeJsonAtomic(entry.paths.killFile, request);
    entry.kill = { request, at: this.clock.now(), escalated: entry.kill?.escalated };
    this.logger.info({ taskId, pid: entry.executor.pid, destroy: request.destroy ?? false, user: request.user, message: request.message }, 'killing task: SIGTERM to its executor');
    if (!signalProcess(entry.executor.pid, 'SIGTERM')) {
      this.markGone(entry, { kind: 'vanished' });
      return 'killing';
    }
    this.armKillWatchdog(entry);
    return 'killing';
  }

  /** TERM→KILL grace of a kill of `entry` (destroy: none). */
  killGraceMillis(entry: TaskEntry, request: AgentKillRequest): number {
    if (request.destroy) return 0;
    return request.sigKillProcessesAfterMillis ?? entry.definition.executorData?.sigKillProcessesAfterMillis ?? this.options.defaultSigKillProcessesAfterMillis;
  }

  /**
   * Decides, after `TaskTable.recover()`, which executors still run. Live ones
   * are re-attached (probed every `executorCheckMillis`); dead ones without a
   * terminal record get one now. Never launches anything.
   */
  reattach(entries: TaskEntry[]): void {
    for (const entry of entries) {
      if (entry.executorGone) continue;
      if (!entry.executor) {
        // The agent stopped between spawning and recording the pid, or before spawning.
        const found = findProcessWithArg(entry.paths.taskFile);
        if (found) {
          entry.executor = { pid: found.pid, startedAt: this.clock.now(), processStartTime: found.startTime };
          writeJsonAtomic(entry.paths.executorFile, entry.executor);
        } else {
          this.markGone(entry, { kind: 'not-started', message: 'The agent stopped before the executor was started' });
          continue;
        }
      }
      if (isProcessAlive(entry.executor.pid, entry.executor.processStartTime)) {
        this.logger.info({ taskId: entry.taskId, pid: entry.executor.pid, state: entry.lastState }, 're-attached to a running executor');
        if (entry.kill && entry.terminalSeq === undefined) this.armKillWatchdog(entry);
      } else {
        this.markGone(entry, { kind: 'vanished' });
      }
    }
  }

  /** Probes executors this process did not spawn (their exit is no event here). */
  checkExecutors(): void {
    for (const entry of this.table.list()) {
      if (entry.executorGone || entry.child || !entry.executor) continue;
      if (!isProcessAlive(entry.executor.pid, entry.executor.processStartTime)) this.markGone(entry, { kind: 'vanished' });
    }
  }

  private spawnExecutor(entry: TaskEntry): void {
    const [command, ...args] = this.options.executorCommand;
    const { LOG_FILE: _ignored, ...env } = process.env; // the executor logs to executor.out, not the agent's log file
    let out: number | undefined;
    let child: ChildProcess;
    try {
      out = openSync(entry.paths.executorOut, 'a');
      const config = this.options.executorConfigFile ? ['--config', this.options.executorConfigFile] : [];
      child = spawn(command, [...args, '--task-definition', entry.paths.taskFile, ...config], {
        cwd: entry.paths.controlDirectory,
        detached: true, // setsid: its own session and process group, so it survives the agent
        stdio: ['ignore', out, out],
        env,
      });
    } catch (err) {
      this.markGone(entry, { kind: 'not-started', message: `Executor could not be started: ${(err as Error).message}` });
      return;
    } finally {
      if (out !== undefined) closeSync(out);
    }
    child.once('error', (err) => this.logger.error({ err, taskId: entry.taskId, command }, 'executor process error'));
    if (child.pid === undefined) {
      this.markGone(entry, { kind: 'not-started', message: `Executor could not be started (${command})` });
      return;
    }
    child.unref();
    const record: ExecutorProcessRecord = { pid: child.pid, startedAt: this.clock.now(), processStartTime: processStartTime(child.pid) };
    entry.executor = record;
    entry.child = child;
    writeJsonAtomic(entry.paths.executorFile, record);
    child.once('exit', (code, signal) => {
      entry.child = undefined;
      this.markGone(entry, { kind: 'exited', code, signal });
    });
    this.logger.info({ taskId: entry.taskId, pid: child.pid, sandbox: entry.paths.sandboxDirectory }, 'executor started');
  }

  private armKillWatchdog(entry: TaskEntry): void {
    if (!entry.kill || this.stopped) return;
    const delay = this.killGraceMillis(entry, entry.kill.request) + this.options.executorKillMarginMillis;
    const deadline = this.clock.now() + delay;
    if (entry.killTimer && (entry.killDeadline ?? Infinity) <= deadline) return;
    if (entry.killTimer) clearTimeout(entry.killTimer);
    entry.killDeadline = deadline;
    entry.killTimer = setTimeout(() => {
      entry.killTimer = undefined;
      if (this.stopped || entry.executorGone || entry.terminalSeq !== undefined || !entry.executor || !entry.kill) return;
      this.relay.collect(entry);
      if (entry.terminalSeq !== undefined) return;
      this.logger.warn({ taskId: entry.taskId, pid: entry.executor.pid }, `executor still running ${Math.round(delay / 1000)}s after the kill; SIGKILL to it and its task`);
      entry.kill.escalated = true;
      killProcessTree(entry.executor.pid);
      this.killTaskCgroup(entry);
    }, delay);
    entry.killTimer.unref();
  }

  /**
   * After an escalated kill: SIGKILLs what is left in the task's cgroup (the
   * executor recorded it in `cgroups.json`), so processes that left the
   * process tree (`setsid`) go too. Without a record there is nothing more to do.
   */
  private killTaskCgroup(entry: TaskEntry): void {
    let text: string;
    try {
      text = readFileSync(join(entry.paths.controlDirectory, CGROUP_RECORD_FILE), 'utf8');
    } catch {
      return;
    }
    try {
      const cgroup = TaskCgroup.open(parseCgroupRecord(text));
      cgroup.killAll().then(
        (result) => this.logger.warn({ taskId: entry.taskId, result }, "killed what was left in the task's cgroup"),
        (err: unknown) => this.logger.error({ err, taskId: entry.taskId }, "could not kill through the task's cgroup"),
      );
    } catch (err) {
      this.logger.error({ err, taskId: entry.taskId }, 'unreadable cgroups.json; the task cgroup was not killed');
    }
  }

  /**
   * The executor is gone. Reads what it wrote last; if that holds no terminal
   * state the agent appends one (safe: nobody else writes the file now).
   */
  private markGone(entry: TaskEntry, cause: GoneCause): void {
    if (this.stopped || entry.executorGone) return;
    entry.executorGone = true;
    if (entry.killTimer) clearTimeout(entry.killTimer);
    entry.killTimer = undefined;
    this.relay.collect(entry);
    if (entry.terminalSeq === undefined) {
      const record = this.terminalRecordFor(entry, cause);
      this.logger.warn({ taskId: entry.taskId, state: record.state, statusMessage: record.message }, 'executor is gone without reporting an end; recording one');
      appendStatusRecord(entry.paths.statusFile, record);
      this.relay.collect(entry);
    } else if (cause.kind === 'exited') {
      this.logger.info({ taskId: entry.taskId, code: cause.code, signal: cause.signal }, 'executor exited');
    }
    this.table.finishIfDone(entry);
  }

  private terminalRecordFor(entry: TaskEntry, cause: GoneCause): TaskStatusRecord {
    const base = { seq: entry.lastSeq + 1, taskId: entry.taskId, timestamp: this.clock.now(), reason: 'REASON_EXECUTOR_TERMINATED' };
    const exit = cause.kind === 'exited' ? (cause.signal ? `signal ${cause.signal}` : `exit code ${cause.code}`) : undefined;
    if (entry.kill) {
      return {
        ...base,
        state: 'TASK_KILLED',
        message: `Task killed; its executor ended without reporting it${exit ? ` (${exit})` : ''}`,
        ...(entry.kill.escalated ? { forced: true } : {}),
      };
    }
    switch (cause.kind) {
      case 'exited':
        // No exitCode: that field is the task's, and the task's exit is unknown.
        return { ...base, state: 'TASK_LOST', message: `Executor exited unexpectedly (${exit})` };
      case 'vanished':
        return { ...base, state: 'TASK_LOST', message: 'Executor is gone' };
      case 'not-started':
        return { ...base, state: 'TASK_LOST', message: cause.message };
    }
  }
}
