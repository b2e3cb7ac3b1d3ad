import { randomUUID } from 'node:crypto';
import {
  isLongRunning,
  type CrashLoopInfo,
  type RequestState,
  type SingularityPendingRequestParent,
  type SingularityRequest,
  type SingularityRequestParent,
  validateBounceRequest,
  validateDeleteRequestRequest,
  validateExitCooldownRequest,
  validatePauseRequest,
  validateRequest,
  validateRequestUpdate,
  validateRunNowRequest,
  validateScaleRequest,
  validateUnpauseRequest,
  type ValidationLimits,
} from '@singularity/models';
import { isLeaving } from '@singularity/scheduler-core';
import { ConflictError, InvalidRequestError, NotFoundError, TooManyRequestsError } from '@singularity/util';
import type { RequestEvents } from './request-events';
import type { SchedulerContext } from './scheduler-context';
import type { ReadModels } from './read-models';
import type { RequestRecord } from './scheduler-state';
import type { TaskScheduler } from './task-scheduler';

export type RequestListFilter = 'all' | 'active' | 'paused' | 'cooldown' | 'finished';

/** The request endpoints' behaviour (spec §2.1, §2.4 run-now, §2.6 operator actions). */
export class RequestService {
  private readonly events: RequestEvents;
  private readonly read: ReadModels;

  constructor(
    private readonly ctx: SchedulerContext,
    private readonly scheduler: TaskScheduler,
    private readonly limits: ValidationLimits,
  ) {
    this.events = scheduler.events;
    this.read = scheduler.read;
  }

  list(filter: RequestListFilter, requestType?: string): SingularityRequestParent[] {
    const wanted: Record<RequestListFilter, (s: RequestState) => boolean> = {
      all: () => true,
      active: (s) => s === 'ACTIVE' || s === 'DEPLOYING_TO_UNPAUSE',
      paused: (s) => s === 'PAUSED',
      cooldown: (s) => s === 'SYSTEM_COOLDOWN',
      finished: (s) => s === 'FINISHED',
    };
    const out: SingularityRequestParent[] = [];
    for (const record of this.ctx.state.requests.values()) {
      if (!wanted[filter](record.state)) continue;
      if (requestType && record.request.requestType !== requestType) continue;
      out.push(this.read.requestParent(record));
    }
    return out;
  }

  get(requestId: string): SingularityRequestParent {
    return this.read.requestParent(this.find(requestId));
  }

  ids(): string[] {
    return [...this.ctx.state.requests.keys()];
  }

  /** `GET /requests/request/{id}/simple` (SingularityRequestWithState). */
  simple(requestId: string) {
    const { request, state, timestamp } = this.find(requestId);
    return { request, state, timestamp };
  }

  /** `GET /requests/queued/pending`. */
  pendingRequests() {
    return [...this.ctx.state.pendingRequests.values()].sort((a, b) => a.timestamp - b.timestamp);
  }

  /** `GET /requests/request/{id}/run/{runId}`: the task id of a run once it has been launched. */
  runTaskId(requestId: string, runId: string) {
    this.find(requestId);
    const withRun = (t: { task: { taskRequest: { pendingTask: { runId?: string } } } }) => t.task.taskRequest.pendingTask.runId === runId;
    const found = this.ctx.state.tasksOf(requestId).find(withRun) ?? this.ctx.state.finishedTasksOf(requestId).find(withRun);
    if (!found) throw new NotFoundError(`Run ${runId} of request ${requestId} has not been launched`);
    return found.task.taskId;
  }

  /** `GET /requests/request/{id}/crashloops`: its open and recently ended crash loops (404 for an unknown request). */
  crashLoops(requestId: string): CrashLoopInfo[] {
    this.find(requestId);
    return this.scheduler.crashLoops.ofRequest(requestId);
  }

  /** `GET /requests/crashloops`: request id → its open crash loops. */
  allCrashLoops(): Record<string, CrashLoopInfo[]> {
    return this.scheduler.crashLoops.allOpen();
  }

  find(requestId: string): RequestRecord {
    const record = this.ctx.state.getRequest(requestId);
    if (!record) throw new NotFoundError(`Couldn't find request with id ${requestId}`);
    return record;
  }

