import { aRequest, aTask, anAgent, contextFor, runCheck, verdict } from '../placement.fixtures';
import { rackAffinityCheck } from './rack-affinity.check';

describe('rackAffinityCheck', () => {
  const task = aTask({ request: aRequest({ rackAffinity: ['r1', 'r2'] }) });

  it.each([
    ['r1', 'fits'],
    ['r2', 'fits'],
    ['r3', 'never RACK_AFFINITY_NOT_MATCHING'],
  ])('agent on %s → %s', (rackId, wanted) => {
    expect(verdict(runCheck(rackAffinityCheck, task, anAgent({ rackId })))).toBe(wanted);
  });

  it('is skipped without rackAffinity', () => {
    const plain = aTask();
    const ctx = contextFor(plain, [anAgent()]);
    expect(rackAffinityCheck.appliesTo?.(ctx.dueTask(plain), ctx)).toBe(false);
  });
});
