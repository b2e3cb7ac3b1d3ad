import type {
  ExtendedTaskState,
  RequestHistoryType,
  SingularityDeploy,
  SingularityDeployMarker,
  SingularityDeployResult,
  SingularityRequest,
  SingularityTask,
  SingularityTaskHistoryUpdate,
  SingularityTaskId,
} from '@singularity/models';

/*
 * The history read models of spec §1 ("Read models") in the shape of the reference's
 * `SingularityTaskHistory`, `SingularityTaskIdHistory`, `SingularityRequestHistory`,
 * `SingularityDeployHistory` and `SingularityPaginatedResponse*` schemas. They live here, beside the
 * only store that keeps them, until another lib needs them.
 */

export type OrderDirection = 'ASC' | 'DESC';
export const ORDER_DIRECTIONS: readonly OrderDirection[] = ['ASC', 'DESC'];

export type LoadBalancerState = 'UNKNOWN' | 'FAILED' | 'WAITING' | 'SUCCESS' | 'CANCELING' | 'CANCELED' | 'INVALID_REQUEST_NOOP';

export interface LoadBalancerRequestId {
  id: string;
  requestType: 'ADD' | 'REMOVE' | 'DEPLOY' | 'DELETE';
  attemptNumber: number;
}

/** One LB call for a task or deploy (spec §3.5). `loadBalancerState|state`: both are emitted. */
export interface SingularityLoadBalancerUpdate {
  loadBalancerState: LoadBalancerState;
  state?: LoadBalancerState;
  loadBalancerRequestId: LoadBalancerRequestId;
  message?: string;
  timestamp: number;
  method?: 'PRE_ENQUEUE' | 'ENQUEUE' | 'CHECK_STATE' | 'CANCEL' | 'DELETE';
  uri?: string;
}

/** One health check of a task (spec §3.4). `durationMillis|duration`: both are emitted. */
export interface SingularityTaskHealthcheckResult {
  taskId: SingularityTaskId;
  timestamp: number;
  statusCode?: number;
  durationMillis?: number;
  duration?: number;
  responseBody?: string;
  errorMessage?: string;
  startup: boolean;
}

export interface SingularityTaskShellCommandHistory {
  shellRequest: {
    taskId: SingularityTaskId;
    user?: string;
    timestamp: number;
    shellCommand: { name: string; options?: string[]; user?: string; logfileName?: string };
  };
  shellUpdates: Array<{
    shellRequestId: { taskId: SingularityTaskId; name: string; timestamp: number };
    timestamp: number;
    message?: string;
    outputFilename?: string;
    updateType: 'INVALID' | 'ACKED' | 'STARTED' | 'FINISHED' | 'FAILED';
  }>;
}

export interface SingularityTaskMetadata {
  taskId: SingularityTaskId;
  timestamp: number;
  type: string;
  title?: string;
  message?: string;
  user?: string;
  level?: 'INFO' | 'WARN' | 'ERROR';
}

/** Everything known about one task: what the leader moves to SQL once the task is finished (spec §3.6). */
export interface SingularityTaskHistory {
  task: SingularityTask;
  taskUpdates: SingularityTaskHistoryUpdate[];
  healthcheckResults: SingularityTaskHealthcheckResult[];
  loadBalancerUpdates: SingularityLoadBalancerUpdate[];
  shellCommandHistory: SingularityTaskShellCommandHistory[];
  taskMetadata: SingularityTaskMetadata[];
  directory?: string;
  containerId?: string;
}

/** A row of a task search. `lastTaskState|lastStatus`: both are emitted (spec §1). */
export interface SingularityTaskIdHistory {
  taskId: SingularityTaskId;
  updatedAt: number;
  lastTaskState?: ExtendedTaskState;
  lastStatus?: ExtendedTaskState;
  runId?: string;
}

/** One event in a request's life (spec §2.1 history events). Keyed by (requestId, createdAt, eventType). */
export interface SingularityRequestHistory {
  createdAt: number;
  eventType: RequestHistoryType;
  request: SingularityRequest;
  user?: string;
  message?: string;
}

export type TaskFailureType = 'OOM' | 'OUT_OF_DISK_SPACE' | 'BAD_EXIT_CODE' | 'UNEXPECTED_EXIT' | 'LOST_SLAVE' | 'MESOS_ERROR' | 'STARTUP_FAILURE';

export interface TaskFailureEvent {
  instance: number;
  timestamp: number;
  type: TaskFailureType;
}

/** Per-deploy task statistics (spec §1 Deploy state: `numSequentialRetries`, the last 50 failure events). */
export interface SingularityDeployStatistics {
  requestId: string;
  deployId: string;
  numSuccess?: number;
  numFailures?: number;
  numSequentialRetries?: number;
  numTasks?: number;
  lastFinishAt?: number;
  lastTaskState?: ExtendedTaskState;
  averageRuntimeMillis?: number;
  averageSchedulingDelayMillis?: number;
  /** instance number → timestamps of its sequential failures. */
  instanceSequentialFailureTimestamps?: Record<string, number[]>;
  taskFailureEvents?: TaskFailureEvent[];
}

/**
 * A finished deploy (spec §1 Read models). Lists of a request's deploys carry only `deployMarker` and
 * `deployResult`; one deploy read by id carries everything that was saved.
 */
export interface SingularityDeployHistory {
  deployMarker: SingularityDeployMarker;
  deployResult?: SingularityDeployResult;
  deploy?: SingularityDeploy;
  deployStatistics?: SingularityDeployStatistics;
}

/** What the persister saves for a deploy that is neither active nor pending (spec §3.6). */
export interface DeployHistoryRecord extends SingularityDeployHistory {
  deployResult: SingularityDeployResult;
  deploy: SingularityDeploy;
}

/** `SingularityPaginatedResponse*`: one page of a longer list. */
export interface SingularityPaginatedResponse<T> {
  /** Rows on all pages. */
  dataCount: number;
  /** Pages of `count` rows holding them (0 when there are none). */
  pageCount: number;
  /** This page, from 1. */
  page: number;
  objects: T[];
}
