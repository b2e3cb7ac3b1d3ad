import type { MachineState } from '@singularity/models';
import { FITS, reject, type PlacementCheck, type Rejection } from '../check';
import {
  AGENT_DECOMMISSIONING,
  AGENT_FROZEN,
  AGENT_NOT_ACTIVE,
  RACK_DECOMMISSIONING,
  RACK_FROZEN,
  RACK_NOT_ACTIVE,
} from '../rejection-reasons';

function isDecommissioning(state: MachineState): boolean {
  return state === 'STARTING_DECOMMISSION' || state === 'DECOMMISSIONING' || state === 'DECOMMISSIONED';
}

const AGENT = {
  frozen: reject(AGENT_FROZEN),
  decommissioning: reject(AGENT_DECOMMISSIONING),
  other: reject(AGENT_NOT_ACTIVE),
};
const RACK = {
  frozen: reject(RACK_FROZEN),
  decommissioning: reject(RACK_DECOMMISSIONING),
  other: reject(RACK_NOT_ACTIVE),
};

function rejectionFor(state: MachineState, of: typeof AGENT): Rejection {
  if (state === 'FROZEN') return of.frozen;
  return isDecommissioning(state) ? of.decommissioning : of.other;
}

/**
 * Only ACTIVE agents on ACTIVE racks take tasks (spec §3.1, §3.3): FROZEN, decommissioning, DEAD or
 * MISSING_ON_STARTUP machines get nothing. `never`: an operator or the agent has to change the state.
 */
export const machineStateCheck: PlacementCheck = {
  name: 'machineState',
  reasons: [AGENT_FROZEN, AGENT_DECOMMISSIONING, AGENT_NOT_ACTIVE, RACK_FROZEN, RACK_DECOMMISSIONING, RACK_NOT_ACTIVE],
  check(_task, agent) {
    if (agent.schedulable) return FITS;
    const { state, rackState } = agent.agent;
    if (state !== 'ACTIVE') return rejectionFor(state, AGENT);
    return rejectionFor(rackState, RACK);
  },
};
