import type { ExtendedTaskState } from '@singularity/models';
import type {
  DeployHistoryRecord,
  OrderDirection,
  SingularityDeployHistory,
  SingularityRequestHistory,
  SingularityTaskHistory,
  SingularityTaskIdHistory,
} from './history.types';

/**
 * The SQL history of spec §3.6: where the leader moves finished tasks, request history events and
 * finished deploys (every `persistHistoryEverySeconds`), and what the `/history` endpoints read
 * (blended with live state by the caller; this store never sees active tasks).
 *
 * Contract (run by `describeHistoryRepositoryContract` against every implementation):
 * - Writes come in batches, and a batch is atomic: every item is stored, or (when one is invalid or the
 *   database fails) none is. Batches are idempotent upserts, so a retried batch never duplicates:
 *   task histories are keyed by task id and the newest `updatedAt` wins (a tie replaces);
 *   request history by (requestId, createdAt, eventType) and the first write wins (events are
 *   immutable); deploy histories by (requestId, deployId) and the last write wins. A batch with repeated
 *   keys ends as if its items had been saved one by one, in order.
 * - JSON round-trips as JSON does (`undefined` members vanish), except that NUL characters and lone
 *   surrogates in strings become U+FFFD: PostgreSQL's JSONB cannot hold them, and every implementation
 *   behaves alike.
 * - Reads are pages: `count` rows (default 100, at most 1000: larger asks are cut to 1000) of page `page`
 *   (from 1), plus the total over all pages. A count below 1 or a page below 1 is an InvalidRequestError.
 * - After `close`, every call rejects.
 */
export interface HistoryRepository {
  /** Upserts finished tasks' histories (one atomic batch). */
  saveTaskHistories(items: readonly TaskHistoryRecord[]): Promise<void>;
  /** Inserts request history events; an event already stored is left as it is. */
  saveRequestHistory(items: readonly SingularityRequestHistory[]): Promise<void>;
  /** Upserts finished deploys. */
  saveDeployHistories(items: readonly DeployHistoryRecord[]): Promise<void>;

  /** The full history of a task; undefined when unknown or when its bytes were purged. */
  getTaskHistory(taskId: string): Promise<SingularityTaskHistory | undefined>;
  /** The task of a request that ran with `runId` (`/history/request/{r}/run/{runId}`); the newest if several did. */
  getTaskHistoryByRunId(requestId: string, runId: string): Promise<SingularityTaskHistory | undefined>;
  /**
   * Task search (`/history/tasks`, `/history/request/{r}/tasks`): rows matching every given filter,
   * ordered by `startedAt`, then request id, then task id, all in `orderDirection` (default DESC).
   * Rows whose bytes were purged are still listed.
   */
  getTaskIdHistories(filter: TaskIdHistoryFilter, paging?: HistoryPaging): Promise<HistoryPage<SingularityTaskIdHistory>>;

  /** A request's history events, newest first (`createdAt`, then event type). */
  getRequestHistory(requestId: string, paging?: HistoryPaging): Promise<HistoryPage<SingularityRequestHistory>>;
  /**
   * Request ids in the request history starting with `requestIdLike` (`/history/requests/search`), in
   * ascending order. The text is a literal prefix: `%`, `_` and `\` match only themselves.
   */
  searchRequestIds(requestIdLike: string, paging?: HistoryPaging): Promise<HistoryPage<string>>;

  /** A request's finished deploys, newest marker first; each carries only `deployMarker` and `deployResult`. */
  getDeployHistories(requestId: string, paging?: HistoryPaging): Promise<HistoryPage<SingularityDeployHistory>>;
  /** One finished deploy with everything that was saved for it. */
  getDeployHistory(requestId: string, deployId: string): Promise<SingularityDeployHistory | undefined>;

  /**
   * Deletes task rows (or, with `mode: 'bytes'`, only their JSON, keeping the searchable row), oldest
   * `updatedAt` first, at most `limit` of them. A row goes when it is older than `olderThan` OR when more
   * than `keepNewestPerRequest` newer rows of its request exist (spec §3.6: the newest are kept). With
   * neither criterion nothing is purged. Returns how many rows were purged; call again while it equals
   * `limit`.
   */
  purgeTaskHistory(options: TaskHistoryPurge): Promise<number>;
  /** Deletes request history events created before `olderThan`, at most `limit`; returns how many. */
  purgeRequestHistory(options: HistoryAgePurge): Promise<number>;
  /** Deletes deploy histories whose marker is older than `olderThan`, at most `limit`; returns how many. */
  purgeDeployHistory(options: HistoryAgePurge): Promise<number>;

  /** Whether the store answers now (never throws). */
  health(): Promise<HistoryHealth>;
  /** Releases connections (and an embedded server the repository owns). Safe to call twice. */
  close(): Promise<void>;
}

/** Nest injection token for the HistoryRepository port. */
export const HISTORY_REPOSITORY = Symbol('HistoryRepository');

/**
 * A finished task's history plus the columns that searches filter on. Build it with
 * `taskHistoryRecord(history)`, which derives every column from the history itself.
 */
export interface TaskHistoryRecord {
  taskId: string;
  requestId: string;
  deployId: string;
  runId?: string;
  host: string;
  lastTaskStatus?: ExtendedTaskState;
  startedAt: number;
  updatedAt: number;
  history: SingularityTaskHistory;
}

/** The query parameters of `/history/tasks` (spec §4). Times are epoch ms and the bounds are exclusive. */
export interface TaskIdHistoryFilter {
  requestId?: string;
  deployId?: string;
  runId?: string;
  host?: string;
  lastTaskStatus?: ExtendedTaskState;
  startedBefore?: number;
  startedAfter?: number;
  updatedBefore?: number;
  updatedAfter?: number;
  orderDirection?: OrderDirection;
}

export interface HistoryPaging {
  /** Rows per page: default 100, at most 1000. */
  count?: number;
  /** Page number from 1 (default 1). */
  page?: number;
}

/** One page of rows and the number of rows on all pages; `toPaginatedResponse` makes the wire shape. */
export interface HistoryPage<T> {
  items: T[];
  total: number;
}

export interface TaskHistoryPurge {
  /** Purge rows whose `updatedAt` is before this (epoch ms). */
  olderThan?: number;
  /** Keep this many newest rows (by `updatedAt`) of each request; purge the rest. */
  keepNewestPerRequest?: number;
  /** At most this many rows per call (`purgeLimitPerQuery`). */
  limit: number;
  /** Only this request's rows. */
  requestId?: string;
  /** `rows` (default) deletes rows; `bytes` drops the JSON and keeps the row for searches. */
  mode?: 'rows' | 'bytes';
}

export interface HistoryAgePurge {
  olderThan: number;
  limit: number;
}

export interface HistoryHealth {
  healthy: boolean;
  /** Where the data lives, without credentials. */
  database: string;
  error?: string;
}
