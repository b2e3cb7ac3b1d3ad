import type { DayOfMonthField, DayOfWeekField, ParsedQuartzSchedule, PlainField } from '@singularity/models';

/**
 * A parsed Quartz schedule as a 7-part croner pattern
 * (`second minute hour day-of-month month day-of-week year`).
 *
 * Value sets are written out as lists of runs (`0-5,30`), which sidesteps the
 * Quartz syntax croner reads differently or not at all: `v/n` steps, ranges
 * that wrap around (`FRI-MON`, `22-2`), weekday numbering (Quartz 1 = SUN,
 * croner 0 = SUN) and `L` alone in day-of-week. A single value stays a single
 * value and everything else stays a list, so croner's DST rule (fixed-time job
 * = a single value in each of second, minute and hour) sees the same job.
 *
 * `?` is written as `*`: croner combines day-of-month and day-of-week with OR
 * unless one of them is a wildcard, and Quartz guarantees one of them is `?`.
 */
export function toCronerPattern(schedule: ParsedQuartzSchedule): string {
  return [
    plain(schedule.second),
    plain(schedule.minute),
    plain(schedule.hour),
    dayOfMonth(schedule.dayOfMonth),
    plain(schedule.month),
    dayOfWeek(schedule.dayOfWeek),
    schedule.year ? plain(schedule.year) : '*',
  ].join(' ');
}

function plain(field: PlainField, shift = 0): string {
  return field.kind === 'any' ? '*' : runs(field.values.map((v) => v + shift));
}

function dayOfMonth(field: DayOfMonthField): string {
  switch (field.kind) {
    case 'none':
      return '*';
    case 'last':
      return 'L';
    case 'lastWeekday':
      return 'LW';
    case 'nearestWeekday':
      return `${field.day}W`;
    default:
      return plain(field);
  }
}

/** Quartz weekdays 1..7 (SUN..SAT) → croner's 0..6. */
function dayOfWeek(field: DayOfWeekField): string {
  switch (field.kind) {
    case 'none':
      return '*';
    case 'lastOfMonth':
      return `${field.day - 1}#L`;
    case 'nth':
      return `${field.day - 1}#${field.nth}`;
    default:
      return plain(field, -1);
  }
}

/** Sorted unique values → `a-b` for consecutive runs, `a` for lone values, joined by commas. */
function runs(values: readonly number[]): string {
  const parts: string[] = [];
  let start = values[0];
  let previous = start;
  for (const value of [...values.slice(1), Number.NaN]) {
    if (value === previous + 1) {
      previous = value;
      continue;
    }
    parts.push(start === previous ? `${start}` : `${start}-${previous}`);
    start = value;
    previous = value;
  }
  return parts.join(',');
}
