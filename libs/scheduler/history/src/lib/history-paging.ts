import { EXTENDED_TASK_STATES } from '@singularity/models';
import { InvalidRequestError } from '@singularity/util';
import type { HistoryPage, HistoryPaging, TaskIdHistoryFilter } from './history-repository.port';
import { ORDER_DIRECTIONS, type SingularityPaginatedResponse } from './history.types';

/** Spec §3.6: `count` 100 (max 1000), `page` ≥ 1. */
export const DEFAULT_HISTORY_COUNT = 100;
export const MAX_HISTORY_COUNT = 1000;

export interface NormalizedPaging {
  count: number;
  page: number;
  /** Rows before this page. */
  offset: number;
}

/**
 * Paging as Singularity reads it: no count → 100; more than 1000 → 1000 (cut, not refused); no page → 1.
 * A count below 1, a page below 1 or a fraction is a 400.
 */
export function normalizePaging(paging: HistoryPaging = {}): NormalizedPaging {
  const count = paging.count ?? DEFAULT_HISTORY_COUNT;
  const page = paging.page ?? 1;
  if (!Number.isSafeInteger(count) || count < 1) throw new InvalidRequestError(`count must be a whole number of at least 1, got ${count}`, 'count');
  if (!Number.isSafeInteger(page) || page < 1) throw new InvalidRequestError(`page must be a whole number of at least 1, got ${page}`, 'page');
  const limited = Math.min(count, MAX_HISTORY_COUNT);
  return { count: limited, page, offset: (page - 1) * limited };
}

/** The wire shape `SingularityPaginatedResponse*` of one page. */
export function toPaginatedResponse<T>(result: HistoryPage<T>, paging: HistoryPaging = {}): SingularityPaginatedResponse<T> {
  const { count, page } = normalizePaging(paging);
  return { dataCount: result.total, pageCount: Math.ceil(result.total / count), page, objects: result.items };
}

/** One page of an already filtered and ordered list (for in-memory stores and blended reads). */
export function pageOf<T>(sorted: readonly T[], paging: HistoryPaging = {}): HistoryPage<T> {
  const { count, offset } = normalizePaging(paging);
  return { items: sorted.slice(offset, offset + count), total: sorted.length };
}

/** `text` as a literal LIKE pattern (escape character `\`), so `%` and `_` match only themselves. */
export function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

const TASK_STATES: ReadonlySet<string> = new Set(EXTENDED_TASK_STATES);
const TIME_FIELDS = ['startedBefore', 'startedAfter', 'updatedBefore', 'updatedAfter'] as const;
const TEXT_FIELDS = ['requestId', 'deployId', 'runId', 'host'] as const;

/** Refuses filters a caller could not have meant (bad enum, non-numeric time); a 400 names the field. */
export function assertValidTaskIdHistoryFilter(filter: TaskIdHistoryFilter): void {
  for (const field of TEXT_FIELDS) {
    const value = filter[field];
    if (value !== undefined && typeof value !== 'string') throw new InvalidRequestError(`${field} must be a string`, field);
  }
  for (const field of TIME_FIELDS) {
    const value = filter[field];
    if (value !== undefined && !Number.isSafeInteger(value)) throw new InvalidRequestError(`${field} must be epoch milliseconds, got ${value}`, field);
  }
  if (filter.lastTaskStatus !== undefined && !TASK_STATES.has(filter.lastTaskStatus)) {
    throw new InvalidRequestError(`lastTaskStatus must be one of ${EXTENDED_TASK_STATES.join(', ')}`, 'lastTaskStatus');
  }
  if (filter.orderDirection !== undefined && !ORDER_DIRECTIONS.includes(filter.orderDirection)) {
    throw new InvalidRequestError(`orderDirection must be ASC or DESC`, 'orderDirection');
  }
}
