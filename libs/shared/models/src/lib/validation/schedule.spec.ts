import { InvalidRequestError } from '@singularity/util';
import fc from 'fast-check';
import {
  InvalidScheduleError,
  cronToQuartz,
  isValidTimeZone,
  normalizeQuartzSchedule,
  parseQuartzSchedule,
  resolveQuartzSchedule,
} from './schedule';

/** Runs `fn`, expects an InvalidScheduleError and returns it. */
function scheduleError(fn: () => unknown): InvalidScheduleError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidScheduleError);
    return err as InvalidScheduleError;
  }
  throw new Error('expected an InvalidScheduleError, but the expression was accepted');
}

describe('cronToQuartz (spec §2.4)', () => {
  it.each([
    // The spec's examples.
    ['*/5 * * * *', '0 */5 * * * ?'],
    ['0 12 * * 0-5', '0 0 12 ? * SUN-FRI'],
    // Day-of-week `*` → `?`; otherwise day-of-month → `?`.
    ['0 * * * *', '0 0 * * * ?'],
    ['0/5 * * * *', '0 0/5 * * * ?'],
    ['30 2 1 * *', '0 30 2 1 * ?'],
    ['0 12 15 * 1', '0 0 12 ? * MON'],
    // Numeric weekdays, 0 and 7 = SUN, in ranges, lists, steps, `nL` and `n#k`.
    ['0 12 * * 0', '0 0 12 ? * SUN'],
    ['0 12 * * 7', '0 0 12 ? * SUN'],
    ['0 12 * * 1-5', '0 0 12 ? * MON-FRI'],
    ['0 12 * * 1,3,5', '0 0 12 ? * MON,WED,FRI'],
    ['0 12 * * 5-7', '0 0 12 ? * FRI-SUN'],
    ['0 12 * * 0-7', '0 0 12 ? * SUN-SAT'],
    ['0 12 * * 1-5/2', '0 0 12 ? * MON-FRI/2'],
    ['0 12 * * */2', '0 0 12 ? * */2'],
    ['0 12 * * 5L', '0 0 12 ? * FRIL'],
    ['0 12 * * 1#2', '0 0 12 ? * MON#2'],
    ['0 12 * * 0,6', '0 0 12 ? * SUN,SAT'],
    // Names pass through, upper-cased; whitespace is normalized.
    ['0 12 * jan-mar mon-fri', '0 0 12 ? JAN-MAR MON-FRI'],
    ['  0   12 *  * sun ', '0 0 12 ? * SUN'],
    // Quartz specials in day-of-month survive.
    ['0 12 L * *', '0 0 12 L * ?'],
    ['0 12 15W * *', '0 0 12 15W * ?'],
    ['0 12 ? * *', '0 0 12 ? * *'],
  ])('%j → %j', (cron, quartz) => {
    expect(cronToQuartz(cron)).toBe(quartz);
  });

  it.each([
    ['0 */5 * * * ?', '0 */5 * * * ?'],
    ['0 */5 * * * *', '0 */5 * * * ?'],
    ['0 0 12 * * mon', '0 0 12 ? * MON'],
    ['0 0 12 1 * ?', '0 0 12 1 * ?'],
    ['0 0 12 ? * 2-6 2030', '0 0 12 ? * 2-6 2030'],
    ['0\t15 10 ? * 6L', '0 15 10 ? * 6L'],
  ])('returns Quartz input %j normalized as %j', (input, quartz) => {
    expect(cronToQuartz(input)).toBe(quartz);
  });

  it.each([
    ['', /got 0/],
    ['* * * *', /^schedule: a schedule has 5 fields \(cron: minute hour day-of-month month day-of-week\) or 6-7 .*got 4/],
    ['0 0 0 * * ? 2030 1', /got 8/],
    ['60 * * * *', /^schedule: minute value 60 is out of range 0-59 \(in '60 \* \* \* \*'\)$/],
    ['0 24 * * *', /hour value 24 is out of range 0-23/],
    ['0 0 32 * *', /day-of-month value 32 is out of range 1-31/],
    ['0 0 0 * *', /day-of-month value 0 is out of range 1-31/],
    ['0 0 1 13 *', /month value 13 is out of range 1-12/],
    ['0 0 * * 8', /^schedule: day-of-week value 8 is out of range 0-7 \(0 and 7 are SUN\)/],
    ['0 0 * * 5-1', /day-of-week range 5-1 runs backwards/],
    ['0 0 * * FOO', /day-of-week 'FOO' is not a number or a name SUN-SAT/],
    ['0 0 * FOO *', /month 'FOO' is not a number or a name JAN-DEC/],
    ['*/0 * * * *', /minute step 0 is out of range 1-59/],
    ['a * * * *', /minute 'A' is not a number/],
    ['1,,2 * * * *', /minute '1,,2' has an empty list item/],
    ['? * * * *', /'\?' is only allowed in day-of-month or day-of-week/],
    ['0 0 ? * ?', /cannot both be '\?'/],
    ['0 0 L-3 * *', /day-of-month 'L-3' \(days before the last day of the month\) is not supported/],
    ['0 0 1,L * *', /'L', 'LW' and 'nW' must stand alone/],
    ['0 0 * * 1#6', /the number after '#' must be 1-5/],
    ['0 0 * * 1#2,3', /'nL' and 'n#k' must stand alone/],
    ['0 0 0 1 * MON', /day-of-month and day-of-week cannot both be set: put '\?' in one of them/],
    ['0 0 0 ? * ? ', /cannot both be '\?'/],
    ['0 0 0 * * ? 1969', /year value 1969 is out of range 1970-2099/],
    ['0 0 0 * * ? 2030-2020', /year range 2030-2020 runs backwards/],
  ])('refuses %j', (expression, message) => {
    const err = scheduleError(() => cronToQuartz(expression));
    expect(err).toBeInstanceOf(InvalidRequestError);
    expect(err.status).toBe(400);
    expect(err.field).toBe('schedule');
    expect(err.expression).toBe(expression);
    expect(err.message).toMatch(message);
  });

  it('names another field when asked', () => {
    const err = scheduleError(() => cronToQuartz('61 * * * *', 'updatedRequest.schedule'));
    expect(err.field).toBe('updatedRequest.schedule');
    expect(err.message).toMatch(/^updatedRequest\.schedule: minute value 61/);
    expect(err.forField('quartzSchedule').message).toMatch(/^quartzSchedule: minute value 61/);
  });

  it('always yields a Quartz schedule that converts to itself (property)', () => {
    const part = (min: number, max: number) =>
      fc.oneof(
        fc.constant('*'),
        fc.integer({ min, max }).map(String),
        fc.tuple(fc.integer({ min, max }), fc.integer({ min, max })).map(([a, b]) => `${Math.min(a, b)}-${Math.max(a, b)}`),
        fc.integer({ min: 1, max: max - min }).map((step) => `*/${step}`),
        fc.uniqueArray(fc.integer({ min, max }), { minLength: 2, maxLength: 4 }).map((xs) => xs.join(',')),
      );
    const cron = fc
      .tuple(part(0, 59), part(0, 23), part(1, 31), part(1, 12), part(0, 7))
      .map((fields) => fields.join(' '));
    fc.assert(
      fc.property(cron, (expression) => {
        const quartz = cronToQuartz(expression);
        expect(quartz.split(' ')).toHaveLength(6);
        expect(parseQuartzSchedule(quartz).expression).toBe(quartz);
        expect(cronToQuartz(quartz)).toBe(quartz);
      }),
      { numRuns: 300 },
    );
  });
});

