import { SchedulerHarness } from './scheduler.harness';

describe('failures: cool-down, retries, time limits (harness)', () => {
  let h: SchedulerHarness;
  beforeEach(async () => {
    h = await SchedulerHarness.create();
    await h.registerAgent();
  });
  afterEach(() => h.stop());

  const requestState = (id: string) => h.runtime.requests.get(id).state;
  const history = (id: string) => h.runtime.ctx.state.getRequestHistory(id).map((e) => e.eventType);

  async function crashOnce(requestId: string): Promise<void> {
    await h.tick();
    const [taskId] = h.activeTaskIds(requestId);
    await h.report(taskId, 'TASK_RUNNING');
    await h.report(taskId, 'TASK_FAILED', 'Process failed with code 1');
    h.clock.advance(5000);
    await h.heartbeat();
  }

  it('enters SYSTEM_COOLDOWN after 5 failures within a minute, delays replacements, and leaves when the window clears', async () => {
    await h.runtime.requests.createOrUpdate({ id: 'crashy', requestType: 'WORKER' });
    await h.runtime.deploys.deploy({ deploy: { requestId: 'crashy', id: 'd1', command: 'exit 1', considerHealthyAfterRunningForSeconds: 0 } });
    await h.tick();
    const [first] = h.activeTaskIds('crashy');
    await h.report(first, 'TASK_RUNNING');
    await h.tick();
    expect(h.runtime.requests.get('crashy').requestDeployState?.activeDeploy?.deployId).toBe('d1');
    await h.report(first, 'TASK_FAILED', 'Process failed with code 1');
    for (let i = 0; i < 4; i++) await crashOnce('crashy');
    expect(requestState('crashy')).toBe('SYSTEM_COOLDOWN');
    expect(history('crashy')).toContain('ENTERED_COOLDOWN');
    await h.tick();
    // The replacement waits for cooldownMinScheduleSeconds instead of running at once.
    expect(h.activeTaskIds('crashy')).toHaveLength(0);
    const [pending] = h.runtime.tasks.scheduled('crashy');
    expect(pending.pendingTask.pendingTaskId.nextRunAt).toBeGreaterThanOrEqual(h.clock.now() + 100_000);
    expect(h.runtime.requests.list('cooldown').map((p) => p.request.id)).toEqual(['crashy']);
    h.clock.advance(61_000);
    await h.heartbeat();
    await h.tick();
    expect(requestState('crashy')).toBe('ACTIVE');
    expect(history('crashy')).toContain('EXITED_COOLDOWN');
    await h.tick();
    expect(h.activeTaskIds('crashy')).toHaveLength(1);
  });

  it('exit-cooldown is a 409 unless the request is in cool-down', async () => {
    await h.runtime.requests.createOrUpdate({ id: 'w', requestType: 'WORKER' });
    await expect(h.runtime.requests.exitCooldown('w', {}, 'ann')).rejects.toMatchObject({ status: 409 });
  });

  it('kills do not count as failures', async () => {
    await h.runtime.requests.createOrUpdate({ id: 'w', requestType: 'WORKER' });
    await h.runtime.deploys.deploy({ deploy: { requestId: 'w', id: 'd1', command: 'sleep 100', considerHealthyAfterRunningForSeconds: 0 } });
    for (let i = 0; i < 6; i++) {
      await h.tick();
      const [taskId] = h.activeTaskIds('w');
      await h.report(taskId, 'TASK_RUNNING');
      await h.runtime.tasks.kill(taskId, {}, 'ann');
      await h.tick();
      await h.report(taskId, 'TASK_KILLED');
    }
    expect(requestState('w')).toBe('ACTIVE');
  });

  it('runs a failing ON_DEMAND job at most 1 + numRetriesOnFailure times, with the same arguments (scenario 19)', async () => {
    await h.runtime.requests.createOrUpdate({ id: 'job', requestType: 'ON_DEMAND', numRetriesOnFailure: 2 });
    await h.runtime.deploys.deploy({ deploy: { requestId: 'job', id: 'j1', command: 'work' } });
    await h.tick();
    await h.runtime.requests.run('job', { runId: 'r1', commandLineArgs: ['x'] }, 'ann');
    for (let i = 0; i < 5; i++) {
      await h.tick();
      const [taskId] = h.activeTaskIds('job');
      if (!taskId) break;
      await h.report(taskId, 'TASK_FAILED', 'Process failed with code 2');
    }
    expect(h.gateway.launches).toHaveLength(3);
    expect(h.gateway.launches.map((l) => l.spec.executorData.extraCmdLineArgs)).toEqual([['x'], ['x'], ['x']]);
  });

  it('does not retry an ON_DEMAND run a user killed (scenario 21)', async () => {
    await h.runtime.requests.createOrUpdate({ id: 'job', requestType: 'ON_DEMAND', numRetriesOnFailure: 2 });
    await h.runtime.deploys.deploy({ deploy: { requestId: 'job', id: 'j1', command: 'work' } });
    await h.tick();
    await h.runtime.requests.run('job', {}, 'ann');
    await h.tick();
    const [taskId] = h.activeTaskIds('job');
    await h.runtime.tasks.kill(taskId, {}, 'ann');
    await h.tick();
    await h.report(taskId, 'TASK_KILLED');
    await h.tick();
    expect(h.gateway.launches).toHaveLength(1);
  });

  it('stops a run that exceeds taskExecutionTimeLimitMillis', async () => {
    await h.runtime.requests.createOrUpdate({ id: 'job', requestType: 'ON_DEMAND', taskExecutionTimeLimitMillis: 10_000 });
    await h.runtime.deploys.deploy({ deploy: { requestId: 'job', id: 'j1', command: 'sleep 1000' } });
    await h.tick();
    await h.runtime.requests.run('job', {}, 'ann');
    await h.tick();
    const [taskId] = h.activeTaskIds('job');
    h.clock.advance(11_000);
    await h.tick();
    expect(h.gateway.kills).toEqual([expect.objectContaining({ taskId })]);
    expect(h.runtime.tasks.history(taskId).taskUpdates.at(-1)?.statusMessage).toMatch(/^TASK_EXCEEDED_TIME_LIMIT/);
  });
});
