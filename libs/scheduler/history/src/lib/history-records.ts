import { EXTENDED_TASK_STATES, REQUEST_HISTORY_TYPES, parseTaskId, type ExtendedTaskState, type SingularityTaskId } from '@singularity/models';
import type { HistoryAgePurge, TaskHistoryPurge, TaskHistoryRecord } from './history-repository.port';
import type { DeployHistoryRecord, SingularityRequestHistory, SingularityTaskHistory, SingularityTaskIdHistory } from './history.types';

/**
 * The search columns of a finished task, derived from its history: ids and host from the task id,
 * `runId` from the pending task it ran for, and the last status and its time from the newest update
 * (the start time when there is none).
 */
export function taskHistoryRecord(history: SingularityTaskHistory): TaskHistoryRecord {
  const { taskId } = history.task;
  let last: SingularityTaskHistory['taskUpdates'][number] | undefined;
  for (const update of history.taskUpdates) if (!last || update.timestamp >= last.timestamp) last = update;
  return {
    taskId: taskId.id,
    requestId: taskId.requestId,
    deployId: taskId.deployId,
    runId: history.task.taskRequest.pendingTask.runId,
    host: taskId.host,
    lastTaskStatus: last?.taskState,
    startedAt: taskId.startedAt,
    updatedAt: last?.timestamp ?? taskId.startedAt,
    history,
  };
}

/**
 * A copy of `value` as it will read back from JSONB: JSON round trip, with NUL characters and lone
 * surrogates in strings and keys replaced by U+FFFD (PostgreSQL refuses both). Every implementation
 * stores this, so they all read back alike.
 */
export function storableJson<T>(value: T): T {
  const text = JSON.stringify(value);
  if (text === undefined) throw new TypeError('history value is not JSON (undefined, a function or a symbol)');
  return sanitize(JSON.parse(text)) as T;
}

const NUL = String.fromCharCode(0);
const SURROGATE = /[\uD800-\uDFFF]/;

function sanitizeString(text: string): string {
  if (!text.includes(NUL) && !SURROGATE.test(text)) return text;
  return (text as string & { toWellFormed(): string }).toWellFormed().replaceAll(NUL, '\uFFFD');
}

function sanitize(value: unknown): unknown {
  if (typeof value === 'string') return sanitizeString(value);
  if (Array.isArray(value)) return value.map(sanitize);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, member] of Object.entries(value)) out[sanitizeString(key)] = sanitize(member);
    return out;
  }
  return value;
}

/**
 * A search row: the task id parsed from its string (host and rack sanitized, as Singularity reads them),
 * with the unsanitized host of the row; the last status under both of its names.
 */
export function taskIdHistoryRow(row: {
  taskId: string;
  host: string;
  updatedAt: number;
  lastTaskStatus?: ExtendedTaskState | null;
  runId?: string | null;
}): SingularityTaskIdHistory {
  const taskId = { ...parseTaskId(row.taskId), host: row.host };
  const out: SingularityTaskIdHistory = { taskId, updatedAt: row.updatedAt };
  if (row.lastTaskStatus) {
    out.lastTaskState = row.lastTaskStatus;
    out.lastStatus = row.lastTaskStatus;
  }
  if (row.runId) out.runId = row.runId;
  return out;
}

const TASK_STATES: ReadonlySet<string> = new Set(EXTENDED_TASK_STATES);
const REQUEST_EVENTS: ReadonlySet<string> = new Set(REQUEST_HISTORY_TYPES);

/** An item the persister should never produce; the whole batch is refused and nothing is written. */
export class InvalidHistoryItemError extends TypeError {
  constructor(kind: string, index: number, problem: string) {
    super(`invalid ${kind} at index ${index}: ${problem}`);
    this.name = 'InvalidHistoryItemError';
  }
}

const isId = (value: unknown): value is string => typeof value === 'string' && value.length > 0 && value.length <= 1024 && !value.includes('\u0000');
const isTime = (value: unknown): value is number => Number.isSafeInteger(value);

export function assertValidTaskHistoryRecord(item: TaskHistoryRecord, index: number): void {
  const fail = (problem: string) => {
    throw new InvalidHistoryItemError('task history', index, problem);
  };
  if (!item || typeof item !== 'object') fail('not an object');
  for (const field of ['taskId', 'requestId', 'deployId', 'host'] as const) if (!isId(item[field])) fail(`${field} must be a non-empty string`);
  if (item.runId !== undefined && item.runId !== null && !isId(item.runId)) fail('runId must be a non-empty string when present');
  if (item.lastTaskStatus !== undefined && item.lastTaskStatus !== null && !TASK_STATES.has(item.lastTaskStatus)) {
    fail(`lastTaskStatus ${String(item.lastTaskStatus)} is not a task state`);
  }
  let parsed: SingularityTaskId | undefined;
  try {
    parsed = parseTaskId(item.taskId);
  } catch (err) {
    fail((err as Error).message);
  }
  if (parsed && (parsed.requestId !== item.requestId || parsed.deployId !== item.deployId)) {
    fail(`task id ${item.taskId} does not name request ${item.requestId} and deploy ${item.deployId}`);
  }
  if (!isTime(item.startedAt)) fail('startedAt must be epoch milliseconds');
  if (!isTime(item.updatedAt)) fail('updatedAt must be epoch milliseconds');
  if (!item.history || typeof item.history !== 'object') fail('history must be a SingularityTaskHistory');
}

