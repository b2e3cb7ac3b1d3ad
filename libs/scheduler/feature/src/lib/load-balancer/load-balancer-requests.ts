import { taskPorts } from '@singularity/scheduler-core';
import type { SingularityDeploy, SingularityRequest, SingularityTask } from '@singularity/models';
import type {
  BaragonRequest,
  BaragonService,
  BaragonUpstream,
  LoadBalancerRequest,
  LoadBalancerRequestId,
  LoadBalancerState,
  SingularityLoadBalancerUpdate,
} from './load-balancer.types';

/** Baragon's group when the deploy names none. */
export const DEFAULT_UPSTREAM_GROUP = 'default';

/** The id of a deploy step's LB request: `{requestId}-{deployId}-{target}-{nowMs}`, type DEPLOY (spec §1). */
export function lbRequestIdForDeploy(requestId: string, deployId: string, target: number, now: number): LoadBalancerRequestId {
  return { id: `${requestId}-${deployId}-${target}-${now}`, requestType: 'DEPLOY', attemptNumber: 1 };
}

/** The id of a task's ADD or REMOVE: the task id, with the attempt (1 for the first). */
export function lbRequestIdForTask(taskId: string, type: 'ADD' | 'REMOVE', attempt = 1): LoadBalancerRequestId {
  if (!Number.isInteger(attempt) || attempt < 1) throw new Error(`LB attempt must be a whole number ≥ 1, got ${attempt}`);
  return { id: taskId, requestType: type, attemptNumber: attempt };
}

/**
 * The id sent on the wire and used in `{loadBalancerUri}/{id}`:
 * `{id}-{requestType}-{attemptNumber}`, so each attempt is a new LB request.
 */
export function lbWireId(id: LoadBalancerRequestId): string {
  return `${id.id}-${id.requestType}-${id.attemptNumber}`;
}

/** States after which the same task request is retried with the next attempt (spec §1, §3.5). */
export const RETRIED_LB_STATES: readonly LoadBalancerState[] = ['FAILED', 'CANCELED'];

/**
 * The attempt for a task's next ADD/REMOVE given its last update of that type:
 * 1 when there is none, +1 after FAILED/CANCELED, the same attempt otherwise
 * (a WAITING or UNKNOWN request is polled again, not re-sent under a new id).
 */
export function nextTaskAttempt(last?: Pick<SingularityLoadBalancerUpdate, 'loadBalancerState' | 'loadBalancerRequestId'>): number {
  if (!last) return 1;
  const attempt = last.loadBalancerRequestId.attemptNumber;
  return RETRIED_LB_STATES.includes(last.loadBalancerState) ? attempt + 1 : attempt;
}

/** Whether a state ends an LB request (no more polling). */
export function isFinalLbState(state: LoadBalancerState): boolean {
  return state === 'SUCCESS' || state === 'FAILED' || state === 'CANCELED' || state === 'INVALID_REQUEST_NOOP';
}

export interface UpstreamOptions {
  /** The LB request (wire id) the upstream belongs to. */
  lbRequestId?: string;
  /** Baragon group (default `default`). */
  group?: string;
}

/**
 * The task's upstream `host:port`: host from the offer's hostname (the task
 * id's host when there is no offer), port = the allocated port at
 * `loadBalancerPortIndex`. Empty when the task has no port at that index, so
 * such a task is left out of the LB rather than sent with a wrong port.
 */
export function upstreamsOf(
  task: Pick<SingularityTask, 'taskId' | 'mesosTask' | 'offers' | 'rackId'>,
  loadBalancerPortIndex = 0,
  options: UpstreamOptions = {},
): BaragonUpstream[] {
  const port = taskPorts(task)[loadBalancerPortIndex];
  if (port === undefined) return [];
  const host = task.offers[0]?.hostname ?? task.taskId.host;
  const hostPart = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  return [
    {
      upstream: `${hostPart}:${port}`,
      ...(options.lbRequestId !== undefined ? { requestId: options.lbRequestId } : {}),
      rackId: task.rackId,
      group: options.group ?? DEFAULT_UPSTREAM_GROUP,
    },
  ];
}

