import { FITS, reject, type PlacementCheck } from '../check';
import { RACK_AFFINITY_NOT_MATCHING } from '../rejection-reasons';

const NOT_MATCHING = reject(RACK_AFFINITY_NOT_MATCHING);

/** A request with `rackAffinity` runs only on agents of those racks (spec §3.1). */
export const rackAffinityCheck: PlacementCheck = {
  name: 'rackAffinity',
  reasons: [RACK_AFFINITY_NOT_MATCHING],
  appliesTo: (task) => task.rackAffinity !== undefined,
  check(task, agent) {
    return task.rackAffinity === undefined || task.rackAffinity.has(agent.rackId) ? FITS : NOT_MATCHING;
  },
};
