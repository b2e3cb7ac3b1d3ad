import {
  isTerminalTaskState,
  type AgentRegistration,
  type MachineState,
  type RequestHistoryType,
  type RequestState,
  type SingularityDeploy,
  type SingularityDeployResult,
  type SingularityPendingRequest,
  type SingularityPendingTask,
  type SingularityRequest,
  type SingularityRequestDeployState,
  type SingularityTask,
  type SingularityTaskCleanup,
  type SingularityTaskHistoryUpdate,
  type CrashLoopInfo,
} from '@singularity/models';
import type { DeployStatistics, KilledTaskRecord, PendingDeployRecord, SingularityTaskHealthcheckResult, TaskRecord } from '@singularity/scheduler-core';
import type { StateOp, StateStore } from '@singularity/scheduler-state';

export interface RequestRecord {
  request: SingularityRequest;
  state: RequestState;
  timestamp: number;
}

export interface RequestHistoryRecord {
  createdAt: number;
  user?: string;
  eventType: RequestHistoryType;
  request: SingularityRequest;
  message?: string;
}

/** A registered agent: its registration plus the scheduler's view of it. */
/** The state of an agent or rack, as shown in its history (`SingularityMachineStateHistoryUpdate`). */
export interface MachineStateRecord {
  state: MachineState;
  stateChangedAt: number;
  stateUser?: string;
  stateMessage?: string;
  /** Earlier states, newest last (at most `maxMachineHistoryEntries`). */
  history?: Array<{ state: MachineState; timestamp: number; user?: string; message?: string }>;
}

export interface AgentRecord extends AgentRegistration, MachineStateRecord {
  firstSeenAt: number;
  /** Last registration or heartbeat. Kept in memory between registrations (not persisted per heartbeat). */
  lastSeenAt: number;
}

export interface RackRecord extends MachineStateRecord {
  rackId: string;
  firstSeenAt: number;
}

/** A finished task kept in live state until the history store takes it (history issue). */
export interface FinishedTaskRecord {
  task: SingularityTask;
  updates: SingularityTaskHistoryUpdate[];
  healthcheckResults?: SingularityTaskHealthcheckResult[];
  finishedAt: number;
}

/**
 * What happened, as the live state records it. Listeners run synchronously
 * inside the mutation, so anything they write (e.g. a webhook queue entry)
 * lands in the same commit as the event itself.
 */
export type StateEvent =
  | { type: 'requestHistory'; entry: RequestHistoryRecord }
  | { type: 'taskUpdate'; task: SingularityTask; update: SingularityTaskHistoryUpdate }
  | { type: 'deployStarted'; pendingDeploy: PendingDeployRecord; deploy?: SingularityDeploy }
  | { type: 'deployFinished'; pendingDeploy: PendingDeployRecord; deploy?: SingularityDeploy; result: SingularityDeployResult }
  /** A crash loop opened (no `end`) or ended. */
  | { type: 'crashLoop'; info: CrashLoopInfo };

/**
 * A collection owned by an extension (webhooks, history persister…): a map in
 * memory whose writes join the state's next commit.
 */
export interface ExtensionCollection<T> {
  get(key: string): T | undefined;
  values(): IterableIterator<T>;
  entries(): IterableIterator<[string, T]>;
  readonly size: number;
  put(key: string, value: T): void;
  delete(key: string): void;
}

/** Collections of the live state; one znode directory each in ZooKeeper. */
const C = {
  requests: 'requests',
  requestHistory: 'request-history',
  deploys: 'deploys',
  deployStates: 'deploy-states',
  pendingDeploys: 'pending-deploys',
  deployResults: 'deploy-results',
  deployStatistics: 'deploy-statistics',
  pendingRequests: 'pending-requests',
  pendingTasks: 'pending-tasks',
  tasks: 'tasks',
  taskUpdates: 'task-updates',
  taskHealthchecks: 'task-healthchecks',
  taskCleanups: 'task-cleanups',
  killedTasks: 'killed-tasks',
  finishedTasks: 'finished-tasks',
  agents: 'agents',
  racks: 'racks',
  crashLoops: 'crash-loops',
} as const;

