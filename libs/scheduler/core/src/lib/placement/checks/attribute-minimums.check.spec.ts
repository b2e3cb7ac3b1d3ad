import { aPlacedTask, aRequest, aTask, anAgent, runCheck, verdict } from '../placement.fixtures';
import { attributeMinimumsCheck } from './attribute-minimums.check';

describe('attributeMinimumsCheck', () => {
  // 4 instances, at least 50 % (2) on zone=a agents.
  const request = aRequest({ instances: 4, agentAttributeMinimums: { zone: { a: 50 } } });
  const zoneA = anAgent({ attributes: { zone: 'a' } });
  const zoneB = anAgent({ attributes: { zone: 'b' } });

  it.each([
    ['zone=a agent, nothing placed', zoneA, 0, 'fits'],
    ['zone=b agent, nothing placed (2 left for zone=a)', zoneB, 0, 'fits'],
    ['zone=b agent, 1 on zone=b (still 2 left)', zoneB, 1, 'fits'],
    ['zone=b agent, 2 on zone=b (only 1 left)', zoneB, 2, 'never ATTRIBUTE_MINIMUMS_UNREACHABLE'],
    ['zone=a agent, 2 on zone=b', zoneA, 2, 'fits'],
  ])('%s → %s', (_name, agent, onZoneB, wanted) => {
    const placed = Array.from({ length: onZoneB }, () => aPlacedTask(zoneB));
    const result = runCheck(attributeMinimumsCheck, aTask({ request }), agent, { agents: [zoneA, zoneB], placed });
    expect(verdict(result)).toBe(wanted);
  });
});
