import { aTask, anAgent, contextFor } from '../placement.fixtures';
import type { PlacementAgent } from '../placement.types';
import { usageScorer } from './usage.scorer';

describe('usageScorer', () => {
  const total = { cpus: 10, memoryMb: 1000, diskMb: 100 };

  function score(agent: PlacementAgent): number {
    const task = aTask();
    const ctx = contextFor(task, [agent]);
    const offer = ctx.offer(agent.agentId);
    if (!offer) throw new Error('missing offer');
    return usageScorer.score(ctx.dueTask(task), offer, ctx, 0);
  }

  it.each<[string, Partial<PlacementAgent>, number]>([
    ['empty, no usage data: 0.5 × 1 + 0.5 × 0.5', {}, 0.75],
    ['half reserved, no usage data', { used: { cpus: 5, memoryMb: 500, diskMb: 50 } }, 0.5],
    ['full, no usage data', { used: total }, 0.25],
    ['empty and measured idle', { usage: { cpus: 0, memoryMb: 0, diskMb: 0 } }, 1],
    ['empty but measured busy', { usage: total }, 0.5],
    // allocated: 0.4 × 0.5 + 0.4 × 1 + 0.2 × 1 = 0.8; measured: 0.4 × 1 + 0.4 × 0.5 + 0.2 × 0 = 0.6
    ['weights 0.4 / 0.4 / 0.2', { used: { cpus: 5, memoryMb: 0, diskMb: 0 }, usage: { cpus: 0, memoryMb: 500, diskMb: 100 } }, 0.7],
  ])('%s → %d', (_name, over, wanted) => {
    expect(score(anAgent({ total, ...over } as Parameters<typeof anAgent>[0]))).toBeCloseTo(wanted, 10);
  });
});
