import type { PlacementSettings } from './placement.types';

/** Spec §5 "Placement" defaults, plus `maxTasksPerOffer` from its "Limits" (0 = off). */
export const DEFAULT_PLACEMENT_SETTINGS: Readonly<PlacementSettings> = Object.freeze({
  defaultAgentPlacement: 'GREEDY',
  placementLeniency: 0.09,
  allowBounceToSameHost: false,
  defaultTaskPriorityLevel: 0.3,
  preferredAgentScaleFactor: 1.5,
  goodEnoughScoreThreshold: 0.4,
  maxTasksPerOffer: 0,
});
