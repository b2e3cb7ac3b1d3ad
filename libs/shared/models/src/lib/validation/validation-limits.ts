import type { AgentPlacement } from '../enums';

/**
 * The configuration knobs the input rules depend on (spec §5). The scheduler
 * builds one from its configuration; tests usually take the defaults and
 * override the one limit they are about.
 */
export interface ValidationLimits {
  /** Longest request id accepted (characters). */
  maxRequestIdSize: number;
  /** Longest deploy id accepted (characters). */
  maxDeployIdSize: number;
  maxNumInstancesPerRequest: number;
  maxNumCpusPerInstance: number;
  /** Per request: instances × cpus. */
  maxNumCpusPerRequest: number;
  maxMemoryMbPerInstance: number;
  maxMemoryMbPerRequest: number;
  maxDiskMbPerInstance: number;
  maxDiskMbPerRequest: number;
  /** Resources of a deploy (or run) that names none. */
  defaultCpus: number;
  defaultMemory: number;
  defaultDisk: number;
  /** When false a request must name at least one owner. */
  allowRequestsWithoutOwners: boolean;
  /** When true a deploy without an id gets a generated one; otherwise the id is required. */
  createDeployIds: boolean;
  /** Placement of requests that name none; applied when scheduling, not stored on the request. */
  defaultAgentPlacement: AgentPlacement;
  /** `runAt` of a run-now may lie at most this many days ahead. */
  maxRunNowTaskLaunchDelayDays: number;
  /** A health check's `startupDelaySeconds` must stay below this (the new-task checker kills after it). */
  killTaskIfNotHealthyAfterSeconds: number;
}

/** Spec §5 defaults. */
export const DEFAULT_VALIDATION_LIMITS: Readonly<ValidationLimits> = Object.freeze({
  maxRequestIdSize: 100,
  maxDeployIdSize: 50,
  maxNumInstancesPerRequest: 25,
  maxNumCpusPerInstance: 50,
  maxNumCpusPerRequest: 900,
  maxMemoryMbPerInstance: 24000,
  maxMemoryMbPerRequest: 450000,
  maxDiskMbPerInstance: 60000,
  maxDiskMbPerRequest: 3000000,
  defaultCpus: 1,
  defaultMemory: 64,
  defaultDisk: 0,
  allowRequestsWithoutOwners: true,
  createDeployIds: false,
  defaultAgentPlacement: 'GREEDY',
  maxRunNowTaskLaunchDelayDays: 30,
  killTaskIfNotHealthyAfterSeconds: 600,
});
