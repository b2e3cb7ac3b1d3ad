import type { PendingType } from './enums';

/**
 * The unique id of a task. Its string form is
 * `{requestId}-{deployId}-{startedAt}-{instanceNo}-{host}-{rackId}` with `-` in
 * host and rack replaced by `_` (spec §1 id table).
 */
export interface SingularityTaskId {
  requestId: string;
  deployId: string;
  startedAt: number;
  instanceNo: number;
  host: string;
  sanitizedHost: string;
  rackId: string;
  sanitizedRackId: string;
  id: string;
}

/** `{requestId}-{deployId}-{nextRunAt}-{instanceNo}-{pendingType}-{createdAt}` */
export interface SingularityPendingTaskId {
  requestId: string;
  deployId: string;
  nextRunAt: number;
  instanceNo: number;
  pendingType: PendingType;
  createdAt: number;
  id: string;
}
