import { FITS, reject, type PlacementCheck } from '../check';
import { RACK_SATURATED } from '../rejection-reasons';

const SATURATED = reject(RACK_SATURATED);

/** The deploy's non-cleaning tasks on `rackId`, planned ones included. */
export function deployTasksOnRack(task: { deployTally: { racks: ReadonlyMap<string, number> } }, rackId: string): number {
  return task.deployTally.racks.get(rackId) ?? 0;
}

/**
 * `rackSensitive`: a rack takes another task of the deploy only while it holds fewer of the deploy's
 * non-cleaning tasks than `instances / active racks` (at least 1) (spec §3.1). The planner adds
 * "emptiest racks first" when it selects, so 7 instances over 3 racks end 3/2/2.
 */
export const rackSensitivityCheck: PlacementCheck = {
  name: 'rackSensitivity',
  reasons: [RACK_SATURATED],
  appliesTo: (task) => task.rackSensitive,
  check(task, agent, ctx) {
    if (ctx.activeRackCount === 0) return FITS; // no ACTIVE rack: machineState already rejected
    const perRack = Math.max(task.instances / ctx.activeRackCount, 1);
    return deployTasksOnRack(task, agent.rackId) < perRack ? FITS : SATURATED;
  },
};
