import { FITS, reject, type PlacementCheck } from '../check';
import {
  AGENT_SATURATED_BY_DEPLOY,
  AGENT_SATURATED_BY_REQUEST,
  AGENT_SATURATED_OPTIMISTIC,
} from '../rejection-reasons';

const BY_DEPLOY = reject(AGENT_SATURATED_BY_DEPLOY);
const BY_REQUEST = reject(AGENT_SATURATED_BY_REQUEST);
const OPTIMISTIC = reject(AGENT_SATURATED_OPTIMISTIC);

/**
 * The request's `agentPlacement` (spec §3.1 table; default `defaultAgentPlacement`):
 * - GREEDY: no rule (the check is skipped);
 * - SEPARATE, SEPARATE_BY_DEPLOY, SPREAD_ALL_AGENTS, SPREAD_ALL_SLAVES: no active or cleaning task of
 *   the deploy on the host. With `allowBounceToSameHost`, a bounce replacement may join the deploy's
 *   *cleaning* tasks (the ones being bounced) but not a non-cleaning one, so after one replacement
 *   lands on a host, a second cannot follow it;
 * - SEPARATE_BY_REQUEST: no task of the request, any deploy, on the host;
 * - OPTIMISTIC: the deploy's tasks on the host ≤ (request tasks / hosts used) × (1 + pending × leniency).
 */
export const agentPlacementCheck: PlacementCheck = {
  name: 'agentPlacement',
  reasons: [AGENT_SATURATED_BY_DEPLOY, AGENT_SATURATED_BY_REQUEST, AGENT_SATURATED_OPTIMISTIC],
  appliesTo: (task) => task.placement !== 'GREEDY',
  check(task, agent, ctx) {
    switch (task.placement) {
      case 'SEPARATE':
      case 'SEPARATE_BY_DEPLOY':
      case 'SPREAD_ALL_AGENTS':
      case 'SPREAD_ALL_SLAVES': {
        const onHost = task.deployTally.hosts.get(agent.host);
        if (!onHost) return FITS;
        if (task.bounceMayShareHost) return onHost.active > 0 ? BY_DEPLOY : FITS;
        return onHost.active + onHost.cleaning > 0 ? BY_DEPLOY : FITS;
      }
      case 'SEPARATE_BY_REQUEST':
        return (task.requestTally.hosts.get(agent.host) ?? 0) > 0 ? BY_REQUEST : FITS;
      case 'OPTIMISTIC': {
        const request = task.requestTally;
        if (request.tasks === 0 || request.hosts.size === 0) return FITS; // nothing to compare with yet
        const onHost = task.deployTally.hosts.get(agent.host)?.active ?? 0;
        const threshold =
          (request.tasks / request.hosts.size) * (1 + request.pending * ctx.settings.placementLeniency);
        return onHost <= threshold ? FITS : OPTIMISTIC;
      }
      default:
        return FITS;
    }
  },
};
