import { FITS, reject, type PlacementCheck, type Rejection } from '../check';
import type { DueTask, FreeResources } from '../placement-context';
import { NOT_ENOUGH_CPUS, NOT_ENOUGH_DISK, NOT_ENOUGH_MEMORY, NOT_ENOUGH_PORTS } from '../rejection-reasons';

/** Slack for sums of fractional cpus (0.1 × 10 is not exactly 1). Far below any real request. */
export const RESOURCE_EPSILON = 1e-6;

const CPUS = reject(NOT_ENOUGH_CPUS);
const MEMORY = reject(NOT_ENOUGH_MEMORY);
const DISK = reject(NOT_ENOUGH_DISK);
const PORTS = reject(NOT_ENOUGH_PORTS);

/**
 * The first resource agent `index` is short of for `task`, or undefined when it fits. The planner
 * calls this inline for every agent (it is the hot path of a round); `resourcesCheck` is the same
 * rule in registry shape.
 */
export function resourceShortfall(task: DueTask, free: FreeResources, index: number): Rejection | undefined {
  if (task.cpus > free.cpus[index] + RESOURCE_EPSILON) return CPUS;
  if (task.memoryMb > free.memoryMb[index] + RESOURCE_EPSILON) return MEMORY;
  if (task.diskMb > free.diskMb[index] + RESOURCE_EPSILON) return DISK;
  if (task.numPorts > free.ports[index]) return PORTS;
  return undefined;
}

/**
 * Free cpus, memory, disk and port count of the agent's working copy hold the task (spec §3.1, first
 * rule). The first short resource is the reason. `notNow`: finishing tasks free resources.
 * TODO(next issue): `requiredRole` and literal host ports are not modelled by agents yet.
 */
export const resourcesCheck: PlacementCheck = {
  name: 'resources',
  reasons: [NOT_ENOUGH_CPUS, NOT_ENOUGH_MEMORY, NOT_ENOUGH_DISK, NOT_ENOUGH_PORTS],
  check(task, agent) {
    return resourceShortfall(task, agent.free, agent.index) ?? FITS;
  },
};