  async createOrUpdate(body: unknown, user?: string): Promise<SingularityRequestParent> {
    const existing = this.ctx.state.getRequest(typeof body === 'object' && body && 'id' in body ? String((body as { id: unknown }).id) : '');
    let request: SingularityRequest;
    let record: RequestRecord;
    if (!existing) {
      request = validateRequest(body, this.limits);
      record = { request, state: 'ACTIVE', timestamp: this.ctx.clock.now() };
      this.ctx.state.putRequest(record);
      this.events.history(record, 'CREATED', user);
    } else {
      if (existing.state === 'DELETING') throw new ConflictError(`Request ${existing.request.id} is being deleted`);
      if (this.ctx.state.getPendingDeploy(existing.request.id)?.updatedRequest) {
        throw new ConflictError(`Request ${existing.request.id} has a pending deploy that will update it; wait for it to finish`);
      }
      request = validateRequestUpdate(existing.request, body, this.limits);
      const schedulingChanged =
        request.instances !== existing.request.instances || request.schedule !== existing.request.schedule || request.requestType !== existing.request.requestType;
      const state: RequestState = existing.state === 'FINISHED' && schedulingChanged ? 'ACTIVE' : existing.state;
      record = { request, state, timestamp: this.ctx.clock.now() };
      this.ctx.state.putRequest(record);
      this.events.history(record, 'UPDATED', user);
      const activeDeployId = this.ctx.state.activeDeployId(request.id);
      if (schedulingChanged && activeDeployId) {
        this.events.enqueue({ requestId: request.id, deployId: activeDeployId, pendingType: 'UPDATED_REQUEST', user });
      }
    }
    await this.ctx.state.flush();
    this.scheduler.tickSoon();
    return this.read.requestParent(record);
  }

  async delete(requestId: string, body: unknown, user?: string): Promise<SingularityRequest> {
    const options = validateDeleteRequestRequest(body);
    const record = this.find(requestId);
    if (record.state === 'DELETING') throw new ConflictError(`Request ${requestId} is already being deleted`);
    const deleting = this.events.setRequestState(record, 'DELETING', 'DELETING', user, options.message);
    this.events.dropPendingWork(requestId);
    this.ctx.state.removePendingDeploy(requestId);
    const tasks = this.ctx.state.tasksOf(requestId);
    for (const t of tasks) if (!t.killed) this.events.cleanup(t, 'REQUEST_DELETING', user, options.message, options.actionId);
    if (tasks.length === 0) this.scheduler.finishDeletion(requestId);
    await this.ctx.state.flush();
    this.scheduler.tickSoon(0);
    return deleting.request;
  }

  async pause(requestId: string, body: unknown, user?: string): Promise<SingularityRequestParent> {
    const options = validatePauseRequest(body);
    const record = this.find(requestId);
    if (record.state === 'PAUSED') throw new ConflictError(`Request ${requestId} is already paused`);
    if (record.state === 'DELETING') throw new ConflictError(`Request ${requestId} is being deleted`);
    const paused = this.events.setRequestState(record, 'PAUSED', 'PAUSED', user, options.message);
    if (options.durationMillis) {
      this.scheduler.expiring.set({
        kind: 'pause',
        requestId,
        user,
        startMillis: this.ctx.clock.now(),
        durationMillis: options.durationMillis,
        actionId: options.actionId ?? randomUUID(),
        expiringAPIRequestObject: { ...options },
      });
    }
    this.events.dropPendingWork(requestId);
    const killTasks = options.killTasks ?? true;
    for (const t of this.ctx.state.tasksOf(requestId)) {
      if (!isLeaving(t)) this.events.cleanup(t, killTasks ? 'PAUSE' : 'PAUSING', user, options.message, options.actionId);
    }
    await this.ctx.state.flush();
    this.scheduler.tickSoon(0);
    return this.read.requestParent(paused);
  }

  async unpause(requestId: string, body: unknown, user?: string): Promise<SingularityRequestParent> {
    const options = validateUnpauseRequest(body);
    const record = this.find(requestId);
    if (record.state !== 'PAUSED') throw new ConflictError(`Request ${requestId} is not paused (it is ${record.state})`);
    const active = this.events.setRequestState(record, 'ACTIVE', 'UNPAUSED', user, options.message);
    this.scheduler.expiring.take(requestId, 'pause');
    const activeDeployId = this.ctx.state.activeDeployId(requestId);
    if (activeDeployId && isLongRunning(record.request.requestType)) {
      this.events.enqueue({ requestId, deployId: activeDeployId, pendingType: 'UNPAUSED', user, skipHealthchecks: options.skipHealthchecks });
    }
    await this.ctx.state.flush();
    this.scheduler.tickSoon(0);
    return this.read.requestParent(active);
  }

