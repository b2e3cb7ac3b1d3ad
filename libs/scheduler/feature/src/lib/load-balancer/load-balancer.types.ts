import type { LoadBalancerRequestId, LoadBalancerState, SingularityLoadBalancerUpdate } from '@singularity/scheduler-history';

export type { LoadBalancerRequestId, LoadBalancerState, SingularityLoadBalancerUpdate };

export type LoadBalancerRequestType = LoadBalancerRequestId['requestType'];
export type LoadBalancerMethod = NonNullable<SingularityLoadBalancerUpdate['method']>;

export const LOAD_BALANCER_STATES: readonly LoadBalancerState[] = [
  'UNKNOWN',
  'FAILED',
  'WAITING',
  'SUCCESS',
  'CANCELING',
  'CANCELED',
  'INVALID_REQUEST_NOOP',
];

/** LB settings of spec §5; `loadBalancerUri` unset = no load balancer. */
export interface LoadBalancerSettings {
  loadBalancerUri?: string;
  loadBalancerRequestTimeoutMillis: number;
  loadBalancerRemovalGracePeriodMillis: number;
}

export const DEFAULT_LOAD_BALANCER_SETTINGS: LoadBalancerSettings = {
  loadBalancerRequestTimeoutMillis: 2000,
  loadBalancerRemovalGracePeriodMillis: 0,
};

/** One backend of a service as the Baragon API names it: `upstream` is `host:port`. */
export interface BaragonUpstream {
  upstream: string;
  /** The LB request (wire id) that added or removes it. */
  requestId?: string;
  rackId?: string;
  group: string;
}

/** The service part of a Baragon request, built from the request and its deploy. */
export interface BaragonService {
  serviceId: string;
  owners: string[];
  serviceBasePath?: string;
  loadBalancerGroups: string[];
  options: Record<string, unknown>;
  additionalPaths?: string[];
  templateName?: string;
  domains?: string[];
}

/** The JSON body POSTed to `{loadBalancerUri}`. */
export interface BaragonRequest {
  loadBalancerRequestId: string;
  loadBalancerService: BaragonService;
  addUpstreams: BaragonUpstream[];
  removeUpstreams: BaragonUpstream[];
  replaceUpstreams?: BaragonUpstream[];
}

/** What the load balancer answers to POST, GET and DELETE. */
export interface BaragonResponse {
  loadBalancerRequestId: string;
  loadBalancerState: LoadBalancerState;
  message?: string;
}

/** A request ready to enqueue: Singularity's structured id plus the body sent. */
export interface LoadBalancerRequest {
  id: LoadBalancerRequestId;
  body: BaragonRequest;
}
