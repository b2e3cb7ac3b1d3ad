import type { SingularityHostState } from '@singularity/models';
import type { Clock } from '@singularity/util';
import type { Logger } from '@singularity/node-util';
import type { CooldownSettings, CrashLoopSettings, HealthcheckSettings, LogUploadSettings, SchedulerSettings } from '@singularity/scheduler-core';
import type { SchedulerState } from './scheduler-state';

/** Injection tokens of the scheduler's ports and settings. */
export const CLOCK = Symbol('Clock');
export const LOGGER = Symbol('Logger');
export const SETTINGS = Symbol('SchedulerSettings');
export const AGENT_GATEWAY = Symbol('AgentGateway');

/** What every scheduler component works with; one instance per process. */
export interface SchedulerContext {
  state: SchedulerState;
  clock: Clock;
  logger: Logger;
  settings: SchedulerConfigSettings;
  /**
   * While it answers true the scheduling loop skips its ticks (a leader whose ZooKeeper connection is
   * down: nothing may be decided on state that cannot be written). Absent: never paused.
   */
  paused?: () => boolean;
  /** `/state` `hostStates` of every scheduler instance (the HA host registry); absent: this process alone. */
  hostStates?: () => SingularityHostState[];
}

/** Settings of the scheduler feature: the pure logic's plus the service-level ones. */
export interface SchedulerConfigSettings
  extends SchedulerSettings,
    CooldownSettings,
    Partial<Omit<HealthcheckSettings, 'considerTaskHealthyAfterRunningForSeconds' | 'deployHealthyBySeconds'>>,
    // The crash-loop rules' own thresholds; absent ones take DEFAULT_CRASH_LOOP_SETTINGS.
    Partial<Omit<CrashLoopSettings, keyof CooldownSettings>> {
  heartbeatIntervalMillis: number;
  /** How often a reconciliation round starts (spec §5 `startNewReconcileEverySeconds`). */
  startNewReconcileEverySeconds: number;
  /** Wait after a task's removal from the load balancer before it is killed (spec §5, 0). */
  loadBalancerRemovalGracePeriodMillis?: number;
  /** How often finished tasks, events and deploys move to the SQL history (spec §5, 120). */
  persistHistoryEverySeconds: number;
  /** Where executors upload finished tasks' logs (the `s3` settings); no bucket, no upload. */
  logUpload?: LogUploadSettings;
  /** DEAD agents are forgotten after this long (spec §5, 168). */
  deleteDeadAgentsAfterHours: number;
  /** A task lost with its agent comes back if the agent reports it within 1.5 × this (spec §3.2, 600). */
  agentReregisterTimeoutSeconds: number;
  /** An agent silent for this long is DEAD and its tasks are LOST. */
  agentHeartbeatTimeoutSeconds: number;
  /** Longest a pending-task launch may wait for more offers before a tick places it. */
  tickDebounceMillis: number;
}