// A bound for live memory; the history persister normally moves finished tasks to SQL long before.
const MAX_FINISHED_TASKS_PER_REQUEST = 1000;
const MAX_REQUEST_HISTORY_PER_REQUEST = 200;
const MAX_HEALTHCHECK_RESULTS_PER_TASK = 50;
const healthcheckKey = (r: SingularityTaskHealthcheckResult) => `${r.taskId.id}:${r.timestamp}`;

/** Unique per event: two events of one request in the same millisecond differ in type or get a later timestamp. */
const requestHistoryKey = (e: RequestHistoryRecord) => `${e.request.id}:${e.createdAt}:${e.eventType}`;

/** One record per loop: a loop keeps its key when it ends. */
const crashLoopKey = (l: CrashLoopInfo) => `${l.requestId}:${l.deployId}:${l.type}:${l.start}`;

export const deployKey = (requestId: string, deployId: string) => `${requestId}:${deployId}`;

function addToIndex<V>(index: Map<string, Map<string, V>>, outer: string, inner: string, value: V): void {
  let m = index.get(outer);
  if (!m) index.set(outer, (m = new Map()));
  m.set(inner, value);
}
function removeFromIndex<V>(index: Map<string, Map<string, V>>, outer: string, inner: string): void {
  const m = index.get(outer);
  if (!m) return;
  m.delete(inner);
  if (m.size === 0) index.delete(outer);
}

/**
 * The scheduler's live state held in memory with the indexes its lookups need,
 * written through to a StateStore. Mutations apply to memory at once and queue
 * store ops; `flush()` commits everything queued so far as one atomic commit.
 * Callers flush before they answer a client or act on the world (launch, kill),
 * so nothing is promised that a crash could take back.
 */
export class SchedulerState {
  readonly requests = new Map<string, RequestRecord>();
  private readonly requestHistory = new Map<string, RequestHistoryRecord[]>();
  private readonly deploys = new Map<string, SingularityDeploy>();
  private readonly deployIdsByRequest = new Map<string, Map<string, true>>();
  readonly deployStates = new Map<string, SingularityRequestDeployState>();
  readonly pendingDeploys = new Map<string, PendingDeployRecord>();
  private readonly deployResults = new Map<string, SingularityDeployResult>();
  private readonly deployStatistics = new Map<string, DeployStatistics>();
  readonly pendingRequests = new Map<string, SingularityPendingRequest>();
  readonly pendingTasks = new Map<string, SingularityPendingTask>();
  private readonly pendingTasksByRequest = new Map<string, Map<string, SingularityPendingTask>>();
  readonly tasks = new Map<string, TaskRecord>();
  private readonly tasksByRequest = new Map<string, Map<string, TaskRecord>>();
  private readonly tasksByAgent = new Map<string, Map<string, TaskRecord>>();
  private readonly finishedTasks = new Map<string, FinishedTaskRecord>();
  private readonly finishedTasksByRequest = new Map<string, Map<string, FinishedTaskRecord>>();
  /** Tasks with a cleanup or a kill in force: the cleanup loop visits only these. */
  private readonly leaving = new Set<string>();
  /** Tasks no agent has reported on yet (only TASK_LAUNCHED): launches to (re)send or expire. */
  private readonly awaitingAgent = new Set<string>();
  readonly agents = new Map<string, AgentRecord>();
  readonly racks = new Map<string, RackRecord>();
  /** Crash loops by request (open and recently ended; a handful per request). */
  private readonly crashLoops = new Map<string, Map<string, CrashLoopInfo>>();
  /** Requests with an open crash loop: the only ones the periodic check revisits. */
  private readonly openCrashLoopRequests = new Set<string>();

  private batch: StateOp[] = [];
  private readonly listeners: Array<(event: StateEvent) => void> = [];
  private readonly extensions = new Map<string, Map<string, unknown>>();
  private snapshot: Map<string, Map<string, unknown>> | undefined;
  private failure: Error | undefined;

