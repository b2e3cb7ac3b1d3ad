import type { AgentOffer, DueTask, PlacementContext } from './placement-context';

/**
 * One scoring rule (conventions §3, Kubernetes' Score plugin). Scorers run in registry order on the
 * agents that passed every check; each maps the score so far (0 before the first) to a new one in
 * [0, 1], so a base scorer can be followed by scorers that scale it.
 */
export interface PlacementScorer {
  readonly name: string;
  /** False when the scorer would return `soFar` unchanged for every agent. Absent: always applies. */
  appliesTo?(task: DueTask, ctx: PlacementContext): boolean;
  score(task: DueTask, agent: AgentOffer, ctx: PlacementContext, soFar: number): number;
}
