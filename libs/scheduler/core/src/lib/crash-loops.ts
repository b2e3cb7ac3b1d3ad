import { CRASH_LOOP_TYPES, type CrashLoopInfo, type CrashLoopType } from '@singularity/models';
import { fastFailureLoop, type CooldownSettings, type TaskFailureEvent, type TaskFailureType } from './failures';

/**
 * Thresholds of the crash-loop rules (spec §2.6, §5 `crashLoopConfiguration`).
 * The fast-failure loop shares the cool-down's two keys: it is the same rule.
 * Bucketed rules split their window into `…Buckets` buckets of
 * `…BucketSizeMinutes` and fire when more than `…Threshold` (a fraction) of
 * them hold a failure: that asks for failures spread over time, so one burst
 * (already a fast failure loop) does not also count as a slow or per-instance loop.
 */
export interface CrashLoopSettings extends Pick<CooldownSettings, 'cooldownFailureThreshold' | 'evaluateCooldownOverMinutes'> {
  evaluateStartupLoopOverMinutes: number;
  startupFailureThreshold: number;
  evaluateOomsOverMinutes: number;
  oomFailureThreshold: number;
  singleInstanceFailureBucketSizeMinutes: number;
  singleInstanceFailureBuckets: number;
  singleInstanceFailureThreshold: number;
  multiInstanceFailureBucketSizeMinutes: number;
  multiInstanceFailureBuckets: number;
  multiInstanceFailureThreshold: number;
  slowFailureBucketSizeMinutes: number;
  slowFailureBuckets: number;
  slowFailureThreshold: number;
}

/** The original's defaults, except `oomFailureThreshold`: the spec asks for 4 OOMs in 30 minutes. */
export const DEFAULT_CRASH_LOOP_SETTINGS: CrashLoopSettings = {
  cooldownFailureThreshold: 5,
  evaluateCooldownOverMinutes: 1,
  evaluateStartupLoopOverMinutes: 10,
  startupFailureThreshold: 5,
  evaluateOomsOverMinutes: 30,
  oomFailureThreshold: 4,
  singleInstanceFailureBucketSizeMinutes: 3,
  singleInstanceFailureBuckets: 10,
  singleInstanceFailureThreshold: 0.25,
  multiInstanceFailureBucketSizeMinutes: 3,
  multiInstanceFailureBuckets: 10,
  multiInstanceFailureThreshold: 0.6,
  slowFailureBucketSizeMinutes: 30,
  slowFailureBuckets: 15,
  slowFailureThreshold: 0.7,
};

/** Startup failures of one instance within the startup window that make a loop on their own (the original's fixed 3). */
export const STARTUP_FAILURES_PER_INSTANCE = 3;
/** UNEXPECTED_EXITS: this many TASK_FINISHED ends of a long-running task within the window (fixed in the original too). */
export const UNEXPECTED_EXIT_THRESHOLD = 5;
export const EVALUATE_UNEXPECTED_EXITS_OVER_MINUTES = 30;

/** Failures of a running task's own making; losses of the machine and startup failures have their own rules or none. */
const CRASH_TYPES: ReadonlySet<TaskFailureType> = new Set(['OOM', 'BAD_EXIT_CODE', 'OUT_OF_DISK_SPACE']);

const MINUTE = 60_000;

export interface CrashLoopInput {
  requestId: string;
  deployId: string;
  /** SLOW_FAILURES and UNEXPECTED_EXITS concern only requests whose tasks should never end. */
  longRunning: boolean;
  /** The deploy's recent failures (`DeployStatistics.taskFailureEvents`), any order. */
  failures: readonly TaskFailureEvent[];
}

/**
 * The crash loops open at `now` for one deploy, in `CRASH_LOOP_TYPES` order,
 * each with `start` = its earliest counted failure and no `end`. Pure.
 *
 * Every rule only looks back from `now` over fixed windows (bucket edges are
 * aligned to the epoch, not to `now`), so with no new failure the set of open
 * loops can only shrink as time passes: a loop opens at a failure and closes
 * on a later check.
 */
