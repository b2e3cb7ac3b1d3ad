import { seededRandom, shuffled, type Random } from '@singularity/util';
import { reject, type CheckResult, type PlacementCheck, type Rejection } from './check';
import { PLACEMENT_CHECKS } from './check-registry';
import { deployTasksOnRack } from './checks/rack-sensitivity.check';
import { resourceShortfall, resourcesCheck } from './checks/resources.check';
import { createPlacementContext, type AgentOffer, type DueTask, type PlacementContext } from './placement-context';
import type { PlacementInput, PlacementPlan, PlannedLaunch, UnplacedTask } from './placement.types';
import { RejectionTally, summarizeRejections } from './rejection-summary';
import { CHECK_ERROR } from './rejection-reasons';
import type { PlacementScorer } from './scorer';
import { PLACEMENT_SCORERS } from './scorer-registry';

/** The ordered checks and scorers a plan runs; the registries unless a test swaps them. */
export interface PlacementRules {
  checks: readonly PlacementCheck[];
  scorers: readonly PlacementScorer[];
}

export const DEFAULT_PLACEMENT_RULES: Readonly<PlacementRules> = Object.freeze({
  checks: PLACEMENT_CHECKS,
  scorers: PLACEMENT_SCORERS,
});

const CHECK_ERROR_REJECTION = reject(CHECK_ERROR);

/**
 * Plans one scheduling round (spec §3.1): check → score → select for each due task, heaviest
 * `max(now − nextRunAt, 1) × priority` first. Pure: the same input and seed give the same plan.
 *
 * - Agents are visited in one order shuffled with `seededRandom(seed)`; each task starts at a
 *   point of that order drawn from the same generator, so equally good agents share the load.
 * - The first agent whose score beats `goodEnoughScoreThreshold` wins, else the best one seen.
 *   rackSensitive tasks first keep only agents on the racks holding the fewest of the deploy's tasks.
 * - Each launch reserves resources and ports in the plan's working copy: later tasks see them.
 * - A task no agent takes is reported with the reason each agent gave.
 */
export function planOffers(input: PlacementInput, rules: PlacementRules = DEFAULT_PLACEMENT_RULES): PlacementPlan {
  const ctx = createPlacementContext(input);
  const random = seededRandom(input.seed);
  // The seeded agent order, as offer indexes: the scan reads the dense `ctx.free` arrays by index.
  const order = Int32Array.from(shuffled(ctx.offers, random), (offer) => offer.index);
  const queue = input.tasks
    .map((task) => ctx.dueTask(task))
    .sort((a, b) => b.weight - a.weight || a.task.nextRunAt - b.task.nextRunAt);
  // Reusing a failed sibling's verdict is sound only for checks that other requests' launches can
  // never turn from a rejection into `fits`; the built-in registry is such a set.
  const verdicts = rules.checks === PLACEMENT_CHECKS ? new FailedVerdicts() : undefined;

  const tally = new RejectionTally();
  const launches: PlannedLaunch[] = [];
  const failures: Array<{ task: DueTask; tally: RejectionTally }> = [];
  for (const task of queue) {
    const known = verdicts?.lookup(task);
    if (known) {
      failures.push({ task, tally: known });
      continue;
    }
    tally.reset();
    const choice = selectAgent(task, ctx, rules, order, random, tally);
    if (choice) {
      const ports = ctx.commit(task, choice.offer);
      launches.push({ pendingTaskId: task.pendingTaskId, agentId: choice.offer.agentId, ports, score: choice.score });
      verdicts?.forget(task.requestId);
    } else {
      const failed = tally.copy();
      failures.push({ task, tally: failed });
      verdicts?.remember(task, failed);
    }
  }

  // Siblings sharing a verdict share its summary too (same needs, same counts).
  const summaries = new Map<RejectionTally, string>();
  const unplaced: UnplacedTask[] = failures.map(({ task, tally: t }) => {
    let summary = summaries.get(t);
    if (summary === undefined) summaries.set(t, (summary = summarizeRejections(task, t, ctx.offers.length)));
    return { pendingTaskId: task.pendingTaskId, reasons: t.reasons(), summary };
  });
  return { seed: input.seed, launches, unplaced };
}

interface Choice {
  offer: AgentOffer;
  score: number;
}

