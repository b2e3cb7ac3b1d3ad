import { expectMatchesSchema } from '@singularity/testing';
import { SchedulerHarness } from './scheduler.harness';

describe('reconciliation (harness)', () => {
  let h: SchedulerHarness;
  beforeEach(async () => {
    h = await SchedulerHarness.create();
    await h.registerAgent();
    await h.runtime.requests.createOrUpdate({ id: 'web', requestType: 'SERVICE' });
    await h.runtime.deploys.deploy({ deploy: { requestId: 'web', id: 'd1', command: 'sleep 1000' } });
    await h.tick();
  });
  afterEach(() => h.stop());

  const lastState = (taskId: string) => h.runtime.tasks.history(taskId).taskUpdates.at(-1)?.taskState;

  it('loses a running task that two heartbeats in a row leave out, and replaces it', async () => {
    const [taskId] = h.activeTaskIds('web');
    await h.report(taskId, 'TASK_RUNNING');
    h.clock.advance(10_000);
    await h.heartbeat('agent-1', [{ taskId, state: 'TASK_RUNNING' }]);
    await h.tick();
    expect(h.runtime.requests.get('web').requestDeployState?.activeDeploy?.deployId).toBe('d1');
    expect(lastState(taskId)).toBe('TASK_RUNNING');
    h.clock.advance(5_000);
    await h.heartbeat('agent-1', []);
    expect(lastState(taskId)).toBe('TASK_RUNNING');
    h.clock.advance(5_000);
    await h.heartbeat('agent-1', []);
    expect(lastState(taskId)).toBe('TASK_LOST');
    await h.tick();
    expect(h.activeTaskIds('web')).toHaveLength(1);
    expect(h.activeTaskIds('web')[0]).not.toBe(taskId);
  });

  it('does not condemn a task the agent acknowledged moments ago', async () => {
    const [taskId] = h.activeTaskIds('web');
    await h.report(taskId, 'TASK_STAGING');
    await h.heartbeat('agent-1', []);
    h.clock.advance(1000);
    await h.heartbeat('agent-1', []);
    expect(lastState(taskId)).toBe('TASK_STAGING');
  });

  it('kills a task the agent runs that the scheduler does not know', async () => {
    await h.heartbeat('agent-1', [{ taskId: 'ghost-d9-1-1-agent_1-DEFAULT', state: 'TASK_RUNNING' }]);
    await new Promise((r) => setImmediate(r));
    expect(h.gateway.kills.map((k) => k.taskId)).toContain('ghost-d9-1-1-agent_1-DEFAULT');
  });

  it('reports the last finished round', async () => {
    const [taskId] = h.activeTaskIds('web');
    await h.report(taskId, 'TASK_RUNNING');
    h.clock.advance(601_000);
    await h.heartbeat('agent-1', [{ taskId, state: 'TASK_RUNNING' }]);
    await h.tick();
    h.clock.advance(2_000);
    await h.heartbeat('agent-1', [{ taskId, state: 'TASK_RUNNING' }]);
    const stats = h.runtime.scheduler.reconciler.statistics();
    expect(stats).toMatchObject({ taskReconciliationResponseCount: 1, taskReconciliationDurationMillis: 2000 });
    expectMatchesSchema(stats, 'SingularityTaskReconciliationStatistics');
  });
});