export function assertValidRequestHistory(item: SingularityRequestHistory, index: number): void {
  const fail = (problem: string) => {
    throw new InvalidHistoryItemError('request history', index, problem);
  };
  if (!item || typeof item !== 'object') fail('not an object');
  if (!item.request || typeof item.request !== 'object' || !isId(item.request.id)) fail('request.id must be a non-empty string');
  if (!isTime(item.createdAt)) fail('createdAt must be epoch milliseconds');
  if (!REQUEST_EVENTS.has(item.eventType)) fail(`eventType ${String(item.eventType)} is not a request history type`);
}

export function assertValidDeployHistory(item: DeployHistoryRecord, index: number): void {
  const fail = (problem: string) => {
    throw new InvalidHistoryItemError('deploy history', index, problem);
  };
  if (!item || typeof item !== 'object' || !item.deployMarker || typeof item.deployMarker !== 'object') fail('deployMarker is missing');
  if (!isId(item.deployMarker.requestId)) fail('deployMarker.requestId must be a non-empty string');
  if (!isId(item.deployMarker.deployId)) fail('deployMarker.deployId must be a non-empty string');
  if (!isTime(item.deployMarker.timestamp)) fail('deployMarker.timestamp must be epoch milliseconds');
  if (!item.deployResult || typeof item.deployResult !== 'object') fail('deployResult is missing');
  if (!item.deploy || typeof item.deploy !== 'object') fail('deploy is missing');
}

/** The last item of each key, in first-seen key order (the rule for duplicates inside one batch). */
export function lastPerKey<T>(items: readonly T[], key: (item: T) => string): T[] {
  const byKey = new Map<string, T>();
  for (const item of items) {
    const k = key(item);
    byKey.delete(k);
    byKey.set(k, item);
  }
  return [...byKey.values()];
}

/** Task histories of a batch reduced as if saved one by one: a later item replaces an earlier one unless it is older. */
export function newestPerTask(items: readonly TaskHistoryRecord[]): TaskHistoryRecord[] {
  const byKey = new Map<string, TaskHistoryRecord>();
  for (const item of items) {
    const kept = byKey.get(item.taskId);
    if (kept && kept.updatedAt > item.updatedAt) continue;
    byKey.delete(item.taskId);
    byKey.set(item.taskId, item);
  }
  return [...byKey.values()];
}

/** The first item of each key (request history events are immutable: the first write wins). */
export function firstPerKey<T>(items: readonly T[], key: (item: T) => string): T[] {
  const byKey = new Map<string, T>();
  for (const item of items) {
    const k = key(item);
    if (!byKey.has(k)) byKey.set(k, item);
  }
  return [...byKey.values()];
}

export const requestHistoryKey = (item: SingularityRequestHistory): string => JSON.stringify([item.request.id, item.createdAt, item.eventType]);
export const deployHistoryKey = (item: DeployHistoryRecord): string => JSON.stringify([item.deployMarker.requestId, item.deployMarker.deployId]);

/** Shared by both implementations: a purge must name a positive limit and sane criteria. */
export function assertValidPurge(options: TaskHistoryPurge | HistoryAgePurge): void {
  if (!Number.isSafeInteger(options.limit) || options.limit < 1) throw new RangeError(`purge limit must be a whole number ≥ 1, got ${options.limit}`);
  if (options.olderThan !== undefined && !Number.isSafeInteger(options.olderThan)) throw new RangeError(`purge olderThan must be epoch milliseconds`);
  if ('keepNewestPerRequest' in options && options.keepNewestPerRequest !== undefined) {
    if (!Number.isSafeInteger(options.keepNewestPerRequest) || options.keepNewestPerRequest < 0) {
      throw new RangeError(`keepNewestPerRequest must be a whole number ≥ 0, got ${options.keepNewestPerRequest}`);
    }
  }
  if ('mode' in options && options.mode !== undefined && options.mode !== 'rows' && options.mode !== 'bytes') {
    throw new RangeError(`purge mode must be 'rows' or 'bytes'`);
  }
}
