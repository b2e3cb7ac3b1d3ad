import { HISTORY_PURGING_DEFAULTS, planHistoryPurge, runHistoryPurge } from './history-purging';
import { InMemoryHistoryRepository } from './in-memory-history-repository';

const NOW = 1_800_000_000_000;
const DAY = 86_400_000;

describe('planHistoryPurge (spec §5 historyPurging)', () => {
  it('does nothing unless enabled', () => {
    expect(planHistoryPurge(HISTORY_PURGING_DEFAULTS, NOW)).toEqual({});
  });

  it('with the defaults: bytes after 365 days or beyond 10000 per request, request and deploy history after 365 days; no row deletes', () => {
    expect(planHistoryPurge({ ...HISTORY_PURGING_DEFAULTS, enabled: true }, NOW)).toEqual({
      taskBytes: { olderThan: NOW - 365 * DAY, keepNewestPerRequest: 10000, limit: 25000, mode: 'bytes' },
      requestHistory: { olderThan: NOW - 365 * DAY, limit: 25000 },
      deployHistory: { olderThan: NOW - 365 * DAY, limit: 25000 },
    });
  });

  it('deletes rows when either row setting is above 0; 0 is off everywhere', () => {
    const plan = planHistoryPurge(
      {
        ...HISTORY_PURGING_DEFAULTS,
        enabled: true,
        deleteTaskHistoryAfterTasksPerRequest: 50,
        deleteTaskHistoryBytesAfterDays: 0,
        deleteTaskHistoryBytesAfterTasksPerRequest: 0,
        purgeRequestHistoryAfterDays: 0,
        purgeLimitPerQuery: 10,
      },
      NOW,
    );
    expect(plan).toEqual({ taskRows: { keepNewestPerRequest: 50, limit: 10, mode: 'rows' }, deployHistory: { olderThan: NOW - 365 * DAY, limit: 10 } });
  });
});

describe('runHistoryPurge', () => {
  it('repeats each part while a call purges a full limit', async () => {
    const repo = new InMemoryHistoryRepository();
    const calls: number[] = [];
    const results = [3, 3, 1];
    repo.purgeTaskHistory = async () => {
      const n = results[calls.length] ?? 0;
      calls.push(n);
      return n;
    };
    const result = await runHistoryPurge(repo, { taskRows: { keepNewestPerRequest: 1, limit: 3 } });
    expect(calls).toEqual([3, 3, 1]);
    expect(result).toEqual({ taskRows: 7, taskBytes: 0, requestHistory: 0, deployHistory: 0 });
  });

  it('stops after maxCallsPerPart', async () => {
    const repo = new InMemoryHistoryRepository();
    let calls = 0;
    repo.purgeRequestHistory = async () => {
      calls += 1;
      return 2;
    };
    expect((await runHistoryPurge(repo, { requestHistory: { olderThan: NOW, limit: 2 } }, 5)).requestHistory).toBe(10);
    expect(calls).toBe(5);
  });
});
