import { FITS, reject, type PlacementCheck } from '../check';
import { AGENT_ATTRIBUTES_DO_NOT_MATCH } from '../rejection-reasons';

const DO_NOT_MATCH = reject(AGENT_ATTRIBUTES_DO_NOT_MATCH);

/**
 * The agent carries every required attribute with the same value (spec §3.1). The pending task's
 * `requiredAgentAttributeOverrides` (legacy `…Slave…`) win over the request's `requiredAgentAttributes`;
 * `DueTask` resolves that once.
 */
export const requiredAttributesCheck: PlacementCheck = {
  name: 'requiredAttributes',
  reasons: [AGENT_ATTRIBUTES_DO_NOT_MATCH],
  appliesTo: (task) => task.requiredAttributes.length > 0,
  check(task, agent) {
    const attributes = agent.agent.attributes;
    for (const [key, value] of task.requiredAttributes) {
      if (attributes[key] !== value) return DO_NOT_MATCH;
    }
    return FITS;
  },
};
