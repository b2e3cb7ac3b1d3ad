import { parseQuartzSchedule, type ParsedQuartzSchedule, type PlainField } from '@singularity/models';
import fc from 'fast-check';
import { cronToQuartz, nextFireTime } from './index';

const SECOND = 1000;
const DAY = 86_400 * SECOND;
const FROM = Date.UTC(2000, 0, 1);
const TO = Date.UTC(2090, 0, 1);

/** One cron field: `*`, a value, a range, a step, a range with a step or a list. */
function cronPart(min: number, max: number): fc.Arbitrary<string> {
  const value = fc.integer({ min, max });
  const range = fc.tuple(value, value).map(([a, b]) => [Math.min(a, b), Math.max(a, b)] as const);
  return fc.oneof(
    fc.constant('*'),
    value.map(String),
    range.map(([a, b]) => `${a}-${b}`),
    fc.integer({ min: 1, max: max - min }).map((step) => `*/${step}`),
    fc.tuple(range, fc.integer({ min: 1, max: max - min })).map(([[a, b], step]) => `${a}-${b}/${step}`),
    fc.uniqueArray(value, { minLength: 2, maxLength: 4 }).map((values) => values.join(',')),
  );
}

/** Random valid 5-field crons (day-of-week in cron numbering 0–7). */
const cron = fc
  .tuple(cronPart(0, 59), cronPart(0, 23), cronPart(1, 31), cronPart(1, 12), cronPart(0, 7))
  .map((fields) => fields.join(' '));
const after = fc.integer({ min: FROM, max: TO });

describe('nextFireTime (properties)', () => {
  it('for random valid 5-field crons: the next fire time is after `after` and a fixed point of next(t − 1)', () => {
    fc.assert(
      fc.property(cron, after, fc.constantFrom('UTC', 'America/New_York', 'Europe/Dublin', 'Australia/Lord_Howe'), (expression, t, zone) => {
        const quartz = cronToQuartz(expression);
        const next = nextFireTime(quartz, zone, t);
        // Every generated cron fires at least once a leap cycle unless its days never exist (e.g. 30 Feb).
        if (next === undefined) return;
        expect(next).toBeGreaterThan(t);
        expect(next % SECOND).toBe(0);
        expect(nextFireTime(quartz, zone, next - 1)).toBe(next);
      }),
      { numRuns: 400 },
    );
  });

  it('agrees in UTC with a brute-force reading of the Quartz fields', () => {
    fc.assert(
      fc.property(cron, after, (expression, t) => {
        const quartz = cronToQuartz(expression);
        expect(nextFireTime(quartz, 'UTC', t)).toBe(bruteForceNextUtc(parseQuartzSchedule(quartz), t));
      }),
      { numRuns: 300 },
    );
  });

  it('evaluates every Quartz construct the validator accepts (parser and croner agree)', () => {
    const quartzPart = (min: number, max: number) =>
      fc.oneof(
        cronPart(min, max),
        // Quartz extras: `v/n` steps and ranges that wrap around.
        fc.tuple(fc.integer({ min, max }), fc.integer({ min: 1, max: max - min })).map(([v, step]) => `${v}/${step}`),
        fc
          .tuple(fc.integer({ min, max }), fc.integer({ min, max }))
          .filter(([a, b]) => a > b)
          .map(([a, b]) => `${a}-${b}`),
      );
    const dayOfMonth = fc.oneof(quartzPart(1, 31), fc.constantFrom('L', 'LW'), fc.integer({ min: 1, max: 31 }).map((d) => `${d}W`));
    const dayOfWeek = fc.oneof(
      quartzPart(1, 7),
      fc.constantFrom('L', 'MON-FRI', 'SAT-SUN', 'FRI-MON/2'),
      fc.integer({ min: 1, max: 7 }).map((d) => `${d}L`),
      fc.tuple(fc.integer({ min: 1, max: 7 }), fc.integer({ min: 1, max: 5 })).map(([d, k]) => `${d}#${k}`),
    );
    const days = fc.oneof(
      dayOfMonth.map((dom) => [dom, '?']),
      dayOfWeek.map((dow) => ['?', dow]),
    );
    const year = fc.oneof(fc.constant(''), fc.constant(' *'), fc.integer({ min: 1970, max: 2099 }).map((y) => ` ${y}-2099`));
    const expression = fc
      .tuple(quartzPart(0, 59), quartzPart(0, 59), quartzPart(0, 23), days, quartzPart(1, 12), year)
      .map(([s, m, h, [dom, dow], mon, y]) => `${s} ${m} ${h} ${dom} ${mon} ${dow}${y}`);
    fc.assert(
      fc.property(expression, after, (quartz, t) => {
        const next = nextFireTime(quartz, 'UTC', t);
        if (next !== undefined) expect(next).toBeGreaterThan(t);
      }),
      { numRuns: 400 },
    );
  });
});

/**
 * The first whole second after `after` whose UTC fields match, day by day over
 * eight years (two leap cycles): enough for every schedule that fires at all.
 * Plain fields only: the 5-field crons generated above never use L, W or #.
 */
function bruteForceNextUtc(schedule: ParsedQuartzSchedule, after: number): number | undefined {
  const matches = (field: PlainField | { kind: 'none' }, value: number) =>
    field.kind === 'any' || field.kind === 'none' || (field.kind === 'values' && field.values.includes(value));
  const plain = (field: ParsedQuartzSchedule['dayOfMonth'] | ParsedQuartzSchedule['dayOfWeek']) => {
    if (field.kind !== 'any' && field.kind !== 'none' && field.kind !== 'values') throw new Error(`not a plain field: ${field.kind}`);
    return field;
  };
  const dayOfMonth = plain(schedule.dayOfMonth);
  const dayOfWeek = plain(schedule.dayOfWeek);
  const start = Math.floor(after / SECOND) * SECOND + SECOND;
  const firstDay = Math.floor(start / DAY) * DAY;
  for (let day = firstDay; day < firstDay + 8 * 366 * DAY; day += DAY) {
    const date = new Date(day);
    if (!matches(schedule.month, date.getUTCMonth() + 1)) continue;
    if (!matches(dayOfMonth, date.getUTCDate())) continue;
    if (!matches(dayOfWeek, date.getUTCDay() + 1)) continue;
    for (let h = 0; h < 24; h++) {
      if (!matches(schedule.hour, h)) continue;
      for (let m = 0; m < 60; m++) {
        if (!matches(schedule.minute, m)) continue;
        for (let s = 0; s < 60; s++) {
          const t = day + ((h * 60 + m) * 60 + s) * SECOND;
          if (t >= start && matches(schedule.second, s)) return t;
        }
      }
    }
  }
  return undefined;
}
