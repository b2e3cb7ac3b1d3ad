import { FITS, reject, type PlacementCheck } from '../check';
import { ATTRIBUTE_MINIMUMS_UNREACHABLE } from '../rejection-reasons';

const UNREACHABLE = reject(ATTRIBUTE_MINIMUMS_UNREACHABLE);

/**
 * `agentAttributeMinimums` (attribute → value → minimum % of instances) stay reachable (spec §3.1):
 * an agent without the value may take the task only if enough instances are left to put the minimum
 * on agents with it. Cost is bounded by the request's task count, not by the cluster.
 */
export const attributeMinimumsCheck: PlacementCheck = {
  name: 'attributeMinimums',
  reasons: [ATTRIBUTE_MINIMUMS_UNREACHABLE],
  appliesTo: (task) => task.attributeMinimums !== undefined,
  check(task, agent) {
    const minimums = task.attributeMinimums;
    if (!minimums) return FITS;
    const attributes = agent.agent.attributes;
    const tally = task.requestTally;
    for (const [key, percentByValue] of Object.entries(minimums)) {
      for (const [value, percent] of Object.entries(percentByValue)) {
        if (attributes[key] === value) continue; // this placement adds to the minimum
        const minimum = Math.max(1, Math.floor((percent / 100) * task.instances));
        let withValue = 0;
        for (const taskAttributes of tally.agentAttributes) if (taskAttributes?.[key] === value) withValue++;
        const withoutValue = tally.tasks - withValue + 1;
        if (task.instances - withoutValue < minimum) return UNREACHABLE;
      }
    }
    return FITS;
  },
};
