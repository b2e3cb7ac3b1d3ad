import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import {
  isTerminalTaskState,
  safeTaskId,
  type AgentKillRequest,
  type AgentReportedTaskState,
  type AgentTaskReport,
  type ExecutorTaskDefinition,
  type TaskStatusRecord,
} from '@singularity/models';
import type { Logger } from '@singularity/node-util';
import { systemClock, type Clock } from '@singularity/util';
import {
  FINISHED_AT_FILE,
  controlPaths,
  executorsDir,
  finishedExecutorsDir,
  readAckedSeq,
  readJsonIfPresent,
  readStatusRecords,
  writeFileAtomic,
  type ExecutorProcessRecord,
  type TaskPaths,
} from './control-files';

/** Called once a finished task's control directory sits in `executors-finished/`. */
export type TaskFinishedListener = (finishedControlDirectory: string, entry: TaskEntry) => void;

/** Everything the agent knows about one task it launched and whose end is not yet acknowledged. */
export interface TaskEntry {
  readonly taskId: string;
  readonly paths: TaskPaths;
  readonly definition: ExecutorTaskDefinition;
  /** The executor, once spawned (absent when the agent stopped before it could start one). */
  executor?: ExecutorProcessRecord;
  /** Present only when this agent process spawned the executor: its exit then arrives as an event. */
  child?: ChildProcess;
  /** The executor is known to have exited (or never started); nobody else writes the status file now. */
  executorGone: boolean;
  /** Where the next read of the status file starts. */
  readOffset: number;
  /** Highest seq read from the status file, and that record's state. */
  lastSeq: number;
  lastState: AgentReportedTaskState;
  /** Seq of the terminal record, once read. */
  terminalSeq?: number;
  /** Highest seq the scheduler acknowledged (persisted in `acked`). */
  ackedSeq: number;
  /** Records read but not yet acknowledged, in seq order. */
  pending: TaskStatusRecord[];
  /** The last kill request, when one was made. */
  kill?: { request: AgentKillRequest; at: number; escalated?: boolean };
  /** Watchdog that SIGKILLs an executor that outlives its kill's grace period, and when it fires. */
  killTimer?: NodeJS.Timeout;
  killDeadline?: number;
}

/**
 * The live task table: tasks whose control directory is under
 * `<dataDir>/executors`. Memory mirrors disk; `recover()` rebuilds it from
 * the control directories after a restart.
 */
export class TaskTable {
  private readonly entries = new Map<string, TaskEntry>();
  private readonly finishedListeners: TaskFinishedListener[] = [];

  constructor(
    private readonly dataDir: string,
    private readonly logger: Logger,
    private readonly clock: Clock = systemClock,
  ) {}

  /** Registers `listener` for tasks that finish from now on (the sandbox clean-up). */
  onFinished(listener: TaskFinishedListener): void {
    this.finishedListeners.push(listener);
  }

  get(taskId: string): TaskEntry | undefined {
    return this.entries.get(taskId);
  }

  list(): TaskEntry[] {
    return [...this.entries.values()];
  }

  get size(): number {
    return this.entries.size;
  }

  add(entry: TaskEntry): void {
    this.entries.set(entry.taskId, entry);
  }

  /** Forgets an entry whose launch failed before anything was recorded. */
  discard(taskId: string): void {
    this.entries.delete(taskId);
  }

  /** Whether the task ran here and its end was acknowledged already. */
  isFinished(taskId: string): boolean {
    return existsSync(join(finishedExecutorsDir(this.dataDir), safeTaskId(taskId), 'task.json'));
  }

  /** The tasks as reported to the scheduler (registration, heartbeats, `GET /agent/tasks`). */
  report(): AgentTaskReport[] {
    return this.list().map((e) => ({ taskId: e.taskId, state: e.lastState, ...(e.executor && !e.executorGone ? { executorPid: e.executor.pid } : {}) }));
  }

  /** Terminal record read, acknowledged, executor exited: nothing is left to do for the task. */
  isDone(entry: TaskEntry): boolean {
    return entry.terminalSeq !== undefined && entry.ackedSeq >= entry.terminalSeq && entry.executorGone;
  }

  /** Finishes `entry` when it is done; returns whether it did. */
  finishIfDone(entry: TaskEntry): boolean {
    if (!this.isDone(entry)) return false;
    this.finish(entry);
    return true;
  }

