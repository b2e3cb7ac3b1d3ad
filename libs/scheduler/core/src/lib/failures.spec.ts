import { DEFAULT_COOLDOWN_SETTINGS, emptyDeployStatistics, failureTypeOf, isFailingFast, recordTaskEnd, shouldRetry, type DeployStatistics } from './failures';

const T0 = 1_700_000_000_000;

function failAt(stats: DeployStatistics, ...times: number[]): DeployStatistics {
  return times.reduce((s, t) => recordTaskEnd(s, { state: 'TASK_FAILED', instanceNo: 1, timestamp: t, failure: 'BAD_EXIT_CODE', isRetry: false }), stats);
}

describe('failure classification', () => {
  it.each([
    [{ state: 'TASK_FAILED' as const }, 'BAD_EXIT_CODE'],
    [{ state: 'TASK_FAILED' as const, reason: 'REASON_CONTAINER_LIMITATION_MEMORY' }, 'OOM'],
    [{ state: 'TASK_LOST' as const, reason: 'REASON_AGENT_REMOVED' }, 'LOST_SLAVE'],
    [{ state: 'TASK_FINISHED' as const }, 'UNEXPECTED_EXIT'],
    [{ state: 'TASK_KILLED' as const }, undefined],
    [{ state: 'TASK_FAILED' as const, reason: 'REASON_TASK_INVALID' }, undefined],
  ])('%j of a SERVICE task is %s', (end, type) => {
    expect(failureTypeOf({ requestType: 'SERVICE', killedOnPurpose: false, ...end })).toBe(type);
  });

  it.each([
    [{ state: 'TASK_FAILED' as const, everRunning: false }, 'STARTUP_FAILURE'],
    [{ state: 'TASK_FAILED' as const, everRunning: true }, 'BAD_EXIT_CODE'],
    [{ state: 'TASK_FAILED' as const, everRunning: false, message: 'Task killed by the kernel: out of memory (limit 64 MB)' }, 'OOM'],
    [{ state: 'TASK_KILLED' as const, killedOnPurpose: true, killedAsUnhealthyNewTask: true }, 'STARTUP_FAILURE'],
  ])('a task that never got going: %j is %s', (end, type) => {
    expect(failureTypeOf({ requestType: 'SERVICE', killedOnPurpose: false, ...end })).toBe(type);
  });

  it('does not count a kill the scheduler asked for, nor a finished one-off run', () => {
    expect(failureTypeOf({ state: 'TASK_FAILED', requestType: 'SERVICE', killedOnPurpose: true })).toBeUndefined();
    expect(failureTypeOf({ state: 'TASK_FINISHED', requestType: 'ON_DEMAND', killedOnPurpose: false })).toBeUndefined();
  });
});

describe('cool-down (scenario 36)', () => {
  const settings = DEFAULT_COOLDOWN_SETTINGS;
  it('five failures within a minute are a fast failure loop', () => {
    const stats = failAt(emptyDeployStatistics('r', 'd'), T0, T0 + 10_000, T0 + 20_000, T0 + 30_000, T0 + 40_000);
    expect(isFailingFast(stats, T0 + 45_000, settings)).toBe(true);
  });

  it('older failures do not count', () => {
    const stats = failAt(emptyDeployStatistics('r', 'd'), T0, T0 + 10_000, T0 + 70_000, T0 + 80_000, T0 + 90_000);
    expect(isFailingFast(stats, T0 + 95_000, settings)).toBe(false);
    expect(isFailingFast(stats, T0 + 65_000, settings)).toBe(false);
  });

  it('a success resets the sequential counters but keeps the events', () => {
    const failed = failAt(emptyDeployStatistics('r', 'd'), T0, T0 + 1);
    const ok = recordTaskEnd(failed, { state: 'TASK_FINISHED', instanceNo: 1, timestamp: T0 + 2, failure: undefined, isRetry: false });
    expect(ok).toMatchObject({ numFailures: 0, numSuccess: 1, lastTaskState: 'TASK_FINISHED' });
    expect(ok.taskFailureEvents).toHaveLength(2);
  });

  it('keeps the last 50 failure events', () => {
    const stats = failAt(emptyDeployStatistics('r', 'd'), ...Array.from({ length: 60 }, (_, i) => T0 + i));
    expect(stats.taskFailureEvents).toHaveLength(50);
    expect(stats.taskFailureEvents[0].timestamp).toBe(T0 + 10);
  });
});

describe('retries (scenario 19, 21)', () => {
  const stats = emptyDeployStatistics('r', 'd');
  it('retries while sequential retries stay below numRetriesOnFailure', () => {
    expect(shouldRetry({ requestType: 'ON_DEMAND', numRetriesOnFailure: 2, stats, failure: 'BAD_EXIT_CODE', userTriggered: false })).toBe(true);
    expect(shouldRetry({ requestType: 'ON_DEMAND', numRetriesOnFailure: 2, stats: { ...stats, numSequentialRetries: 2 }, failure: 'BAD_EXIT_CODE', userTriggered: false })).toBe(false);
  });
  it('never retries a user-started SCHEDULED run, a success, or a long-running task', () => {
    expect(shouldRetry({ requestType: 'SCHEDULED', numRetriesOnFailure: 3, stats, failure: 'BAD_EXIT_CODE', userTriggered: true })).toBe(false);
    expect(shouldRetry({ requestType: 'ON_DEMAND', numRetriesOnFailure: 3, stats, failure: undefined, userTriggered: false })).toBe(false);
    expect(shouldRetry({ requestType: 'SERVICE', numRetriesOnFailure: 3, stats, failure: 'BAD_EXIT_CODE', userTriggered: false })).toBe(false);
  });
});
