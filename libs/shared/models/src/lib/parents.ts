import type { SingularityDeploy, SingularityPendingDeploy } from './deploy';
import type { MachineState, RequestState } from './enums';
import type { SingularityDeployMarker, SingularityRequest, SingularityRequestDeployState } from './request';
import type { MesosResourceObject, SingularityPendingRequest, SingularityTaskIdsByStatus } from './task';
import type { SingularityPendingTaskId } from './task-id';

/** The read model returned by most request endpoints (spec §1 Read models). */
export interface SingularityRequestParent {
  request: SingularityRequest;
  state: RequestState;
  requestDeployState?: SingularityRequestDeployState;
  activeDeploy?: SingularityDeploy;
  pendingDeploy?: SingularityDeploy;
  pendingDeployState?: SingularityPendingDeploy;
  taskIds?: SingularityTaskIdsByStatus;
}

export interface SingularityPendingRequestParent extends SingularityRequestParent {
  pendingRequest: SingularityPendingRequest;
}

export interface SingularityMachineStateHistoryUpdate {
  objectId: string;
  state: MachineState;
  timestamp: number;
  user?: string;
  message?: string;
}

/** An agent (the reference still calls it a slave); both `id` and `slaveId` are emitted. */
export interface SingularityAgent {
  id: string;
  slaveId: string;
  agentId: string;
  host: string;
  rackId: string;
  attributes: Record<string, string>;
  resources: { numCpus: number; memoryMegaBytes: number; diskMegaBytes: number; numPorts?: number } & Record<
    string,
    unknown
  >;
  firstSeenAt: number;
  currentState: SingularityMachineStateHistoryUpdate;
}

export interface SingularityRack {
  id: string;
  rackId: string;
  firstSeenAt: number;
  currentState: SingularityMachineStateHistoryUpdate;
}

export interface SingularityHostState {
  master: boolean;
  uptime: number;
  driverStatus: string;
  millisSinceLastOffer?: number;
  hostAddress: string;
  hostname: string;
  mesosMaster?: string;
  mesosConnected: boolean;
  availableCachedCpus: number;
  availableCachedMemory: number;
}

/** `GET /state` (spec §1 SingularityState). */
export interface SingularityState {
  activeTasks: number;
  launchingTasks: number;
  activeRequests: number;
  cooldownRequests: number;
  pausedRequests: number;
  scheduledTasks: number;
  pendingRequests: number;
  lbCleanupTasks: number;
  lbCleanupRequests: number;
  cleaningRequests: number;
  activeSlaves: number;
  deadSlaves: number;
  decommissioningSlaves: number;
  decomissioningSlaves: number;
  unknownSlaves: number;
  activeAgents: number;
  deadAgents: number;
  decommissioningAgents: number;
  unknownAgents: number;
  activeRacks: number;
  deadRacks: number;
  decommissioningRacks: number;
  decomissioningRacks: number;
  unknownRacks: number;
  cleaningTasks: number;
  hostStates: SingularityHostState[];
  oldestDeploy: number;
  numDeploys: number;
  oldestDeployStep: number;
  activeDeploys: SingularityDeployMarker[];
  lateTasks: number;
  listLateTasks: SingularityPendingTaskId[];
  onDemandLateTasks: number;
  onDemandListLateTasks: SingularityPendingTaskId[];
  futureTasks: number;
  maxTaskLag: number;
  generatedAt: number;
  overProvisionedRequestIds: string[];
  underProvisionedRequestIds: string[];
  overProvisionedRequests: number;
  underProvisionedRequests: number;
  finishedRequests: number;
  allRequests: number;
  authDatastoreHealthy: boolean;
  minimumPriorityLevel: number;
  avgStatusUpdateDelayMs: number;
  lastHeartbeatAt: number;
}

export type { MesosResourceObject };