  /**
   * Drops a done task from the table; its control directory moves to
   * `executors-finished/` with a `finished-at` stamp (the sandbox stays where
   * it is, browsable, until the sandbox clean-up removes it).
   */
  finish(entry: TaskEntry): void {
    if (this.entries.get(entry.taskId) !== entry) return;
    this.entries.delete(entry.taskId);
    if (entry.killTimer) clearTimeout(entry.killTimer);
    const finishedRoot = finishedExecutorsDir(this.dataDir);
    mkdirSync(finishedRoot, { recursive: true });
    const now = this.clock.now();
    let target = join(finishedRoot, safeTaskId(entry.taskId));
    if (existsSync(target)) target = `${target}.${now}`;
    try {
      writeFileAtomic(join(entry.paths.controlDirectory, FINISHED_AT_FILE), `${now}\n`, false);
    } catch (err) {
      this.logger.warn({ err, taskId: entry.taskId }, 'could not stamp the finish time of a task');
    }
    let moved = true;
    try {
      renameSync(entry.paths.controlDirectory, target);
    } catch (err) {
      moved = false;
      this.logger.warn({ err, taskId: entry.taskId }, 'could not move the control directory of a finished task');
    }
    this.logger.info({ taskId: entry.taskId, state: entry.lastState }, 'task finished and acknowledged; dropped from the task table');
    if (!moved) return;
    for (const listener of this.finishedListeners) {
      try {
        listener(target, entry);
      } catch (err) {
        this.logger.error({ err, taskId: entry.taskId }, 'a finished-task listener failed');
      }
    }
  }

  /**
   * Rebuilds the table from `<dataDir>/executors/*`. Liveness of the executors
   * is decided by the caller (the launcher re-attaches them).
   */
  recover(): TaskEntry[] {
    const root = executorsDir(this.dataDir);
    let names: string[];
    try {
      names = readdirSync(root);
    } catch {
      return [];
    }
    const recovered: TaskEntry[] = [];
    for (const name of names.sort()) {
      const controlDirectory = join(root, name);
      const definition = readJsonIfPresent<ExecutorTaskDefinition>(join(controlDirectory, 'task.json'));
      if (!definition || typeof definition.taskId !== 'string') {
        // The agent stopped while writing task.json: nothing was launched or reported for it.
        this.logger.warn({ controlDirectory }, 'control directory without a task definition (launch interrupted); setting it aside');
        this.setAside(controlDirectory, name);
        continue;
      }
      const paths = controlPaths(controlDirectory, definition.sandboxDirectory);
      const entry: TaskEntry = {
        taskId: definition.taskId,
        paths,
        definition,
        executor: readJsonIfPresent<ExecutorProcessRecord>(paths.executorFile),
        executorGone: false,
        readOffset: 0,
        lastSeq: 0,
        lastState: 'TASK_STAGING',
        ackedSeq: readAckedSeq(paths.ackedFile),
        pending: [],
        kill: undefined,
      };
      const kill = readJsonIfPresent<AgentKillRequest>(paths.killFile);
      if (kill) entry.kill = { request: kill, at: 0 };
      collectStatus(entry, this.logger);
      this.entries.set(entry.taskId, entry);
      recovered.push(entry);
    }
    return recovered;
  }

  private setAside(controlDirectory: string, name: string): void {
    const target = join(finishedExecutorsDir(this.dataDir), `${name}.incomplete.${Date.now()}`);
    mkdirSync(finishedExecutorsDir(this.dataDir), { recursive: true });
    try {
      renameSync(controlDirectory, target);
    } catch (err) {
      this.logger.warn({ err, controlDirectory }, 'could not set the control directory aside');
    }
  }
}

/**
 * Reads what was appended to the task's status file since the last read and
 * queues every record above the acknowledged seq. Synchronous, so two callers
 * can never read the same bytes twice.
 */
export function collectStatus(entry: TaskEntry, logger: Logger): TaskStatusRecord[] {
  const chunk = readStatusRecords(entry.paths.statusFile, entry.readOffset, entry.taskId);
  entry.readOffset = chunk.offset;
  for (const line of chunk.invalid) logger.warn({ taskId: entry.taskId, line: line.slice(0, 300) }, 'skipping an invalid line of the status file');
  const fresh: TaskStatusRecord[] = [];
  for (const record of chunk.records) {
    if (record.seq <= entry.lastSeq) {
      logger.warn({ taskId: entry.taskId, seq: record.seq, lastSeq: entry.lastSeq }, 'skipping a status record whose seq does not increase');
      continue;
    }
    entry.lastSeq = record.seq;
    // The first terminal state is the task's end; anything after it is relayed but changes nothing.
    if (entry.terminalSeq === undefined) {
      entry.lastState = record.state;
      if (isTerminalTaskState(record.state)) entry.terminalSeq = record.seq;
    }
    if (record.seq > entry.ackedSeq) {
      entry.pending.push(record);
      fresh.push(record);
    }
  }
  return fresh;
}
