import { InvalidRequestError } from '@singularity/util';
import type { ScheduleType } from '../enums';
import { describeValue, invalidField } from './field-reader';

/**
 * Schedule expressions of SCHEDULED requests (spec §1, §2.4).
 *
 * Everything here is structural: it parses cron and Quartz text, converts cron
 * to Quartz and checks every field, without computing a fire time. The
 * scheduler core turns a parsed schedule into fire times (it owns the time
 * library); this file lives in the models lib so that request validation can
 * answer 400 without depending on the scheduler.
 *
 * The Quartz dialect accepted is the one the core can evaluate, which is Quartz
 * minus `L-n` (offset from the last day of the month): see the core's
 * `schedule/README.md`.
 */

/** A bad schedule or time zone: 400, message `{field}: {problem} (in '{expression}')`. */
export class InvalidScheduleError extends InvalidRequestError {
  constructor(
    /** The expression as the caller gave it. */
    readonly expression: string,
    /** What is wrong, without the field name, e.g. `day-of-week value 8 is out of range 0-7`. */
    readonly problem: string,
    field = 'schedule',
  ) {
    super(`${field}: ${problem} (in ${describeValue(expression)})`, field);
  }

  /** The same problem reported against another field (e.g. `quartzSchedule`, `updatedRequest.schedule`). */
  forField(field: string): InvalidScheduleError {
    return new InvalidScheduleError(this.expression, this.problem, field);
  }
}

// ---- parsed form ------------------------------------------------------------

/** `*`: every value of the field. */
export interface AnyValue {
  kind: 'any';
}
/** `?`: no constraint from this field (day-of-month or day-of-week only; exactly one of them). */
export interface NoSpecificValue {
  kind: 'none';
}
/** An explicit set: numbers, names, ranges (wrapping around as in Quartz), steps, lists. Sorted, unique. */
export interface ValueSet {
  kind: 'values';
  values: number[];
}
export type PlainField = AnyValue | ValueSet;

/** Day-of-month: plain, `?`, `L` (last day), `LW` (last weekday), `nW` (weekday nearest the n-th, within the month). */
export type DayOfMonthField = PlainField | NoSpecificValue | { kind: 'last' } | { kind: 'lastWeekday' } | { kind: 'nearestWeekday'; day: number };

/**
 * Day-of-week in Quartz numbering (1 = SUN … 7 = SAT): plain, `?`, `nL` (last
 * such weekday of the month) or `n#k` (k-th such weekday, k 1–5).
 */
export type DayOfWeekField = PlainField | NoSpecificValue | { kind: 'lastOfMonth'; day: number } | { kind: 'nth'; day: number; nth: number };

/** A Quartz schedule checked field by field; `expression` is its normalized text. */
export interface ParsedQuartzSchedule {
  expression: string;
  second: PlainField;
  minute: PlainField;
  hour: PlainField;
  dayOfMonth: DayOfMonthField;
  month: PlainField;
  dayOfWeek: DayOfWeekField;
  /** Absent when the expression has 6 fields (every year). */
  year?: PlainField;
}

// ---- fields -----------------------------------------------------------------

interface FieldDef {
  name: string;
  min: number;
  max: number;
  /** Quartz refuses larger increments (`Increment > 60` etc.). */
  maxStep: number;
  /** Names for min, min+1, …; matched case-insensitively (the text is upper-cased first). */
  names?: readonly string[];
}

export const MONTH_NAMES = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'] as const;
/** Quartz order: SUN = 1 … SAT = 7. */
export const DAY_OF_WEEK_NAMES = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'] as const;
/** Quartz's year bounds. */
export const QUARTZ_MIN_YEAR = 1970;
export const QUARTZ_MAX_YEAR = 2099;

const SECOND: FieldDef = { name: 'second', min: 0, max: 59, maxStep: 59 };
const MINUTE: FieldDef = { name: 'minute', min: 0, max: 59, maxStep: 59 };
const HOUR: FieldDef = { name: 'hour', min: 0, max: 23, maxStep: 23 };
const DAY_OF_MONTH: FieldDef = { name: 'day-of-month', min: 1, max: 31, maxStep: 31 };
const MONTH: FieldDef = { name: 'month', min: 1, max: 12, maxStep: 12, names: MONTH_NAMES };
const DAY_OF_WEEK: FieldDef = { name: 'day-of-week', min: 1, max: 7, maxStep: 7, names: DAY_OF_WEEK_NAMES };
const YEAR: FieldDef = {
  name: 'year',
  min: QUARTZ_MIN_YEAR,
  max: QUARTZ_MAX_YEAR,
  maxStep: QUARTZ_MAX_YEAR - QUARTZ_MIN_YEAR + 1,
};

