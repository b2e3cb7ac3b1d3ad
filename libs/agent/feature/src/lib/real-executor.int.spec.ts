import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { AGENT_HTTP, safeTaskId } from '@singularity/models';
import { eventually, tempDir, type TempDir } from '@singularity/testing';
import { aLaunchRequest, killExecutorsUnder, postJson, testLogger } from '../testing/agent-test-kit';
import { FakeScheduler } from '../testing/fake-scheduler';
import { Agent } from './agent';
import { agentConfig } from './agent-config';

jest.setTimeout(60_000);

/** The agent with the real executor (apps/executor, its default `executorCommand`) and a FakeScheduler. */
describe('agent with the real executor', () => {
  let dir: TempDir;
  let scheduler: FakeScheduler;
  let agent: Agent | undefined;

  beforeEach(async () => {
    dir = await tempDir('agent-real-executor-');
    scheduler = new FakeScheduler();
    await scheduler.start();
  });

  afterEach(async () => {
    await agent?.stop();
    agent = undefined;
    // Executors still around (they linger briefly after the task's end) are killed with their process groups.
    killExecutorsUnder(join(dir.path, 'agent'));
    await scheduler.stop();
    await dir.cleanup();
  });

  it('runs `echo hi`: TASK_RUNNING then TASK_FINISHED reach the scheduler, and the output lands in the sandbox', async () => {
    const config = agentConfig({ schedulerUrl: scheduler.url, listenHost: '127.0.0.1', httpPort: 0, dataDir: join(dir.path, 'agent'), statusPollMillis: 50 });
    agent = new Agent(config, { logger: testLogger() });
    await agent.start();
    const request = aLaunchRequest({ executorData: { cmd: 'echo hi' } });
    expect((await postJson(`http://127.0.0.1:${agent.port}${AGENT_HTTP.tasks}`, request)).status).toBe(202);

    await eventually(() => expect(scheduler.statesOf(request.spec.taskId)).toEqual(['TASK_STAGING', 'TASK_STARTING', 'TASK_RUNNING', 'TASK_FINISHED']), {
      timeoutMs: 30000,
      description: 'the task ran and finished',
    });
    expect(scheduler.updatesOf(request.spec.taskId).at(-1)).toMatchObject({ state: 'TASK_FINISHED', exitCode: 0 });
    // Once the executor has exited, the acknowledged task leaves the table.
    await eventually(async () => expect(await (await fetch(`http://127.0.0.1:${agent?.port}${AGENT_HTTP.tasks}`)).json()).toEqual([]), {
      timeoutMs: 30000,
      description: 'task dropped from the table',
    });
    // The executor's log teardown (spec slave §1.8) kept the tail and rotated service.log into logs/,
    // with its rotation configs under the agent's data directory, removed again.
    const sandbox = join(config.sandboxRoot, safeTaskId(request.spec.taskId));
    expect(readFileSync(join(sandbox, 'tail_of_finished_service.log'), 'utf8')).toBe('hi\n');
    expect(readdirSync(join(sandbox, 'logs'))).toEqual([expect.stringMatching(/^service\.log-\d+\.log\.gz$/)]);
    expect(readdirSync(join(config.dataDir, 'logrotate.d')).filter((f) => f !== 'hourly')).toEqual([]);
  });
});
