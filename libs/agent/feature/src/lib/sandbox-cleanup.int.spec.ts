import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AGENT_HTTP, safeTaskId, type AgentLaunchRequest, type ExecutorData } from '@singularity/models';
import { eventually, tempDir, type TempDir } from '@singularity/testing';
import { aLaunchRequest, killLaunchedExecutors, postJson, testAgentConfig, testLogger } from '../testing/agent-test-kit';
import { FakeScheduler } from '../testing/fake-scheduler';
import { Agent } from './agent';
import type { AgentConfigInput } from './agent-config';

/**
 * Sandbox clean-up in the agent (issue 4 item 6) with FakeExecutor processes,
 * a FakeScheduler over HTTP and shortened delays: app/ goes after the end is
 * acknowledged (unless preserved), the sandbox stays browsable until the
 * retention, and an agent restart in between still cleans up.
 */
describe('Agent sandbox clean-up', () => {
  let dir: TempDir;
  let scheduler: FakeScheduler;
  let agents: Agent[];
  let dataDir: string;

  beforeEach(async () => {
    dir = await tempDir('agent-sandbox-cleanup-');
    dataDir = join(dir.path, 'agent');
    scheduler = new FakeScheduler();
    await scheduler.start();
    agents = [];
  });

  afterEach(async () => {
    scheduler.recover();
    for (const agent of agents) await agent.stop();
    killLaunchedExecutors(join(dir.path, 'launches.log'));
    await scheduler.stop();
    await dir.cleanup();
  });

  const startAgent = async (overrides: AgentConfigInput = {}): Promise<Agent> => {
    const agent = new Agent(
      testAgentConfig(dataDir, scheduler.url, {
        sandboxAppCleanupDelayMillis: 300,
        cleanupAppDirectoryOfFailedTasksAfterMillis: 600_000,
        sandboxRetentionMillis: 600_000,
        ...overrides,
      }),
      { logger: testLogger() },
    );
    agents.push(agent);
    await agent.start();
    return agent;
  };
  const sandbox = (taskId: string, ...parts: string[]) => join(dataDir, 'sandboxes', safeTaskId(taskId), ...parts);
  const finishedDir = (taskId: string) => join(dataDir, 'executors-finished', safeTaskId(taskId));

  /** Launches a task that ends by itself (or crashes) and gives its sandbox an app/ with a file. */
  const launchShortTask = async (agent: Agent, data: Partial<ExecutorData> = {}, behaviour = 'run'): Promise<AgentLaunchRequest> => {
    const request = aLaunchRequest({ env: { FAKE_EXECUTOR_BEHAVIOUR: behaviour, FAKE_EXECUTOR_SLEEP_SECONDS: '0.3' } });
    request.spec.executorData = { ...request.spec.executorData, ...data };
    const answer = await postJson(`http://127.0.0.1:${agent.port}${AGENT_HTTP.tasks}`, request);
    expect(answer.status).toBe(202);
    mkdirSync(sandbox(request.spec.taskId, 'app'), { recursive: true });
    writeFileSync(sandbox(request.spec.taskId, 'app', 'server.jar'), 'jar');
    writeFileSync(sandbox(request.spec.taskId, 'service.log'), 'output\n');
    return request;
  };
  const browse = async (agent: Agent, taskId: string) => {
    const response = await fetch(`http://127.0.0.1:${agent.port}/agent/sandbox/${encodeURIComponent(taskId)}/browse`);
    return { status: response.status, names: response.ok ? ((await response.json()) as { files: Array<{ name: string }> }).files.map((f) => f.name).sort() : [] };
  };

  it('removes app/ only after the end is acknowledged, keeps it when preserved or failed, and keeps the sandbox browsable', async () => {
    scheduler.fail('status-updates');
    const agent = await startAgent();
    const plain = await launchShortTask(agent);
    const preserved = await launchShortTask(agent, { preserveTaskSandboxAfterFinish: true });
    const failed = await launchShortTask(agent, {}, 'crash');

    // Ended, but the scheduler has acknowledged nothing: the relay keeps retrying and app/ stays.
    await eventually(() => expect(scheduler.refusedBatches.flat().filter((u) => u.state === 'TASK_FINISHED').length).toBeGreaterThanOrEqual(6), {
      timeoutMs: 15000,
      description: 'the end was reported and refused several times',
    });
    expect(existsSync(sandbox(plain.spec.taskId, 'app'))).toBe(true);

    scheduler.recover();
    await eventually(() => expect(existsSync(sandbox(plain.spec.taskId, 'app'))).toBe(false), { timeoutMs: 15000, description: "the plain task's app/ removed" });
    await eventually(() => expect(existsSync(finishedDir(preserved.spec.taskId))).toBe(true), { description: 'the preserved task finished' });
    await eventually(() => expect(existsSync(finishedDir(failed.spec.taskId))).toBe(true), { description: 'the failed task finished' });
    expect(existsSync(sandbox(preserved.spec.taskId, 'app', 'server.jar'))).toBe(true);
    expect(existsSync(sandbox(failed.spec.taskId, 'app', 'server.jar'))).toBe(true);
    expect(await browse(agent, plain.spec.taskId)).toEqual({ status: 200, names: ['service.log'] });
  });

  it('removes the whole sandbox after the retention, also when the agent restarted in between', async () => {
    const first = await startAgent({ sandboxAppCleanupDelayMillis: 1500, sandboxRetentionMillis: 3000 });
    const request = await launchShortTask(first);
    const taskId = request.spec.taskId;
    await eventually(() => expect(existsSync(finishedDir(taskId))).toBe(true), { timeoutMs: 15000, description: 'the end acknowledged' });
    await first.stop();
    expect(existsSync(sandbox(taskId, 'app'))).toBe(true);

    const second = await startAgent({ sandboxAppCleanupDelayMillis: 1500, sandboxRetentionMillis: 3000 });
    await eventually(() => expect(existsSync(sandbox(taskId, 'app'))).toBe(false), { timeoutMs: 15000, description: 'app/ removed by the restarted agent' });
    expect(await browse(second, taskId)).toEqual({ status: 200, names: ['service.log'] });
    await eventually(() => expect(existsSync(sandbox(taskId))).toBe(false), { timeoutMs: 15000, description: 'the sandbox removed after the retention' });
    expect(existsSync(finishedDir(taskId))).toBe(false);
    expect((await browse(second, taskId)).status).toBe(400);
  });
});