const QUARTZ_FIELD_LAYOUT = 'second minute hour day-of-month month day-of-week [year]';
const CRON_FIELD_LAYOUT = 'minute hour day-of-month month day-of-week';

// One list item: `*`, `*/n`, `v`, `v-w`, `v/n`, `v-w/n` where v, w are numbers or names.
const ITEM = /^(\*|[A-Z0-9]+)(?:-([A-Z0-9]+))?(?:\/([0-9]+))?$/;

/** Thrown inside the parser; the public functions add the expression and the field. */
class Problem extends Error {}

function fail(problem: string): never {
  throw new Problem(problem);
}

function parseValue(token: string, def: FieldDef): number {
  let value: number;
  if (/^[0-9]+$/.test(token)) {
    value = Number(token);
  } else {
    const index = def.names?.indexOf(token) ?? -1;
    if (index < 0) {
      const names = def.names ? ` or a name ${def.names[0]}-${def.names[def.names.length - 1]}` : '';
      fail(`${def.name} '${token}' is not a number${names}`);
    }
    value = def.min + index;
  }
  if (value < def.min || value > def.max) fail(`${def.name} value ${value} is out of range ${def.min}-${def.max}`);
  return value;
}

function parseStep(token: string, def: FieldDef): number {
  const step = Number(token);
  if (step < 1 || step > def.maxStep) fail(`${def.name} step ${step} is out of range 1-${def.maxStep}`);
  return step;
}

/** Adds the values of one list item to `into`; ranges that run backwards wrap around (Quartz), except years. */
function expandItem(item: string, def: FieldDef, into: Set<number>): void {
  const match = ITEM.exec(item);
  if (!match) fail(`${def.name} '${item}' is not a value, a range, a step or a list of them`);
  const [, head, rangeEnd, stepText] = match;
  if (head === '*' && rangeEnd !== undefined) fail(`${def.name} '${item}': '*' cannot start a range`);
  const step = stepText === undefined ? 1 : parseStep(stepText, def);
  const start = head === '*' ? def.min : parseValue(head, def);
  let end: number;
  if (rangeEnd !== undefined) end = parseValue(rangeEnd, def);
  else end = head === '*' || stepText !== undefined ? def.max : start;

  const size = def.max - def.min + 1;
  if (end < start) {
    if (def === YEAR) fail(`year range ${start}-${end} runs backwards`);
    end += size;
  }
  for (let i = start; i <= end; i += step) into.add(((i - def.min) % size) + def.min);
}

function parsePlain(text: string, def: FieldDef): PlainField {
  if (text === '*') return { kind: 'any' };
  if (text === '?') fail(`'?' is only allowed in day-of-month or day-of-week (${def.name} is '?')`);
  const items = text.split(',');
  if (items.length > 1 && items.includes('*')) fail(`${def.name} '${text}': '*' cannot be combined with other values`);
  const values = new Set<number>();
  for (const item of items) {
    if (item === '') fail(`${def.name} '${text}' has an empty list item`);
    expandItem(item, def, values);
  }
  return { kind: 'values', values: [...values].sort((a, b) => a - b) };
}

function parseDayOfMonth(text: string): DayOfMonthField {
  if (text === '?') return { kind: 'none' };
  if (text === 'L') return { kind: 'last' };
  if (text === 'LW') return { kind: 'lastWeekday' };
  if (/^L-[0-9]+W?$/.test(text)) fail(`day-of-month '${text}' (days before the last day of the month) is not supported`);
  const weekday = /^([0-9]+)W$/.exec(text);
  if (weekday) return { kind: 'nearestWeekday', day: parseValue(weekday[1], DAY_OF_MONTH) };
  if (text.split(',').some((item) => /^(L|LW|L-[0-9]+W?|[0-9]+W)$/.test(item))) {
    fail(`day-of-month '${text}': 'L', 'LW' and 'nW' must stand alone`);
  }
  return parsePlain(text, DAY_OF_MONTH);
}

function parseDayOfWeek(text: string): DayOfWeekField {
  if (text === '?') return { kind: 'none' };
  // Quartz: `L` alone in day-of-week is 7 (SAT).
  if (text === 'L') return { kind: 'values', values: [7] };
  const last = /^([A-Z0-9]+?)L$/.exec(text);
  if (last) return { kind: 'lastOfMonth', day: parseValue(last[1], DAY_OF_WEEK) };
  const nth = /^([A-Z0-9]+)#([0-9]+)$/.exec(text);
  if (nth) {
    const k = Number(nth[2]);
    if (k < 1 || k > 5) fail(`day-of-week '${text}': the number after '#' must be 1-5`);
    return { kind: 'nth', day: parseValue(nth[1], DAY_OF_WEEK), nth: k };
  }
  if (text.includes('#') || /(^|[,\-/])[0-9]+L|[A-Z]{3}L/.test(text)) {
    fail(`day-of-week '${text}': 'nL' and 'n#k' must stand alone`);
  }
  return parsePlain(text, DAY_OF_WEEK);
}

