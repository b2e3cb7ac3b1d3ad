import type { HistoryAgePurge, HistoryRepository, TaskHistoryPurge } from './history-repository.port';

/** `historyPurging` of the scheduler config (spec §5), with its defaults. */
export interface HistoryPurgingConfig {
  enabled: boolean;
  deleteTaskHistoryAfterDays: number;
  deleteTaskHistoryAfterTasksPerRequest: number;
  deleteTaskHistoryBytesAfterDays: number;
  deleteTaskHistoryBytesAfterTasksPerRequest: number;
  checkTaskHistoryEveryHours: number;
  purgeLimitPerQuery: number;
  purgeRequestHistoryAfterDays: number;
  purgeDeployHistoryAfterDays: number;
}

export const HISTORY_PURGING_DEFAULTS: Readonly<HistoryPurgingConfig> = {
  enabled: false,
  deleteTaskHistoryAfterDays: 0,
  deleteTaskHistoryAfterTasksPerRequest: 0,
  deleteTaskHistoryBytesAfterDays: 365,
  deleteTaskHistoryBytesAfterTasksPerRequest: 10000,
  checkTaskHistoryEveryHours: 24,
  purgeLimitPerQuery: 25000,
  purgeRequestHistoryAfterDays: 365,
  purgeDeployHistoryAfterDays: 365,
};

/** What one purger run does; an absent part is off. */
export interface HistoryPurgePlan {
  /** Delete task rows (`deleteTaskHistoryAfter…`). */
  taskRows?: TaskHistoryPurge;
  /** Drop task JSON, keeping rows (`deleteTaskHistoryBytesAfter…`). */
  taskBytes?: TaskHistoryPurge;
  requestHistory?: HistoryAgePurge;
  deployHistory?: HistoryAgePurge;
}

const DAY = 24 * 60 * 60 * 1000;

/**
 * The purges a daily run makes at `now` (spec §3.6): nothing unless enabled; each day or count setting of
 * 0 is off (so a 0 never means "everything"). Days and counts of one kind combine: a row goes when it is
 * too old OR beyond the newest N of its request.
 */
export function planHistoryPurge(config: HistoryPurgingConfig, now: number): HistoryPurgePlan {
  if (!config.enabled) return {};
  const limit = config.purgeLimitPerQuery;
  const before = (days: number) => (days > 0 ? now - days * DAY : undefined);
  const count = (n: number) => (n > 0 ? n : undefined);
  const task = (days: number, perRequest: number, mode: 'rows' | 'bytes'): TaskHistoryPurge | undefined => {
    const olderThan = before(days);
    const keepNewestPerRequest = count(perRequest);
    if (olderThan === undefined && keepNewestPerRequest === undefined) return undefined;
    return { ...(olderThan === undefined ? {} : { olderThan }), ...(keepNewestPerRequest === undefined ? {} : { keepNewestPerRequest }), limit, mode };
  };
  const age = (days: number): HistoryAgePurge | undefined => {
    const olderThan = before(days);
    return olderThan === undefined ? undefined : { olderThan, limit };
  };
  const plan: HistoryPurgePlan = {};
  const taskRows = task(config.deleteTaskHistoryAfterDays, config.deleteTaskHistoryAfterTasksPerRequest, 'rows');
  const taskBytes = task(config.deleteTaskHistoryBytesAfterDays, config.deleteTaskHistoryBytesAfterTasksPerRequest, 'bytes');
  const requestHistory = age(config.purgeRequestHistoryAfterDays);
  const deployHistory = age(config.purgeDeployHistoryAfterDays);
  if (taskRows) plan.taskRows = taskRows;
  if (taskBytes) plan.taskBytes = taskBytes;
  if (requestHistory) plan.requestHistory = requestHistory;
  if (deployHistory) plan.deployHistory = deployHistory;
  return plan;
}

export interface HistoryPurgeResult {
  taskRows: number;
  taskBytes: number;
  requestHistory: number;
  deployHistory: number;
}

/**
 * Runs a plan: each part is repeated while a call purges a full `limit` (so one query never touches
 * more than `purgeLimitPerQuery` rows), at most `maxCallsPerPart` times.
 */
export async function runHistoryPurge(repository: HistoryRepository, plan: HistoryPurgePlan, maxCallsPerPart = 1000): Promise<HistoryPurgeResult> {
  const repeat = async (limit: number, call: () => Promise<number>): Promise<number> => {
    let total = 0;
    for (let calls = 0; calls < maxCallsPerPart; calls++) {
      const purged = await call();
      total += purged;
      if (purged < limit) break;
    }
    return total;
  };
  const { taskRows, taskBytes, requestHistory, deployHistory } = plan;
  return {
    // Rows first: bytes of rows about to be deleted are not worth an update.
    taskRows: taskRows ? await repeat(taskRows.limit, () => repository.purgeTaskHistory(taskRows)) : 0,
    taskBytes: taskBytes ? await repeat(taskBytes.limit, () => repository.purgeTaskHistory(taskBytes)) : 0,
    requestHistory: requestHistory ? await repeat(requestHistory.limit, () => repository.purgeRequestHistory(requestHistory)) : 0,
    deployHistory: deployHistory ? await repeat(deployHistory.limit, () => repository.purgeDeployHistory(deployHistory)) : 0,
  };
}
