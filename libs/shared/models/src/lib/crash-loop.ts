/**
 * Crash loops (`CrashLoopInfo` of the reference): a deploy whose tasks fail in
 * a recognisable pattern. `GET /requests/crashloops` and CRASHLOOP webhooks
 * carry them.
 */
export const CRASH_LOOP_TYPES = [
  'FAST_FAILURE_LOOP',
  'SINGLE_INSTANCE_FAILURE_LOOP',
  'MULTI_INSTANCE_FAILURE',
  'UNEXPECTED_EXITS',
  'OOM',
  'SLOW_FAILURES',
  'STARTUP_FAILURE_LOOP',
] as const;
export type CrashLoopType = (typeof CRASH_LOOP_TYPES)[number];

export interface CrashLoopInfo {
  requestId: string;
  deployId: string;
  /** The first failure that is part of the loop (epoch ms). */
  start: number;
  /** When the scheduler saw the loop end; absent while it is open. */
  end?: number;
  type: CrashLoopType;
}