export function detectCrashLoops(input: CrashLoopInput, now: number, settings: CrashLoopSettings): CrashLoopInfo[] {
  const found = new Map<CrashLoopType, number>();
  const open = (type: CrashLoopType, counted: readonly TaskFailureEvent[]) => {
    if (counted.length > 0) found.set(type, Math.min(...counted.map((e) => e.timestamp)));
  };
  const events = input.failures.filter((e) => e.timestamp <= now);
  const within = (minutes: number, types?: ReadonlySet<TaskFailureType>) =>
    events.filter((e) => e.timestamp > now - minutes * MINUTE && (!types || types.has(e.type)));

  open('FAST_FAILURE_LOOP', fastFailureLoop(events, now, settings));

  // A new task that keeps failing before it ever becomes healthy: one instance over and over, or many.
  const startups = within(settings.evaluateStartupLoopOverMinutes, new Set(['STARTUP_FAILURE']));
  const repeatedInstance = [...groupByInstance(startups).values()].find((list) => list.length >= STARTUP_FAILURES_PER_INSTANCE);
  open('STARTUP_FAILURE_LOOP', repeatedInstance ?? (startups.length >= settings.startupFailureThreshold ? startups : []));

  const ooms = within(settings.evaluateOomsOverMinutes, new Set(['OOM']));
  open('OOM', ooms.length >= settings.oomFailureThreshold ? ooms : []);

  const crashes = events.filter((e) => CRASH_TYPES.has(e.type));
  // One loop for the deploy however many instances qualify; it starts at the earliest of theirs.
  const singles = [...groupByInstance(crashes).values()].flatMap((list) =>
    spreadOverBuckets(list, now, settings.singleInstanceFailureBucketSizeMinutes, settings.singleInstanceFailureBuckets, settings.singleInstanceFailureThreshold),
  );
  open('SINGLE_INSTANCE_FAILURE_LOOP', singles);

  const multi = spreadOverBuckets(crashes, now, settings.multiInstanceFailureBucketSizeMinutes, settings.multiInstanceFailureBuckets, settings.multiInstanceFailureThreshold);
  // One instance failing alone is the single-instance loop; this one is about the deploy as a whole.
  if (groupByInstance(multi).size >= 2) open('MULTI_INSTANCE_FAILURE', multi);

  if (input.longRunning) {
    open('SLOW_FAILURES', spreadOverBuckets(crashes, now, settings.slowFailureBucketSizeMinutes, settings.slowFailureBuckets, settings.slowFailureThreshold));
    const exits = within(EVALUATE_UNEXPECTED_EXITS_OVER_MINUTES, new Set(['UNEXPECTED_EXIT']));
    open('UNEXPECTED_EXITS', exits.length >= UNEXPECTED_EXIT_THRESHOLD ? exits : []);
  }

  return CRASH_LOOP_TYPES.flatMap((type) => {
    const start = found.get(type);
    return start === undefined ? [] : [{ requestId: input.requestId, deployId: input.deployId, start, type }];
  });
}

/** The longest look-back of any rule: failures older than this never matter. */
export function crashLoopHorizonMillis(settings: CrashLoopSettings): number {
  return (
    MINUTE *
    Math.max(
      settings.evaluateCooldownOverMinutes,
      settings.evaluateStartupLoopOverMinutes,
      settings.evaluateOomsOverMinutes,
      settings.singleInstanceFailureBucketSizeMinutes * settings.singleInstanceFailureBuckets,
      settings.multiInstanceFailureBucketSizeMinutes * settings.multiInstanceFailureBuckets,
      settings.slowFailureBucketSizeMinutes * settings.slowFailureBuckets,
      EVALUATE_UNEXPECTED_EXITS_OVER_MINUTES,
    )
  );
}

/**
 * The failures of the last `buckets × bucketMinutes` when more than
 * `threshold` of the buckets hold one, else none.
 */
function spreadOverBuckets(events: readonly TaskFailureEvent[], now: number, bucketMinutes: number, buckets: number, threshold: number): TaskFailureEvent[] {
  const size = bucketMinutes * MINUTE;
  const recent = events.filter((e) => e.timestamp > now - size * buckets);
  const used = new Set(recent.map((e) => Math.floor(e.timestamp / size)));
  return used.size / buckets > threshold ? recent : [];
}

function groupByInstance(events: readonly TaskFailureEvent[]): Map<number, TaskFailureEvent[]> {
  const byInstance = new Map<number, TaskFailureEvent[]>();
  for (const e of events) {
    const list = byInstance.get(e.instance);
    if (list) list.push(e);
    else byInstance.set(e.instance, [e]);
  }
  return byInstance;
}
