/**
 * Enumerations of Singularity's wire format. Values are exactly those of
 * `shared/reference/singularity-openapi.json`; each is exported both as a
 * union type and as a readonly array so validators and UIs can enumerate them.
 */

export const REQUEST_TYPES = ['SERVICE', 'WORKER', 'SCHEDULED', 'ON_DEMAND', 'RUN_ONCE'] as const;
export type RequestType = (typeof REQUEST_TYPES)[number];

export const REQUEST_STATES = [
  'ACTIVE',
  'DELETING',
  'DELETED',
  'PAUSED',
  'SYSTEM_COOLDOWN',
  'FINISHED',
  'DEPLOYING_TO_UNPAUSE',
] as const;
export type RequestState = (typeof REQUEST_STATES)[number];

export const AGENT_PLACEMENTS = [
  'SEPARATE',
  'OPTIMISTIC',
  'GREEDY',
  'SEPARATE_BY_DEPLOY',
  'SEPARATE_BY_REQUEST',
  'SPREAD_ALL_SLAVES',
  'SPREAD_ALL_AGENTS',
] as const;
export type AgentPlacement = (typeof AGENT_PLACEMENTS)[number];

export const SCHEDULE_TYPES = ['CRON', 'QUARTZ', 'RFC5545'] as const;
export type ScheduleType = (typeof SCHEDULE_TYPES)[number];

export const DEPLOY_STATES = [
  'SUCCEEDED',
  'FAILED_INTERNAL_STATE',
  'CANCELING',
  'WAITING',
  'OVERDUE',
  'FAILED',
  'CANCELED',
] as const;
export type DeployState = (typeof DEPLOY_STATES)[number];

export const DEPLOY_FAILURE_REASONS = [
  'TASK_FAILED_ON_STARTUP',
  'TASK_FAILED_HEALTH_CHECKS',
  'TASK_COULD_NOT_BE_SCHEDULED',
  'TASK_NEVER_ENTERED_RUNNING',
  'TASK_EXPECTED_RUNNING_FINISHED',
  'DEPLOY_CANCELLED',
  'DEPLOY_OVERDUE',
  'FAILED_TO_SAVE_DEPLOY_STATE',
  'LOAD_BALANCER_UPDATE_FAILED',
  'PENDING_DEPLOY_REMOVED',
] as const;
export type DeployFailureReason = (typeof DEPLOY_FAILURE_REASONS)[number];

export const PENDING_TYPES = [
  'IMMEDIATE',
  'ONEOFF',
  'BOUNCE',
  'NEW_DEPLOY',
  'NEXT_DEPLOY_STEP',
  'UNPAUSED',
  'RETRY',
  'UPDATED_REQUEST',
  'DECOMISSIONED_SLAVE_OR_RACK',
  'TASK_DONE',
  'STARTUP',
  'CANCEL_BOUNCE',
  'TASK_BOUNCE',
  'DEPLOY_CANCELLED',
  'DEPLOY_FAILED',
  'DEPLOY_FINISHED',
  'TASK_RECOVERED',
] as const;
export type PendingType = (typeof PENDING_TYPES)[number];

export const EXTENDED_TASK_STATES = [
  'TASK_LAUNCHED',
  'TASK_STAGING',
  'TASK_STARTING',
  'TASK_RUNNING',
  'TASK_CLEANING',
  'TASK_KILLING',
  'TASK_FINISHED',
  'TASK_FAILED',
  'TASK_KILLED',
  'TASK_LOST',
  'TASK_LOST_WHILE_DOWN',
  'TASK_ERROR',
  'TASK_DROPPED',
  'TASK_GONE',
  'TASK_UNREACHABLE',
  'TASK_GONE_BY_OPERATOR',
  'TASK_UNKNOWN',
] as const;
export type ExtendedTaskState = (typeof EXTENDED_TASK_STATES)[number];

/** Terminal states: the task is gone and will never report again. */
export const TERMINAL_TASK_STATES: ReadonlySet<ExtendedTaskState> = new Set<ExtendedTaskState>([
  'TASK_FINISHED',
  'TASK_FAILED',
  'TASK_KILLED',
  'TASK_LOST',
  'TASK_LOST_WHILE_DOWN',
  'TASK_ERROR',
  'TASK_DROPPED',
  'TASK_GONE',
  'TASK_UNREACHABLE',
  'TASK_GONE_BY_OPERATOR',
  'TASK_UNKNOWN',
]);