  constructor(private readonly store: StateStore) {}

  /** Rebuilds memory from the store. Call once, before anything else. */
  async load(): Promise<void> {
    const snapshot = await this.store.load();
    this.snapshot = snapshot;
    const each = <T>(collection: string, fn: (key: string, value: T) => void) => {
      for (const [key, value] of snapshot.get(collection) ?? []) fn(key, value as T);
    };
    each<RequestRecord>(C.requests, (k, v) => this.requests.set(k, v));
    each<RequestHistoryRecord>(C.requestHistory, (_k, v) => {
      const list = this.requestHistory.get(v.request.id) ?? [];
      list.push(v);
      this.requestHistory.set(v.request.id, list);
    });
    for (const list of this.requestHistory.values()) list.sort((a, b) => a.createdAt - b.createdAt);
    each<SingularityDeploy>(C.deploys, (_k, v) => this.indexDeploy(v));
    each<SingularityRequestDeployState>(C.deployStates, (k, v) => this.deployStates.set(k, v));
    each<PendingDeployRecord>(C.pendingDeploys, (k, v) => this.pendingDeploys.set(k, v));
    each<SingularityDeployResult>(C.deployResults, (k, v) => this.deployResults.set(k, v));
    each<DeployStatistics>(C.deployStatistics, (k, v) => this.deployStatistics.set(k, v));
    each<SingularityPendingRequest>(C.pendingRequests, (k, v) => this.pendingRequests.set(k, v));
    each<SingularityPendingTask>(C.pendingTasks, (_k, v) => this.indexPendingTask(v));
    each<SingularityTask>(C.tasks, (_k, v) => this.indexTask({ task: v, updates: [] }));
    each<SingularityTaskHistoryUpdate>(C.taskUpdates, (_k, v) => this.tasks.get(v.taskId.id)?.updates.push(v));
    for (const record of this.tasks.values()) record.updates.sort((a, b) => a.timestamp - b.timestamp);
    each<SingularityTaskHealthcheckResult>(C.taskHealthchecks, (_k, v) => {
      const record = this.tasks.get(v.taskId.id);
      if (record) (record.healthcheckResults ??= []).push(v);
    });
    for (const record of this.tasks.values()) record.healthcheckResults?.sort((a, b) => a.timestamp - b.timestamp);
    each<SingularityTaskCleanup>(C.taskCleanups, (k, v) => {
      const record = this.tasks.get(k);
      if (record) record.cleanup = v;
    });
    each<KilledTaskRecord>(C.killedTasks, (k, v) => {
      const record = this.tasks.get(k);
      if (record) record.killed = v;
    });
    for (const [id, record] of this.tasks) {
      if (record.cleanup || record.killed) this.leaving.add(id);
      if (record.updates.every((u) => u.taskState === 'TASK_LAUNCHED')) this.awaitingAgent.add(id);
    }
    each<FinishedTaskRecord>(C.finishedTasks, (k, v) => {
      this.finishedTasks.set(k, v);
      addToIndex(this.finishedTasksByRequest, v.task.taskId.requestId, k, v);
    });
    each<AgentRecord>(C.agents, (k, v) => this.agents.set(k, v));
    each<RackRecord>(C.racks, (k, v) => this.racks.set(k, v));
    each<CrashLoopInfo>(C.crashLoops, (k, v) => this.indexCrashLoop(k, v));
  }

  /** Registers a listener for state events (see StateEvent). */
  subscribe(listener: (event: StateEvent) => void): void {
    this.listeners.push(listener);
  }

  private emit(event: StateEvent): void {
    for (const listener of this.listeners) listener(event);
  }

  /** A collection for an extension module, loaded from the store on first use. */
  extension<T>(collection: string): ExtensionCollection<T> {
    let records = this.extensions.get(collection) as Map<string, T> | undefined;
    if (!records) {
      records = new Map((this.snapshot?.get(collection) ?? new Map()) as Map<string, T>);
      this.extensions.set(collection, records);
    }
    const map = records;
    return {
      get: (key) => map.get(key),
      values: () => map.values(),
      entries: () => map.entries(),
      get size() {
        return map.size;
      },
      put: (key, value) => {
        map.set(key, value);
        this.put(collection, key, value);
      },
      delete: (key) => {
        if (map.delete(key)) this.del(collection, key);
      },
    };
  }

