import { expectMatchesSchema, aTask, FIXED_TIME } from '@singularity/testing';
import { lastPerKey, newestPerTask, storableJson, taskHistoryRecord, taskIdHistoryRow } from './history-records';
import type { TaskHistoryRecord } from './history-repository.port';
import type { SingularityTaskHistory } from './history.types';

function historyOf(task = aTask(), updates: SingularityTaskHistory['taskUpdates'] = []): SingularityTaskHistory {
  return { task, taskUpdates: updates, healthcheckResults: [], loadBalancerUpdates: [], shellCommandHistory: [], taskMetadata: [] };
}

describe('taskHistoryRecord', () => {
  it('derives the search columns from the history; the newest update gives the status and time', () => {
    const task = aTask({ taskId: { host: 'web-1.example.com', startedAt: FIXED_TIME } });
    task.taskRequest.pendingTask.runId = 'run-7';
    const { taskId } = task;
    const history = historyOf(task, [
      { taskId, timestamp: FIXED_TIME + 30, taskState: 'TASK_FAILED' },
      { taskId, timestamp: FIXED_TIME + 10, taskState: 'TASK_RUNNING' },
    ]);
    expectMatchesSchema(history, 'SingularityTaskHistory');
    expect(taskHistoryRecord(history)).toEqual({
      taskId: taskId.id,
      requestId: taskId.requestId,
      deployId: taskId.deployId,
      runId: 'run-7',
      host: 'web-1.example.com',
      lastTaskStatus: 'TASK_FAILED',
      startedAt: FIXED_TIME,
      updatedAt: FIXED_TIME + 30,
      history,
    });
  });

  it('without updates: no status, updated at the start', () => {
    const record = taskHistoryRecord(historyOf());
    expect(record.lastTaskStatus).toBeUndefined();
    expect(record.runId).toBeUndefined();
    expect(record.updatedAt).toBe(record.startedAt);
  });
});

describe('taskIdHistoryRow', () => {
  it('parses the id, keeps the real host, and emits the status under both names (reference shape)', () => {
    const task = aTask({ taskId: { host: 'web-1.example.com' } });
    const row = taskIdHistoryRow({ taskId: task.taskId.id, host: 'web-1.example.com', updatedAt: 5, lastTaskStatus: 'TASK_KILLED', runId: 'r' });
    expect(row).toEqual({
      taskId: { ...task.taskId, host: 'web-1.example.com', rackId: task.taskId.sanitizedRackId },
      updatedAt: 5,
      lastTaskState: 'TASK_KILLED',
      lastStatus: 'TASK_KILLED',
      runId: 'r',
    });
    expectMatchesSchema(row, 'SingularityTaskIdHistory');
    expect(taskIdHistoryRow({ taskId: task.taskId.id, host: 'h', updatedAt: 5, lastTaskStatus: null, runId: null })).toEqual({
      taskId: expect.anything(),
      updatedAt: 5,
    });
  });
});

describe('storableJson', () => {
  it('is a JSON copy with NUL and lone surrogates (in values and keys) replaced by U+FFFD', () => {
    const value = { a: 'x\u0000y', ['k\u0000']: ['\uDC00', '\uD83D\uDE00'], n: 1.5, u: undefined, d: new Date(0) };
    const copy = storableJson(value);
    expect(copy).toEqual({ a: 'x\uFFFDy', ['k\uFFFD']: ['\uFFFD', '\uD83D\uDE00'], n: 1.5, d: '1970-01-01T00:00:00.000Z' });
    expect(copy).not.toBe(value);
  });

  it('refuses what JSON cannot encode', () => {
    expect(() => storableJson(undefined)).toThrow(TypeError);
    const cycle: Record<string, unknown> = {};
    cycle['self'] = cycle;
    expect(() => storableJson(cycle)).toThrow(TypeError);
  });
});

describe('batch reduction', () => {
  const rec = (taskId: string, updatedAt: number, tag: string) => ({ taskId, updatedAt, tag }) as unknown as TaskHistoryRecord;

  it('newestPerTask: as if saved one by one (a later item wins unless it is older)', () => {
    const out = newestPerTask([rec('a', 5, 'a1'), rec('b', 1, 'b1'), rec('a', 4, 'a2'), rec('a', 5, 'a3')]);
    expect(out.map((r) => (r as unknown as { tag: string }).tag).sort()).toEqual(['a3', 'b1']);
  });

  it('lastPerKey keeps the last item of each key', () => {
    expect(lastPerKey([1, 2, 3, 4, 5], (n) => String(n % 2))).toEqual([4, 5]);
  });
});
