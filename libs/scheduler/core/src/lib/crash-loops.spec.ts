import fc from 'fast-check';
import { crashLoopHorizonMillis, DEFAULT_CRASH_LOOP_SETTINGS, detectCrashLoops } from './crash-loops';
import { TASK_FAILURE_TYPES, type TaskFailureEvent, type TaskFailureType } from './failures';

// On a 30-minute boundary (so also on 3-minute ones): bucket edges in these tables are easy to count.
const NOW = 1_800_000 * 1_000_000;
const SEC = 1_000;
const MIN = 60_000;

/** [instance, how long before NOW, type] */
type Row = [number, number, TaskFailureType];
const events = (rows: Row[]): TaskFailureEvent[] => rows.map(([instance, ago, type]) => ({ instance, timestamp: NOW - ago, type }));
const detect = (rows: Row[], longRunning = false) =>
  detectCrashLoops({ requestId: 'r', deployId: 'd', longRunning, failures: events(rows) }, NOW, DEFAULT_CRASH_LOOP_SETTINGS);
const types = (rows: Row[], longRunning = false) => detect(rows, longRunning).map((l) => l.type);
const bad = (instance: number, ago: number): Row => [instance, ago, 'BAD_EXIT_CODE'];
const every = (count: number, stepMillis: number, row: (i: number) => [number, TaskFailureType], firstAgo = stepMillis): Row[] =>
  Array.from({ length: count }, (_, i) => {
    const [instance, type] = row(i);
    return [instance, firstAgo + i * stepMillis, type];
  });