  /** Commits every op queued since the last flush, atomically and durably. */
  async flush(): Promise<void> {
    if (this.failure) throw this.failure;
    if (this.batch.length === 0) return;
    const ops = this.batch;
    this.batch = [];
    try {
      await this.store.commit(ops);
    } catch (err) {
      // Memory is now ahead of the store; nothing may act on it. The owner restarts from the store.
      this.failure = err as Error;
      throw err;
    }
  }

  /** Set once a commit failed: memory no longer matches the store. */
  get broken(): Error | undefined {
    return this.failure;
  }

  private put(collection: string, key: string, value: unknown): void {
    this.batch.push({ op: 'put', collection, key, value });
  }
  private del(collection: string, key: string): void {
    this.batch.push({ op: 'delete', collection, key });
  }

  // ---- requests ----
  getRequest(id: string): RequestRecord | undefined {
    return this.requests.get(id);
  }
  putRequest(record: RequestRecord): void {
    this.requests.set(record.request.id, record);
    this.put(C.requests, record.request.id, record);
  }
  removeRequest(id: string): void {
    this.requests.delete(id);
    this.del(C.requests, id);
    this.deployStates.delete(id);
    this.del(C.deployStates, id);
  }
  addRequestHistory(entry: RequestHistoryRecord): void {
    const list = this.requestHistory.get(entry.request.id) ?? [];
    list.push(entry);
    this.requestHistory.set(entry.request.id, list);
    this.put(C.requestHistory, requestHistoryKey(entry), entry);
    this.emit({ type: 'requestHistory', entry });
    while (list.length > MAX_REQUEST_HISTORY_PER_REQUEST) this.del(C.requestHistory, requestHistoryKey(list.shift()!));
  }
  getRequestHistory(requestId: string): readonly RequestHistoryRecord[] {
    return this.requestHistory.get(requestId) ?? [];
  }

  // ---- deploys ----
  private indexDeploy(deploy: SingularityDeploy): void {
    this.deploys.set(deployKey(deploy.requestId, deploy.id), deploy);
    addToIndex(this.deployIdsByRequest, deploy.requestId, deploy.id, true);
  }
  getDeploy(requestId: string, deployId: string): SingularityDeploy | undefined {
    return this.deploys.get(deployKey(requestId, deployId));
  }
  hasDeployId(requestId: string, deployId: string): boolean {
    return this.deployIdsByRequest.get(requestId)?.has(deployId) ?? false;
  }
  putDeploy(deploy: SingularityDeploy): void {
    this.indexDeploy(deploy);
    this.put(C.deploys, deployKey(deploy.requestId, deploy.id), deploy);
  }
  getDeployState(requestId: string): SingularityRequestDeployState | undefined {
    return this.deployStates.get(requestId);
  }
  putDeployState(state: SingularityRequestDeployState): void {
    this.deployStates.set(state.requestId, state);
    this.put(C.deployStates, state.requestId, state);
  }
  activeDeployId(requestId: string): string | undefined {
    return this.deployStates.get(requestId)?.activeDeploy?.deployId;
  }
  getPendingDeploy(requestId: string): PendingDeployRecord | undefined {
    return this.pendingDeploys.get(requestId);
  }
  putPendingDeploy(record: PendingDeployRecord): void {
    const previous = this.pendingDeploys.get(record.deployMarker.requestId);
    this.pendingDeploys.set(record.deployMarker.requestId, record);
    if (!previous || previous.deployMarker.deployId !== record.deployMarker.deployId) {
      this.emit({ type: 'deployStarted', pendingDeploy: record, deploy: this.getDeploy(record.deployMarker.requestId, record.deployMarker.deployId) });
    }
    this.put(C.pendingDeploys, record.deployMarker.requestId, record);
  }
  removePendingDeploy(requestId: string): void {
    this.pendingDeploys.delete(requestId);
    this.del(C.pendingDeploys, requestId);
  }
  getDeployResult(requestId: string, deployId: string): SingularityDeployResult | undefined {
    return this.deployResults.get(deployKey(requestId, deployId));
  }
  putDeployResult(requestId: string, deployId: string, result: SingularityDeployResult): void {
    this.deployResults.set(deployKey(requestId, deployId), result);
    this.put(C.deployResults, deployKey(requestId, deployId), result);
    const pending = this.pendingDeploys.get(requestId);
    if (pending && pending.deployMarker.deployId === deployId) {
      this.emit({ type: 'deployFinished', pendingDeploy: pending, deploy: this.getDeploy(requestId, deployId), result });
    }
  }
  getDeployStatistics(requestId: string, deployId: string): DeployStatistics | undefined {
    return this.deployStatistics.get(deployKey(requestId, deployId));
  }
  putDeployStatistics(stats: DeployStatistics): void {
    this.deployStatistics.set(deployKey(stats.requestId, stats.deployId), stats);
    this.put(C.deployStatistics, deployKey(stats.requestId, stats.deployId), stats);
  }
  deployIdsOf(requestId: string): string[] {
    return [...(this.deployIdsByRequest.get(requestId)?.keys() ?? [])];
  }

