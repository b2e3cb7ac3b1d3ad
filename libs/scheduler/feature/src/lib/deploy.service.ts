import { isDeployable, validateDeployRequest, type SingularityPendingDeploy, type SingularityRequestParent, type ValidationLimits } from '@singularity/models';
import { ConflictError, InvalidRequestError, NotFoundError } from '@singularity/util';
import { wirePendingDeploy, type ReadModels } from './read-models';
import type { RequestEvents } from './request-events';
import type { SchedulerContext } from './scheduler-context';
import type { TaskScheduler } from './task-scheduler';

/** `POST /deploys` and deploy cancellation (spec §2.3 steps 1 and 7). The checks run in TaskScheduler. */
export class DeployService {
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

  async deploy(body: unknown, user?: string): Promise<SingularityRequestParent> {
    const requestId = validateDeployRequest(body, { limits: this.limits }).deploy.requestId;
    let record = this.ctx.state.getRequest(requestId);
    if (!record) throw new NotFoundError(`Couldn't find request with id ${requestId}`);
    const deployRequest = validateDeployRequest(body, { request: record.request, limits: this.limits });
    if (record.state === 'DELETING') throw new ConflictError(`Request ${requestId} is being deleted`);
    const pending = this.ctx.state.getPendingDeploy(requestId);
    if (pending) {
      throw new ConflictError(`Pending deploy ${pending.deployMarker.deployId} is in progress for request ${requestId}; cancel it or wait for it to finish`);
    }
    if (record.state === 'PAUSED' && !deployRequest.unpauseOnSuccessfulDeploy) {
      throw new ConflictError(`Request ${requestId} is paused; unpause it or deploy with unpauseOnSuccessfulDeploy`);
    }
    if (this.ctx.state.hasDeployId(requestId, deployRequest.deploy.id)) {
      throw new InvalidRequestError(`deploy.id: deploy ${deployRequest.deploy.id} already exists for request ${requestId}; deploy ids are never reused`, 'deploy.id');
    }
    const request = deployRequest.updatedRequest ?? record.request;
    const deploy = { ...deployRequest.deploy, timestamp: this.ctx.clock.now() };
    const now = this.ctx.clock.now();
    const marker = { requestId, deployId: deploy.id, timestamp: now, user, message: deployRequest.message };

    this.ctx.state.putDeploy(deploy);
    if (record.state === 'PAUSED') record = this.events.setRequestState(record, 'DEPLOYING_TO_UNPAUSE', undefined, user);
    const instances = request.instances ?? 1;
    const canary = deploy.canaryDeploySettings?.enableCanaryDeploy && isDeployable(request.requestType) ? deploy.canaryDeploySettings : undefined;
    this.ctx.state.putPendingDeploy({
      deployMarker: marker,
      currentDeployState: 'WAITING',
      step: canary ? 1 : undefined,
      deployProgress: {
        // A canary deploy starts with one group; the others follow step by step (spec §2.3.1, §2.3.4).
        targetActiveInstances: canary ? Math.min(instances, canary.instanceGroupSize) : instances,
        currentActiveInstances: 0,
        deployInstanceCountPerStep: canary?.instanceGroupSize ?? 0,
        deployStepWaitTimeMs: canary?.waitMillisBetweenGroups ?? 0,
        stepComplete: false,
        stepLaunchComplete: false,
        autoAdvanceDeploySteps: deploy.autoAdvanceDeploySteps ?? true,
        failedDeployTasks: [],
        timestamp: now,
      },
      updatedRequest: deployRequest.updatedRequest,
    });
    const deployState = this.ctx.state.getDeployState(requestId);
    this.ctx.state.putDeployState({ requestId, activeDeploy: deployState?.activeDeploy, pendingDeploy: marker });
    if (isDeployable(request.requestType)) {
      this.events.enqueue({ requestId, deployId: deploy.id, pendingType: 'NEW_DEPLOY', user });
    }
    await this.ctx.state.flush();
    this.ctx.logger.info({ requestId, deployId: deploy.id, user }, 'deploy started');
    this.scheduler.tickSoon(0);
    return this.read.requestParent(record);
  }

  /** `GET /deploys/pending`: every deploy in progress (SingularityPendingDeploy[]). */
  pending(): SingularityPendingDeploy[] {
    return [...this.ctx.state.pendingDeploys.values()].map(wirePendingDeploy);
  }

  /** `POST /deploys/update`: sets the number of new tasks the current step aims for (1..instances). */
  async update(body: unknown, user?: string): Promise<SingularityRequestParent> {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new InvalidRequestError('body: a SingularityUpdatePendingDeployRequest object is required');
    const { requestId, deployId, targetActiveInstances } = body as Record<string, unknown>;
    if (typeof requestId !== 'string' || !requestId) throw new InvalidRequestError('requestId: required', 'requestId');
    if (typeof deployId !== 'string' || !deployId) throw new InvalidRequestError('deployId: required', 'deployId');
    const record = this.ctx.state.getRequest(requestId);
    if (!record) throw new NotFoundError(`Couldn't find request with id ${requestId}`);
    const pending = this.ctx.state.getPendingDeploy(requestId);
    if (!pending || pending.deployMarker.deployId !== deployId) {
      throw new InvalidRequestError(`deployId: ${deployId} is not the pending deploy of request ${requestId}`, 'deployId');
    }
    const instances = (pending.updatedRequest ?? record.request).instances ?? 1;
    if (typeof targetActiveInstances !== 'number' || !Number.isInteger(targetActiveInstances) || targetActiveInstances < 1 || targetActiveInstances > instances) {
      throw new InvalidRequestError(`targetActiveInstances: must be an integer from 1 to ${instances} (got ${JSON.stringify(targetActiveInstances)})`, 'targetActiveInstances');
    }
    this.ctx.state.putPendingDeploy({
      ...pending,
      stepCompletedAt: undefined,
      deployProgress: { ...pending.deployProgress, targetActiveInstances, stepComplete: false, stepLaunchComplete: false, timestamp: this.ctx.clock.now() },
    });
    this.events.enqueue({ requestId, deployId, pendingType: 'NEXT_DEPLOY_STEP', user });
    await this.ctx.state.flush();
    this.scheduler.tickSoon(0);
    return this.read.requestParent(record);
  }

  async cancel(requestId: string, deployId: string, user?: string): Promise<SingularityRequestParent> {
    const record = this.ctx.state.getRequest(requestId);
    if (!record) throw new NotFoundError(`Couldn't find request with id ${requestId}`);
    const pending = this.ctx.state.getPendingDeploy(requestId);
    if (!pending || pending.deployMarker.deployId !== deployId) {
      throw new InvalidRequestError(`deployId: ${deployId} is not the pending deploy of request ${requestId}`, 'deployId');
    }
    this.ctx.state.putPendingDeploy({ ...pending, cancelRequested: { user, timestamp: this.ctx.clock.now() }, currentDeployState: 'CANCELING' });
    await this.ctx.state.flush();
    this.scheduler.tickSoon(0);
    return this.read.requestParent(record);
  }
}
