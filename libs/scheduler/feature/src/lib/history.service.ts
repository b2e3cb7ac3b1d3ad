import type { ExtendedTaskState, SingularityTaskId } from '@singularity/models';
import { lastState, type TaskRecord } from '@singularity/scheduler-core';
import {
  normalizePaging,
  pageOf,
  toPaginatedResponse,
  type HistoryPaging,
  type HistoryRepository,
  type SingularityDeployHistory,
  type SingularityRequestHistory,
  type SingularityTaskHistory,
  type SingularityTaskIdHistory,
  type TaskIdHistoryFilter,
} from '@singularity/scheduler-history';
import { NotFoundError } from '@singularity/util';
import { withAvailabilityErrors } from './history-availability';
import { taskHistoryOf } from './history-persister';
import type { SchedulerContext } from './scheduler-context';
import type { FinishedTaskRecord } from './scheduler-state';

function idHistory(task: { task: { taskId: SingularityTaskId; taskRequest: { pendingTask: { runId?: string } } }; updates: Array<{ taskState: ExtendedTaskState; timestamp: number }> }): SingularityTaskIdHistory {
  const last = task.updates.at(-1);
  return {
    taskId: task.task.taskId,
    updatedAt: last?.timestamp ?? task.task.taskId.startedAt,
    lastTaskState: last?.taskState,
    lastStatus: last?.taskState,
    runId: task.task.taskRequest.pendingTask.runId,
  };
}

function matches(h: SingularityTaskIdHistory, f: TaskIdHistoryFilter): boolean {
  const id = h.taskId;
  return (
    (!f.requestId || id.requestId === f.requestId) &&
    (!f.deployId || id.deployId === f.deployId) &&
    (!f.runId || h.runId === f.runId) &&
    (!f.host || id.host === f.host || id.sanitizedHost === f.host) &&
    (!f.lastTaskStatus || h.lastTaskState === f.lastTaskStatus) &&
    (f.startedBefore === undefined || id.startedAt < f.startedBefore) &&
    (f.startedAfter === undefined || id.startedAt > f.startedAfter) &&
    (f.updatedBefore === undefined || h.updatedAt < f.updatedBefore) &&
    (f.updatedAfter === undefined || h.updatedAt > f.updatedAfter)
  );
}

/**
 * The `/history` endpoints (spec §3.6, §4): reads blend what live state still
 * holds (active tasks, finished ones not yet moved, recent events) with the
 * SQL history. History listings never include active tasks.
 */
export class HistoryService {
  private readonly repository: HistoryRepository;

  constructor(
    private readonly ctx: SchedulerContext,
    repository: HistoryRepository,
    /** The load balancer's updates of a task, shown in its history. */
    private readonly lbUpdatesOf: (taskId: string) => SingularityTaskHistory['loadBalancerUpdates'] = () => [],
  ) {
    this.repository = withAvailabilityErrors(repository);
  }

  async task(taskId: string): Promise<SingularityTaskHistory> {
    const live = this.ctx.state.getTask(taskId) ?? this.ctx.state.getFinishedTask(taskId);
    if (live) return { ...taskHistoryOf(live), loadBalancerUpdates: this.lbUpdatesOf(taskId) };
    const stored = await this.repository.getTaskHistory(taskId);
    if (!stored) throw new NotFoundError(`Couldn't find task history for ${taskId}`);
    return stored;
  }

  /** `/history/tasks`, `/history/request/{r}/tasks`: finished tasks, newest first, paged; live ones first. */
  async tasks(filter: TaskIdHistoryFilter, paging: HistoryPaging) {
    const { count, page } = normalizePaging(paging);
    const direction = filter.orderDirection ?? 'DESC';
    const live = this.finishedLive(filter.requestId)
      .map(idHistory)
      .filter((h) => matches(h, filter))
      .sort((a, b) => (direction === 'ASC' ? 1 : -1) * (a.taskId.startedAt - b.taskId.startedAt));
    const stored = await this.repository.getTaskIdHistories(filter, { count, page });
    const liveIds = new Set(live.map((h) => h.taskId.id));
    const fromSql = stored.items.filter((h) => !liveIds.has(h.taskId.id));
    // Live rows lead the first page; later pages come from SQL (live rows move there within a persist period).
    const items = page === 1 ? [...live, ...fromSql].slice(0, count) : fromSql;
    return { items, total: stored.total + live.length, page, count };
  }

  async tasksPaginated(filter: TaskIdHistoryFilter, paging: HistoryPaging) {
    const r = await this.tasks(filter, paging);
    return toPaginatedResponse({ items: r.items, total: r.total }, { count: r.count, page: r.page });
  }

