import { InvalidScheduleError } from '@singularity/models';
import { InvalidRequestError } from '@singularity/util';
import { compileSchedule, cronToQuartz, isValidTimeZone, nextFireTime, nextFireTimes, requestNextFireTime } from './index';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());
const at = (text: string) => Date.parse(text);

/** nextFireTime for schedules that must fire. */
function fire(quartz: string, zone: string, after: number): number {
  const next = nextFireTime(quartz, zone, after);
  if (next === undefined) throw new Error(`${quartz} in ${zone} does not fire after ${iso(after)}`);
  return next;
}

describe('cronToQuartz (re-exported; spec §2.4, scenario 24)', () => {
  it.each([
    ['*/5 * * * *', '0 */5 * * * ?'],
    ['0 12 * * 0-5', '0 0 12 ? * SUN-FRI'],
    ['0 12 * * 7', '0 0 12 ? * SUN'],
    ['0 12 1 * *', '0 0 12 1 * ?'],
    ['0 0 12 ? * MON', '0 0 12 ? * MON'],
  ])('%j → %j', (cron, quartz) => {
    expect(cronToQuartz(cron)).toBe(quartz);
  });

  it('throws a typed 400 error for an invalid expression', () => {
    expect(() => cronToQuartz('0 12 * * 8')).toThrow(InvalidScheduleError);
    expect(() => cronToQuartz('0 12 * * 8')).toThrow(/^schedule: day-of-week value 8 is out of range 0-7/);
  });
});

