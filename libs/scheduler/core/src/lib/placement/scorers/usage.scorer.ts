import type { ScalarResources } from '../placement.types';
import type { PlacementScorer } from '../scorer';

/** Spec §3.1 weights: cpu and memory count twice as much as disk. */
export const CPU_WEIGHT = 0.4;
export const MEMORY_WEIGHT = 0.4;
export const DISK_WEIGHT = 0.2;
/** Half the score is what is reserved on the agent, half what it measurably uses. */
export const ALLOCATED_WEIGHT = 0.5;
export const MEASURED_WEIGHT = 0.5;
/** The measured half for an agent without usage data. */
export const MISSING_USAGE_SCORE = 0.5;

function fraction(part: number, total: number): number {
  if (!(total > 0)) return 0;
  return Math.min(1, Math.max(0, part / total));
}

/** Weighted share of `total` that is still free when `taken` is in use. */
export function freeShare(taken: ScalarResources, total: ScalarResources): number {
  return (
    CPU_WEIGHT * (1 - fraction(taken.cpus, total.cpus)) +
    MEMORY_WEIGHT * (1 - fraction(taken.memoryMb, total.memoryMb)) +
    DISK_WEIGHT * (1 - fraction(taken.diskMb, total.diskMb))
  );
}

/**
 * The usage score of spec §3.1 (the original's offer scoring): emptier agents score higher. The
 * allocated half reads this plan's working copy, so an agent that just took a task scores lower for
 * the next one; the measured half reads `agent.usage`, 0.5 when it is unknown.
 */
export const usageScorer: PlacementScorer = {
  name: 'usage',
  score(_task, agent) {
    const total = agent.total;
    const allocated =
      CPU_WEIGHT * fraction(agent.freeCpus, total.cpus) +
      MEMORY_WEIGHT * fraction(agent.freeMemoryMb, total.memoryMb) +
      DISK_WEIGHT * fraction(agent.freeDiskMb, total.diskMb);
    const usage = agent.agent.usage;
    const measured = usage ? freeShare(usage, total) : MISSING_USAGE_SCORE;
    return ALLOCATED_WEIGHT * allocated + MEASURED_WEIGHT * measured;
  },
};
