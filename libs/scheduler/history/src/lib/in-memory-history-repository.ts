import type {
  HistoryAgePurge,
  HistoryHealth,
  HistoryPage,
  HistoryPaging,
  HistoryRepository,
  TaskHistoryPurge,
  TaskHistoryRecord,
  TaskIdHistoryFilter,
} from './history-repository.port';
import { assertValidTaskIdHistoryFilter, normalizePaging, pageOf } from './history-paging';
import {
  assertValidDeployHistory,
  assertValidPurge,
  assertValidRequestHistory,
  assertValidTaskHistoryRecord,
  deployHistoryKey,
  firstPerKey,
  lastPerKey,
  newestPerTask,
  requestHistoryKey,
  storableJson,
  taskIdHistoryRow,
} from './history-records';
import type {
  DeployHistoryRecord,
  SingularityDeployHistory,
  SingularityRequestHistory,
  SingularityTaskHistory,
  SingularityTaskIdHistory,
} from './history.types';

/** Code-point order, as PostgreSQL's "C" collation sorts the id columns. */
export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

interface TaskRow extends Omit<TaskHistoryRecord, 'history'> {
  history?: SingularityTaskHistory;
}

/**
 * The history port over plain maps, for scheduler unit tests and runs without SQL. It keeps the same
 * rules as `SqlHistoryRepository` (the contract suite runs against both): atomic, idempotent batches,
 * JSON stored as JSONB would store it, the same filters, order and paging.
 */
export class InMemoryHistoryRepository implements HistoryRepository {
  private readonly tasks = new Map<string, TaskRow>();
  private readonly requestEvents = new Map<string, SingularityRequestHistory>();
  private readonly deploys = new Map<string, DeployHistoryRecord>();
  private closed = false;

  async saveTaskHistories(items: readonly TaskHistoryRecord[]): Promise<void> {
    this.assertOpen();
    items.forEach(assertValidTaskHistoryRecord);
    // Copy everything first: a value JSON cannot encode refuses the batch before anything is written.
    const rows = newestPerTask(items).map((item) => storableJson(item));
    for (const row of rows) {
      const stored = this.tasks.get(row.taskId);
      if (stored && stored.updatedAt > row.updatedAt) continue;
      this.tasks.set(row.taskId, { ...row, runId: row.runId ?? undefined, lastTaskStatus: row.lastTaskStatus ?? undefined });
    }
  }

  async saveRequestHistory(items: readonly SingularityRequestHistory[]): Promise<void> {
    this.assertOpen();
    items.forEach(assertValidRequestHistory);
    const rows = firstPerKey(items, requestHistoryKey).map((item) => storableJson(item));
    for (const row of rows) {
      const key = requestHistoryKey(row);
      if (!this.requestEvents.has(key)) this.requestEvents.set(key, row);
    }
  }

  async saveDeployHistories(items: readonly DeployHistoryRecord[]): Promise<void> {
    this.assertOpen();
    items.forEach(assertValidDeployHistory);
    const rows = lastPerKey(items, deployHistoryKey).map((item) => storableJson(item));
    for (const row of rows) this.deploys.set(deployHistoryKey(row), row);
  }

  async getTaskHistory(taskId: string): Promise<SingularityTaskHistory | undefined> {
    this.assertOpen();
    const history = this.tasks.get(taskId)?.history;
    return history && storableJson(history);
  }

  async getTaskHistoryByRunId(requestId: string, runId: string): Promise<SingularityTaskHistory | undefined> {
    this.assertOpen();
    const matches = [...this.tasks.values()]
      .filter((row) => row.requestId === requestId && row.runId === runId && row.history)
      .sort((a, b) => b.startedAt - a.startedAt || compareText(b.taskId, a.taskId));
    return matches[0]?.history && storableJson(matches[0].history);
  }

  async getTaskIdHistories(filter: TaskIdHistoryFilter, paging?: HistoryPaging): Promise<HistoryPage<SingularityTaskIdHistory>> {
    this.assertOpen();
    assertValidTaskIdHistoryFilter(filter);
    normalizePaging(paging);
    const sign = filter.orderDirection === 'ASC' ? 1 : -1;
    const rows = [...this.tasks.values()]
      .filter((row) => matches(row, filter))
      .sort((a, b) => sign * (a.startedAt - b.startedAt || compareText(a.requestId, b.requestId) || compareText(a.taskId, b.taskId)));
    const page = pageOf(rows, paging);
    return { items: page.items.map(taskIdHistoryRow), total: page.total };
  }

  async getRequestHistory(requestId: string, paging?: HistoryPaging): Promise<HistoryPage<SingularityRequestHistory>> {
    this.assertOpen();
    normalizePaging(paging);
    const events = [...this.requestEvents.values()]
      .filter((event) => event.request.id === requestId)
      .sort((a, b) => b.createdAt - a.createdAt || compareText(b.eventType, a.eventType));
    const page = pageOf(events, paging);
    return { items: page.items.map((event) => storableJson(event)), total: page.total };
  }

