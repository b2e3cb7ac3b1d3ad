/**
 * Schedules of SCHEDULED requests (spec §2.2, §2.4): cron → Quartz conversion
 * and time-zone checks (shared with request validation, so they live in
 * `@singularity/models` and are re-exported here) and fire times (croner).
 * See README.md.
 */
export { cronToQuartz, isValidTimeZone, InvalidScheduleError } from '@singularity/models';
export { compileSchedule, nextFireTime, nextFireTimes, requestNextFireTime, type CompiledSchedule } from './next-fire-time';