/** The Baragon service of a request's deploy (spec §1: `serviceBasePath`, `loadBalancerGroups`, other `loadBalancer*` pass through). */
export function lbServiceOf(request: Pick<SingularityRequest, 'id' | 'owners'>, deploy: SingularityDeploy): BaragonService {
  return {
    serviceId: deploy.loadBalancerServiceIdOverride ?? request.id,
    owners: [...(request.owners ?? [])],
    ...(deploy.serviceBasePath !== undefined ? { serviceBasePath: deploy.serviceBasePath } : {}),
    loadBalancerGroups: [...(deploy.loadBalancerGroups ?? [])],
    options: { ...(deploy.loadBalancerOptions ?? {}) },
    ...(deploy.loadBalancerAdditionalRoutes !== undefined ? { additionalPaths: [...deploy.loadBalancerAdditionalRoutes] } : {}),
    ...(deploy.loadBalancerTemplate !== undefined ? { templateName: deploy.loadBalancerTemplate } : {}),
    ...(deploy.loadBalancerDomains !== undefined ? { domains: [...deploy.loadBalancerDomains] } : {}),
  };
}

type LbTask = Pick<SingularityTask, 'taskId' | 'mesosTask' | 'offers' | 'rackId' | 'taskRequest'>;

function upstreamsFor(tasks: readonly LbTask[], fallbackDeploy: SingularityDeploy, wireId: string): BaragonUpstream[] {
  return tasks.flatMap((task) => {
    // Each task is reached on the port of the deploy it was launched with.
    const deploy = task.taskRequest.deploy ?? fallbackDeploy;
    return upstreamsOf(task, deploy.loadBalancerPortIndex ?? 0, {
      lbRequestId: wireId,
      group: deploy.loadBalancerUpstreamGroup ?? fallbackDeploy.loadBalancerUpstreamGroup,
    });
  });
}

/**
 * A deploy step's LB request (spec §2.3 step 3): add the new deploy's tasks
 * and remove the old ones given (the caller passes only old tasks that were
 * added, and none for a canary step), under `id` from `lbRequestIdForDeploy`.
 */
export function buildDeployRequest(
  request: Pick<SingularityRequest, 'id' | 'owners'>,
  deploy: SingularityDeploy,
  addTasks: readonly LbTask[],
  removeTasks: readonly LbTask[],
  id: LoadBalancerRequestId,
): LoadBalancerRequest {
  const wireId = lbWireId(id);
  const body: BaragonRequest = {
    loadBalancerRequestId: wireId,
    loadBalancerService: lbServiceOf(request, deploy),
    addUpstreams: upstreamsFor(addTasks, deploy, wireId),
    removeUpstreams: upstreamsFor(removeTasks, deploy, wireId),
  };
  return { id, body };
}

/**
 * A single task's ADD (after it became healthy) or REMOVE (dead or cleaning,
 * spec §3.5), for its own request and deploy, as attempt `attempt`.
 */
export function buildTaskRequest(task: LbTask, type: 'ADD' | 'REMOVE', attempt = 1): LoadBalancerRequest {
  const id = lbRequestIdForTask(task.taskId.id, type, attempt);
  const { request, deploy } = task.taskRequest;
  const wireId = lbWireId(id);
  const upstreams = upstreamsFor([task], deploy, wireId);
  const body: BaragonRequest = {
    loadBalancerRequestId: wireId,
    loadBalancerService: lbServiceOf(request, deploy),
    addUpstreams: type === 'ADD' ? upstreams : [],
    removeUpstreams: type === 'REMOVE' ? upstreams : [],
  };
  return { id, body };
}

/** The update recorded just before a request is sent (method PRE_ENQUEUE, state UNKNOWN). */
export function preEnqueueUpdate(id: LoadBalancerRequestId, uri: string | undefined, now: number): SingularityLoadBalancerUpdate {
  return {
    loadBalancerState: 'UNKNOWN',
    state: 'UNKNOWN',
    loadBalancerRequestId: { ...id },
    timestamp: now,
    method: 'PRE_ENQUEUE',
    ...(uri !== undefined ? { uri } : {}),
  };
}
