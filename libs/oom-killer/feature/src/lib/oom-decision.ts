/**
 * What the OOM killer does about one task (spec slave §6), as a pure
 * function of its memory reading and the two thresholds, so that the rule
 * can be read and table-tested apart from cgroups and HTTP.
 */

/** Resident memory and limit of one task, as read from its cgroup. */
export interface MemoryFigures {
  /** Resident anonymous memory (v1 `total_rss`, v2 `anon`); undefined when the cgroup has no reading. */
  residentBytes?: number;
  /** The task's memory limit; undefined when it has none. */
  limitBytes?: number;
}

export interface OomThresholds {
  /** Above it (and up to the direct one): ask the scheduler to kill the task. */
  requestKillThresholdRatio: number;
  /** Above it: SIGKILL the task's processes here. */
  killProcessDirectlyThresholdRatio: number;
}

/**
 * - `unknown`: no ratio can be formed (no limit, no reading): nothing is done,
 *   it is counted (`unknownExecutors`).
 * - `ok`: at or under the request threshold.
 * - `requestKill`: over the request threshold, at or under the direct one.
 * - `killDirectly`: over the direct threshold.
 */
export type OomVerdict = 'unknown' | 'ok' | 'requestKill' | 'killDirectly';

export interface OomDecision {
  verdict: OomVerdict;
  /** resident / limit; absent for `unknown`. */
  ratio?: number;
}

export function decideOom(figures: MemoryFigures, thresholds: OomThresholds): OomDecision {
  const { residentBytes, limitBytes } = figures;
  if (residentBytes === undefined || limitBytes === undefined || !(limitBytes > 0) || !(residentBytes >= 0)) return { verdict: 'unknown' };
  const ratio = residentBytes / limitBytes;
  if (ratio > thresholds.killProcessDirectlyThresholdRatio) return { verdict: 'killDirectly', ratio };
  if (ratio > thresholds.requestKillThresholdRatio) return { verdict: 'requestKill', ratio };
  return { verdict: 'ok', ratio };
}
