import type { PlacementScorer } from './scorer';
import { preferredAgentScorer } from './scorers/preferred-agent.scorer';
import { usageScorer } from './scorers/usage.scorer';

/** Scorers in the order they fold: the usage score, then the preference for allowed attributes. */
export const PLACEMENT_SCORERS: readonly PlacementScorer[] = Object.freeze([usageScorer, preferredAgentScorer]);
