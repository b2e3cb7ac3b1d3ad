import { SchedulerHarness } from './scheduler.harness';

/** Deploy lifecycle beyond the first cut: canary steps, target updates, bounces (spec §2.3, §2.5, scenarios 3, 15). */
describe('deploy steps and bounces (harness)', () => {
  let h: SchedulerHarness;
  beforeEach(async () => {
    h = await SchedulerHarness.create();
    await h.registerAgent();
  });
  afterEach(() => h.stop());

  const tasksOf = (deployId: string) => h.activeTaskIds('web').filter((id) => id.includes(`-${deployId}-`));
  const killed = () => h.gateway.kills.map((k) => k.taskId);

  /** Reports RUNNING for every task not yet running, then lets them become healthy. */
  async function runAll(): Promise<void> {
    for (const id of h.activeTaskIds('web')) {
      const last = h.runtime.tasks.history(id).taskUpdates.at(-1)?.taskState;
      if (last === 'TASK_LAUNCHED') await h.report(id, 'TASK_RUNNING');
    }
    h.clock.advance(6000);
    await h.heartbeat('agent-1');
    await h.tick();
  }

  async function reportKills(): Promise<void> {
    for (const id of killed()) if (h.runtime.ctx.state.getTask(id)) await h.report(id, 'TASK_KILLED');
  }

  async function webWithTwo(): Promise<string[]> {
    await h.runtime.requests.createOrUpdate({ id: 'web', requestType: 'SERVICE', instances: 2 });
    await h.runtime.deploys.deploy({ deploy: { requestId: 'web', id: 'd1', command: 'serve' } });
    await h.tick();
    await runAll();
    expect(h.runtime.requests.get('web').requestDeployState?.activeDeploy?.deployId).toBe('d1');
    return tasksOf('d1');
  }

  it('a canary deploy of 2 instances in steps of 1 replaces one old task per healthy new one (scenario 3)', async () => {
    const [old1, old2] = await webWithTwo();
    await h.runtime.deploys.deploy({ deploy: { requestId: 'web', id: 'd2', command: 'serve v2', deployInstanceCountPerStep: 1 } });
    await h.tick();
    expect(tasksOf('d2')).toHaveLength(1);
    expect(h.runtime.deploys.pending()[0].deployProgress.targetActiveInstances).toBe(1);
    await runAll();
    // Step 1 healthy: the lowest old instance goes, the target grows to 2.
    expect(killed()).toEqual([old1]);
    expect(h.runtime.deploys.pending()[0].deployProgress.targetActiveInstances).toBe(2);
    await reportKills();
    await h.tick();
    expect(tasksOf('d2')).toHaveLength(2);
    expect(tasksOf('d1')).toEqual([old2]);
    await runAll();
    expect(h.runtime.requests.get('web').requestDeployState?.activeDeploy?.deployId).toBe('d2');
    await h.tick();
    expect(killed()).toEqual([old1, old2]);
  });

  it('POST /deploys/update sets the step target, within 1..instances', async () => {
    await webWithTwo();
    await h.runtime.deploys.deploy({ deploy: { requestId: 'web', id: 'd2', command: 'serve v2', deployInstanceCountPerStep: 1, deployStepWaitTimeMs: 3_600_000 } });
    await h.tick();
    await expect(h.runtime.deploys.update({ requestId: 'web', deployId: 'd2', targetActiveInstances: 3 })).rejects.toMatchObject({ status: 400 });
    await h.runtime.deploys.update({ requestId: 'web', deployId: 'd2', targetActiveInstances: 2 });
    await h.tick();
    expect(tasksOf('d2')).toHaveLength(2);
  });

  it('a bounce starts a full new set and kills the old set only once the new one is healthy', async () => {
    const old = await webWithTwo();
    await h.runtime.requests.bounce('web', {}, 'ann');
    await h.tick();
    expect(tasksOf('d1')).toHaveLength(4);
    expect(killed()).toEqual([]);
    await runAll();
    expect(killed().sort()).toEqual(old.sort());
  });

  it('an incremental bounce kills one old task per healthy replacement (scenario 15)', async () => {
    const [old1, old2] = await webWithTwo();
    await h.runtime.requests.bounce('web', { incremental: true }, 'ann');
    await h.tick();
    const replacements = tasksOf('d1').filter((id) => id !== old1 && id !== old2);
    expect(replacements).toHaveLength(2);
    await h.report(replacements[0], 'TASK_RUNNING');
    h.clock.advance(6000);
    await h.heartbeat('agent-1');
    await h.tick();
    expect(killed()).toEqual([old1]);
    await h.report(replacements[1], 'TASK_RUNNING');
    h.clock.advance(6000);
    await h.heartbeat('agent-1');
    await h.tick();
    expect(killed()).toEqual([old1, old2]);
  });
});
