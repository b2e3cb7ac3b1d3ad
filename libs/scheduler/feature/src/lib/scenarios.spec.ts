import { SchedulerHarness } from './scheduler.harness';

/**
 * The behaviour scenarios of spec §6 not covered by the topic specs beside this one
 * (numbers are the spec's).
 */
describe('spec §6 scenarios (harness)', () => {
  let h: SchedulerHarness;
  beforeEach(async () => {
    h = await SchedulerHarness.create();
    await h.registerAgent();
  });
  afterEach(() => h.stop());

  const parent = (id = 'web') => h.runtime.requests.get(id);
  const killed = () => h.gateway.kills.map((k) => k.taskId);
  async function healthyAfter(): Promise<void> {
    for (const id of h.activeTaskIds()) {
      if (h.runtime.tasks.history(id).taskUpdates.at(-1)?.taskState === 'TASK_LAUNCHED') await h.report(id, 'TASK_RUNNING');
    }
    h.clock.advance(6000);
    await h.heartbeat('agent-1');
    await h.tick();
  }
  async function web(instances = 1): Promise<string[]> {
    await h.runtime.requests.createOrUpdate({ id: 'web', requestType: 'SERVICE', instances });
    await h.runtime.deploys.deploy({ deploy: { requestId: 'web', id: 'd1', command: 'serve' } });
    await h.tick();
    await healthyAfter();
    return h.activeTaskIds('web');
  }

  it('(2) a cancelled deploy is CANCELED: its tasks are cleaned, the old ones kept', async () => {
    const [old] = await web();
    await h.runtime.deploys.deploy({ deploy: { requestId: 'web', id: 'd2', command: 'serve v2' } });
    await h.tick();
    const [fresh] = h.activeTaskIds('web').filter((id) => id !== old);
    await h.runtime.deploys.cancel('web', 'd2', 'ann');
    await h.tick();
    expect(h.runtime.ctx.state.getDeployResult('web', 'd2')?.deployState).toBe('CANCELED');
    expect(killed()).toEqual([fresh]);
    expect(parent().requestDeployState?.activeDeploy?.deployId).toBe('d1');
  });

  it('(6) cancelling a canary deploy mid-step rebuilds the old deploy before the new tasks go', async () => {
    const [old1, old2] = await web(2);
    await h.runtime.deploys.deploy({ deploy: { requestId: 'web', id: 'd2', command: 'serve v2', deployInstanceCountPerStep: 1 } });
    await h.tick();
    await healthyAfter();
    expect(killed()).toEqual([old1]);
    await h.report(old1, 'TASK_KILLED');
    await h.runtime.deploys.cancel('web', 'd2', 'ann');
    await h.tick();
    const newTasks = h.activeTaskIds('web').filter((id) => id.includes('-d2-'));
    // The new tasks stay until the old deploy runs its 2 instances again.
    expect(killed()).toEqual([old1]);
    await h.tick();
    const rebuilt = h.activeTaskIds('web').filter((id) => id.includes('-d1-') && id !== old2);
    expect(rebuilt).toHaveLength(1);
    await healthyAfter();
    await h.tick();
    expect(killed().sort()).toEqual([old1, ...newTasks].sort());
  });

  it('(7) a deploy to a PAUSED request is 409 unless unpauseOnSuccessfulDeploy; then ACTIVE on success', async () => {
    await web();
    await h.runtime.requests.pause('web', {}, 'ann');
    await expect(h.runtime.deploys.deploy({ deploy: { requestId: 'web', id: 'd2', command: 'serve v2' } })).rejects.toMatchObject({ status: 409 });
    await h.runtime.deploys.deploy({ deploy: { requestId: 'web', id: 'd2', command: 'serve v2' }, unpauseOnSuccessfulDeploy: true });
    expect(parent().state).toBe('DEPLOYING_TO_UNPAUSE');
    await h.tick();
    await healthyAfter();
    expect(parent().state).toBe('ACTIVE');
    expect(parent().requestDeployState?.activeDeploy?.deployId).toBe('d2');
  });

  it('(7) … and back to PAUSED when that deploy fails', async () => {
    await web();
    await h.runtime.requests.pause('web', {}, 'ann');
    await h.runtime.deploys.deploy({ deploy: { requestId: 'web', id: 'd2', command: 'exit 1' }, unpauseOnSuccessfulDeploy: true });
    await h.tick();
    const fresh = h.activeTaskIds('web').find((id) => id.includes('-d2-'))!;
    await h.report(fresh, 'TASK_FAILED');
    await h.tick();
    expect(parent().state).toBe('PAUSED');
  });

  it('(9) updating a request is 409 while the pending deploy carries an updatedRequest', async () => {
    await web();
    await h.runtime.deploys.deploy({ deploy: { requestId: 'web', id: 'd2', command: 'serve v2' }, updatedRequest: { id: 'web', requestType: 'SERVICE', instances: 2 } });
    await expect(h.runtime.requests.createOrUpdate({ id: 'web', requestType: 'SERVICE', instances: 3 })).rejects.toMatchObject({ status: 409 });
    await h.tick();
    await healthyAfter();
    expect(parent().request.instances).toBe(2);
  });

  it('(10) runImmediately launches a run as the deploy lands', async () => {
    await h.runtime.requests.createOrUpdate({ id: 'job', requestType: 'ON_DEMAND' });
    await h.runtime.deploys.deploy({ deploy: { requestId: 'job', id: 'j1', command: 'work', runImmediately: { runId: 'first', commandLineArgs: ['--now'] } } });
    await h.tick();
    await h.tick();
    expect(h.gateway.launches).toHaveLength(1);
    expect(h.gateway.launches[0].spec.executorData.extraCmdLineArgs).toEqual(['--now']);
  });

  it('(14) pause with killTasks=false lets a scheduled run finish and schedules nothing', async () => {
    await h.runtime.requests.createOrUpdate({ id: 'cron', requestType: 'SCHEDULED', schedule: '0 0 * * *', scheduleTimeZone: 'UTC' });
    await h.runtime.deploys.deploy({ deploy: { requestId: 'cron', id: 'c1', command: 'report' } });
    await h.tick();
    await h.runtime.requests.run('cron', {}, 'ann');
    await h.tick();
    const [run] = h.activeTaskIds('cron');
    await h.report(run, 'TASK_RUNNING');
    await h.runtime.requests.pause('cron', { killTasks: false }, 'ann');
    await h.tick();
    expect(killed()).toEqual([]);
    await h.report(run, 'TASK_FINISHED');
    await h.tick();
    expect(h.runtime.tasks.scheduled('cron')).toEqual([]);
  });

  it('(16) a kill with waitForReplacementTask keeps the task until its replacement runs', async () => {
    const [task] = await web();
    await h.runtime.tasks.kill(task, { waitForReplacementTask: true }, 'ann');
    await h.tick();
    expect(killed()).toEqual([]);
    expect(h.activeTaskIds('web')).toHaveLength(2);
    await healthyAfter();
    expect(killed()).toEqual([task]);
  });

  it('(18) RUN_ONCE runs once per deploy; a lost run is not repeated', async () => {
    await h.runtime.requests.createOrUpdate({ id: 'once', requestType: 'RUN_ONCE' });
    await h.runtime.deploys.deploy({ deploy: { requestId: 'once', id: 'o1', command: 'migrate' } });
    await h.tick();
    await h.tick();
    const [run] = h.activeTaskIds('once');
    await h.report(run, 'TASK_LOST');
    await h.tick();
    expect(h.gateway.launches).toHaveLength(1);
  });

  it('(26) a task that ignores its kill is killed again', async () => {
    const [task] = await web();
    await h.runtime.tasks.kill(task, {}, 'ann');
    await h.tick();
    expect(killed()).toEqual([task]);
    h.clock.advance(300_000);
    await h.heartbeat('agent-1', [{ taskId: task, state: 'TASK_RUNNING' }]);
    await h.tick();
    expect(killed()).toEqual([task, task]);
  });

  it('(27) a task lost with its agent and reported again when the agent returns is recovered', async () => {
    const [task] = await web();
    h.clock.advance(61_000);
    await h.tick();
    expect(h.runtime.tasks.history(task).taskUpdates.at(-1)?.taskState).toBe('TASK_LOST');
    await h.registerAgent({ tasks: [{ taskId: task, state: 'TASK_RUNNING' }] });
    await h.tick();
    expect(h.runtime.ctx.state.getTask(task)).toBeDefined();
    await healthyAfter();
    await h.tick();
    // The replacement started meanwhile is trimmed: one task runs.
    const running = h.activeTaskIds('web').filter((id) => !h.runtime.ctx.state.getTask(id)?.killed);
    expect(running).toHaveLength(1);
  });

  it('(32) a DEAD agent is purged after deleteDeadAgentsAfterHours', async () => {
    await h.registerAgent({ agentId: 'a2' });
    h.clock.advance(61_000);
    await h.heartbeat('agent-1');
    await h.tick();
    expect(h.runtime.agents.get('a2').currentState.state).toBe('DEAD');
    h.clock.advance(169 * 3_600_000);
    await h.heartbeat('agent-1');
    await h.tick();
    expect(() => h.runtime.agents.get('a2')).toThrow(/Couldn't find agent/);
  });
});
