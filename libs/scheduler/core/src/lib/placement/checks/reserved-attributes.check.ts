import { FITS, reject, type PlacementCheck } from '../check';
import { AGENT_RESERVED } from '../rejection-reasons';

const RESERVED = reject(AGENT_RESERVED);

/**
 * An agent reserved by attributes takes only tasks that ask for all of them through their required
 * or allowed attributes (spec §3.1). A task that asks for nothing never lands on a reserved agent.
 */
export const reservedAttributesCheck: PlacementCheck = {
  name: 'reservedAttributes',
  reasons: [AGENT_RESERVED],
  appliesTo: (_task, ctx) => ctx.hasReservedAgents,
  check(task, agent) {
    if (agent.reservedAttributes.length === 0) return FITS;
    const wishes = task.attributeWishes();
    for (const [key, value] of agent.reservedAttributes) {
      if (wishes[key] !== value) return RESERVED;
    }
    return FITS;
  },
};
