import type { AgentPlacement } from '@singularity/models';
import { aPlacedTask, aRequest, aTask, anAgent, contextFor, runCheck, verdict } from '../placement.fixtures';
import type { PlacedTaskInfo } from '../placement.types';
import { agentPlacementCheck } from './agent-placement.check';

describe('agentPlacementCheck', () => {
  const h1 = anAgent({ host: 'h1' });
  const h2 = anAgent({ host: 'h2' });
  const onH1 = (over: Partial<PlacedTaskInfo> = {}) => aPlacedTask(h1, over);

  it.each<[string, AgentPlacement, PlacedTaskInfo[], string]>([
    ['SEPARATE, deploy running there', 'SEPARATE', [onH1()], 'never AGENT_SATURATED_BY_DEPLOY'],
    ['SEPARATE, deploy cleaning there', 'SEPARATE', [onH1({ cleaning: true })], 'never AGENT_SATURATED_BY_DEPLOY'],
    ['SEPARATE, another deploy there', 'SEPARATE', [onH1({ deployId: 'd0' })], 'fits'],
    ['SEPARATE_BY_DEPLOY, deploy there', 'SEPARATE_BY_DEPLOY', [onH1()], 'never AGENT_SATURATED_BY_DEPLOY'],
    ['SPREAD_ALL_AGENTS, deploy there', 'SPREAD_ALL_AGENTS', [onH1()], 'never AGENT_SATURATED_BY_DEPLOY'],
    ['SPREAD_ALL_SLAVES, deploy there', 'SPREAD_ALL_SLAVES', [onH1()], 'never AGENT_SATURATED_BY_DEPLOY'],
    ['SEPARATE_BY_REQUEST, another deploy there', 'SEPARATE_BY_REQUEST', [onH1({ deployId: 'd0', cleaning: true })], 'never AGENT_SATURATED_BY_REQUEST'],
    ['SEPARATE_BY_REQUEST, another request there', 'SEPARATE_BY_REQUEST', [onH1({ requestId: 'api' })], 'fits'],
    ['GREEDY, deploy there', 'GREEDY', [onH1(), onH1()], 'fits'],
  ])('%s → %s', (_name, agentPlacement, placed, wanted) => {
    const task = aTask({ request: aRequest({ agentPlacement }) });
    expect(verdict(runCheck(agentPlacementCheck, task, h1, { agents: [h1, h2], placed }))).toBe(wanted);
  });

  it('reads the legacy slavePlacement', () => {
    const task = aTask({ request: aRequest({ slavePlacement: 'SEPARATE' }) });
    expect(verdict(runCheck(agentPlacementCheck, task, h1, { placed: [onH1()] }))).toBe('never AGENT_SATURATED_BY_DEPLOY');
  });

  describe('bounce replacements (allowBounceToSameHost)', () => {
    it.each<[string, boolean | undefined, boolean, PlacedTaskInfo[], string]>([
      ['allowed, only bounced (cleaning) tasks there', true, true, [onH1({ cleaning: true })], 'fits'],
      ['allowed, a running task of the deploy there', true, true, [onH1({ cleaning: true }), onH1()], 'never AGENT_SATURATED_BY_DEPLOY'],
      ['not allowed', false, true, [onH1({ cleaning: true })], 'never AGENT_SATURATED_BY_DEPLOY'],
      ['allowed but not a bounce replacement', true, false, [onH1({ cleaning: true })], 'never AGENT_SATURATED_BY_DEPLOY'],
      ['request unset, settings allow', undefined, true, [onH1({ cleaning: true })], 'fits'],
    ])('%s → %s', (_name, allowBounceToSameHost, isBounceReplacement, placed, wanted) => {
      const task = aTask({ request: aRequest({ agentPlacement: 'SEPARATE', allowBounceToSameHost }), isBounceReplacement });
      const result = runCheck(agentPlacementCheck, task, h1, { placed, settings: { allowBounceToSameHost: true } });
      expect(verdict(result)).toBe(wanted);
    });
  });

  describe('OPTIMISTIC', () => {
    const optimistic = aRequest({ agentPlacement: 'OPTIMISTIC' });
    // 4 tasks on 2 hosts, 1 pending: threshold 2 × (1 + 1 × 0.09) = 2.18.
    const placed = [onH1(), onH1(), onH1(), aPlacedTask(h2)];

    it.each([
      ['a host above the share (3 > 2.18)', h1, placed, 'never AGENT_SATURATED_OPTIMISTIC'],
      ['a host below the share', h2, placed, 'fits'],
      ['no tasks yet (falls back to GREEDY)', h1, [], 'fits'],
    ])('%s → %s', (_name, agent, thePlaced, wanted) => {
      const result = runCheck(agentPlacementCheck, aTask({ request: optimistic }), agent, { agents: [h1, h2], placed: thePlaced });
      expect(verdict(result)).toBe(wanted);
    });

    it('more pending tasks make it more lenient', () => {
      // 12 pending: threshold 2 × (1 + 12 × 0.09) = 4.16 ≥ 3
      const pending = Array.from({ length: 12 }, (_, i) => aTask({ request: optimistic, instanceNo: 10 + i }));
      const ctx = contextFor(pending[0], [h1, h2], { placed, tasks: pending });
      const offer = ctx.offer(h1.agentId);
      if (!offer) throw new Error('missing offer');
      expect(verdict(agentPlacementCheck.check(ctx.dueTask(pending[0]), offer, ctx))).toBe('fits');
    });
  });
});
