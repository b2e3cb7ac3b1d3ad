import { join } from 'node:path';
import { AGENT_HTTP } from '@singularity/models';
import { isProcessAlive } from '@singularity/node-util';
import { eventually, freePort, spawnTs, tempDir, waitForHttp, type SpawnedProcess, type TempDir } from '@singularity/testing';
import { aLaunchRequest, fakeExecutorCommand, killLaunchedExecutors, launchesIn, postJson } from '../testing/agent-test-kit';
import { FakeScheduler } from '../testing/fake-scheduler';

jest.setTimeout(90_000);

/**
 * The agent as a real process (apps/agent/src/main.ts), configured through
 * SINGULARITY_AGENT_* variables, so `kill -9` and SIGTERM are the real thing.
 */
describe('agent process', () => {
  let dir: TempDir;
  let scheduler: FakeScheduler;
  let launchLog: string;
  let port: number;
  const processes: SpawnedProcess[] = [];

  beforeEach(async () => {
    dir = await tempDir('agent-proc-');
    launchLog = join(dir.path, 'launches.log');
    scheduler = new FakeScheduler();
    await scheduler.start();
    port = await freePort();
  });

  afterEach(async () => {
    scheduler.recover();
    for (const p of processes.splice(0)) await p.stop('SIGKILL');
    killLaunchedExecutors(launchLog);
    await scheduler.stop();
    await dir.cleanup();
  });

  const startAgent = async (env: Record<string, string> = {}): Promise<SpawnedProcess> => {
    const agent = spawnTs('apps/agent/src/main.ts', [], {
      env: {
        LOG_LEVEL: 'info',
        LOG_FILE: undefined,
        SINGULARITY_AGENT_SCHEDULER_URL: scheduler.url,
        SINGULARITY_AGENT_LISTEN_HOST: '127.0.0.1',
        SINGULARITY_AGENT_HTTP_PORT: String(port),
        SINGULARITY_AGENT_DATA_DIR: join(dir.path, 'agent'),
        SINGULARITY_AGENT_EXECUTOR_COMMAND: JSON.stringify(fakeExecutorCommand(launchLog)),
        SINGULARITY_AGENT_STATUS_POLL_MILLIS: '50',
        SINGULARITY_AGENT_STATUS_RETRY_MILLIS: '100',
        SINGULARITY_AGENT_REGISTER_RETRY_MILLIS: '100',
        SINGULARITY_AGENT_MAX_RETRY_MILLIS: '500',
        SINGULARITY_AGENT_EXECUTOR_CHECK_MILLIS: '100',
        SINGULARITY_AGENT_DEFAULT_SIG_KILL_PROCESSES_AFTER_MILLIS: '3000',
        ...env,
      },
    });
    processes.push(agent);
    await waitForHttp(`http://127.0.0.1:${port}${AGENT_HTTP.health}`, { timeoutMs: 30000 });
    return agent;
  };
  const launchUrl = () => `http://127.0.0.1:${port}${AGENT_HTTP.tasks}`;
  const running = ['TASK_STAGING', 'TASK_STARTING', 'TASK_RUNNING'];

  it('survives kill -9: the executor keeps running, nothing is launched twice, unacknowledged statuses still arrive', async () => {
    const first = await startAgent();
    await eventually(() => expect(scheduler.registrations).toHaveLength(1), { timeoutMs: 10000, description: 'registered' });
    const agentId = scheduler.registrations[0].agentId;
    await first.waitForOutput(new RegExp(`agent ${agentId} listening on 127.0.0.1:${port}.*data in .*scheduler at ${scheduler.url.replace(/[.]/g, '\\.')}`));

    scheduler.fail('status-updates');
    const request = aLaunchRequest();
    expect((await postJson(launchUrl(), request)).status).toBe(202);
    await eventually(() => expect(scheduler.refusedBatches.flat().map((u) => u.state)).toContain('TASK_RUNNING'), { timeoutMs: 15000, description: 'RUNNING refused' });
    await first.waitForOutput(/scheduler unreachable at .*; \d+ updates waiting; retrying in/);
    const [{ pid }] = launchesIn(launchLog);

    await first.stop('SIGKILL');
    expect(isProcessAlive(pid)).toBe(true);

    await startAgent();
    await eventually(() => expect(scheduler.registrations).toHaveLength(2), { timeoutMs: 10000, description: 'registered again' });
    expect(scheduler.registrations[1]).toMatchObject({ agentId, tasks: [{ taskId: request.spec.taskId, state: 'TASK_RUNNING', executorPid: pid }] });
    expect((await postJson(launchUrl(), request)).status).toBe(200);

    scheduler.recover();
    await eventually(() => expect(scheduler.statesOf(request.spec.taskId)).toEqual(running), { timeoutMs: 15000, description: 'statuses relayed' });
    expect(isProcessAlive(pid)).toBe(true);
    expect(launchesIn(launchLog)).toHaveLength(1);
  });

  it('with killTasksOnShutdown, SIGTERM kills every executor, relays their ends and exits 0', async () => {
    const agent = await startAgent({ SINGULARITY_AGENT_KILL_TASKS_ON_SHUTDOWN: 'true' });
    const requests = [aLaunchRequest(), aLaunchRequest()];
    for (const r of requests) expect((await postJson(launchUrl(), r)).status).toBe(202);
    for (const r of requests) {
      await eventually(() => expect(scheduler.statesOf(r.spec.taskId)).toEqual(running), { timeoutMs: 15000, description: `${r.spec.taskId} running` });
    }
    const pids = launchesIn(launchLog).map((l) => l.pid);
    expect(pids).toHaveLength(2);

    process.kill(agent.pid, 'SIGTERM');
    expect(await agent.exited).toEqual({ code: 0, signal: null });
    for (const pid of pids) expect(isProcessAlive(pid)).toBe(false);
    for (const r of requests) {
      expect(scheduler.statesOf(r.spec.taskId)).toEqual([...running, 'TASK_KILLED']);
      expect(scheduler.updatesOf(r.spec.taskId).at(-1)?.message).toBe('Task killed after SIGTERM: The agent is shutting down');
    }
  });

  it('refuses to start with a bad configuration value, naming the key', async () => {
    const agent = spawnTs('apps/agent/src/main.ts', [], { env: { SINGULARITY_AGENT_PORT_RANGE: '32000-31000', SINGULARITY_AGENT_DATA_DIR: join(dir.path, 'agent') } });
    processes.push(agent);
    expect(await agent.exited).toEqual({ code: 1, signal: null });
    expect(agent.stderr()).toMatch(/agent failed to start: invalid configuration key 'portRange'/);
  });
});