export function isTerminalTaskState(state: ExtendedTaskState): boolean {
  return TERMINAL_TASK_STATES.has(state);
}

/** States an agent (our Mesos replacement) may report; the rest are written by the scheduler. */
export const AGENT_REPORTED_TASK_STATES = [
  'TASK_STAGING',
  'TASK_STARTING',
  'TASK_RUNNING',
  'TASK_FINISHED',
  'TASK_FAILED',
  'TASK_KILLED',
  'TASK_LOST',
  'TASK_ERROR',
] as const;
export type AgentReportedTaskState = (typeof AGENT_REPORTED_TASK_STATES)[number];

export const TASK_CLEANUP_TYPES = [
  'BOUNCING',
  'DECOMMISSION_TIMEOUT',
  'DECOMISSIONING',
  'DEPLOY_CANCELED',
  'DEPLOY_FAILED',
  'DEPLOY_STEP_FINISHED',
  'INCREMENTAL_BOUNCE',
  'INCREMENTAL_DEPLOY_CANCELLED',
  'INCREMENTAL_DEPLOY_FAILED',
  'NEW_DEPLOY_SUCCEEDED',
  'OVERDUE_NEW_TASK',
  'PAUSE',
  'PAUSING',
  'PRIORITY_KILL',
  'REBALANCE_CPU_USAGE',
  'REBALANCE_MEMORY_USAGE',
  'REBALANCE_RACKS',
  'REBALANCE_SLAVE_ATTRIBUTES',
  'REQUEST_DELETING',
  'SCALING_DOWN',
  'TASK_EXCEEDED_TIME_LIMIT',
  'UNHEALTHY_NEW_TASK',
  'USER_REQUESTED',
  'USER_REQUESTED_DESTROY',
  'USER_REQUESTED_TASK_BOUNCE',
] as const;
export type TaskCleanupType = (typeof TASK_CLEANUP_TYPES)[number];

export const REQUEST_CLEANUP_TYPES = ['DELETING', 'PAUSING', 'BOUNCE', 'INCREMENTAL_BOUNCE'] as const;
export type RequestCleanupType = (typeof REQUEST_CLEANUP_TYPES)[number];

export const MACHINE_STATES = [
  'MISSING_ON_STARTUP',
  'ACTIVE',
  'STARTING_DECOMMISSION',
  'DECOMMISSIONING',
  'DECOMMISSIONED',
  'DEAD',
  'FROZEN',
] as const;
export type MachineState = (typeof MACHINE_STATES)[number];

export const REQUEST_HISTORY_TYPES = [
  'CREATED',
  'UPDATED',
  'DELETING',
  'DELETED',
  'PAUSED',
  'UNPAUSED',
  'ENTERED_COOLDOWN',
  'EXITED_COOLDOWN',
  'FINISHED',
  'DEPLOYED_TO_UNPAUSE',
  'BOUNCED',
  'SCALED',
  'SCALE_REVERTED',
] as const;
export type RequestHistoryType = (typeof REQUEST_HISTORY_TYPES)[number];

export const HEALTHCHECK_PROTOCOLS = ['HTTP', 'HTTPS', 'HTTP2', 'HTTPS2'] as const;
export type HealthcheckProtocol = (typeof HEALTHCHECK_PROTOCOLS)[number];

export const LOGROTATE_FREQUENCIES = [
  'EVERY_MINUTE',
  'EVERY_FIVE_MINUTES',
  'HOURLY',
  'DAILY',
  'WEEKLY',
  'MONTHLY',
] as const;
export type LogrotateFrequency = (typeof LOGROTATE_FREQUENCIES)[number];

/** Request types whose tasks run forever and are replaced when they stop. */
export function isLongRunning(type: RequestType): boolean {
  return type === 'SERVICE' || type === 'WORKER';
}

/** Request types whose deploys are gated by task health (spec §1 table). */
export function isDeployable(type: RequestType): boolean {
  return isLongRunning(type);
}

/** Request states in which the scheduler launches tasks (spec §1). */
export function isRunnableState(state: RequestState): boolean {
  return state === 'ACTIVE' || state === 'SYSTEM_COOLDOWN' || state === 'DEPLOYING_TO_UNPAUSE';
}

/** How a canary (incremental) deploy accepts a step (spec §1 Steps). */
export const CANARY_ACCEPTANCE_MODES = ['NONE', 'TIMED', 'CHECKS'] as const;
export type CanaryAcceptanceMode = (typeof CANARY_ACCEPTANCE_MODES)[number];