  async bounce(requestId: string, body: unknown, user?: string): Promise<SingularityRequestParent> {
    const options = validateBounceRequest(body);
    const record = this.find(requestId);
    if (!isLongRunning(record.request.requestType)) {
      throw new InvalidRequestError(`requestType: only SERVICE and WORKER requests can be bounced (${requestId} is ${record.request.requestType})`, 'requestType');
    }
    if (record.state === 'PAUSED') throw new ConflictError(`Request ${requestId} is paused; unpause it before bouncing`);
    const activeDeployId = this.ctx.state.activeDeployId(requestId);
    if (!activeDeployId) throw new ConflictError(`Request ${requestId} has no active deploy to bounce`);
    const tasks = this.ctx.state.tasksOf(requestId);
    if (tasks.some((t) => t.cleanup?.cleanupType === 'BOUNCING' || t.cleanup?.cleanupType === 'INCREMENTAL_BOUNCE')) {
      throw new ConflictError(`Request ${requestId} is already bouncing`);
    }
    const actionId = options.actionId ?? randomUUID();
    const cleanupType = options.incremental ? 'INCREMENTAL_BOUNCE' : 'BOUNCING';
    for (const t of tasks) {
      if (t.task.taskId.deployId === activeDeployId && !isLeaving(t)) this.events.cleanup(t, cleanupType, user, options.message, actionId);
    }
    this.events.history(record, 'BOUNCED', user, options.message);
    // Every bounce expires: unfinished, it is cancelled after durationMillis (default defaultBounceExpirationMinutes).
    this.scheduler.expiring.set({
      kind: 'bounce',
      requestId,
      deployId: activeDeployId,
      user,
      startMillis: this.ctx.clock.now(),
      durationMillis: options.durationMillis ?? this.ctx.settings.defaultBounceExpirationMinutes * 60_000,
      actionId,
      expiringAPIRequestObject: { ...options },
    });
    this.events.enqueue({ requestId, deployId: activeDeployId, pendingType: 'BOUNCE', user, actionId, skipHealthchecks: options.skipHealthchecks, message: options.message });
    await this.ctx.state.flush();
    this.scheduler.tickSoon(0);
    return this.read.requestParent(record);
  }

  async run(requestId: string, body: unknown, user?: string): Promise<SingularityPendingRequestParent> {
    const options = validateRunNowRequest(body);
    const record = this.find(requestId);
    const type = record.request.requestType;
    if (type !== 'ON_DEMAND' && type !== 'SCHEDULED') {
      throw new InvalidRequestError(`requestType: only ON_DEMAND and SCHEDULED requests can be run now (${requestId} is ${type})`, 'requestType');
    }
    if (record.state === 'PAUSED') throw new ConflictError(`Request ${requestId} is paused`);
    const activeDeployId = this.ctx.state.activeDeployId(requestId);
    if (!activeDeployId) throw new ConflictError(`Request ${requestId} has no active deploy to run`);
    const now = this.ctx.clock.now();
    const active = this.ctx.state.tasksOf(requestId).filter((t) => !isLeaving(t)).length;
    if (type === 'SCHEDULED' && active > 0) throw new ConflictError(`Request ${requestId} is already running`);
    if (type === 'ON_DEMAND' && record.request.instances !== undefined) {
      const queued = this.ctx.state.pendingTasksOf(requestId).length + [...this.ctx.state.pendingRequests.values()].filter((p) => p.requestId === requestId).length;
      if (active + queued >= record.request.instances) {
        throw new TooManyRequestsError(`Request ${requestId} already has ${active + queued} task(s) active or pending (instances: ${record.request.instances})`);
      }
    }
    const runId = options.runId ?? randomUUID();
    const pendingRequest = this.events.enqueue({
      requestId,
      deployId: activeDeployId,
      pendingType: type === 'ON_DEMAND' ? 'ONEOFF' : 'IMMEDIATE',
      user,
      runId,
      cmdLineArgsList: options.commandLineArgs,
      skipHealthchecks: options.skipHealthchecks,
      message: options.message,
      resources: options.resources,
      runAsUserOverride: options.runAsUserOverride,
      envOverrides: options.envOverrides,
      requiredAgentAttributeOverrides: options.requiredAgentAttributeOverrides,
      allowedAgentAttributeOverrides: options.allowedAgentAttributeOverrides,
      extraArtifacts: options.extraArtifacts,
      runAt: options.runAt,
      timestamp: now,
    });
    await this.ctx.state.flush();
    this.scheduler.tickSoon(0);
    return { ...this.read.requestParent(record), pendingRequest };
  }