describe('parseQuartzSchedule', () => {
  it('expands values, ranges, steps and lists into sorted sets', () => {
    const parsed = parseQuartzSchedule('0/15 5-7,1 */6 ? JAN,MAR-APR 2-6/2 2030/10');
    expect(parsed.second).toEqual({ kind: 'values', values: [0, 15, 30, 45] });
    expect(parsed.minute).toEqual({ kind: 'values', values: [1, 5, 6, 7] });
    expect(parsed.hour).toEqual({ kind: 'values', values: [0, 6, 12, 18] });
    expect(parsed.dayOfMonth).toEqual({ kind: 'none' });
    expect(parsed.month).toEqual({ kind: 'values', values: [1, 3, 4] });
    expect(parsed.dayOfWeek).toEqual({ kind: 'values', values: [2, 4, 6] });
    expect(parsed.year).toEqual({ kind: 'values', values: [2030, 2040, 2050, 2060, 2070, 2080, 2090] });
  });

  it('wraps ranges that run backwards, as Quartz does', () => {
    expect(parseQuartzSchedule('0 0 22-2 * * ?').hour).toEqual({ kind: 'values', values: [0, 1, 2, 22, 23] });
    expect(parseQuartzSchedule('0 0 0 ? * FRI-MON').dayOfWeek).toEqual({ kind: 'values', values: [1, 2, 6, 7] });
    expect(parseQuartzSchedule('0 50-10/5 * * * ?').minute).toEqual({ kind: 'values', values: [0, 5, 10, 50, 55] });
    expect(parseQuartzSchedule('0 0 0 ? NOV-FEB *').month).toEqual({ kind: 'values', values: [1, 2, 11, 12] });
  });

  it('reads the day specials', () => {
    expect(parseQuartzSchedule('0 0 0 L * ?').dayOfMonth).toEqual({ kind: 'last' });
    expect(parseQuartzSchedule('0 0 0 LW * ?').dayOfMonth).toEqual({ kind: 'lastWeekday' });
    expect(parseQuartzSchedule('0 0 0 15W * ?').dayOfMonth).toEqual({ kind: 'nearestWeekday', day: 15 });
    expect(parseQuartzSchedule('0 0 0 ? * 6L').dayOfWeek).toEqual({ kind: 'lastOfMonth', day: 6 });
    expect(parseQuartzSchedule('0 0 0 ? * FRIL').dayOfWeek).toEqual({ kind: 'lastOfMonth', day: 6 });
    expect(parseQuartzSchedule('0 0 0 ? * MON#3').dayOfWeek).toEqual({ kind: 'nth', day: 2, nth: 3 });
    // Quartz: `L` alone in day-of-week is 7 (SAT).
    expect(parseQuartzSchedule('0 0 0 ? * L').dayOfWeek).toEqual({ kind: 'values', values: [7] });
    expect(parseQuartzSchedule('* * * * * ?').second).toEqual({ kind: 'any' });
  });

  it('is strict about the day fields (Quartz: exactly one is ?)', () => {
    expect(scheduleError(() => parseQuartzSchedule('0 0 12 * * *')).message).toMatch(/cannot both be set/);
    expect(scheduleError(() => parseQuartzSchedule('0 0 12 ? * 0')).message).toMatch(/day-of-week value 0 is out of range 1-7/);
    expect(scheduleError(() => parseQuartzSchedule('0 0 12 * * ? *,2030')).message).toMatch(/'\*' cannot be combined/);
    expect(scheduleError(() => parseQuartzSchedule('0 0 12 * * MON', 'quartzSchedule')).field).toBe('quartzSchedule');
  });
});

