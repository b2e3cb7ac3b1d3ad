import { aPlacedTask, aRequest, aTask, anAgent, runCheck, verdict } from '../placement.fixtures';
import { rackSensitivityCheck } from './rack-sensitivity.check';

describe('rackSensitivityCheck', () => {
  const r1 = anAgent({ rackId: 'r1' });
  const r2 = anAgent({ rackId: 'r2' });
  const r3 = anAgent({ rackId: 'r3' });
  const agents = [r1, r2, r3];
  const task = aTask({ request: aRequest({ instances: 3, rackSensitive: true }) });

  it.each([
    ['an empty rack', r2, [aPlacedTask(r1)], 'fits'],
    ['a rack holding its share (3 / 3 racks = 1)', r1, [aPlacedTask(r1)], 'never RACK_SATURATED'],
    ['cleaning tasks do not count', r1, [aPlacedTask(r1, { cleaning: true })], 'fits'],
    ['other deploys do not count', r1, [aPlacedTask(r1, { deployId: 'd0' })], 'fits'],
  ])('%s → %s', (_name, agent, placed, wanted) => {
    expect(verdict(runCheck(rackSensitivityCheck, task, agent, { agents, placed }))).toBe(wanted);
  });

  it('counts only ACTIVE racks in the share', () => {
    const frozenRack = anAgent({ rackId: 'r3', rackState: 'FROZEN' });
    // 3 instances over 2 active racks: 1.5 per rack, so a rack with one task takes a second.
    const result = runCheck(rackSensitivityCheck, task, r1, { agents: [r1, r2, frozenRack], placed: [aPlacedTask(r1)] });
    expect(verdict(result)).toBe('fits');
  });
});