  async exitCooldown(requestId: string, body: unknown, user?: string): Promise<SingularityRequestParent> {
    const options = validateExitCooldownRequest(body);
    const record = this.find(requestId);
    if (record.state !== 'SYSTEM_COOLDOWN') throw new ConflictError(`Request ${requestId} is not in cool-down (it is ${record.state})`);
    this.scheduler.exitCooldown(record, user, options.message ?? 'exited by a user');
    const activeDeployId = this.ctx.state.activeDeployId(requestId);
    if (activeDeployId && isLongRunning(record.request.requestType)) {
      this.events.enqueue({ requestId, deployId: activeDeployId, pendingType: 'IMMEDIATE', user, message: options.message });
    }
    await this.ctx.state.flush();
    return this.read.requestParent(this.find(requestId));
  }

  /** `DELETE …/pause`, `…/scale`: the action stays, only its expiry is cancelled. */
  async cancelExpiring(requestId: string, kind: 'pause' | 'scale'): Promise<SingularityRequestParent> {
    const record = this.find(requestId);
    if (!this.scheduler.expiring.take(requestId, kind)) throw new NotFoundError(`Request ${requestId} has no expiring ${kind}`);
    await this.ctx.state.flush();
    return this.read.requestParent(record);
  }

  /** `DELETE …/bounce`: stops a bounce in progress; old tasks not yet killed keep running. */
  async cancelBounce(requestId: string, user?: string): Promise<SingularityRequestParent> {
    const record = this.find(requestId);
    if (!this.scheduler.expiring.get(requestId, 'bounce')) throw new NotFoundError(`Request ${requestId} is not bouncing`);
    this.scheduler.cancelBounce(requestId, user);
    await this.ctx.state.flush();
    this.scheduler.tickSoon(0);
    return this.read.requestParent(record);
  }

  async scale(requestId: string, body: unknown, user: string | undefined, largeScaleDownAcknowledged: boolean): Promise<SingularityRequestParent> {
    const options = validateScaleRequest(body);
    const record = this.find(requestId);
    const current = record.request.instances ?? 1;
    if (options.instances === current) throw new InvalidRequestError(`instances: request ${requestId} already has ${current} instance(s)`, 'instances');
    if (record.request.requestType === 'SCHEDULED' && options.instances !== 1) {
      throw new InvalidRequestError('instances: SCHEDULED requests run exactly 1 instance', 'instances');
    }
    if (options.instances > this.limits.maxNumInstancesPerRequest) {
      throw new InvalidRequestError(`instances: must be at most ${this.limits.maxNumInstancesPerRequest} (got ${options.instances})`, 'instances');
    }
    const drop = current - options.instances;
    const large = drop > this.ctx.settings.maxScaleDownWithoutAcknowledgement || (current > 10 && options.instances < current / 2);
    if (drop > 0 && large && !largeScaleDownAcknowledged) {
      throw new InvalidRequestError(
        `instances: scaling ${requestId} down from ${current} to ${options.instances} needs ?largeScaleDownAcknowledged=true`,
        'instances',
      );
    }
    const updated: RequestRecord = { ...record, request: { ...record.request, instances: options.instances }, timestamp: this.ctx.clock.now() };
    this.ctx.state.putRequest(updated);
    this.events.history(updated, 'SCALED', user, options.message ?? `scaled from ${current} to ${options.instances}`);
    if (options.durationMillis) {
      this.scheduler.expiring.set({
        kind: 'scale',
        requestId,
        user,
        startMillis: this.ctx.clock.now(),
        durationMillis: options.durationMillis,
        actionId: options.actionId ?? randomUUID(),
        revertToInstances: this.scheduler.expiring.get(requestId, 'scale')?.revertToInstances ?? current,
        expiringAPIRequestObject: { ...options },
      });
    } else {
      this.scheduler.expiring.take(requestId, 'scale');
    }
    const activeDeployId = this.ctx.state.activeDeployId(requestId);
    if (activeDeployId) this.events.enqueue({ requestId, deployId: activeDeployId, pendingType: 'UPDATED_REQUEST', user, message: options.message });
    await this.ctx.state.flush();
    this.scheduler.tickSoon(0);
    return this.read.requestParent(updated);
  }
}
