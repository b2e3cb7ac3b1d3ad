import { isDeployable, validateDeployRequest, type SingularityRequestParent, type ValidationLimits } from '@singularity/models';
import { ConflictError, InvalidRequestError, NotFoundError } from '@singularity/util';
import { ReadModels } from './read-models';
import { RequestEvents } from './request-events';
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
    this.events = new RequestEvents(ctx);
    this.read = new ReadModels(ctx);
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
    this.ctx.state.putPendingDeploy({
      deployMarker: marker,
      currentDeployState: 'WAITING',
      deployProgress: {
        targetActiveInstances: request.instances ?? 1,
        currentActiveInstances: 0,
        deployInstanceCountPerStep: deploy.deployInstanceCountPerStep ?? 0,
        deployStepWaitTimeMs: deploy.deployStepWaitTimeMs ?? 0,
        stepComplete: false,
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
