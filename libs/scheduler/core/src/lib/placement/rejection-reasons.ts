/**
 * Why an agent did not take a task (conventions §3–§4). Every rejection a check returns names one
 * of these constants, and the plan counts them per task, so "why is this task still pending" can be
 * answered with data. The status says whether waiting can help:
 *
 * - `notNow`: the agent could take the task once something frees up (resources, a per-round cap);
 * - `never`:  the agent does not qualify while the cluster stays as it is (state, rack, attributes,
 *             spread rules);
 * - `error`:  a check threw; that is a bug, counted rather than thrown so one bad rule cannot stop a round.
 */

export const NOT_ENOUGH_CPUS = 'NOT_ENOUGH_CPUS';
export const NOT_ENOUGH_MEMORY = 'NOT_ENOUGH_MEMORY';
export const NOT_ENOUGH_DISK = 'NOT_ENOUGH_DISK';
export const NOT_ENOUGH_PORTS = 'NOT_ENOUGH_PORTS';
export const AGENT_FROZEN = 'AGENT_FROZEN';
export const AGENT_DECOMMISSIONING = 'AGENT_DECOMMISSIONING';
export const AGENT_NOT_ACTIVE = 'AGENT_NOT_ACTIVE';
export const RACK_FROZEN = 'RACK_FROZEN';
export const RACK_DECOMMISSIONING = 'RACK_DECOMMISSIONING';
export const RACK_NOT_ACTIVE = 'RACK_NOT_ACTIVE';
export const RACK_AFFINITY_NOT_MATCHING = 'RACK_AFFINITY_NOT_MATCHING';
export const AGENT_ATTRIBUTES_DO_NOT_MATCH = 'AGENT_ATTRIBUTES_DO_NOT_MATCH';
export const AGENT_RESERVED = 'AGENT_RESERVED';
export const ATTRIBUTE_MINIMUMS_UNREACHABLE = 'ATTRIBUTE_MINIMUMS_UNREACHABLE';
export const RACK_SATURATED = 'RACK_SATURATED';
export const AGENT_SATURATED_BY_DEPLOY = 'AGENT_SATURATED_BY_DEPLOY';
export const AGENT_SATURATED_BY_REQUEST = 'AGENT_SATURATED_BY_REQUEST';
export const AGENT_SATURATED_OPTIMISTIC = 'AGENT_SATURATED_OPTIMISTIC';
export const MAX_TASKS_PER_OFFER_REACHED = 'MAX_TASKS_PER_OFFER_REACHED';
export const ON_DEMAND_INSTANCES_REACHED = 'ON_DEMAND_INSTANCES_REACHED';
export const CHECK_ERROR = 'CHECK_ERROR';

/** Every reason, in the order summaries list ties. */
export const REJECTION_REASONS = [
  NOT_ENOUGH_CPUS,
  NOT_ENOUGH_MEMORY,
  NOT_ENOUGH_DISK,
  NOT_ENOUGH_PORTS,
  AGENT_FROZEN,
  AGENT_DECOMMISSIONING,
  AGENT_NOT_ACTIVE,
  RACK_FROZEN,
  RACK_DECOMMISSIONING,
  RACK_NOT_ACTIVE,
  RACK_AFFINITY_NOT_MATCHING,
  AGENT_ATTRIBUTES_DO_NOT_MATCH,
  AGENT_RESERVED,
  ATTRIBUTE_MINIMUMS_UNREACHABLE,
  RACK_SATURATED,
  AGENT_SATURATED_BY_DEPLOY,
  AGENT_SATURATED_BY_REQUEST,
  AGENT_SATURATED_OPTIMISTIC,
  MAX_TASKS_PER_OFFER_REACHED,
  ON_DEMAND_INSTANCES_REACHED,
  CHECK_ERROR,
] as const;
export type RejectionReason = (typeof REJECTION_REASONS)[number];

export type RejectionStatus = 'notNow' | 'never' | 'error';

/** The status each reason carries; a reason never changes its status. */
export const REJECTION_STATUS: Readonly<Record<RejectionReason, RejectionStatus>> = {
  NOT_ENOUGH_CPUS: 'notNow',
  NOT_ENOUGH_MEMORY: 'notNow',
  NOT_ENOUGH_DISK: 'notNow',
  NOT_ENOUGH_PORTS: 'notNow',
  AGENT_FROZEN: 'never',
  AGENT_DECOMMISSIONING: 'never',
  AGENT_NOT_ACTIVE: 'never',
  RACK_FROZEN: 'never',
  RACK_DECOMMISSIONING: 'never',
  RACK_NOT_ACTIVE: 'never',
  RACK_AFFINITY_NOT_MATCHING: 'never',
  AGENT_ATTRIBUTES_DO_NOT_MATCH: 'never',
  AGENT_RESERVED: 'never',
  ATTRIBUTE_MINIMUMS_UNREACHABLE: 'never',
  RACK_SATURATED: 'never',
  AGENT_SATURATED_BY_DEPLOY: 'never',
  AGENT_SATURATED_BY_REQUEST: 'never',
  AGENT_SATURATED_OPTIMISTIC: 'never',
  MAX_TASKS_PER_OFFER_REACHED: 'notNow',
  ON_DEMAND_INSTANCES_REACHED: 'notNow',
  CHECK_ERROR: 'error',
};

/** Short human text for each reason; summaries add the numbers that matter. */
export const REJECTION_LABELS: Readonly<Record<RejectionReason, string>> = {
  NOT_ENOUGH_CPUS: 'not enough cpus',
  NOT_ENOUGH_MEMORY: 'not enough memory',
  NOT_ENOUGH_DISK: 'not enough disk',
  NOT_ENOUGH_PORTS: 'not enough ports',
  AGENT_FROZEN: 'agent FROZEN',
  AGENT_DECOMMISSIONING: 'agent decommissioning',
  AGENT_NOT_ACTIVE: 'agent not ACTIVE',
  RACK_FROZEN: 'rack FROZEN',
  RACK_DECOMMISSIONING: 'rack decommissioning',
  RACK_NOT_ACTIVE: 'rack not ACTIVE',
  RACK_AFFINITY_NOT_MATCHING: 'rack not in rackAffinity',
  AGENT_ATTRIBUTES_DO_NOT_MATCH: 'required attributes missing',
  AGENT_RESERVED: 'agent reserved for other attributes',
  ATTRIBUTE_MINIMUMS_UNREACHABLE: 'agentAttributeMinimums would become unreachable',
  RACK_SATURATED: 'rack holds its share of the deploy (rackSensitive)',
  AGENT_SATURATED_BY_DEPLOY: 'agent already runs a task of this deploy',
  AGENT_SATURATED_BY_REQUEST: 'agent already runs a task of this request (SEPARATE_BY_REQUEST)',
  AGENT_SATURATED_OPTIMISTIC: 'agent above its OPTIMISTIC share',
  MAX_TASKS_PER_OFFER_REACHED: 'maxTasksPerOffer reached',
  ON_DEMAND_INSTANCES_REACHED: 'ON_DEMAND instances all active',
  CHECK_ERROR: 'check error (a bug)',
};
