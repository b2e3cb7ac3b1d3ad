import { FITS, reject, type PlacementCheck } from '../check';
import { ON_DEMAND_INSTANCES_REACHED } from '../rejection-reasons';

const REACHED = reject(ON_DEMAND_INSTANCES_REACHED);

/**
 * An ON_DEMAND request's `instances` is a concurrency cap (spec §1, §3.1): placed tasks (cleaning
 * ones still run) plus launches planned this round never exceed it. Without `instances` there is no
 * cap, as spec §5's `maxActiveOnDemandTasksPerRequest` = 0 (off). `notNow`: a task finishing frees a slot.
 */
export const onDemandInstancesCheck: PlacementCheck = {
  name: 'onDemandInstances',
  reasons: [ON_DEMAND_INSTANCES_REACHED],
  appliesTo: (task) => task.requestType === 'ON_DEMAND' && task.request.instances !== undefined,
  check(task) {
    return task.requestTally.tasks < task.instances ? FITS : REACHED;
  },
};