function selectAgent(
  task: DueTask,
  ctx: PlacementContext,
  rules: PlacementRules,
  order: Int32Array,
  random: Random,
  tally: RejectionTally,
): Choice | undefined {
  const n = order.length;
  if (n === 0) return undefined;
  let checks = rules.checks.filter((c) => c.appliesTo?.(task, ctx) ?? true);
  // Most agents of a busy cluster fail on resources, so the planner runs that rule inline when it
  // leads the registry (the same function as `resourcesCheck`) and dispatches only the rest.
  const resourcesFirst = checks[0] === resourcesCheck;
  if (resourcesFirst) checks = checks.slice(1);
  const scorers = rules.scorers.filter((s) => s.appliesTo?.(task, ctx) ?? true);
  const threshold = ctx.settings.goodEnoughScoreThreshold;
  const emptiestRackFirst = task.rackSensitive;

  const offers = ctx.offers;
  const free = ctx.free;
  let best: AgentOffer | undefined;
  let bestScore = -Infinity;
  let bestRackCount = Infinity;
  const start = Math.floor(random.next() * n);
  for (let i = 0; i < n; i++) {
    let at = start + i;
    if (at >= n) at -= n;
    const index = order[at];
    if (resourcesFirst) {
      const shortfall = resourceShortfall(task, free, index);
      if (shortfall) {
        tally.add(shortfall, free, index);
        continue;
      }
    }
    const offer = offers[index];
    if (!passesChecks(task, offer, ctx, checks, tally)) continue;
    const score = scoreOf(task, offer, ctx, scorers);
    if (!emptiestRackFirst) {
      if (score > threshold) return { offer, score };
      if (score > bestScore) {
        best = offer;
        bestScore = score;
      }
      continue;
    }
    // Emptiest rack first; within it the first good-enough agent, else the best.
    const onRack = deployTasksOnRack(task, offer.rackId);
    if (onRack < bestRackCount || (onRack === bestRackCount && bestScore <= threshold && score > bestScore)) {
      best = offer;
      bestScore = score;
      bestRackCount = onRack;
    }
    if (bestRackCount === 0 && bestScore > threshold) break; // nothing can beat it
  }
  return best ? { offer: best, score: bestScore } : undefined;
}

function passesChecks(
  task: DueTask,
  offer: AgentOffer,
  ctx: PlacementContext,
  checks: readonly PlacementCheck[],
  tally: RejectionTally,
): boolean {
  for (let c = 0; c < checks.length; c++) {
    let result: CheckResult;
    try {
      result = checks[c].check(task, offer, ctx);
    } catch {
      result = CHECK_ERROR_REJECTION; // a bug in a rule rejects this agent; it does not stop the round
    }
    if (result.status !== 'fits') {
      tally.add(result as Rejection, offer.free, offer.index);
      return false;
    }
  }
  return true;
}

function scoreOf(task: DueTask, offer: AgentOffer, ctx: PlacementContext, scorers: readonly PlacementScorer[]): number {
  let score = 0;
  try {
    for (let s = 0; s < scorers.length; s++) score = scorers[s].score(task, offer, ctx, score);
  } catch {
    return 0;
  }
  return score > 0 ? (score < 1 ? score : 1) : 0; // NaN → 0
}

/**
 * Verdicts of tasks that found no agent, kept per request until a task of that request is placed.
 * Within a round the built-in checks only get stricter for a request through other requests'
 * launches (free resources shrink, per-agent launch counts grow), so a later task with the same
 * deploy and the same needs fails too; it reuses the tally instead of scanning every agent again.
 * Without this, a crowded cluster costs O(tasks × agents) per round.
 */
class FailedVerdicts {
  private readonly byRequest = new Map<string, Map<string, { task: DueTask; tally: RejectionTally }>>();

  lookup(task: DueTask): RejectionTally | undefined {
    const known = this.byRequest.get(task.requestId)?.get(verdictKey(task));
    if (!known || known.task.request !== task.request || known.task.deploy !== task.deploy) return undefined;
    return known.tally;
  }

  remember(task: DueTask, tally: RejectionTally): void {
    let forRequest = this.byRequest.get(task.requestId);
    if (!forRequest) this.byRequest.set(task.requestId, (forRequest = new Map()));
    forRequest.set(verdictKey(task), { task, tally });
  }

  forget(requestId: string): void {
    this.byRequest.delete(requestId);
  }
}

/** Everything of a task the checks read, besides its request and deploy. */
function verdictKey(task: DueTask): string {
  const p = task.pendingTask;
  const overrides =
    p.requiredAgentAttributeOverrides ||
    p.requiredSlaveAttributeOverrides ||
    p.allowedAgentAttributeOverrides ||
    p.allowedSlaveAttributeOverrides
      ? JSON.stringify([task.requiredAttributes, task.allowedAttributes])
      : '';
  return `${task.deployId}|${task.cpus}|${task.memoryMb}|${task.diskMb}|${task.numPorts}|${task.bounceMayShareHost}|${overrides}`;
}