function splitFields(expression: string): string[] {
  const trimmed = expression.trim();
  return trimmed === '' ? [] : trimmed.toUpperCase().split(/\s+/);
}

function parseQuartzFields(fields: string[]): ParsedQuartzSchedule {
  if (fields.length < 6 || fields.length > 7) {
    fail(`a Quartz schedule has 6 or 7 fields (${QUARTZ_FIELD_LAYOUT}), got ${fields.length}`);
  }
  const [second, minute, hour, dayOfMonth, month, dayOfWeek, year] = fields;
  const parsed: ParsedQuartzSchedule = {
    expression: fields.join(' '),
    second: parsePlain(second, SECOND),
    minute: parsePlain(minute, MINUTE),
    hour: parsePlain(hour, HOUR),
    dayOfMonth: parseDayOfMonth(dayOfMonth),
    month: parsePlain(month, MONTH),
    dayOfWeek: parseDayOfWeek(dayOfWeek),
  };
  if (year !== undefined) parsed.year = parsePlain(year, YEAR);
  const domNone = parsed.dayOfMonth.kind === 'none';
  const dowNone = parsed.dayOfWeek.kind === 'none';
  if (domNone && dowNone) fail("day-of-month and day-of-week cannot both be '?'");
  if (!domNone && !dowNone) fail("day-of-month and day-of-week cannot both be set: put '?' in one of them");
  return parsed;
}

/**
 * The lenient part of normalization: when neither day field is `?` but one is
 * `*`, that one becomes `?` (day-of-week first, as in the cron conversion).
 * This keeps the meaning: `*` in one day field never restricted anything.
 */
function fillNoSpecificValue(fields: string[]): string[] {
  const out = [...fields];
  if (out.length >= 6 && out[3] !== '?' && out[5] !== '?') {
    if (out[5] === '*') out[5] = '?';
    else if (out[3] === '*') out[3] = '?';
  }
  return out;
}

function withExpression<T>(expression: string, field: string | undefined, run: () => T): T {
  try {
    return run();
  } catch (err) {
    if (err instanceof Problem) throw new InvalidScheduleError(expression, err.message, field);
    throw err;
  }
}

// ---- public API ---------------------------------------------------------------

/**
 * Parses a Quartz schedule (6 or 7 fields) exactly as Quartz would accept it:
 * exactly one of day-of-month and day-of-week must be `?`. Names are
 * case-insensitive; the parsed `expression` is upper-cased and single-spaced.
 * Throws `InvalidScheduleError` (field `schedule` unless given).
 */
export function parseQuartzSchedule(expression: string, field?: string): ParsedQuartzSchedule {
  return withExpression(expression, field, () => parseQuartzFields(splitFields(expression)));
}

/**
 * A Quartz schedule (6 or 7 fields) in normal form: upper-cased, single-spaced,
 * and with `?` filled in when one day field is `*` and neither is `?`
 * (`0 0/5 * * * *` → `0 0/5 * * * ?`). Every field is checked.
 */
export function normalizeQuartzSchedule(expression: string, field?: string): string {
  return withExpression(expression, field, () => {
    const fields = splitFields(expression);
    if (fields.length === 5) {
      fail(`a Quartz schedule has 6 or 7 fields (${QUARTZ_FIELD_LAYOUT}), got 5: use scheduleType CRON for a 5-field cron`);
    }
    return parseQuartzFields(fillNoSpecificValue(fields)).expression;
  });
}

/**
 * spec §2.4 "Cron → quartz". A 5-field cron gets a leading `0` seconds field;
 * day-of-week `*` becomes `?`, otherwise day-of-month becomes `?` (a day-of-month
 * given together with a day-of-week is dropped, as in Singularity); numeric
 * weekdays 0–7 become SUN..SAT (0 and 7 = SUN), in ranges, lists, `nL` and
 * `n#k` too. `0/5 * * * *` → `0 0/5 * * * ?` (every 5 minutes), `0 12 * * 0-5` → `0 0 12 ? * SUN-FRI`.
 *
 * An expression of 6 or 7 fields is already Quartz and comes back normalized
 * (`normalizeQuartzSchedule`). The result is always a valid Quartz schedule;
 * anything else throws `InvalidScheduleError` naming the bad field.
 */
