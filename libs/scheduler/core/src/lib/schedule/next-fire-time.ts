import { parseQuartzSchedule, resolveQuartzSchedule, isValidTimeZone, type SingularityRequest } from '@singularity/models';
import { InvalidRequestError } from '@singularity/util';
import { Cron } from 'croner';
import { toCronerPattern } from './croner-pattern';

/**
 * The fire times of one Quartz schedule in one time zone (spec §2.2, §2.4).
 * Compile once and ask many times when the same schedule is evaluated often.
 */
export interface CompiledSchedule {
  readonly quartzSchedule: string;
  readonly timeZone: string;
  /** The earliest fire time strictly after `after` (epoch ms), or undefined when there is none. */
  nextFireTime(after: number): number | undefined;
}

/**
 * Checks `quartzSchedule` (as stored by the request validator) and `timeZone`
 * (an IANA zone; pure code has no server zone, so callers pass it).
 * Throws `InvalidScheduleError` / `InvalidRequestError` (400) for bad input.
 */
export function compileSchedule(quartzSchedule: string, timeZone: string): CompiledSchedule {
  if (!isValidTimeZone(timeZone)) {
    throw new InvalidRequestError(
      `scheduleTimeZone: must be a known time zone such as 'America/New_York' or 'UTC' (got '${String(timeZone)}')`,
      'scheduleTimeZone',
    );
  }
  const parsed = parseQuartzSchedule(quartzSchedule, 'quartzSchedule');
  const pattern = toCronerPattern(parsed);
  let cron: Cron;
  try {
    // paused and without a callback: croner only computes, it starts no timer.
    cron = new Cron(pattern, { paused: true, timezone: timeZone, mode: '7-part', fixedTimeRule: 'single-value' });
  } catch (err) {
    // Every schedule the parser accepts must translate: this is a bug, not bad input.
    throw new Error(`croner refused '${pattern}' (from Quartz '${parsed.expression}'): ${(err as Error).message}`);
  }
  return {
    quartzSchedule: parsed.expression,
    timeZone,
    nextFireTime(after: number): number | undefined {
      const next = cron.nextRun(new Date(after));
      return next ? next.getTime() : undefined;
    },
  };
}

/**
 * The earliest fire time of `quartzSchedule` in `timeZone` strictly after
 * `after` (epoch ms); undefined when the schedule never fires again (e.g. its
 * year field lies in the past), which makes the request FINISHED (spec §2.1).
 */
export function nextFireTime(quartzSchedule: string, timeZone: string, after: number): number | undefined {
  return compileSchedule(quartzSchedule, timeZone).nextFireTime(after);
}

/** Up to `count` consecutive fire times after `after` (fewer when the schedule runs out). */
export function nextFireTimes(quartzSchedule: string, timeZone: string, after: number, count: number): number[] {
  const schedule = compileSchedule(quartzSchedule, timeZone);
  const times: number[] = [];
  let cursor: number | undefined = after;
  while (times.length < count && (cursor = schedule.nextFireTime(cursor)) !== undefined) times.push(cursor);
  return times;
}

/**
 * The next fire time of a SCHEDULED request strictly after `after`: its
 * `quartzSchedule` (derived from `schedule` when absent, e.g. a request that
 * skipped validation) in its `scheduleTimeZone`, else in `defaultTimeZone`
 * (the configured server zone, spec §2.4).
 */
export function requestNextFireTime(
  request: Pick<SingularityRequest, 'schedule' | 'quartzSchedule' | 'scheduleType' | 'scheduleTimeZone'>,
  after: number,
  defaultTimeZone: string,
): number | undefined {
  const quartz = request.quartzSchedule ?? resolveQuartzSchedule(request);
  return nextFireTime(quartz, request.scheduleTimeZone ?? defaultTimeZone, after);
}
