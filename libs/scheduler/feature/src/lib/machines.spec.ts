import { SchedulerHarness } from './scheduler.harness';

const SERVICE = { id: 'web', requestType: 'SERVICE', instances: 1 };
const DEPLOY = { deploy: { requestId: 'web', id: 'd1', command: 'sleep 1000', resources: { cpus: 1, memoryMb: 64, numPorts: 0, diskMb: 0 } } };

describe('machines (harness)', () => {
  let h: SchedulerHarness;
  beforeEach(async () => (h = await SchedulerHarness.create()));
  afterEach(() => h.stop());

  const agentOf = (taskId: string) => h.runtime.ctx.state.getTask(taskId)?.task.mesosTask.agentId.value;
  const agentState = (agentId: string) => h.runtime.agents.get(agentId).currentState.state;

  async function serviceOn(agentId: string): Promise<string> {
    await h.runtime.requests.createOrUpdate(SERVICE);
    await h.runtime.deploys.deploy(DEPLOY);
    await h.tick();
    const [taskId] = h.activeTaskIds('web');
    expect(agentOf(taskId)).toBe(agentId);
    await h.report(taskId, 'TASK_RUNNING');
    h.clock.advance(6000);
    await h.tick();
    return taskId;
  }

  it('declares a silent agent DEAD, its tasks LOST, and replaces them on another agent', async () => {
    await h.registerAgent({ agentId: 'a1' });
    const taskId = await serviceOn('a1');
    await h.registerAgent({ agentId: 'a2', rackId: 'r2' });
    h.clock.advance(61_000);
    await h.heartbeat('a2');
    await h.tick();
    expect(agentState('a1')).toBe('DEAD');
    expect(agentState('a2')).toBe('ACTIVE');
    expect(h.runtime.tasks.history(taskId).taskUpdates.at(-1)).toMatchObject({ taskState: 'TASK_LOST', statusMessage: expect.stringContaining('stopped sending heartbeats') });
    await h.tick();
    const [replacement] = h.activeTaskIds('web');
    expect(agentOf(replacement)).toBe('a2');
    expect(h.runtime.agents.racks('DEAD').map((r) => r.id)).toEqual(['DEFAULT']);
    await expect(h.runtime.machines.deleteRack('r2')).rejects.toMatchObject({ status: 409 });
    // The dead agent comes back: ACTIVE again, its rack too, history kept.
    await h.registerAgent({ agentId: 'a1' });
    await h.tick();
    expect(agentState('a1')).toBe('ACTIVE');
    expect(h.runtime.machines.agentHistory('a1').map((u) => u.state)).toEqual(['ACTIVE', 'DEAD', 'ACTIVE']);
    expect(h.runtime.agents.racks('ACTIVE').map((r) => r.id).sort()).toEqual(['DEFAULT', 'r2']);
  });

  it('decommissions: the replacement runs elsewhere before the old task is killed, then DECOMMISSIONED', async () => {
    await h.registerAgent({ agentId: 'a1' });
    const taskId = await serviceOn('a1');
    await h.registerAgent({ agentId: 'a2' });
    await h.runtime.machines.agentAction('a1', 'decommission', { message: 'hardware swap' }, 'ops');
    await h.tick();
    expect(agentState('a1')).toBe('DECOMMISSIONING');
    const replacement = h.activeTaskIds('web').find((id) => id !== taskId)!;
    expect(agentOf(replacement)).toBe('a2');
    expect(h.gateway.kills).toHaveLength(0);
    await h.report(replacement, 'TASK_RUNNING');
    h.clock.advance(6000);
    await h.tick();
    expect(h.gateway.kills.map((k) => k.taskId)).toEqual([taskId]);
    await h.report(taskId, 'TASK_KILLED');
    await h.tick();
    expect(agentState('a1')).toBe('DECOMMISSIONED');
    await expect(h.runtime.machines.agentAction('a1', 'decommission', {}, 'ops')).rejects.toMatchObject({ status: 409 });
  });

  it('places nothing on a frozen agent, and again once it is activated', async () => {
    await h.registerAgent({ agentId: 'a1' });
    await h.runtime.machines.agentAction('a1', 'freeze', {}, 'ops');
    await expect(h.runtime.machines.agentAction('a1', 'freeze', {}, 'ops')).rejects.toMatchObject({ status: 409 });
    await h.runtime.requests.createOrUpdate(SERVICE);
    await h.runtime.deploys.deploy(DEPLOY);
    await h.tick();
    expect(h.activeTaskIds('web')).toHaveLength(0);
    expect(h.runtime.tasks.scheduled()).toHaveLength(1);
    await h.runtime.machines.agentAction('a1', 'activate', {}, 'ops');
    await h.tick();
    expect(h.activeTaskIds('web')).toHaveLength(1);
  });

  it('retries an ON_DEMAND run lost with its agent, with the same run id and arguments', async () => {
    await h.registerAgent({ agentId: 'a1' });
    await h.runtime.requests.createOrUpdate({ id: 'job', requestType: 'ON_DEMAND' });
    await h.runtime.deploys.deploy({ deploy: { requestId: 'job', id: 'j1', command: 'work' } });
    await h.tick();
    await h.runtime.requests.run('job', { runId: 'r-42', commandLineArgs: ['--day', '2026-11-22'] }, 'ann');
    await h.tick();
    const [first] = h.activeTaskIds('job');
    await h.registerAgent({ agentId: 'a2' });
    h.clock.advance(61_000);
    await h.heartbeat('a2');
    await h.tick();
    await h.tick();
    const [retry] = h.activeTaskIds('job');
    expect(retry).not.toBe(first);
    expect(agentOf(retry)).toBe('a2');
    const launch = h.gateway.launches.find((l) => l.spec.taskId === retry)!;
    expect(launch.spec.executorData.extraCmdLineArgs).toEqual(['--day', '2026-11-22']);
    expect(h.runtime.ctx.state.getTask(retry)?.task.taskRequest.pendingTask.runId).toBe('r-42');
  });

  it('does not declare agents dead right after a scheduler restart', async () => {
    await h.registerAgent({ agentId: 'a1' });
    await h.stop();
    h.clock.advance(10 * 60_000);
    h = await SchedulerHarness.create({ store: h.store, clock: h.clock, gateway: h.gateway });
    h.runtime.start();
    await h.tick();
    expect(agentState('a1')).toBe('ACTIVE');
  });
});
