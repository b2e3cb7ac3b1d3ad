import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expectMatchesSchema } from '@singularity/testing';
import { SchedulerHarness } from './scheduler.harness';

/**
 * HTTP health checks in the task lifecycle (spec §3.4, §2.3; scenarios 1, 33, 34), against a
 * real HTTP server standing in for the task: the agent's port range is that server's port, so
 * PORT0 is where the scheduler checks.
 */
describe('health checks in deploys (harness + real HTTP)', () => {
  let h: SchedulerHarness;
  let server: Server;
  let status = 200;
  let hits = 0;

  beforeEach(async () => {
    status = 200;
    hits = 0;
    server = createServer((req, res) => {
      hits++;
      res.statusCode = req.url === '/health' ? status : 404;
      res.end(`status ${res.statusCode}`);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    h = await SchedulerHarness.create();
    await h.registerAgent({ portRange: { begin: port, end: port } });
  });
  afterEach(async () => {
    await h.stop();
    await new Promise((r) => server.close(r));
  });

  const deploy = (id: string, extra: Record<string, unknown> = {}) =>
    h.runtime.deploys.deploy({
      deploy: { requestId: 'web', id, command: 'serve', resources: { cpus: 0.1, memoryMb: 32, numPorts: 1, diskMb: 0 }, healthcheck: { uri: '/health', ...extra } },
    });
  const parent = () => h.runtime.requests.get('web');

  async function startRunning(): Promise<string> {
    await h.tick();
    const taskId = h.activeTaskIds('web').find((id) => !h.runtime.tasks.history(id).taskUpdates.some((u) => u.taskState === 'TASK_RUNNING'))!;
    await h.report(taskId, 'TASK_RUNNING');
    return taskId;
  }

  it('a deploy succeeds once its task answers 2xx, and the result is in the task history', async () => {
    await h.runtime.requests.createOrUpdate({ id: 'web', requestType: 'SERVICE' });
    await deploy('d1');
    const taskId = await startRunning();
    await h.tick();
    expect(parent().requestDeployState?.activeDeploy).toBeUndefined();
    await h.advance(3000);
    await h.tick();
    expect(parent().requestDeployState?.activeDeploy?.deployId).toBe('d1');
    expect(hits).toBeGreaterThan(0);
    const [result] = h.runtime.tasks.history(taskId).healthcheckResults;
    expect(result).toMatchObject({ statusCode: 200, startup: false });
    expectMatchesSchema(result, 'SingularityTaskHealthcheckResult');
  });

  it('a deploy whose new task fails its check ends FAILED; the old deploy keeps running untouched', async () => {
    await h.runtime.requests.createOrUpdate({ id: 'web', requestType: 'SERVICE' });
    await deploy('d1');
    const oldTask = await startRunning();
    await h.advance(3000);
    await h.tick();
    expect(parent().requestDeployState?.activeDeploy?.deployId).toBe('d1');

    status = 500;
    // The old task holds agent-1's only port; a second agent with the same port takes the new one.
    await h.registerAgent({ agentId: 'agent-2', portRange: { begin: (server.address() as AddressInfo).port, end: (server.address() as AddressInfo).port } });
    await deploy('d2', { maxRetries: 2 });
    const newTask = await startRunning();
    await h.advance(3000);
    await h.tick();
    expect(parent().pendingDeployState?.deployMarker.deployId).toBe('d2');
    await h.advance(20_000);
    await h.heartbeat('agent-1');
    await h.heartbeat('agent-2');
    await h.tick();
    const result = h.runtime.ctx.state.getDeployResult('web', 'd2');
    expect(result).toMatchObject({ deployState: 'FAILED', deployFailures: [expect.objectContaining({ reason: 'TASK_FAILED_HEALTH_CHECKS' })] });
    expect(result?.message).toMatch(/health checks/);
    // maxRetries 2: unhealthy on the third bad status (scenario 33).
    expect(h.runtime.tasks.history(newTask).healthcheckResults.filter((r) => r.statusCode === 500)).toHaveLength(3);
    expect(parent().requestDeployState?.activeDeploy?.deployId).toBe('d1');
    expect(h.gateway.kills.map((k) => k.taskId)).toEqual([newTask]);
    expect(h.activeTaskIds('web')).toContain(oldTask);
  });

  it('a failureStatusCodes answer fails at once', async () => {
    await h.runtime.requests.createOrUpdate({ id: 'web', requestType: 'SERVICE' });
    status = 503;
    await deploy('d1', { maxRetries: 5, failureStatusCodes: [503] });
    const taskId = await startRunning();
    await h.advance(3000);
    await h.tick();
    expect(h.runtime.ctx.state.getDeployResult('web', 'd1')?.deployState).toBe('FAILED');
    expect(h.runtime.tasks.history(taskId).healthcheckResults).toHaveLength(1);
  });

  it('replaces a running task of the active deploy whose check fails (UNHEALTHY_NEW_TASK)', async () => {
    await h.runtime.requests.createOrUpdate({ id: 'web', requestType: 'SERVICE' });
    await deploy('d1');
    const first = await startRunning();
    await h.advance(3000);
    await h.tick();
    status = 500;
    await h.runtime.tasks.kill(first, {}, 'ann');
    await h.tick();
    await h.report(first, 'TASK_KILLED');
    const second = await startRunning();
    await h.advance(3000);
    await h.tick();
    expect(h.runtime.ctx.state.getTask(second)?.cleanup).toBeUndefined();
    expect(h.gateway.kills.map((k) => k.taskId)).toEqual([first, second]);
    expect(h.runtime.tasks.history(second).taskUpdates.find((u) => u.taskState === 'TASK_CLEANING')?.statusMessage).toMatch(/^UNHEALTHY_NEW_TASK/);
  });

  it('skips checks when the request says so', async () => {
    await h.runtime.requests.createOrUpdate({ id: 'web', requestType: 'SERVICE', skipHealthchecks: true });
    status = 500;
    await deploy('d1');
    await startRunning();
    h.clock.advance(6000);
    await h.tick();
    expect(parent().requestDeployState?.activeDeploy?.deployId).toBe('d1');
    expect(hits).toBe(0);
  });
});
