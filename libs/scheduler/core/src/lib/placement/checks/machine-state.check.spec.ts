import type { MachineState } from '@singularity/models';
import { aTask, anAgent, runCheck, verdict } from '../placement.fixtures';
import { machineStateCheck } from './machine-state.check';

describe('machineStateCheck', () => {
  it.each<[MachineState, MachineState, string]>([
    ['ACTIVE', 'ACTIVE', 'fits'],
    ['FROZEN', 'ACTIVE', 'never AGENT_FROZEN'],
    ['STARTING_DECOMMISSION', 'ACTIVE', 'never AGENT_DECOMMISSIONING'],
    ['DECOMMISSIONING', 'ACTIVE', 'never AGENT_DECOMMISSIONING'],
    ['DECOMMISSIONED', 'ACTIVE', 'never AGENT_DECOMMISSIONING'],
    ['DEAD', 'ACTIVE', 'never AGENT_NOT_ACTIVE'],
    ['MISSING_ON_STARTUP', 'ACTIVE', 'never AGENT_NOT_ACTIVE'],
    ['ACTIVE', 'FROZEN', 'never RACK_FROZEN'],
    ['ACTIVE', 'DECOMMISSIONING', 'never RACK_DECOMMISSIONING'],
    ['ACTIVE', 'DEAD', 'never RACK_NOT_ACTIVE'],
    ['FROZEN', 'DECOMMISSIONING', 'never AGENT_FROZEN'],
  ])('agent %s on rack %s → %s', (state, rackState, wanted) => {
    expect(verdict(runCheck(machineStateCheck, aTask(), anAgent({ state, rackState })))).toBe(wanted);
  });
});