  // ---- crash loops ----
  private indexCrashLoop(key: string, loop: CrashLoopInfo): void {
    addToIndex(this.crashLoops, loop.requestId, key, loop);
    const anyOpen = [...(this.crashLoops.get(loop.requestId)?.values() ?? [])].some((l) => l.end === undefined);
    if (anyOpen) this.openCrashLoopRequests.add(loop.requestId);
    else this.openCrashLoopRequests.delete(loop.requestId);
  }
  crashLoopsOf(requestId: string): CrashLoopInfo[] {
    return [...(this.crashLoops.get(requestId)?.values() ?? [])];
  }
  requestsWithOpenCrashLoops(): string[] {
    return [...this.openCrashLoopRequests];
  }
  /** Records a loop that opened or ended; CRASHLOOP webhooks hear of it in the same commit. */
  saveCrashLoop(loop: CrashLoopInfo): void {
    this.indexCrashLoop(crashLoopKey(loop), loop);
    this.put(C.crashLoops, crashLoopKey(loop), loop);
    this.emit({ type: 'crashLoop', info: loop });
  }
  /** Forgets a loop without telling anyone (an old deploy's, or beyond the kept history). */
  deleteCrashLoop(loop: CrashLoopInfo): void {
    const key = crashLoopKey(loop);
    removeFromIndex(this.crashLoops, loop.requestId, key);
    this.del(C.crashLoops, key);
    if (!this.crashLoopsOf(loop.requestId).some((l) => l.end === undefined)) this.openCrashLoopRequests.delete(loop.requestId);
  }

  // ---- pending queue ----
  putPendingRequest(key: string, pr: SingularityPendingRequest): void {
    this.pendingRequests.set(key, pr);
    this.put(C.pendingRequests, key, pr);
  }
  removePendingRequest(key: string): void {
    if (!this.pendingRequests.delete(key)) return;
    this.del(C.pendingRequests, key);
  }
  private indexPendingTask(pt: SingularityPendingTask): void {
    this.pendingTasks.set(pt.pendingTaskId.id, pt);
    addToIndex(this.pendingTasksByRequest, pt.pendingTaskId.requestId, pt.pendingTaskId.id, pt);
  }
  putPendingTask(pt: SingularityPendingTask): void {
    this.indexPendingTask(pt);
    this.put(C.pendingTasks, pt.pendingTaskId.id, pt);
  }
  removePendingTask(id: string): void {
    const pt = this.pendingTasks.get(id);
    if (!pt) return;
    this.pendingTasks.delete(id);
    removeFromIndex(this.pendingTasksByRequest, pt.pendingTaskId.requestId, id);
    this.del(C.pendingTasks, id);
  }
  pendingTasksOf(requestId: string): SingularityPendingTask[] {
    return [...(this.pendingTasksByRequest.get(requestId)?.values() ?? [])];
  }

