import { FITS, reject, type PlacementCheck } from '../check';
import { MAX_TASKS_PER_OFFER_REACHED } from '../rejection-reasons';

const REACHED = reject(MAX_TASKS_PER_OFFER_REACHED);

/**
 * Caps launches per agent in one plan, as the original does: the `maxTasksPerOffer` setting counts
 * every task planned on the agent, a request's own `maxTasksPerOffer` counts that request's tasks on
 * it. 0 = off. `notNow`: the cap resets next round.
 */
export const maxTasksPerOfferCheck: PlacementCheck = {
  name: 'maxTasksPerOffer',
  reasons: [MAX_TASKS_PER_OFFER_REACHED],
  appliesTo: (task, ctx) => ctx.settings.maxTasksPerOffer > 0 || task.maxTasksPerOffer > 0,
  check(task, agent, ctx) {
    const perAgent = ctx.settings.maxTasksPerOffer;
    if (perAgent > 0 && agent.launches >= perAgent) return REACHED;
    if (task.maxTasksPerOffer > 0 && agent.launchesOf(task.requestId) >= task.maxTasksPerOffer) return REACHED;
    return FITS;
  },
};