describe('nextFireTime', () => {
  const after = at('2024-01-10T12:01:30.250Z'); // a Wednesday

  it('fires every 5 minutes for */5 * * * *', () => {
    const quartz = cronToQuartz('*/5 * * * *');
    const times = nextFireTimes(quartz, 'UTC', after, 12);
    expect(iso(times[0])).toBe('2024-01-10T12:05:00.000Z');
    for (let i = 1; i < times.length; i++) expect(times[i] - times[i - 1]).toBe(5 * MINUTE);
  });

  it('is strictly after `after`, to the millisecond', () => {
    const quartz = '0 0 12 * * ?';
    const noon = at('2024-01-10T12:00:00.000Z');
    expect(iso(nextFireTime(quartz, 'UTC', noon - 1))).toBe('2024-01-10T12:00:00.000Z');
    expect(iso(nextFireTime(quartz, 'UTC', noon))).toBe('2024-01-11T12:00:00.000Z');
    expect(iso(nextFireTime('* * * * * ?', 'UTC', noon + 500))).toBe('2024-01-10T12:00:01.000Z');
  });

  it.each([
    // spec §2.4 conversion examples, evaluated.
    ['0 0 12 ? * SUN-FRI', ['2024-01-11T12:00:00.000Z', '2024-01-12T12:00:00.000Z', '2024-01-14T12:00:00.000Z']],
    // Quartz numbering: 2-6 = MON-FRI.
    ['0 0 12 ? * 2-6', ['2024-01-11T12:00:00.000Z', '2024-01-12T12:00:00.000Z', '2024-01-15T12:00:00.000Z']],
    // Ranges that wrap around (Quartz), which croner itself refuses.
    ['0 0 12 ? * FRI-MON', ['2024-01-12T12:00:00.000Z', '2024-01-13T12:00:00.000Z', '2024-01-14T12:00:00.000Z']],
    ['0 0 23-1 * * ?', ['2024-01-10T23:00:00.000Z', '2024-01-11T00:00:00.000Z', '2024-01-11T01:00:00.000Z']],
    // Quartz `v/n` steps.
    ['0 10/20 12 * * ?', ['2024-01-10T12:10:00.000Z', '2024-01-10T12:30:00.000Z', '2024-01-10T12:50:00.000Z']],
    // Last day, last weekday, nearest weekday of the month.
    ['0 0 12 L * ?', ['2024-01-31T12:00:00.000Z', '2024-02-29T12:00:00.000Z', '2024-03-31T12:00:00.000Z']],
    ['0 0 12 LW * ?', ['2024-01-31T12:00:00.000Z', '2024-02-29T12:00:00.000Z', '2024-03-29T12:00:00.000Z']],
    ['0 0 12 16W * ?', ['2024-01-16T12:00:00.000Z', '2024-02-16T12:00:00.000Z', '2024-03-15T12:00:00.000Z']],
    // Last Friday (6L, Quartz numbering), second Monday, `L` alone = Saturday.
    ['0 0 12 ? * 6L', ['2024-01-26T12:00:00.000Z', '2024-02-23T12:00:00.000Z', '2024-03-29T12:00:00.000Z']],
    ['0 0 12 ? * MON#2', ['2024-02-12T12:00:00.000Z', '2024-03-11T12:00:00.000Z', '2024-04-08T12:00:00.000Z']],
    ['0 0 12 ? * L', ['2024-01-13T12:00:00.000Z', '2024-01-20T12:00:00.000Z', '2024-01-27T12:00:00.000Z']],
    // A year field.
    ['0 0 0 1 JAN ? 2030/5', ['2030-01-01T00:00:00.000Z', '2035-01-01T00:00:00.000Z', '2040-01-01T00:00:00.000Z']],
  ])('%s fires at %j', (quartz, expected) => {
    expect(nextFireTimes(quartz, 'UTC', after, 3).map(iso)).toEqual(expected);
  });

  it.each([
    ['a year field in the past', '0 0 12 * * ? 2020-2023'],
    ['a day that never exists', '0 0 12 30 FEB ?'],
    ['the last year Quartz knows, once passed', '0 0 0 1 1 ? 2099'],
  ])('is undefined for %s (no future fire time → FINISHED, scenario 23)', (_why, quartz) => {
    const later = quartz.endsWith('2099') ? at('2099-06-01T00:00:00Z') : after;
    expect(nextFireTime(quartz, 'UTC', later)).toBeUndefined();
    expect(nextFireTimes(quartz, 'UTC', later, 3)).toEqual([]);
  });

  it('stops nextFireTimes when the schedule runs out', () => {
    expect(nextFireTimes('0 0 0 1 1 ? 2025-2026', 'UTC', after, 5).map(iso)).toEqual([
      '2025-01-01T00:00:00.000Z',
      '2026-01-01T00:00:00.000Z',
    ]);
  });

  describe('time zones (scenario 24)', () => {
    const daily9 = cronToQuartz('0 9 * * *');

    it('fires the same cron 5 h apart in EST / America/New_York and GMT in winter', () => {
      const gmt = fire(daily9, 'GMT', after);
      const est = fire(daily9, 'EST', after);
      const newYork = fire(daily9, 'America/New_York', after);
      expect(iso(gmt)).toBe('2024-01-11T09:00:00.000Z');
      expect(iso(newYork)).toBe('2024-01-10T14:00:00.000Z');
      // The same calendar day's fire, 5 hours later in real time.
      expect(newYork + 24 * HOUR - gmt).toBe(5 * HOUR);
      expect(est).toBe(newYork);
    });

    it('is 4 h apart in summer for America/New_York, still 5 h for EST (no DST)', () => {
      const july = at('2024-07-10T00:00:00Z');
      const gmt = fire(daily9, 'GMT', july);
      expect(fire(daily9, 'America/New_York', july) - gmt).toBe(4 * HOUR);
      expect(fire(daily9, 'EST', july) - gmt).toBe(5 * HOUR);
    });

    it('does not move an every-5-minutes schedule (whole-hour offsets)', () => {
      const quartz = cronToQuartz('*/5 * * * *');
      expect(nextFireTime(quartz, 'America/New_York', after)).toBe(nextFireTime(quartz, 'UTC', after));
      // Zones offset by 30 or 45 minutes keep the 5-minute grid too.
      expect(nextFireTime(quartz, 'Asia/Kolkata', after)).toBe(nextFireTime(quartz, 'UTC', after));
      expect(nextFireTime(quartz, 'Asia/Kathmandu', after)).toBe(nextFireTime(quartz, 'UTC', after));
    });

    it('refuses an unknown time zone with a 400 naming scheduleTimeZone', () => {
      const run = () => nextFireTime('0 0 12 * * ?', 'Mars/Olympus', after);
      expect(run).toThrow(InvalidRequestError);
      expect(run).toThrow("scheduleTimeZone: must be a known time zone such as 'America/New_York' or 'UTC' (got 'Mars/Olympus')");
      expect(isValidTimeZone('Mars/Olympus')).toBe(false);
      expect(isValidTimeZone('America/New_York')).toBe(true);
    });
  });

  /*
   * DST (America/New_York, 2024): croner's rules, the same as Vixie cron's.
   * A fixed-time job (one value in each of second, minute and hour) runs once per
   * day: in the spring gap at the first time after it, in the repeated autumn hour
   * at its first occurrence. Any other job fires at every wall-clock time that
   * exists: times in the gap are skipped, times in the repeated hour fire twice.
   * Neither case produces two fires at the same instant.
   */
  describe('DST transitions', () => {
    const zone = 'America/New_York';

    it('spring forward: a 02:30 daily job runs at 03:00 on the day, the day is not skipped', () => {
      const times = nextFireTimes(cronToQuartz('30 2 * * *'), zone, at('2024-03-09T12:00:00Z'), 3).map(iso);
      expect(times).toEqual([
        '2024-03-10T07:00:00.000Z', // 03:00 EDT: 02:30 does not exist
        '2024-03-11T06:30:00.000Z', // 02:30 EDT
        '2024-03-12T06:30:00.000Z',
      ]);
    });

    it('spring forward: an interval job skips the wall-clock times that do not exist', () => {
      const times = nextFireTimes(cronToQuartz('*/30 * * * *'), zone, at('2024-03-10T06:00:00Z'), 3).map(iso);
      expect(times).toEqual([
        '2024-03-10T06:30:00.000Z', // 01:30 EST
        '2024-03-10T07:00:00.000Z', // 03:00 EDT (02:00 and 02:30 never happen)
        '2024-03-10T07:30:00.000Z', // 03:30 EDT
      ]);
    });

    it('fall back: a 01:30 daily job runs once, at the first 01:30', () => {
      const times = nextFireTimes(cronToQuartz('30 1 * * *'), zone, at('2024-11-02T12:00:00Z'), 3).map(iso);
      expect(times).toEqual([
        '2024-11-03T05:30:00.000Z', // 01:30 EDT; not again at 01:30 EST
        '2024-11-04T06:30:00.000Z',
        '2024-11-05T06:30:00.000Z',
      ]);
    });

    it('fall back: an interval job fires through the repeated hour, evenly spaced in real time', () => {
      const times = nextFireTimes(cronToQuartz('*/30 * * * *'), zone, at('2024-11-03T04:45:00Z'), 6);
      expect(times.map(iso)).toEqual([
        '2024-11-03T05:00:00.000Z', // 01:00 EDT
        '2024-11-03T05:30:00.000Z', // 01:30 EDT
        '2024-11-03T06:00:00.000Z', // 01:00 EST
        '2024-11-03T06:30:00.000Z', // 01:30 EST
        '2024-11-03T07:00:00.000Z', // 02:00 EST
        '2024-11-03T07:30:00.000Z',
      ]);
    });

    it('a daily noon job runs once per calendar day across both transitions (23 h and 25 h days)', () => {
      const times = nextFireTimes(cronToQuartz('0 12 * * *'), zone, at('2024-03-08T00:00:00Z'), 5);
      expect(times.slice(1).map((t, i) => t - times[i])).toEqual([24 * HOUR, 23 * HOUR, 24 * HOUR, 24 * HOUR]);
      const autumn = nextFireTimes(cronToQuartz('0 12 * * *'), zone, at('2024-11-02T00:00:00Z'), 3);
      expect(autumn.slice(1).map((t, i) => t - autumn[i])).toEqual([25 * HOUR, 24 * HOUR]);
    });
  });

  it('refuses what is not a valid Quartz schedule, naming quartzSchedule', () => {
    expect(() => nextFireTime('*/5 * * * *', 'UTC', after)).toThrow(/^quartzSchedule: a Quartz schedule has 6 or 7 fields/);
    expect(() => nextFireTime('0 0 12 L-3 * ?', 'UTC', after)).toThrow(InvalidScheduleError);
    expect(() => nextFireTime('0 0 12 * * *', 'UTC', after)).toThrow(/cannot both be set/);
  });
});

