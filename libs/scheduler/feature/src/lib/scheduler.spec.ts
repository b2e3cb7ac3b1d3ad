import { SchedulerHarness } from './scheduler.harness';

const SERVICE = { id: 'web', owners: ['a@b.c'], requestType: 'SERVICE', instances: 1 };
const deployBody = (id: string, command = 'python3 -m http.server $PORT0') => ({
  deploy: { requestId: 'web', id, command, resources: { cpus: 0.1, memoryMb: 32, numPorts: 1, diskMb: 0 } },
});

/** Starts `web` with deploy d1 running and healthy. */
async function runningService(h: SchedulerHarness, instances = 1): Promise<string[]> {
  await h.registerAgent();
  await h.runtime.requests.createOrUpdate({ ...SERVICE, instances });
  await h.runtime.deploys.deploy(deployBody('d1'));
  await h.tick();
  const ids = h.launchedIds();
  for (const id of ids) await h.report(id, 'TASK_RUNNING');
  h.clock.advance(6000);
  await h.tick();
  return ids;
}

describe('scheduler (harness: real runtime, in-memory store, fake agent gateway)', () => {
  let h: SchedulerHarness;
  beforeEach(async () => (h = await SchedulerHarness.create()));
  afterEach(() => h.stop());

  it('launches a new deploy on the agent with PORT0 and makes it active once healthy', async () => {
    const [taskId] = await runningService(h);
    const launch = h.gateway.launches[0];
    expect(launch.spec.env.PORT0).toMatch(/^31\d{3}$/);
    expect(launch.spec.executorData.cmd).toBe('python3 -m http.server $PORT0');
    const parent = h.runtime.requests.get('web');
    expect(parent.requestDeployState?.activeDeploy?.deployId).toBe('d1');
    expect(parent.pendingDeploy).toBeUndefined();
    expect(parent.taskIds?.healthy.map((t) => t.id)).toEqual([taskId]);
  });

  it("hands every task the log upload settings and its request's group", async () => {
    const upload = { s3Bucket: 'task-logs', s3KeyFormat: '%requestId/%taskId-%filename', s3UploaderAdditionalFiles: ['gc.log'] };
    const withUpload = await SchedulerHarness.create({ settings: { logUpload: upload } });
    try {
      await withUpload.registerAgent();
      await withUpload.runtime.requests.createOrUpdate({ ...SERVICE, group: 'team-a' });
      await withUpload.runtime.deploys.deploy(deployBody('d1'));
      await withUpload.tick();
      expect(withUpload.gateway.launches[0].spec.executorData).toMatchObject({
        defaultS3Bucket: 'task-logs',
        s3UploaderKeyPattern: '%requestId/%taskId-%filename',
        s3UploaderAdditionalFiles: ['gc.log'],
        requestGroup: 'team-a',
      });
    } finally {
      await withUpload.stop();
    }
  });

  it('says why a pending task cannot be placed', async () => {
    await h.registerAgent();
    await h.runtime.requests.createOrUpdate({ id: 'big', requestType: 'WORKER' });
    await h.runtime.deploys.deploy({ deploy: { requestId: 'big', id: 'b1', command: 'x', resources: { cpus: 1, memoryMb: 20000, numPorts: 0, diskMb: 0 } } });
    await h.tick();
    const [pending] = h.runtime.tasks.scheduled('big') as Array<{ placement?: { summary: string; reasons: Record<string, number> } }>;
    expect(pending.placement?.reasons).toEqual({ NOT_ENOUGH_MEMORY: 1 });
    expect(pending.placement?.summary).toMatch(/0 of 1 agents fit: 1 × not enough memory/);
  });

  it('replaces a killed task', async () => {
    const [taskId] = await runningService(h);
    await h.runtime.tasks.kill(taskId, undefined, 'ann');
    await h.tick();
    expect(h.gateway.kills.map((k) => k.taskId)).toEqual([taskId]);
    await h.report(taskId, 'TASK_KILLED', 'Task killed. Process exited gracefully with code 143');
    await h.tick();
    const active = h.activeTaskIds('web');
    expect(active).toHaveLength(1);
    expect(active[0]).not.toBe(taskId);
  });

  it('replaces a task killed while its deploy is still in progress, and the deploy then succeeds', async () => {
    await h.registerAgent();
    await h.runtime.requests.createOrUpdate(SERVICE);
    await h.runtime.deploys.deploy(deployBody('d1'));
    await h.tick();
    const [first] = h.launchedIds();
    await h.report(first, 'TASK_RUNNING');
    await h.runtime.tasks.kill(first, undefined, 'ann');
    await h.tick();
    await h.report(first, 'TASK_KILLED');
    await h.tick();
    const [second] = h.activeTaskIds('web');
    expect(second).toBeDefined();
    expect(second).not.toBe(first);
    await h.report(second, 'TASK_RUNNING');
    h.clock.advance(6000);
    await h.tick();
    expect(h.runtime.requests.get('web').requestDeployState?.activeDeploy?.deployId).toBe('d1');
  });

  it('replaces a failed task of a long-running request', async () => {
    const [taskId] = await runningService(h);
    await h.report(taskId, 'TASK_FAILED', 'Process failed with code 1');
    await h.tick();
    expect(h.activeTaskIds('web')).toHaveLength(1);
    expect(h.activeTaskIds('web')[0]).not.toBe(taskId);
  });

  it('scales 1 → 3 → 1 and ends with exactly one task, instance 1', async () => {
    await runningService(h);
    await h.runtime.requests.scale('web', { instances: 3 }, 'ann', false);
    await h.tick();
    expect(h.activeTaskIds('web')).toHaveLength(3);
    await h.runtime.requests.scale('web', { instances: 1 }, 'ann', false);
    await h.tick();
    const killed = h.gateway.kills.map((k) => k.taskId);
    expect(killed).toHaveLength(2);
    for (const id of killed) await h.report(id, 'TASK_KILLED');
    await h.tick();
    const left = h.activeTaskIds('web');
    expect(left).toHaveLength(1);
    expect(left[0].split('-')[3]).toBe('1');
  });

  it('rolls back a deploy whose new task fails: the old task keeps running untouched', async () => {
    const [oldTask] = await runningService(h);
    await h.runtime.deploys.deploy(deployBody('d2', 'exit 1'));
    await h.tick();
    const newTask = h.launchedIds().find((id) => id.includes('-d2-'))!;
    await h.report(newTask, 'TASK_FAILED', 'Process failed with code 1');
    await h.tick();
    const parent = h.runtime.requests.get('web');
    expect(parent.requestDeployState?.activeDeploy?.deployId).toBe('d1');
    expect(parent.pendingDeploy).toBeUndefined();
    expect(h.runtime.ctx.state.getDeployResult('web', 'd2')).toMatchObject({ deployState: 'FAILED' });
    expect(h.runtime.ctx.state.getDeployResult('web', 'd2')?.message).toContain('Process failed with code 1');
    expect(h.activeTaskIds('web')).toEqual([oldTask]);
    expect(h.gateway.kills.map((k) => k.taskId)).not.toContain(oldTask);
  });

  it('a successful deploy retires the old deploy after the new one is healthy', async () => {
    const [oldTask] = await runningService(h);
    await h.runtime.deploys.deploy(deployBody('d2'));
    await h.tick();
    const newTask = h.launchedIds().find((id) => id.includes('-d2-'))!;
    await h.report(newTask, 'TASK_RUNNING');
    await h.tick();
    expect(h.gateway.kills).toHaveLength(0);
    h.clock.advance(6000);
    await h.tick();
    expect(h.runtime.requests.get('web').requestDeployState?.activeDeploy?.deployId).toBe('d2');
    await h.tick();
    expect(h.gateway.kills.map((k) => k.taskId)).toEqual([oldTask]);
  });

  it('pause kills tasks and drops pending ones; unpause relaunches', async () => {
    const [taskId] = await runningService(h);
    await h.runtime.requests.pause('web', {}, 'ann');
    await h.tick();
    expect(h.gateway.kills.map((k) => k.taskId)).toEqual([taskId]);
    await h.report(taskId, 'TASK_KILLED');
    await h.tick();
    expect(h.activeTaskIds('web')).toHaveLength(0);
    await expect(h.runtime.requests.pause('web', {}, 'ann')).rejects.toMatchObject({ status: 409 });
    await h.runtime.requests.unpause('web', {}, 'ann');
    await h.tick();
    expect(h.activeTaskIds('web')).toHaveLength(1);
  });

  it('runs an ON_DEMAND request once per run-now with its arguments, and caps concurrency', async () => {
    await h.registerAgent();
    await h.runtime.requests.createOrUpdate({ id: 'job', requestType: 'ON_DEMAND', instances: 1 });
    await h.runtime.deploys.deploy({ deploy: { requestId: 'job', id: 'j1', command: 'echo' } });
    await h.tick();
    expect(h.launchedIds()).toHaveLength(0);
    const run = await h.runtime.requests.run('job', { runId: 'r1', commandLineArgs: ['hello world'] }, 'ann');
    expect(run.pendingRequest.runId).toBe('r1');
    await expect(h.runtime.requests.run('job', {}, 'ann')).rejects.toMatchObject({ status: 429 });
    await h.tick();
    expect(h.gateway.launches).toHaveLength(1);
    expect(h.gateway.launches[0].spec.executorData.extraCmdLineArgs).toEqual(['hello world']);
    await h.report(h.launchedIds()[0], 'TASK_FINISHED');
    await h.tick();
    expect(h.activeTaskIds('job')).toHaveLength(0);
  });

  it('runs a RUN_ONCE request once per deploy and never replaces it', async () => {
    await h.registerAgent();
    await h.runtime.requests.createOrUpdate({ id: 'once', requestType: 'RUN_ONCE' });
    await h.runtime.deploys.deploy({ deploy: { requestId: 'once', id: 'o1', command: 'true' } });
    await h.tick();
    await h.tick();
    expect(h.launchedIds()).toHaveLength(1);
    await h.report(h.launchedIds()[0], 'TASK_FAILED');
    await h.tick();
    expect(h.launchedIds()).toHaveLength(1);
  });

  it('deletes a request: tasks get REQUEST_DELETING (hard kill), then the request is gone', async () => {
    const [taskId] = await runningService(h);
    await h.runtime.requests.delete('web', undefined, 'ann');
    expect(h.runtime.requests.get('web').state).toBe('DELETING');
    await h.tick();
    expect(h.gateway.kills).toEqual([{ agentId: 'agent-1', taskId, request: expect.objectContaining({ destroy: true }) }]);
    await h.report(taskId, 'TASK_KILLED');
    expect(() => h.runtime.requests.get('web')).toThrow(/Couldn't find request/);
  });

  it('keeps its state across a restart and does not launch running tasks again', async () => {
    const [taskId] = await runningService(h);
    const launchesBefore = h.gateway.launches.length;
    await h.stop();
    h = await SchedulerHarness.create({ store: h.store, clock: h.clock, gateway: h.gateway });
    await h.tick();
    expect(h.activeTaskIds('web')).toEqual([taskId]);
    expect(h.gateway.launches).toHaveLength(launchesBefore);
    expect(h.runtime.requests.get('web').requestDeployState?.activeDeploy?.deployId).toBe('d1');
  });

  it('re-sends a launch the agent never acknowledged after a restart', async () => {
    await h.registerAgent();
    await h.runtime.requests.createOrUpdate(SERVICE);
    await h.runtime.deploys.deploy(deployBody('d1'));
    h.gateway.unreachable.add('agent-1');
    await h.tick();
    expect(h.gateway.launches).toHaveLength(0);
    const [taskId] = h.activeTaskIds('web');
    h.gateway.unreachable.clear();
    await h.stop();
    h = await SchedulerHarness.create({ store: h.store, clock: h.clock, gateway: h.gateway });
    await h.tick();
    expect(h.launchedIds()).toEqual([taskId]);
    expect(h.activeTaskIds('web')).toEqual([taskId]);
  });
});
