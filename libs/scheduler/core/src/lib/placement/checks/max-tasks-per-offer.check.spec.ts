import { aRequest, aTask, anAgent, contextFor, verdict } from '../placement.fixtures';
import type { PlacementSettings, PlacementTask } from '../placement.types';
import { maxTasksPerOfferCheck } from './max-tasks-per-offer.check';

describe('maxTasksPerOfferCheck', () => {
  const agent = anAgent();

  function afterLaunches(task: PlacementTask, launched: PlacementTask[], settings: Partial<PlacementSettings>): string {
    const ctx = contextFor(task, [agent], { settings, tasks: [task, ...launched] });
    const offer = ctx.offer(agent.agentId);
    if (!offer) throw new Error('missing offer');
    for (const other of launched) ctx.commit(ctx.dueTask(other), offer);
    return verdict(maxTasksPerOfferCheck.check(ctx.dueTask(task), offer, ctx));
  }

  const web = aRequest({ id: 'web' });
  const capped = aRequest({ id: 'capped', maxTasksPerOffer: 1 });

  it.each([
    ['setting 1, nothing launched yet', aTask({ request: web }), [], { maxTasksPerOffer: 1 }, 'fits'],
    ['setting 1, another request launched there', aTask({ request: web }), [aTask({ request: capped })], { maxTasksPerOffer: 1 }, 'notNow MAX_TASKS_PER_OFFER_REACHED'],
    ['request 1, its own task launched there', aTask({ request: capped }), [aTask({ request: capped })], {}, 'notNow MAX_TASKS_PER_OFFER_REACHED'],
    ['request 1, only another request launched there', aTask({ request: capped }), [aTask({ request: web })], {}, 'fits'],
    ['setting 0 = off', aTask({ request: web }), [aTask({ request: web }), aTask({ request: web })], { maxTasksPerOffer: 0 }, 'fits'],
  ])('%s → %s', (_name, task, launched, settings, wanted) => {
    expect(afterLaunches(task, launched, settings)).toBe(wanted);
  });
});
