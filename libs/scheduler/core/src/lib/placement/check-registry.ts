import type { PlacementCheck } from './check';
import { agentPlacementCheck } from './checks/agent-placement.check';
import { attributeMinimumsCheck } from './checks/attribute-minimums.check';
import { machineStateCheck } from './checks/machine-state.check';
import { maxTasksPerOfferCheck } from './checks/max-tasks-per-offer.check';
import { onDemandInstancesCheck } from './checks/on-demand-instances.check';
import { rackAffinityCheck } from './checks/rack-affinity.check';
import { rackSensitivityCheck } from './checks/rack-sensitivity.check';
import { requiredAttributesCheck } from './checks/required-attributes.check';
import { reservedAttributesCheck } from './checks/reserved-attributes.check';
import { resourcesCheck } from './checks/resources.check';

/**
 * The checks in spec §3.1 order. An agent is rejected by the first check that does not return
 * `fits`, and that check's reason is the one counted.
 */
export const PLACEMENT_CHECKS: readonly PlacementCheck[] = Object.freeze([
  resourcesCheck,
  machineStateCheck,
  rackAffinityCheck,
  requiredAttributesCheck,
  reservedAttributesCheck,
  attributeMinimumsCheck,
  rackSensitivityCheck,
  agentPlacementCheck,
  maxTasksPerOfferCheck,
  onDemandInstancesCheck,
]);
