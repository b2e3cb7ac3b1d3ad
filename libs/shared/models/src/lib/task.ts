import type { RunOverrides, SingularityDeploy } from './deploy';
import type { ExtendedTaskState, PendingType, RequestCleanupType, TaskCleanupType } from './enums';
import type { SingularityRequest } from './request';
import type { SingularityPendingTaskId, SingularityTaskId } from './task-id';

/** An entry of the pending-request queue (spec §2.2). */
export interface SingularityPendingRequest extends RunOverrides {
  requestId: string;
  deployId: string;
  timestamp: number;
  pendingType: PendingType;
  user?: string;
  cmdLineArgsList?: string[];
  actionId?: string;
  runAt?: number;
}

/** A task waiting for an agent: the pending task id plus the run's overrides. */
export interface SingularityPendingTask extends RunOverrides {
  pendingTaskId: SingularityPendingTaskId;
  cmdLineArgsList?: string[];
  user?: string;
  actionId?: string;
}

export interface SingularityTaskRequest {
  request: SingularityRequest;
  deploy: SingularityDeploy;
  pendingTask: SingularityPendingTask;
}

export interface MesosStringValue {
  value: string;
}

export type MesosResourceObject =
  | { name: 'cpus' | 'mem' | 'disk'; type: 'SCALAR'; scalar: { value: number } }
  | { name: 'ports'; type: 'RANGES'; ranges: { range: Array<{ begin: number; end: number }> } };

/** Our launch record, kept in the shape of the reference's `MesosTaskObject` so existing clients read it. */
export interface MesosTaskObject {
  taskId: MesosStringValue;
  agentId: MesosStringValue;
  slaveId: MesosStringValue;
  name: string;
  resources: MesosResourceObject[];
}

export interface MesosOfferObject {
  id: MesosStringValue;
  agentId: MesosStringValue;
  slaveId: MesosStringValue;
  hostname: string;
}

/** A launched task (spec §1 Tasks). */
export interface SingularityTask {
  taskId: SingularityTaskId;
  taskRequest: SingularityTaskRequest;
  mesosTask: MesosTaskObject;
  offers: MesosOfferObject[];
  rackId: string;
}

export interface SingularityTaskHistoryUpdate {
  taskId: SingularityTaskId;
  timestamp: number;
  taskState: ExtendedTaskState;
  statusMessage?: string;
  statusReason?: string;
  previous?: SingularityTaskHistoryUpdate[];
}

export interface SingularityTaskCleanup {
  user?: string;
  cleanupType: TaskCleanupType;
  timestamp: number;
  taskId: SingularityTaskId;
  message?: string;
  actionId?: string;
  removeFromLoadBalancer?: boolean;
}

export interface SingularityRequestCleanup {
  user?: string;
  cleanupType: RequestCleanupType;
  killTasks?: boolean;
  skipHealthchecks?: boolean;
  message?: string;
  actionId?: string;
  timestamp: number;
  requestId: string;
  deployId?: string;
  removeFromLoadBalancer?: boolean;
}

export interface SingularityKillTaskRequest {
  override?: boolean;
  message?: string;
  actionId?: string;
  waitForReplacementTask?: boolean;
}

export interface SingularityTaskIdsByStatus {
  healthy: SingularityTaskId[];
  notYetHealthy: SingularityTaskId[];
  pending: SingularityPendingTaskId[];
  cleaning: SingularityTaskId[];
  loadBalanced: SingularityTaskId[];
  killed: SingularityTaskId[];
}
