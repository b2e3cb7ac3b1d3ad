import type {
  AgentPlacement,
  MachineState,
  Resources,
  SingularityDeploy,
  SingularityPendingTask,
  SingularityRequest,
} from '@singularity/models';
import type { RejectionReason } from './rejection-reasons';

/**
 * Public input and output of the placement stage (spec §3.1). The scheduler service builds a
 * `PlacementInput` from one read-only snapshot and applies the returned `PlacementPlan`; nothing
 * here does I/O or reads the clock (conventions §1).
 */

/** Cpus, memory and disk of an agent: a total, a reserved sum or a measured usage. */
export interface ScalarResources {
  cpus: number;
  memoryMb: number;
  diskMb: number;
}

/** One agent as the scheduler sees it: its "offer" is `total − used` plus its free ports. */
export interface PlacementAgent {
  agentId: string;
  host: string;
  rackId: string;
  /** Only ACTIVE machines take tasks; FROZEN, decommissioning or DEAD ones get nothing. */
  state: MachineState;
  rackState: MachineState;
  attributes: Record<string, string>;
  /**
   * Attributes this agent is reserved for: it takes only tasks whose required or allowed
   * attributes include all of them (spec §3.1 "agents reserved by attribute"). Absent or empty: not reserved.
   */
  reservedAttributes?: Record<string, string>;
  total: ScalarResources;
  /** Sum of the resources of tasks already on it. */
  used: ScalarResources;
  portRange: { begin: number; end: number };
  usedPorts: ReadonlySet<number>;
  /** Measured usage if known; absent → the usage scorer uses 0.5 for its measured half. */
  usage?: ScalarResources;
}

/** One due pending task. */
export interface PlacementTask {
  pendingTaskId: string;
  requestId: string;
  deployId: string;
  request: SingularityRequest;
  deploy: SingularityDeploy;
  pendingTask: SingularityPendingTask;
  /** Effective resources (the deploy's or the run's override), `numPorts` included. */
  resources: Resources;
  nextRunAt: number;
  /** True for a task that replaces one being bounced (allowBounceToSameHost). */
  isBounceReplacement?: boolean;
}

/** A task already running or cleaning; the spread and separate rules count these. */
export interface PlacedTaskInfo {
  taskId: string;
  requestId: string;
  deployId: string;
  agentId: string;
  host: string;
  rackId: string;
  cleaning: boolean;
}

/** The placement part of the scheduler configuration (spec §5). */
export interface PlacementSettings {
  defaultAgentPlacement: AgentPlacement;
  placementLeniency: number;
  allowBounceToSameHost: boolean;
  defaultTaskPriorityLevel: number;
  preferredAgentScaleFactor: number;
  goodEnoughScoreThreshold: number;
  /** Tasks one agent may take in one plan; 0 = off. */
  maxTasksPerOffer: number;
}

export interface PlacementInput {
  agents: readonly PlacementAgent[];
  tasks: readonly PlacementTask[];
  placed: readonly PlacedTaskInfo[];
  /** Time is an input: it only weighs how overdue a task is. */
  now: number;
  /** Seeds the agent order; recorded in the plan so a round can be replayed. */
  seed: number;
  settings: PlacementSettings;
}

export interface PlannedLaunch {
  pendingTaskId: string;
  agentId: string;
  /** Host ports reserved for the task, lowest free first, `numPorts` of them. */
  ports: number[];
  score: number;
}

/** A task no agent could take this round: data, not an error (conventions §4). */
export interface UnplacedTask {
  pendingTaskId: string;
  /** How many agents rejected the task for each reason (the first failing check of each agent). */
  reasons: Partial<Record<RejectionReason, number>>;
  /** e.g. "0 of 3 agents fit: 2 × not enough memory (wants 2048 MB, most free 1024 MB), 1 × agent FROZEN". */
  summary: string;
}

export interface PlacementPlan {
  seed: number;
  launches: PlannedLaunch[];
  unplaced: UnplacedTask[];
}