export function cronToQuartz(expression: string, field?: string): string {
  return withExpression(expression, field, () => {
    const fields = splitFields(expression);
    if (fields.length === 6 || fields.length === 7) return parseQuartzFields(fillNoSpecificValue(fields)).expression;
    if (fields.length !== 5) {
      fail(`a schedule has 5 fields (cron: ${CRON_FIELD_LAYOUT}) or 6-7 (Quartz: ${QUARTZ_FIELD_LAYOUT}), got ${fields.length}`);
    }
    const [minute, hour, cronDayOfMonth, month, cronDayOfWeek] = fields;
    let dayOfMonth = cronDayOfMonth;
    let dayOfWeek = cronDayOfWeek;
    if (dayOfWeek === '*') {
      // `? … *` stays as it is: Quartz needs exactly one '?'.
      if (dayOfMonth !== '?') dayOfWeek = '?';
    } else if (dayOfWeek !== '?') {
      dayOfMonth = '?';
      dayOfWeek = cronDayOfWeekToQuartz(dayOfWeek);
    }
    return parseQuartzFields(['0', minute, hour, dayOfMonth, month, dayOfWeek]).expression;
  });
}

/** Cron numbering (0 or 7 = SUN … 6 = SAT) → names, item by item; anything else passes to the Quartz parser. */
function cronDayOfWeekToQuartz(text: string): string {
  const name = (token: string): string => {
    if (!/^[0-9]+$/.test(token)) return token;
    const n = Number(token);
    if (n > 7) fail(`day-of-week value ${n} is out of range 0-7 (0 and 7 are SUN)`);
    return DAY_OF_WEEK_NAMES[n % 7];
  };
  return text
    .split(',')
    .map((item) => {
      const special = /^([A-Z0-9]+)(L|#[0-9]+)$/.exec(item);
      if (special) return `${name(special[1])}${special[2]}`;
      const match = ITEM.exec(item);
      if (!match) return item;
      const [, head, rangeEnd, step] = match;
      const suffix = step === undefined ? '' : `/${step}`;
      if (rangeEnd === undefined) return `${name(head)}${suffix}`;
      if (/^[0-9]+$/.test(head) && /^[0-9]+$/.test(rangeEnd)) {
        const [from, to] = [Number(head), Number(rangeEnd)];
        if (from > to) fail(`day-of-week range ${from}-${to} runs backwards`);
        // 0-7 is the whole week; written SUN-SUN it would be Sunday only.
        if (from === 0 && to === 7) return `SUN-SAT${suffix}`;
      }
      // x-7 becomes e.g. FRI-SUN, a range that wraps around in Quartz: the same days.
      return `${name(head)}-${name(rangeEnd)}${suffix}`;
    })
    .join(',');
}

/** The schedule fields of a request (spec §1). */
export interface ScheduleFields {
  schedule?: string;
  quartzSchedule?: string;
  scheduleType?: ScheduleType;
}

/**
 * The Quartz schedule a SCHEDULED request runs on (spec §2.4), as stored in
 * `quartzSchedule`:
 * - `schedule` is the source when present (a `quartzSchedule` next to it is
 *   derived and recomputed): CRON (the default) converts a 5-field cron and
 *   normalizes 6–7 fields, QUARTZ takes 6–7 fields as they are, RFC5545 is not
 *   supported yet;
 * - otherwise `quartzSchedule` alone, with scheduleType QUARTZ or none.
 *
 * `fieldName` maps a field name to the path used in errors (e.g. under
 * `updatedRequest`).
 */
export function resolveQuartzSchedule(input: ScheduleFields, fieldName: (key: string) => string = (key) => key): string {
  const { schedule, quartzSchedule, scheduleType } = input;
  if (scheduleType === 'RFC5545') {
    // TODO(RFC5545): evaluate RRULE schedules (spec §2.4). Refused until the core can compute their fire times.
    throw invalidField(fieldName('scheduleType'), 'RFC5545 (RRULE) schedules are not supported yet: use CRON or QUARTZ');
  }
  if (schedule !== undefined) {
    return scheduleType === 'QUARTZ'
      ? normalizeQuartzSchedule(schedule, fieldName('schedule'))
      : cronToQuartz(schedule, fieldName('schedule'));
  }
  if (quartzSchedule !== undefined) {
    if (scheduleType !== undefined && scheduleType !== 'QUARTZ') {
      throw invalidField(
        fieldName('scheduleType'),
        `must be QUARTZ or absent when only quartzSchedule is given (got ${describeValue(scheduleType)}); send a cron as schedule`,
      );
    }
    return normalizeQuartzSchedule(quartzSchedule, fieldName('quartzSchedule'));
  }
  throw invalidField(fieldName('schedule'), 'required for SCHEDULED requests (or quartzSchedule)');
}

/**
 * True for a time zone name the runtime's time-zone database knows
 * (`America/New_York`, `UTC`, `EST`, `Etc/GMT+5`). Offsets such as `+05:00`
 * are not zone names and are refused.
 */
export function isValidTimeZone(zone: unknown): zone is string {
  if (typeof zone !== 'string' || zone.trim() !== zone || zone === '') return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}