  // ---- tasks ----
  private indexTask(record: TaskRecord): void {
    const id = record.task.taskId.id;
    this.tasks.set(id, record);
    addToIndex(this.tasksByRequest, record.task.taskId.requestId, id, record);
    addToIndex(this.tasksByAgent, record.task.mesosTask.agentId.value, id, record);
  }
  getTask(taskId: string): TaskRecord | undefined {
    return this.tasks.get(taskId);
  }
  tasksOf(requestId: string): TaskRecord[] {
    return [...(this.tasksByRequest.get(requestId)?.values() ?? [])];
  }
  /** Tasks with a cleanup or kill in force. */
  leavingTasks(): TaskRecord[] {
    return [...this.leaving].map((id) => this.tasks.get(id)!).filter(Boolean);
  }
  /** Tasks no agent has reported on yet. */
  tasksAwaitingAgent(): TaskRecord[] {
    return [...this.awaitingAgent].map((id) => this.tasks.get(id)!).filter(Boolean);
  }
  tasksOnAgent(agentId: string): TaskRecord[] {
    return [...(this.tasksByAgent.get(agentId)?.values() ?? [])];
  }
  /** Adds a launched task and removes the pending task it came from, in the same commit. */
  addTask(task: SingularityTask, launched: SingularityTaskHistoryUpdate): TaskRecord {
    const record: TaskRecord = { task, updates: [] };
    this.indexTask(record);
    this.put(C.tasks, task.taskId.id, task);
    this.addTaskUpdate(record, launched);
    this.awaitingAgent.add(task.taskId.id);
    this.removePendingTask(task.taskRequest.pendingTask.pendingTaskId.id);
    return record;
  }
  addTaskUpdate(record: TaskRecord, update: SingularityTaskHistoryUpdate): void {
    record.updates.push(update);
    if (update.taskState !== 'TASK_LAUNCHED' && update.taskState !== 'TASK_CLEANING') this.awaitingAgent.delete(update.taskId.id);
    this.put(C.taskUpdates, `${update.taskId.id}:${update.taskState}`, update);
    this.emit({ type: 'taskUpdate', task: record.task, update });
  }
  /** Keeps a health-check result with its task (the newest 50). */
  addHealthcheckResult(record: TaskRecord, result: SingularityTaskHealthcheckResult): void {
    const results = (record.healthcheckResults ??= []);
    results.push(result);
    this.put(C.taskHealthchecks, healthcheckKey(result), result);
    while (results.length > MAX_HEALTHCHECK_RESULTS_PER_TASK) this.del(C.taskHealthchecks, healthcheckKey(results.shift()!));
  }
  putCleanup(record: TaskRecord, cleanup: SingularityTaskCleanup): void {
    record.cleanup = cleanup;
    this.leaving.add(cleanup.taskId.id);
    this.put(C.taskCleanups, cleanup.taskId.id, cleanup);
  }
  removeCleanup(record: TaskRecord): void {
    if (!record.cleanup) return;
    record.cleanup = undefined;
    if (!record.killed) this.leaving.delete(record.task.taskId.id);
    this.del(C.taskCleanups, record.task.taskId.id);
  }
  putKilled(record: TaskRecord, killed: KilledTaskRecord): void {
    record.killed = killed;
    this.leaving.add(killed.taskId);
    this.put(C.killedTasks, killed.taskId, killed);
  }
  /** Moves a task that reached a terminal state out of the live tables. */
  finishTask(record: TaskRecord, finishedAt: number): FinishedTaskRecord {
    const id = record.task.taskId.id;
    this.tasks.delete(id);
    this.leaving.delete(id);
    this.awaitingAgent.delete(id);
    removeFromIndex(this.tasksByRequest, record.task.taskId.requestId, id);
    removeFromIndex(this.tasksByAgent, record.task.mesosTask.agentId.value, id);
    this.del(C.tasks, id);
    for (const u of record.updates) this.del(C.taskUpdates, `${id}:${u.taskState}`);
    for (const r of record.healthcheckResults ?? []) this.del(C.taskHealthchecks, healthcheckKey(r));
    if (record.cleanup) this.del(C.taskCleanups, id);
    if (record.killed) this.del(C.killedTasks, id);
    const finished: FinishedTaskRecord = { task: record.task, updates: record.updates, healthcheckResults: record.healthcheckResults, finishedAt };
    this.finishedTasks.set(id, finished);
    addToIndex(this.finishedTasksByRequest, record.task.taskId.requestId, id, finished);
    this.put(C.finishedTasks, id, finished);
    const ofRequest = this.finishedTasksByRequest.get(record.task.taskId.requestId)!;
    if (ofRequest.size > MAX_FINISHED_TASKS_PER_REQUEST) {
      const oldest = [...ofRequest.values()].sort((a, b) => a.finishedAt - b.finishedAt)[0];
      this.forgetFinished(oldest.task.taskId.id);
    }
    return finished;
  }
  /** Every finished task still held in live state (the history persister moves them to SQL). */
  allFinishedTasks(): FinishedTaskRecord[] {
    return [...this.finishedTasks.values()];
  }