describe('detectCrashLoops', () => {
  describe('FAST_FAILURE_LOOP (scenario 36: the cool-down rule)', () => {
    const burst = [1 * SEC, 10 * SEC, 20 * SEC, 30 * SEC, 45 * SEC];

    it('5 failures within a minute are a fast failure loop that starts at the first of them', () => {
      expect(detect(burst.map((ago) => bad(1, ago)))).toEqual([{ requestId: 'r', deployId: 'd', start: NOW - 45 * SEC, type: 'FAST_FAILURE_LOOP' }]);
    });

    it.each<[string, Row[]]>([
      ['the same burst five minutes ago', burst.map((ago) => bad(1, ago + 5 * MIN))],
      ['4 within the minute and 3 just older', [...burst.slice(0, 4).map((ago) => bad(1, ago)), bad(1, 61 * SEC), bad(1, 70 * SEC), bad(1, 90 * SEC)]],
      ['a failure exactly one minute old', [...burst.slice(0, 4).map((ago) => bad(1, ago)), bad(1, 60 * SEC)]],
    ])('older ones do not count: %s', (_name, rows) => {
      expect(types(rows)).toEqual([]);
    });

    it('counts every kind of failure, as the cool-down does', () => {
      expect(types(burst.map((ago, i) => [i + 1, ago, TASK_FAILURE_TYPES[i]]))).toContain('FAST_FAILURE_LOOP');
    });
  });

  describe('STARTUP_FAILURE_LOOP (tasks that never became healthy)', () => {
    it.each<[string, Row[], string[]]>([
      ['one instance failing to start 3 times', every(3, 5 * SEC, () => [1, 'STARTUP_FAILURE'], 10 * SEC), ['STARTUP_FAILURE_LOOP']],
      ['one instance only twice', every(2, 5 * SEC, () => [1, 'STARTUP_FAILURE'], 10 * SEC), []],
      ['5 instances once each within 10 minutes', every(5, 90 * SEC, (i) => [i + 1, 'STARTUP_FAILURE']), ['STARTUP_FAILURE_LOOP']],
      ['4 instances once each', every(4, 90 * SEC, (i) => [i + 1, 'STARTUP_FAILURE']), []],
      ['3 of one instance, one of them 11 minutes ago', every(3, 5 * MIN, () => [1, 'STARTUP_FAILURE'], 1 * MIN), []],
      ['3 crashes of a task that had run', every(3, 5 * SEC, () => [1, 'BAD_EXIT_CODE'], 10 * SEC), []],
    ])('%s → %j', (_name, rows, expected) => {
      expect(types(rows)).toEqual(expected);
    });
  });

  describe('OOM', () => {
    it.each<[string, Row[], string[]]>([
      ['4 OOM kills in 30 minutes', every(4, 5 * MIN, (i) => [i + 1, 'OOM'], 10 * MIN), ['OOM']],
      ['3 OOM kills', every(3, 5 * MIN, (i) => [i + 1, 'OOM'], 10 * MIN), []],
      ['4 OOM kills, one 31 minutes ago', [...every(3, 5 * MIN, (i) => [i + 1, 'OOM'], 10 * MIN), [4, 31 * MIN, 'OOM']], []],
      ['4 plain crashes', every(4, 5 * MIN, (i) => [i + 1, 'BAD_EXIT_CODE'], 10 * MIN), []],
    ])('%s → %j', (_name, rows, expected) => {
      expect(types(rows)).toEqual(expected);
    });

    it('starts at the oldest OOM in the window', () => {
      expect(detect(every(4, 5 * MIN, (i) => [i + 1, 'OOM'], 10 * MIN))[0].start).toBe(NOW - 25 * MIN);
    });
  });

  describe('SINGLE_INSTANCE_FAILURE_LOOP and MULTI_INSTANCE_FAILURE (failures spread over 3-minute buckets)', () => {
    // 1, 6, 11, 16, 21 minutes ago: 5 of the last 10 buckets.
    const spread: Array<[number, TaskFailureType]> = [
      [1, 'BAD_EXIT_CODE'],
      [6, 'OOM'],
      [11, 'OUT_OF_DISK_SPACE'],
      [16, 'OUT_OF_DISK_SPACE'],
      [21, 'OOM'],
    ];
    // 1, 4, 7 … 19 minutes ago: 7 of the last 10 buckets.
    const seven = every(7, 3 * MIN, (i) => [i + 1, 'BAD_EXIT_CODE'], 1 * MIN);

    it.each<[string, Row[], string[]]>([
      ['instance 1 failing in 5 of 10 buckets', spread.map(([ago, type]) => [1, ago * MIN, type]), ['SINGLE_INSTANCE_FAILURE_LOOP']],
      ['instance 1 failing in 2 of 10 buckets', [bad(1, 1 * MIN), bad(1, 12 * MIN)], []],
      ['the same failures spread over 5 instances', spread.map(([ago, type], i) => [i + 1, ago * MIN, type]), []],
      ['7 instances failing in 7 of 10 buckets', seven, ['MULTI_INSTANCE_FAILURE']],
      ['6 instances failing in 6 of 10 buckets (not more than 60 %)', seven.slice(0, 6), []],
      ['one instance failing in 7 buckets', seven.map(([, ago, type]) => [1, ago, type]), ['SINGLE_INSTANCE_FAILURE_LOOP']],
      ['machines lost in 7 buckets', seven.map(([instance, ago]) => [instance, ago, 'LOST_SLAVE']), []],
    ])('%s → %j', (_name, rows, expected) => {
      expect(types(rows)).toEqual(expected);
    });
  });

  describe('SLOW_FAILURES and UNEXPECTED_EXITS (long-running requests only)', () => {
    // Every 30 minutes for 6.5 hours, one skipped: 12 of the last 15 half-hour buckets.
    const slow = every(13, 30 * MIN, () => [1, 'BAD_EXIT_CODE']).filter(([, ago]) => ago !== 240 * MIN);
    const exits = every(5, 6 * MIN, () => [1, 'UNEXPECTED_EXIT'], 1 * MIN);

    it.each<[string, Row[], boolean, string[]]>([
      ['a failure most half hours of 7.5 hours', slow, true, ['SLOW_FAILURES']],
      ['the same for a worker that is not long-running', slow, false, []],
      ['failures in 10 of 15 half hours (not more than 70 %)', slow.slice(0, 10), true, []],
      ['a burst five minutes ago', every(5, 10 * SEC, () => [1, 'BAD_EXIT_CODE'], 5 * MIN), true, []],
      ['5 unexpected exits in 30 minutes', exits, true, ['UNEXPECTED_EXITS']],
      ['4 unexpected exits', exits.slice(0, 4), true, []],
      ['5 exits of a request that may finish', exits, false, []],
    ])('%s (long-running: %s) → %j', (_name, rows, longRunning, expected) => {
      expect(types(rows, longRunning)).toEqual(expected);
    });
  });

  it('reports several loops at once, in the reference enum order', () => {
    const rows = every(5, 5 * SEC, (i) => [1 + (i % 2), 'OOM'], 1 * SEC);
    expect(types(rows)).toEqual(['FAST_FAILURE_LOOP', 'OOM']);
  });

  describe('properties', () => {
    const settings = DEFAULT_CRASH_LOOP_SETTINGS;
    const horizon = crashLoopHorizonMillis(settings);
    const failure = (maxAgo: number) =>
      fc.record({ instance: fc.integer({ min: 1, max: 6 }), ago: fc.integer({ min: 0, max: maxAgo }), type: fc.constantFrom(...TASK_FAILURE_TYPES) });
    const toEvents = (list: Array<{ instance: number; ago: number; type: TaskFailureType }>, at: number) =>
      list.map(({ instance, ago, type }) => ({ instance, timestamp: at - ago, type }));

    it('without new failures, loops only close as time passes (a loop opens at a failure)', () => {
      fc.assert(
        fc.property(fc.array(failure(8 * 60 * MIN), { maxLength: 40 }), fc.boolean(), fc.integer({ min: 0, max: 10 * 60 * MIN }), (list, longRunning, later) => {
          const input = { requestId: 'r', deployId: 'd', longRunning, failures: toEvents(list, NOW) };
          const before = new Set(detectCrashLoops(input, NOW, settings).map((l) => l.type));
          for (const loop of detectCrashLoops(input, NOW + later, settings)) expect(before.has(loop.type)).toBe(true);
        }),
      );
    });

    it('failures older than the longest window change nothing, and every loop starts at a counted failure', () => {
      fc.assert(
        fc.property(fc.array(failure(horizon - 1), { maxLength: 30 }), fc.array(failure(horizon), { maxLength: 30 }), fc.boolean(), (recent, old, longRunning) => {
          const failures = toEvents(recent, NOW);
          const stale = toEvents(old, NOW - horizon);
          const loops = detectCrashLoops({ requestId: 'r', deployId: 'd', longRunning, failures }, NOW, settings);
          expect(detectCrashLoops({ requestId: 'r', deployId: 'd', longRunning, failures: [...stale, ...failures] }, NOW, settings)).toEqual(loops);
          for (const loop of loops) {
            expect(loop.end).toBeUndefined();
            expect(failures.some((e) => e.timestamp === loop.start)).toBe(true);
          }
        }),
      );
    });
  });
});