  async searchRequestIds(requestIdLike: string, paging?: HistoryPaging): Promise<HistoryPage<string>> {
    this.assertOpen();
    normalizePaging(paging);
    const ids = new Set<string>();
    for (const event of this.requestEvents.values()) if (event.request.id.startsWith(requestIdLike)) ids.add(event.request.id);
    return pageOf([...ids].sort(compareText), paging);
  }

  async getDeployHistories(requestId: string, paging?: HistoryPaging): Promise<HistoryPage<SingularityDeployHistory>> {
    this.assertOpen();
    normalizePaging(paging);
    const deploys = [...this.deploys.values()]
      .filter((row) => row.deployMarker.requestId === requestId)
      .sort((a, b) => b.deployMarker.timestamp - a.deployMarker.timestamp || compareText(b.deployMarker.deployId, a.deployMarker.deployId));
    const page = pageOf(deploys, paging);
    return { items: page.items.map((row) => storableJson({ deployMarker: row.deployMarker, deployResult: row.deployResult })), total: page.total };
  }

  async getDeployHistory(requestId: string, deployId: string): Promise<SingularityDeployHistory | undefined> {
    this.assertOpen();
    const row = this.deploys.get(deployHistoryKey({ deployMarker: { requestId, deployId } } as DeployHistoryRecord));
    return row && storableJson(row);
  }

  async purgeTaskHistory(options: TaskHistoryPurge): Promise<number> {
    this.assertOpen();
    assertValidPurge(options);
    const bytes = options.mode === 'bytes';
    if (options.olderThan === undefined && options.keepNewestPerRequest === undefined) return 0;
    // Rank each request's rows newest first; a row beyond the kept number, or too old, may go.
    const byRequest = new Map<string, TaskRow[]>();
    for (const row of this.tasks.values()) {
      if (options.requestId !== undefined && row.requestId !== options.requestId) continue;
      const list = byRequest.get(row.requestId) ?? [];
      list.push(row);
      byRequest.set(row.requestId, list);
    }
    const doomed: TaskRow[] = [];
    for (const list of byRequest.values()) {
      list.sort((a, b) => b.updatedAt - a.updatedAt || compareText(b.taskId, a.taskId));
      list.forEach((row, rank) => {
        const tooMany = options.keepNewestPerRequest !== undefined && rank >= options.keepNewestPerRequest;
        const tooOld = options.olderThan !== undefined && row.updatedAt < options.olderThan;
        if ((tooMany || tooOld) && (!bytes || row.history)) doomed.push(row);
      });
    }
    doomed.sort((a, b) => a.updatedAt - b.updatedAt || compareText(a.taskId, b.taskId));
    const purged = doomed.slice(0, options.limit);
    for (const row of purged) {
      if (bytes) row.history = undefined;
      else this.tasks.delete(row.taskId);
    }
    return purged.length;
  }

  async purgeRequestHistory(options: HistoryAgePurge): Promise<number> {
    this.assertOpen();
    assertValidPurge(options);
    const doomed = [...this.requestEvents.entries()]
      .filter(([, event]) => event.createdAt < options.olderThan)
      .sort(([, a], [, b]) => a.createdAt - b.createdAt)
      .slice(0, options.limit);
    for (const [key] of doomed) this.requestEvents.delete(key);
    return doomed.length;
  }

  async purgeDeployHistory(options: HistoryAgePurge): Promise<number> {
    this.assertOpen();
    assertValidPurge(options);
    const doomed = [...this.deploys.entries()]
      .filter(([, row]) => row.deployMarker.timestamp < options.olderThan)
      .sort(([, a], [, b]) => a.deployMarker.timestamp - b.deployMarker.timestamp)
      .slice(0, options.limit);
    for (const [key] of doomed) this.deploys.delete(key);
    return doomed.length;
  }

  async health(): Promise<HistoryHealth> {
    return this.closed ? { healthy: false, database: 'memory', error: 'closed' } : { healthy: true, database: 'memory' };
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('history repository is closed');
  }
}

function matches(row: TaskRow, filter: TaskIdHistoryFilter): boolean {
  return (
    (filter.requestId === undefined || row.requestId === filter.requestId) &&
    (filter.deployId === undefined || row.deployId === filter.deployId) &&
    (filter.runId === undefined || row.runId === filter.runId) &&
    (filter.host === undefined || row.host === filter.host) &&
    (filter.lastTaskStatus === undefined || row.lastTaskStatus === filter.lastTaskStatus) &&
    (filter.startedBefore === undefined || row.startedAt < filter.startedBefore) &&
    (filter.startedAfter === undefined || row.startedAt > filter.startedAfter) &&
    (filter.updatedBefore === undefined || row.updatedAt < filter.updatedBefore) &&
    (filter.updatedAfter === undefined || row.updatedAt > filter.updatedAfter)
  );
}
