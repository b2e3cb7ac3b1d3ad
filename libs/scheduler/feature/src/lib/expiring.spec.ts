import { expectMatchesSchema } from '@singularity/testing';
import { SchedulerHarness } from './scheduler.harness';

/** Expiring actions (spec §2.6; scenario 35): pause, scale, bounce and machine states revert on time. */
describe('expiring actions (harness)', () => {
  let h: SchedulerHarness;
  beforeEach(async () => {
    h = await SchedulerHarness.create();
    await h.registerAgent();
    await h.runtime.requests.createOrUpdate({ id: 'web', requestType: 'SERVICE', instances: 2 });
    await h.runtime.deploys.deploy({ deploy: { requestId: 'web', id: 'd1', command: 'serve', considerHealthyAfterRunningForSeconds: 0 } });
    await h.tick();
    for (const id of h.activeTaskIds('web')) await h.report(id, 'TASK_RUNNING');
    await h.tick();
  });
  afterEach(() => h.stop());

  async function later(millis: number): Promise<void> {
    h.clock.advance(millis);
    await h.heartbeat('agent-1');
    await h.tick();
  }

  it('an expiring pause unpauses by itself; DELETE …/pause cancels the expiry', async () => {
    const paused = await h.runtime.requests.pause('web', { durationMillis: 60_000 }, 'ann');
    expect(paused.state).toBe('PAUSED');
    expectMatchesSchema(paused, 'SingularityRequestParent');
    expect((paused as unknown as Record<string, unknown>).expiringPause).toMatchObject({ requestId: 'web', user: 'ann' });
    await later(61_000);
    expect(h.runtime.requests.get('web').state).toBe('ACTIVE');
    await h.runtime.requests.pause('web', { durationMillis: 60_000 }, 'ann');
    await h.runtime.requests.cancelExpiring('web', 'pause');
    await later(61_000);
    expect(h.runtime.requests.get('web').state).toBe('PAUSED');
    await expect(h.runtime.requests.cancelExpiring('web', 'pause')).rejects.toMatchObject({ status: 404 });
  });

  it('an expiring scale goes back to the old instance count (SCALE_REVERTED)', async () => {
    await h.runtime.requests.scale('web', { instances: 3, durationMillis: 30_000 }, 'ann', false);
    await h.tick();
    expect(h.activeTaskIds('web')).toHaveLength(3);
    await later(31_000);
    expect(h.runtime.requests.get('web').request.instances).toBe(2);
    expect(h.runtime.ctx.state.getRequestHistory('web').map((e) => e.eventType)).toContain('SCALE_REVERTED');
    expect(h.gateway.kills).toHaveLength(1);
  });

  it('an unfinished bounce is cancelled when it expires: old tasks stay, extra replacements go', async () => {
    const old = h.activeTaskIds('web');
    await h.runtime.requests.bounce('web', { durationMillis: 10_000 }, 'ann');
    await h.tick();
    expect(h.activeTaskIds('web')).toHaveLength(4);
    await later(11_000);
    await h.tick();
    expect(h.runtime.ctx.state.getTask(old[0])?.cleanup).toBeUndefined();
    expect(h.gateway.kills.map((k) => k.taskId).sort()).toEqual(h.activeTaskIds('web').filter((id) => !old.includes(id)).sort());
  });

  it('a frozen agent with durationMillis goes back to its previous state', async () => {
    await h.runtime.machines.agentAction('agent-1', 'freeze', { durationMillis: 20_000, message: 'kernel patch' }, 'ops');
    const [expiring] = h.runtime.machines.expiringStates('agent');
    expect(expiring).toMatchObject({ machineId: 'agent-1', revertToState: 'ACTIVE' });
    expectMatchesSchema(expiring, 'SingularityExpiringMachineState');
    await later(21_000);
    expect(h.runtime.agents.get('agent-1').currentState.state).toBe('ACTIVE');
    expect(h.runtime.machines.expiringStates('agent')).toEqual([]);
  });
});
