import type { PlacementScorer } from '../scorer';

/**
 * Agents carrying at least one of the task's allowed attributes (pending-task overrides win) are
 * preferred: the score so far is multiplied by `preferredAgentScaleFactor` (spec §3.1: ×1.5), capped at 1.
 */
export const preferredAgentScorer: PlacementScorer = {
  name: 'preferredAgent',
  appliesTo: (task) => task.allowedAttributes.length > 0,
  score(task, agent, ctx, soFar) {
    const attributes = agent.agent.attributes;
    for (const [key, value] of task.allowedAttributes) {
      if (attributes[key] === value) return Math.min(1, soFar * ctx.settings.preferredAgentScaleFactor);
    }
    return soFar;
  },
};
