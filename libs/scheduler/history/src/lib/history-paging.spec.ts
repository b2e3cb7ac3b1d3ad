import { InvalidRequestError } from '@singularity/util';
import { assertValidTaskIdHistoryFilter, escapeLike, normalizePaging, pageOf, toPaginatedResponse } from './history-paging';

describe('normalizePaging (spec §3.6: count 100, max 1000, page ≥ 1)', () => {
  it.each([
    [{}, { count: 100, page: 1, offset: 0 }],
    [{ count: 25 }, { count: 25, page: 1, offset: 0 }],
    [{ count: 25, page: 3 }, { count: 25, page: 3, offset: 50 }],
    [{ count: 1000 }, { count: 1000, page: 1, offset: 0 }],
    [{ count: 1001, page: 2 }, { count: 1000, page: 2, offset: 1000 }],
  ])('%j → %j', (paging, expected) => {
    expect(normalizePaging(paging)).toEqual(expected);
  });

  it.each([{ count: 0 }, { count: -5 }, { count: 2.5 }, { page: 0 }, { page: -1 }, { page: Number.NaN }])('refuses %j with a 400 naming the field', (paging) => {
    expect(() => normalizePaging(paging)).toThrow(InvalidRequestError);
    try {
      normalizePaging(paging);
    } catch (err) {
      expect((err as InvalidRequestError).field).toBe('count' in paging ? 'count' : 'page');
    }
  });
});

describe('toPaginatedResponse', () => {
  it('counts pages of the effective count', () => {
    expect(toPaginatedResponse({ items: ['a'], total: 0 })).toEqual({ dataCount: 0, pageCount: 0, page: 1, objects: ['a'] });
    expect(toPaginatedResponse({ items: [], total: 250 }, { count: 100, page: 3 })).toEqual({ dataCount: 250, pageCount: 3, page: 3, objects: [] });
    expect(toPaginatedResponse({ items: [], total: 2500 }, { count: 5000 })).toMatchObject({ pageCount: 3 });
    expect(toPaginatedResponse({ items: [], total: 100 }, { count: 100 })).toMatchObject({ pageCount: 1 });
  });
});

describe('pageOf', () => {
  it('slices a sorted list and keeps the total', () => {
    const list = Array.from({ length: 7 }, (_, i) => i);
    expect(pageOf(list, { count: 3, page: 3 })).toEqual({ items: [6], total: 7 });
    expect(pageOf(list, { count: 3, page: 4 })).toEqual({ items: [], total: 7 });
  });
});

describe('escapeLike', () => {
  it('escapes the LIKE wildcards and the escape character', () => {
    expect(escapeLike('a_b%c\\d')).toBe('a\\_b\\%c\\\\d');
    expect(escapeLike('plain-id')).toBe('plain-id');
  });
});

describe('assertValidTaskIdHistoryFilter', () => {
  it('accepts every spec filter', () => {
    expect(() =>
      assertValidTaskIdHistoryFilter({
        requestId: 'r',
        deployId: 'd',
        runId: 'x',
        host: 'h',
        lastTaskStatus: 'TASK_LOST',
        startedBefore: 2,
        startedAfter: 1,
        updatedBefore: 2,
        updatedAfter: 1,
        orderDirection: 'ASC',
      }),
    ).not.toThrow();
  });

  it.each([
    [{ lastTaskStatus: 'LOST' }, 'lastTaskStatus'],
    [{ orderDirection: 'asc' }, 'orderDirection'],
    [{ updatedAfter: 1.5 }, 'updatedAfter'],
    [{ startedBefore: '5' }, 'startedBefore'],
    [{ host: 5 }, 'host'],
  ])('refuses %j (field %s)', (filter, field) => {
    expect(() => assertValidTaskIdHistoryFilter(filter as never)).toThrow(expect.objectContaining({ field }));
  });
});