  /** `/history/request/{r}/tasks/active`: the request's live tasks. */
  activeTasks(requestId: string, deployId?: string): SingularityTaskIdHistory[] {
    return this.ctx.state
      .tasksOf(requestId)
      .filter((t) => !deployId || t.task.taskId.deployId === deployId)
      .map((t: TaskRecord) => ({ ...idHistory(t), lastTaskState: lastState(t), lastStatus: lastState(t) }));
  }

  async run(requestId: string, runId: string): Promise<SingularityTaskHistory> {
    const withRun = (t: FinishedTaskRecord | TaskRecord) => t.task.taskRequest.pendingTask.runId === runId;
    const live = this.ctx.state.tasksOf(requestId).find(withRun) ?? this.ctx.state.finishedTasksOf(requestId).find(withRun);
    if (live) return taskHistoryOf(live);
    const stored = await this.repository.getTaskHistoryByRunId(requestId, runId);
    if (!stored) throw new NotFoundError(`Couldn't find run ${runId} of request ${requestId}`);
    return stored;
  }

  /** `/history/request/{r}/requests`: newest first; live events lead. */
  async requestHistory(requestId: string, paging: HistoryPaging): Promise<SingularityRequestHistory[]> {
    const { count, page } = normalizePaging(paging);
    const live = [...this.ctx.state.getRequestHistory(requestId)].reverse();
    const stored = await this.repository.getRequestHistory(requestId, { count, page });
    const items = page === 1 ? [...live, ...stored.items].slice(0, count) : stored.items;
    return items.map(({ createdAt, eventType, request, user, message }) => ({ createdAt, eventType, request, user, message }));
  }

  /** `/history/requests/search?requestIdLike=`: ids of live requests and of the history, by prefix. */
  async searchRequestIds(requestIdLike: string, paging: HistoryPaging): Promise<string[]> {
    const { count, page } = normalizePaging(paging);
    const live = [...this.ctx.state.requests.keys()].filter((id) => id.startsWith(requestIdLike)).sort();
    const stored = await this.repository.searchRequestIds(requestIdLike, { count: count * page, page: 1 });
    const all = [...new Set([...live, ...stored.items])];
    return pageOf(all, { count, page }).items;
  }

  /** `/history/request/{r}/deploys`: the active and pending deploys first, then finished ones. */
  async deploys(requestId: string, paging: HistoryPaging): Promise<SingularityDeployHistory[]> {
    const { count, page } = normalizePaging(paging);
    const live: SingularityDeployHistory[] = [];
    const state = this.ctx.state;
    const pending = state.getPendingDeploy(requestId);
    if (pending) live.push({ deployMarker: pending.deployMarker });
    const active = state.getDeployState(requestId)?.activeDeploy;
    if (active) live.push({ deployMarker: active, deployResult: state.getDeployResult(requestId, active.deployId) });
    const stored = await this.repository.getDeployHistories(requestId, { count, page });
    const shown = new Set(live.map((d) => d.deployMarker.deployId));
    const fromSql = stored.items.filter((d) => !shown.has(d.deployMarker.deployId));
    const liveFinished = page === 1 ? this.liveFinishedDeploys(requestId, shown, new Set(fromSql.map((d) => d.deployMarker.deployId))) : [];
    return page === 1 ? [...live, ...liveFinished, ...fromSql].slice(0, count) : fromSql;
  }

  /** `/history/request/{r}/deploy/{d}`. */
  async deploy(requestId: string, deployId: string): Promise<SingularityDeployHistory> {
    const state = this.ctx.state;
    const deploy = state.getDeploy(requestId, deployId);
    if (deploy) {
      const pending = state.getPendingDeploy(requestId);
      const marker = pending?.deployMarker.deployId === deployId ? pending.deployMarker : { requestId, deployId, timestamp: deploy.timestamp ?? 0 };
      const stats = state.getDeployStatistics(requestId, deployId);
      return { deployMarker: marker, deploy, deployResult: state.getDeployResult(requestId, deployId), deployStatistics: stats };
    }
    const stored = await this.repository.getDeployHistory(requestId, deployId);
    if (!stored) throw new NotFoundError(`Couldn't find deploy ${deployId} of request ${requestId}`);
    return stored;
  }

  private liveFinishedDeploys(requestId: string, shown: Set<string>, inSql: Set<string>): SingularityDeployHistory[] {
    const state = this.ctx.state;
    return state
      .deployIdsOf(requestId)
      .filter((d) => !shown.has(d) && !inSql.has(d) && state.getDeployResult(requestId, d))
      .map((d) => ({ deployMarker: { requestId, deployId: d, timestamp: state.getDeploy(requestId, d)?.timestamp ?? 0 }, deployResult: state.getDeployResult(requestId, d) }))
      .sort((a, b) => b.deployMarker.timestamp - a.deployMarker.timestamp);
  }

  private finishedLive(requestId?: string): FinishedTaskRecord[] {
    return requestId ? this.ctx.state.finishedTasksOf(requestId) : this.ctx.state.allFinishedTasks();
  }
}