describe('compileSchedule', () => {
  it('evaluates many times from one parse and reports its normalized input', () => {
    const schedule = compileSchedule('0 0 12 ? * mon', 'UTC');
    expect(schedule.quartzSchedule).toBe('0 0 12 ? * MON');
    expect(schedule.timeZone).toBe('UTC');
    const first = schedule.nextFireTime(at('2024-01-10T00:00:00Z'));
    const second = first === undefined ? undefined : schedule.nextFireTime(first);
    expect(iso(first)).toBe('2024-01-15T12:00:00.000Z');
    expect(iso(second)).toBe('2024-01-22T12:00:00.000Z');
  });
});

describe('requestNextFireTime', () => {
  const after = at('2024-01-10T12:01:00Z');

  it("uses the request's quartzSchedule and scheduleTimeZone", () => {
    const request = { schedule: 'ignored here', quartzSchedule: '0 0 9 * * ?', scheduleTimeZone: 'America/New_York' };
    expect(iso(requestNextFireTime(request, after, 'UTC'))).toBe('2024-01-10T14:00:00.000Z');
  });

  it('falls back to the default time zone the caller passes', () => {
    expect(iso(requestNextFireTime({ quartzSchedule: '0 0 9 * * ?' }, after, 'GMT'))).toBe('2024-01-11T09:00:00.000Z');
  });

  it('derives the Quartz form from schedule when quartzSchedule is missing', () => {
    expect(iso(requestNextFireTime({ schedule: '*/5 * * * *' }, after, 'UTC'))).toBe('2024-01-10T12:05:00.000Z');
    expect(iso(requestNextFireTime({ schedule: '0 0 9 ? * *', scheduleType: 'QUARTZ' }, after, 'UTC'))).toBe('2024-01-11T09:00:00.000Z');
    expect(() => requestNextFireTime({}, after, 'UTC')).toThrow(/^schedule: required/);
  });
});
