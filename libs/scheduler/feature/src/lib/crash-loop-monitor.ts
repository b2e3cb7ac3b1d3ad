import { isLongRunning, type CrashLoopInfo } from '@singularity/models';
import { DEFAULT_CRASH_LOOP_SETTINGS, detectCrashLoops, type CrashLoopSettings } from '@singularity/scheduler-core';
import type { SchedulerContext } from './scheduler-context';

/** Ended loops kept per request for `GET …/crashloops` (the original keeps 10). */
const MAX_ENDED_CRASH_LOOPS_PER_REQUEST = 10;

/**
 * Keeps each request's crash loops (spec §2.6) up to date: the open loops of
 * its active deploy, computed from that deploy's bounded failure list
 * (`DeployStatistics.taskFailureEvents`, at most 50), plus the last few that ended.
 *
 * A loop can only open at a failure (the rules only look back, see
 * `detectCrashLoops`), so a request is evaluated when one of its tasks fails;
 * loops end as time passes, so each tick revisits the requests that have an
 * open one, and no others. Saving a loop queues the CRASHLOOP webhooks in the
 * same commit. Callers flush.
 */
export class CrashLoopMonitor {
  constructor(private readonly ctx: SchedulerContext) {}

  /** Opens and ends the request's loops as its active deploy's failures say at `now`. */
  evaluate(requestId: string, now: number): void {
    const state = this.ctx.state;
    const stored = state.crashLoopsOf(requestId);
    const record = state.getRequest(requestId);
    const deployId = state.activeDeployId(requestId);
    const stats = deployId ? state.getDeployStatistics(requestId, deployId) : undefined;
    const current =
      record && deployId && stats
        ? detectCrashLoops({ requestId, deployId, longRunning: isLongRunning(record.request.requestType), failures: stats.taskFailureEvents }, now, this.settings())
        : [];

    // A new deploy (or a deleted request) starts clean: the original drops the old deploy's loops.
    for (const loop of stored) if (loop.deployId !== deployId || !record) state.deleteCrashLoop(loop);
    const open = record ? stored.filter((l) => l.deployId === deployId && l.end === undefined) : [];
    for (const loop of current) {
      if (!open.some((l) => l.type === loop.type)) {
        state.saveCrashLoop(loop);
        this.ctx.logger.warn({ requestId, deployId, type: loop.type, start: loop.start }, 'crash loop opened');
      }
    }
    for (const loop of open) {
      if (!current.some((l) => l.type === loop.type)) {
        state.saveCrashLoop({ ...loop, end: now });
        this.ctx.logger.info({ requestId, deployId, type: loop.type }, 'crash loop ended');
      }
    }
    const ended = state
      .crashLoopsOf(requestId)
      .filter((l) => l.end !== undefined)
      .sort((a, b) => b.start - a.start);
    for (const loop of ended.slice(MAX_ENDED_CRASH_LOOPS_PER_REQUEST)) state.deleteCrashLoop(loop);
  }

  /** Ends the loops whose failures have aged out (requests with an open loop only). */
  checkOpen(now: number): void {
    for (const requestId of this.ctx.state.requestsWithOpenCrashLoops()) this.evaluate(requestId, now);
  }

  /** `GET /requests/request/{id}/crashloops`: open and recently ended, oldest first. */
  ofRequest(requestId: string): CrashLoopInfo[] {
    return this.ctx.state.crashLoopsOf(requestId).sort(byStartThenType);
  }

  /** `GET /requests/crashloops`: the open loops of every request that has one. */
  allOpen(): Record<string, CrashLoopInfo[]> {
    const result: Record<string, CrashLoopInfo[]> = {};
    for (const requestId of this.ctx.state.requestsWithOpenCrashLoops().sort()) {
      if (!this.ctx.state.getRequest(requestId)) continue;
      const open = this.ofRequest(requestId).filter((l) => l.end === undefined);
      if (open.length > 0) result[requestId] = open;
    }
    return result;
  }

  private settings(): CrashLoopSettings {
    const s = this.ctx.settings;
    const pick = <K extends keyof CrashLoopSettings>(key: K): CrashLoopSettings[K] => s[key] ?? DEFAULT_CRASH_LOOP_SETTINGS[key];
    const keys = Object.keys(DEFAULT_CRASH_LOOP_SETTINGS) as Array<keyof CrashLoopSettings>;
    return Object.fromEntries(keys.map((k) => [k, pick(k)])) as unknown as CrashLoopSettings;
  }
}

function byStartThenType(a: CrashLoopInfo, b: CrashLoopInfo): number {
  return a.start - b.start || a.type.localeCompare(b.type);
}
