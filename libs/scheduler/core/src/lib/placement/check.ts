import {
  REJECTION_REASONS,
  REJECTION_STATUS,
  type RejectionReason,
  type RejectionStatus,
} from './rejection-reasons';
import type { AgentOffer, DueTask, PlacementContext } from './placement-context';

/**
 * One placement rule (conventions §3, Kubernetes' Filter plugin): may this agent take this task now?
 * A check is O(1): what it needs across tasks is precomputed in the `PlacementContext`.
 */
export interface PlacementCheck {
  readonly name: string;
  /** The reasons this check can return, for docs and tests. */
  readonly reasons: readonly RejectionReason[];
  /**
   * False when the rule cannot reject this task anywhere (e.g. no rackAffinity set); the planner
   * then skips the check for every agent (Kubernetes' PreFilter "skip"). Absent: always applies.
   */
  appliesTo?(task: DueTask, ctx: PlacementContext): boolean;
  check(task: DueTask, agent: AgentOffer, ctx: PlacementContext): CheckResult;
}

export type CheckStatus = 'fits' | RejectionStatus;

export interface Fits {
  readonly status: 'fits';
}

export interface Rejection {
  readonly status: RejectionStatus;
  readonly reason: RejectionReason;
  /** Position in `REJECTION_REASONS`, so the planner counts into an array. */
  readonly index: number;
}

export type CheckResult = Fits | Rejection;

export const FITS: Fits = Object.freeze({ status: 'fits' });

// One frozen object per reason: checks return these, so a rejection never allocates.
const REJECTIONS = new Map<RejectionReason, Rejection>(
  REJECTION_REASONS.map((reason, index) => [reason, Object.freeze({ status: REJECTION_STATUS[reason], reason, index })]),
);

/** The rejection for `reason`; its status is the reason's (`REJECTION_STATUS`). */
export function reject(reason: RejectionReason): Rejection {
  const rejection = REJECTIONS.get(reason);
  if (!rejection) throw new Error(`Unknown rejection reason ${reason}`);
  return rejection;
}
