import { aRequest, aTask, anAgent, contextFor } from '../placement.fixtures';
import type { PlacementTask } from '../placement.types';
import { preferredAgentScorer } from './preferred-agent.scorer';

describe('preferredAgentScorer', () => {
  const allowsZoneA = aRequest({ allowedAgentAttributes: { zone: 'a' } });

  function run(task: PlacementTask, attributes: Record<string, string>, soFar: number) {
    const agent = anAgent({ attributes });
    const ctx = contextFor(task, [agent]);
    const offer = ctx.offer(agent.agentId);
    if (!offer) throw new Error('missing offer');
    const due = ctx.dueTask(task);
    return { applies: preferredAgentScorer.appliesTo?.(due, ctx), score: preferredAgentScorer.score(due, offer, ctx, soFar) };
  }

  it.each([
    ['a matching attribute scales by 1.5', aTask({ request: allowsZoneA }), { zone: 'a' }, 0.5, 0.75],
    ['capped at 1', aTask({ request: allowsZoneA }), { zone: 'a' }, 0.8, 1],
    ['no match leaves the score', aTask({ request: allowsZoneA }), { zone: 'b' }, 0.5, 0.5],
    ['the pending-task override wins', aTask({ request: allowsZoneA, pendingTask: { allowedAgentAttributeOverrides: { zone: 'b' } } }), { zone: 'b' }, 0.4, 0.6],
    ['legacy allowedSlaveAttributes', aTask({ request: aRequest({ allowedSlaveAttributes: { zone: 'a' } }) }), { zone: 'a' }, 0.4, 0.6],
  ])('%s', (_name, task, attributes, soFar, wanted) => {
    const { applies, score } = run(task, attributes, soFar);
    expect(applies).toBe(true);
    expect(score).toBeCloseTo(wanted, 10);
  });

  it('does not apply without allowed attributes', () => {
    expect(run(aTask(), { zone: 'a' }, 0.5).applies).toBe(false);
  });
});
