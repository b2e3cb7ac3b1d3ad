import type { AgentPlacement, RequestState, RequestType, ScheduleType } from './enums';

/**
 * A request: the long-lived definition of something to run (spec §1).
 * Placement and attribute fields are emitted under both their new (`agent…`)
 * and legacy (`slave…`) names; either is accepted on input.
 */
export interface SingularityRequest {
  id: string;
  requestType: RequestType;
  owners?: string[];
  numRetriesOnFailure?: number;
  schedule?: string;
  quartzSchedule?: string;
  scheduleType?: ScheduleType;
  scheduleTimeZone?: string;
  instances?: number;
  /** Upper bound for `instances` on scale (spec §1). */
  maxScale?: number;
  rackSensitive?: boolean;
  loadBalanced?: boolean;
  killOldNonLongRunningTasksAfterMillis?: number;
  taskExecutionTimeLimitMillis?: number;
  waitAtLeastMillisAfterTaskFinishesForReschedule?: number;
  rackAffinity?: string[];
  agentPlacement?: AgentPlacement;
  slavePlacement?: AgentPlacement;
  requiredAgentAttributes?: Record<string, string>;
  requiredSlaveAttributes?: Record<string, string>;
  allowedAgentAttributes?: Record<string, string>;
  allowedSlaveAttributes?: Record<string, string>;
  agentAttributeMinimums?: Record<string, Record<string, number>>;
  slaveAttributeMinimums?: Record<string, Record<string, number>>;
  scheduledExpectedRuntimeMillis?: number;
  group?: string;
  readWriteGroups?: string[];
  readOnlyGroups?: string[];
  bounceAfterScale?: boolean;
  skipHealthchecks?: boolean;
  daemon?: boolean;
  taskPriorityLevel?: number;
  maxTasksPerOffer?: number;
  allowBounceToSameHost?: boolean;
  requiredRole?: string;
  dataCenter?: string;
  taskLogErrorRegex?: string;
  taskLogErrorRegexCaseSensitive?: boolean;
  hideEvenNumberAcrossRacksHint?: boolean;
  emailConfigurationOverrides?: Record<string, string[]>;
}

export interface SingularityRequestWithState {
  request: SingularityRequest;
  state: RequestState;
  timestamp: number;
}

export interface SingularityDeployMarker {
  requestId: string;
  deployId: string;
  timestamp: number;
  user?: string;
  message?: string;
}

export interface SingularityRequestDeployState {
  requestId: string;
  activeDeploy?: SingularityDeployMarker;
  pendingDeploy?: SingularityDeployMarker;
}

export interface SingularityExpiringBase {
  requestId: string;
  user?: string;
  startMillis: number;
  actionId: string;
  durationMillis?: number;
}