describe('normalizeQuartzSchedule', () => {
  it('refuses a 5-field cron and points at CRON', () => {
    expect(scheduleError(() => normalizeQuartzSchedule('*/5 * * * *')).message).toMatch(/got 5: use scheduleType CRON/);
  });

  it('fills in ? only where it keeps the meaning', () => {
    expect(normalizeQuartzSchedule('0 0 12 * * MON')).toBe('0 0 12 ? * MON');
    expect(normalizeQuartzSchedule('0 0 12 1 * *')).toBe('0 0 12 1 * ?');
    expect(() => normalizeQuartzSchedule('0 0 12 1 * MON')).toThrow(InvalidScheduleError);
  });
});

describe('resolveQuartzSchedule', () => {
  it('converts a cron schedule (CRON is the default)', () => {
    expect(resolveQuartzSchedule({ schedule: '*/5 * * * *' })).toBe('0 */5 * * * ?');
    expect(resolveQuartzSchedule({ schedule: '*/5 * * * *', scheduleType: 'CRON' })).toBe('0 */5 * * * ?');
    expect(resolveQuartzSchedule({ schedule: '0 0 12 ? * MON' })).toBe('0 0 12 ? * MON');
  });

  it('takes a QUARTZ schedule as it is (normalized)', () => {
    expect(resolveQuartzSchedule({ schedule: '0 0 12 ? * 2', scheduleType: 'QUARTZ' })).toBe('0 0 12 ? * 2');
    expect(() => resolveQuartzSchedule({ schedule: '0 12 * * 1', scheduleType: 'QUARTZ' })).toThrow(/got 5/);
  });

  it('recomputes quartzSchedule from schedule when both are sent', () => {
    expect(resolveQuartzSchedule({ schedule: '0 * * * *', quartzSchedule: '0 0 0 1 1 ? 2000' })).toBe('0 0 * * * ?');
  });

  it('uses quartzSchedule alone, under its own name', () => {
    expect(resolveQuartzSchedule({ quartzSchedule: '0 0 * * * ?' })).toBe('0 0 * * * ?');
    expect(resolveQuartzSchedule({ quartzSchedule: '0 0 * * * ?', scheduleType: 'QUARTZ' })).toBe('0 0 * * * ?');
    const err = scheduleError(() => resolveQuartzSchedule({ quartzSchedule: '0 0 * * * ? 1900' }));
    expect(err.field).toBe('quartzSchedule');
    expect(() => resolveQuartzSchedule({ quartzSchedule: '0 0 * * * ?', scheduleType: 'CRON' })).toThrow(/^scheduleType: must be QUARTZ or absent/);
  });

  it('refuses RFC5545 for now and asks for a schedule', () => {
    expect(() => resolveQuartzSchedule({ schedule: 'FREQ=DAILY', scheduleType: 'RFC5545' })).toThrow(
      'scheduleType: RFC5545 (RRULE) schedules are not supported yet: use CRON or QUARTZ',
    );
    expect(() => resolveQuartzSchedule({})).toThrow(/^schedule: required for SCHEDULED requests/);
  });

  it('maps field names', () => {
    const err = scheduleError(() => resolveQuartzSchedule({ schedule: 'x' }, (key) => `updatedRequest.${key}`));
    expect(err.field).toBe('updatedRequest.schedule');
  });
});

describe('isValidTimeZone', () => {
  it.each(['UTC', 'GMT', 'EST', 'America/New_York', 'Europe/Dublin', 'Etc/GMT+5', 'Asia/Kolkata'])('accepts %s', (zone) => {
    expect(isValidTimeZone(zone)).toBe(true);
  });

  it.each(['', ' UTC', 'Mars/Olympus', '+05:00', 'local', 5, null, undefined])('refuses %j', (zone) => {
    expect(isValidTimeZone(zone)).toBe(false);
  });
});
