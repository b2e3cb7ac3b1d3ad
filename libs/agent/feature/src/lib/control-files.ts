import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, readSync, renameSync, statSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { AGENT_REPORTED_TASK_STATES, safeTaskId, type TaskStatusRecord } from '@singularity/models';

/**
 * On-disk layout of the agent's data directory. The files are the agent's
 * memory: a restarted agent rebuilds its task table from them alone.
 *
 *   <dataDir>/agent-id                         stable agent id
 *   <dataDir>/executors/<safeTaskId>/          control directory of a live task
 *       task.json       ExecutorTaskDefinition (written once, atomically)
 *       status.jsonl    TaskStatusRecord lines; the agent writes seq 1 (and a
 *                       terminal line for a dead executor), the executor the rest
 *       executor.json   {pid, startedAt, processStartTime}
 *       executor.out    the executor's stdout and stderr
 *       kill.json       the last AgentKillRequest (written before SIGTERM)
 *       acked           highest seq the scheduler acknowledged
 *   <dataDir>/executors-finished/<safeTaskId>/ the same, once the end is acknowledged, plus
 *       finished-at     when it moved here (ms); the sandbox clean-up counts from it
 *   <sandboxRoot>/<safeTaskId>/                the task's sandbox T (removed after the retention)
 */
export interface TaskPaths {
  controlDirectory: string;
  taskFile: string;
  statusFile: string;
  executorFile: string;
  executorOut: string;
  killFile: string;
  ackedFile: string;
  sandboxDirectory: string;
}

/** In a finished control directory: when the task's end was acknowledged and it moved there (ms). */
export const FINISHED_AT_FILE = 'finished-at';

export function executorsDir(dataDir: string): string {
  return join(dataDir, 'executors');
}

export function finishedExecutorsDir(dataDir: string): string {
  return join(dataDir, 'executors-finished');
}

export function taskPaths(dataDir: string, sandboxRoot: string, taskId: string): TaskPaths {
  return controlPaths(join(executorsDir(dataDir), safeTaskId(taskId)), join(sandboxRoot, safeTaskId(taskId)));
}

export function controlPaths(controlDirectory: string, sandboxDirectory: string): TaskPaths {
  return {
    controlDirectory,
    taskFile: join(controlDirectory, 'task.json'),
    statusFile: join(controlDirectory, 'status.jsonl'),
    executorFile: join(controlDirectory, 'executor.json'),
    executorOut: join(controlDirectory, 'executor.out'),
    killFile: join(controlDirectory, 'kill.json'),
    ackedFile: join(controlDirectory, 'acked'),
    sandboxDirectory,
  };
}

/** What the agent records about the executor it spawned. */
export interface ExecutorProcessRecord {
  pid: number;
  startedAt: number;
  /** `/proc/<pid>/stat` start time; tells a live executor from a process that reuses its pid. */
  processStartTime?: number;
}

/** Writes `path` so that readers see the old or the new content, never a torn one (tmp + fsync + rename). */
export function writeFileAtomic(path: string, content: string, durable = true): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, content);
    if (durable) fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

export function writeJsonAtomic(path: string, value: unknown, durable = true): void {
  writeFileAtomic(path, `${JSON.stringify(value, null, 2)}\n`, durable);
}

/** Parsed JSON of `path`, or undefined when it is missing or unreadable. */
export function readJsonIfPresent<T>(path: string): T | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

export function readAckedSeq(path: string): number {
  try {
    const value = Number(readFileSync(path, 'utf8').trim());
    return Number.isInteger(value) && value > 0 ? value : 0;
  } catch {
    return 0;
  }
}

/**
 * Appends one status line and fsyncs it. Only for lines the agent writes:
 * the first (TASK_STAGING, before the executor exists) and a terminal line
 * for an executor that is gone, so there is never a second writer. A line the
 * dead executor left half-written is closed first, so ours stays parseable.
 */
export function appendStatusRecord(path: string, record: TaskStatusRecord): void {
  let prefix = '';
  try {
    const size = statSync(path).size;
    if (size > 0) {
      const fd = openSync(path, 'r');
      try {
        const last = Buffer.alloc(1);
        readSync(fd, last, 0, 1, size - 1);
        if (last[0] !== 0x0a) prefix = '\n';
      } finally {
        closeSync(fd);
      }
    }
  } catch {
    // No file yet.
  }
  const fd = openSync(path, 'a');
  try {
    writeSync(fd, `${prefix}${JSON.stringify(record)}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export interface StatusChunk {
  /** Complete, valid records after `fromOffset`, in file order. */
  records: TaskStatusRecord[];
  /** Complete lines that are not valid records (reported, then skipped). */
  invalid: string[];
  /** Offset just after the last complete line; a partial last line is read again next time. */
  offset: number;
}

const reportedStates: ReadonlySet<string> = new Set(AGENT_REPORTED_TASK_STATES);

/** Reads the status lines appended since `fromOffset` (cheap when nothing changed: one stat). */
export function readStatusRecords(path: string, fromOffset: number, taskId: string): StatusChunk {
  let size: number;
  try {
    size = statSync(path).size;
  } catch {
    return { records: [], invalid: [], offset: fromOffset };
  }
  if (size <= fromOffset) return { records: [], invalid: [], offset: fromOffset };
  const buffer = Buffer.alloc(size - fromOffset);
  const fd = openSync(path, 'r');
  let read = 0;
  try {
    while (read < buffer.length) {
      const n = readSync(fd, buffer, read, buffer.length - read, fromOffset + read);
      if (n === 0) break;
      read += n;
    }
  } finally {
    closeSync(fd);
  }
  const end = buffer.subarray(0, read).lastIndexOf(0x0a);
  if (end < 0) return { records: [], invalid: [], offset: fromOffset };
  const records: TaskStatusRecord[] = [];
  const invalid: string[] = [];
  for (const line of buffer.subarray(0, end).toString('utf8').split('\n')) {
    if (!line.trim()) continue;
    const record = parseStatusLine(line, taskId);
    if (record) records.push(record);
    else invalid.push(line);
  }
  return { records, invalid, offset: fromOffset + end + 1 };
}

function parseStatusLine(line: string, taskId: string): TaskStatusRecord | undefined {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const r = value as Partial<TaskStatusRecord>;
  if (!Number.isInteger(r.seq) || (r.seq as number) < 1) return undefined;
  if (typeof r.state !== 'string' || !reportedStates.has(r.state)) return undefined;
  if (r.taskId !== undefined && r.taskId !== taskId) return undefined;
  return { ...r, taskId, timestamp: typeof r.timestamp === 'number' ? r.timestamp : Date.now() } as TaskStatusRecord;
}
