import {
  cutMessage,
  formatDuration,
  invalidDefinitionUpdate,
  killedBeforeStartUpdate,
  MAX_TASK_MESSAGE_LENGTH,
  runningMessage,
  stagingLostUpdate,
  startingMessage,
  terminalUpdateFor,
  type KillFacts,
} from './task-status-messages';

const kill = (over: Partial<KillFacts> = {}): KillFacts => ({ requestedAt: 1000, destroy: false, graceMillis: 2000, killedAfterGrace: false, ...over });

describe('terminalUpdateFor', () => {
  it.each([
    [{ exitCode: 0 }, 'TASK_FINISHED', 'Process exited normally with code 0'],
    [{ exitCode: 3, successfulExitCodes: [0, 3] }, 'TASK_FINISHED', 'Process exited normally with code 3'],
    [{ exitCode: 1, successfulExitCodes: [0, 3] }, 'TASK_FAILED', 'Process failed with code 1'],
    [{ exitCode: 143 }, 'TASK_FAILED', 'Process failed with code 143'],
    [{ exitCode: 143, successfulExitCodes: [143] }, 'TASK_FINISHED', 'Process exited normally with code 143'],
    [{ exitCode: 143, kill: kill() }, 'TASK_KILLED', 'Task killed. Process exited gracefully with code 143 (shutdownTime: 250ms)'],
    [{ exitCode: 0, kill: kill() }, 'TASK_KILLED', 'Task killed. Process exited gracefully with code 0 (shutdownTime: 250ms)'],
    [{ exitCode: 137, kill: kill({ killedAfterGrace: true }) }, 'TASK_KILLED', 'Task killed forcibly after waiting at least 00:02.000 (shutdownTime: 250ms)'],
    [{ exitCode: 137, kill: kill({ destroy: true, user: 'alice' }) }, 'TASK_KILLED', 'Task killed forcibly by alice (shutdownTime: 250ms)'],
    [{ exitCode: 137, kill: kill({ destroy: true }) }, 'TASK_KILLED', 'Task killed forcibly (shutdownTime: 250ms)'],
    [{ exitCode: 143, kill: kill(), threadLimit: { used: 50, max: 10 } }, 'TASK_FAILED', 'Task used 50 threads and was killed (max 10)'],
    [{ exitCode: 137, outOfMemory: { limitMb: 64 } }, 'TASK_FAILED', 'Task killed by the kernel: out of memory (limit 64 MB)'],
    [{ exitCode: 0, outOfMemory: { limitMb: 64 } }, 'TASK_FAILED', 'Task killed by the kernel: out of memory (limit 64 MB)'],
    [{ exitCode: 143, kill: kill(), outOfMemory: { limitMb: 64 } }, 'TASK_KILLED', 'Task killed. Process exited gracefully with code 143 (shutdownTime: 250ms)'],
  ])('%j → %s %j', (facts, state, message) => {
    const update = terminalUpdateFor({ successfulExitCodes: [0], exitedAt: 1250, ...facts });
    expect(update).toMatchObject({ state, message, exitCode: facts.exitCode });
  });

  it('marks forced kills', () => {
    const base = { exitCode: 137, exitedAt: 1250, successfulExitCodes: [0] };
    expect(terminalUpdateFor({ ...base, kill: kill({ killedAfterGrace: true }) }).forced).toBe(true);
    expect(terminalUpdateFor({ ...base, kill: kill({ destroy: true }) }).forced).toBe(true);
    expect(terminalUpdateFor({ ...base, exitCode: 143, kill: kill() }).forced).toBe(false);
    expect(terminalUpdateFor(base).forced).toBeUndefined();
  });

  it('keeps every kill message of a long grace within the limit', () => {
    const update = terminalUpdateFor({ exitCode: 137, exitedAt: 10_000_000, successfulExitCodes: [0], kill: kill({ graceMillis: 180_000, killedAfterGrace: true, requestedAt: 0 }) });
    expect(update.message).toBe('Task killed forcibly after waiting at least 03:00.000 (shutdownTime: 10000000ms)');
    expect(update.message?.length).toBeLessThanOrEqual(MAX_TASK_MESSAGE_LENGTH);
  });
});

describe('messages', () => {
  it('words the non-terminal updates as the spec does', () => {
    expect(startingMessage(42)).toBe('Staging files... (executor pid: 42)');
    expect(runningMessage(7)).toBe('Task running process bash - (pid: 7)');
    expect(killedBeforeStartUpdate()).toMatchObject({ state: 'TASK_KILLED', message: 'Task killed before service process started' });
    expect(invalidDefinitionUpdate('t1', 'executorData.cmd: required')).toMatchObject({
      state: 'TASK_LOST',
      message: 'Unexpected exception while launching task t1 - executorData.cmd: required',
    });
    expect(stagingLostUpdate('EACCES', 'permission denied')).toMatchObject({ state: 'TASK_LOST', message: 'EACCES while initializing task: permission denied' });
  });

  it.each([
    [0, '00:00.000'],
    [1000, '00:01.000'],
    [1050, '00:01.050'],
    [61_001, '01:01.001'],
    [180_000, '03:00.000'],
    [3_600_000, '60:00.000'],
    [-5, '00:00.000'],
  ])('formatDuration(%d) = %s', (millis, text) => expect(formatDuration(millis)).toBe(text));

  it('cuts messages to 80 characters without splitting a character', () => {
    expect(cutMessage('x'.repeat(80))).toBe('x'.repeat(80));
    expect(cutMessage('x'.repeat(81))).toBe('x'.repeat(80));
    const emoji = '😀'.repeat(81);
    expect(Array.from(cutMessage(emoji))).toHaveLength(80);
    expect(cutMessage(emoji)).toBe('😀'.repeat(80));
  });
});