  /** Every request history event still held in live state. */
  allRequestHistory(): RequestHistoryRecord[] {
    return [...this.requestHistory.values()].flat();
  }

  /** Drops request history events the history store now holds. */
  forgetRequestHistory(entries: readonly RequestHistoryRecord[]): void {
    for (const entry of entries) {
      const list = this.requestHistory.get(entry.request.id);
      if (!list) continue;
      const i = list.indexOf(entry);
      if (i >= 0) list.splice(i, 1);
      if (list.length === 0) this.requestHistory.delete(entry.request.id);
      this.del(C.requestHistory, requestHistoryKey(entry));
    }
  }

  /** Drops a finished task the history store now holds. */
  forgetFinished(taskId: string): void {
    const f = this.finishedTasks.get(taskId);
    if (!f) return;
    this.finishedTasks.delete(taskId);
    removeFromIndex(this.finishedTasksByRequest, f.task.taskId.requestId, taskId);
    this.del(C.finishedTasks, taskId);
  }
  /**
   * Brings a finished (lost) task back to the live tables, without its terminal
   * updates: its agent turned out to still run it (spec §3.2 TASK_RECOVERED).
   */
  recoverTask(taskId: string): TaskRecord | undefined {
    const finished = this.finishedTasks.get(taskId);
    if (!finished) return undefined;
    this.forgetFinished(taskId);
    const record: TaskRecord = {
      task: finished.task,
      updates: finished.updates.filter((u) => !isTerminalTaskState(u.taskState)),
      healthcheckResults: finished.healthcheckResults,
    };
    this.indexTask(record);
    this.put(C.tasks, taskId, record.task);
    for (const u of record.updates) this.put(C.taskUpdates, `${taskId}:${u.taskState}`, u);
    for (const r of record.healthcheckResults ?? []) this.put(C.taskHealthchecks, healthcheckKey(r), r);
    return record;
  }

  getFinishedTask(taskId: string): FinishedTaskRecord | undefined {
    return this.finishedTasks.get(taskId);
  }
  finishedTasksOf(requestId: string): FinishedTaskRecord[] {
    return [...(this.finishedTasksByRequest.get(requestId)?.values() ?? [])];
  }

  // ---- agents and racks ----
  putAgent(agent: AgentRecord): void {
    this.agents.set(agent.agentId, agent);
    this.put(C.agents, agent.agentId, agent);
  }
  removeAgent(agentId: string): void {
    if (!this.agents.delete(agentId)) return;
    this.del(C.agents, agentId);
  }
  removeRack(rackId: string): void {
    if (!this.racks.delete(rackId)) return;
    this.del(C.racks, rackId);
  }
  putRack(rack: RackRecord): void {
    this.racks.set(rack.rackId, rack);
    this.put(C.racks, rack.rackId, rack);
  }
}
