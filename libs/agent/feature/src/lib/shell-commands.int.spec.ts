import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AGENT_HTTP, safeTaskId, type AgentShellCommandStatus } from '@singularity/models';
import { eventually, tempDir, type TempDir } from '@singularity/testing';
import { aLaunchRequest, killExecutorsUnder, postJson, testLogger } from '../testing/agent-test-kit';
import { FakeScheduler } from '../testing/fake-scheduler';
import { Agent } from './agent';
import { agentConfig } from './agent-config';

jest.setTimeout(60_000);

/** Switching users needs root (or a sudoers rule); CI runs as root, so there the user test must run. */
const canSwitchUsers = process.getuid?.() === 0 || process.env.CI === 'true';

/** Shell commands through the agent's HTTP API, against tasks run by the real executor. */
describe('agent shell commands', () => {
  let dir: TempDir;
  let scheduler: FakeScheduler;
  let agent: Agent | undefined;

  beforeEach(async () => {
    dir = await tempDir('agent-shell-commands-');
    scheduler = new FakeScheduler();
    await scheduler.start();
    const executorConfigFile = join(dir.path, 'executor-operator.yaml');
    writeFileSync(
      executorConfigFile,
      JSON.stringify({
        executor: {
          shellCommands: [
            { name: 'whoami', command: ['/bin/sh', '-c', 'echo "pid=$1 user=$2 uid=$(id -u) comm=$(cat /proc/$1/comm) args=$*"', 'sh', '{PID}', '{USER}'], options: ['--all'] },
            { name: 'fail', command: ['/bin/sh', '-c', 'echo failing; exit 4'] },
            { name: 'slow', command: ['sleep', '30'], timeoutMillis: 200 },
          ],
        },
      }),
    );
    const config = agentConfig({ schedulerUrl: scheduler.url, listenHost: '127.0.0.1', httpPort: 0, dataDir: join(dir.path, 'agent'), statusPollMillis: 50, executorConfigFile });
    agent = new Agent(config, { logger: testLogger() });
    await agent.start();
  });

  afterEach(async () => {
    await agent?.stop();
    agent = undefined;
    killExecutorsUnder(join(dir.path, 'agent'));
    await scheduler.stop();
    await dir.cleanup();
  });

  const base = () => `http://127.0.0.1:${agent?.port}`;
  const commandsUrl = (taskId: string) => `${base()}${AGENT_HTTP.shellCommands(taskId)}`;
  const list = async (taskId: string) => (await (await fetch(commandsUrl(taskId))).json()) as AgentShellCommandStatus[];
  const ended = (taskId: string, name: string) =>
    eventually(
      async () => {
        const status = (await list(taskId)).find((s) => s.name === name);
        expect(status?.updates.map((u) => u.updateType).at(-1)).toMatch(/^(FINISHED|FAILED|INVALID)$/);
        return status as AgentShellCommandStatus;
      },
      { timeoutMs: 20000, description: `${name} ended` },
    );

  /** Launches `sleep 60` and waits until it runs; returns its task id, sandbox and runner pid. */
  async function runningTask(user?: string) {
    const request = aLaunchRequest({ executorData: { cmd: 'sleep 60', user } });
    expect((await postJson(`${base()}${AGENT_HTTP.tasks}`, request)).status).toBe(202);
    await eventually(() => expect(scheduler.statesOf(request.spec.taskId)).toContain('TASK_RUNNING'), { timeoutMs: 30000, description: 'task running' });
    const running = scheduler.updatesOf(request.spec.taskId).find((u) => u.state === 'TASK_RUNNING');
    const sandbox = join(agent?.config.sandboxRoot as string, safeTaskId(request.spec.taskId));
    return { taskId: request.spec.taskId, sandbox, runnerPid: Number(/\(pid: (\d+)\)/.exec(running?.message ?? '')?.[1]) };
  }

  it('runs a configured command with {PID}, {USER} and an allowed option; output in <name>-<timestamp>.log; ACKED, STARTED, FINISHED', async () => {
    const task = await runningTask();
    const posted = await postJson(commandsUrl(task.taskId), { name: 'whoami', options: ['--all'], timestamp: 1000, user: 'ann' });
    expect(posted.status).toBe(202);
    expect(posted.body).toMatchObject({ name: 'whoami', timestamp: 1000, updates: [{ updateType: 'ACKED', outputFilename: 'whoami-1000.log' }] });
    const status = await ended(task.taskId, 'whoami');
    expect(status.updates.map((u) => [u.updateType, u.message])).toEqual([
      ['ACKED', expect.stringContaining(`/bin/sh -c`)],
      ['STARTED', expect.stringMatching(/^Started as pid \d+$/)],
      ['FINISHED', 'Finished with code 0'],
    ]);
    const output = readFileSync(join(task.sandbox, 'whoami-1000.log'), 'utf8');
    expect(output).toMatch(new RegExp(`^pid=${task.runnerPid} user=\\S+ uid=${process.getuid?.()} comm=sleep args=${task.runnerPid} \\S+ --all\\n$`));
  });

  it('refuses unknown commands and options with INVALID naming what is allowed; a repeated request is not run twice', async () => {
    const task = await runningTask();
    const unknown = await postJson(commandsUrl(task.taskId), { name: 'rm-rf', timestamp: 1 });
    expect(unknown.status).toBe(200);
    expect(unknown.body).toMatchObject({ updates: [{ updateType: 'INVALID', message: 'Unknown shell command "rm-rf"; allowed: whoami, fail, slow' }] });
    const option = await postJson(commandsUrl(task.taskId), { name: 'whoami', options: ['--all', ';reboot'], timestamp: 2 });
    expect(option.body).toMatchObject({ updates: [{ updateType: 'INVALID', message: 'Option ";reboot" is not allowed for whoami; allowed: --all' }] });
    expect(readdirSync(task.sandbox).filter((f) => f.endsWith('.log') && f !== 'executor.log' && f !== 'executor.bash.log' && f !== 'service.log')).toEqual([]);

    await postJson(commandsUrl(task.taskId), { name: 'fail', timestamp: 3 });
    const again = await postJson(commandsUrl(task.taskId), { name: 'fail', timestamp: 3 });
    expect((again.body.updates as Array<{ updateType: string }>)[0].updateType).toBe('ACKED');
    await ended(task.taskId, 'fail');
    expect(readFileSync(join(task.sandbox, 'fail-3.log'), 'utf8')).toBe('failing\n');
  });

  it('reports a non-zero exit and a timeout as FAILED', async () => {
    const task = await runningTask();
    await postJson(commandsUrl(task.taskId), { name: 'fail', timestamp: 10, logfileName: 'my-output.txt' });
    await postJson(commandsUrl(task.taskId), { name: 'slow', timestamp: 11 });
    expect((await ended(task.taskId, 'fail')).updates.at(-1)).toMatchObject({ updateType: 'FAILED', message: 'Failed with code 4', outputFilename: 'my-output.txt' });
    expect((await ended(task.taskId, 'slow')).updates.at(-1)).toMatchObject({ updateType: 'FAILED', message: 'Timed out after 200ms and was killed' });
    expect(readFileSync(join(task.sandbox, 'my-output.txt'), 'utf8')).toBe('failing\n');
  });

  it('answers 404 for a task it does not run and 400 for a bad body', async () => {
    expect((await postJson(commandsUrl('no-such-task'), { name: 'whoami', timestamp: 1 })).status).toBe(404);
    const task = await runningTask();
    const bad = await postJson(commandsUrl(task.taskId), { name: 'whoami', timestamp: 1, logfileName: '../escape' });
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ message: expect.stringMatching(/^logfileName: must be a plain file name/) });
    expect((await postJson(commandsUrl(task.taskId), { timestamp: 1 })).status).toBe(400);
  });

  (canSwitchUsers ? it : it.skip)("runs as the task's user, with {PID} the task's process behind sudo", async () => {
    const task = await runningTask('nobody');
    await postJson(commandsUrl(task.taskId), { name: 'whoami', timestamp: 5 });
    expect((await ended(task.taskId, 'whoami')).updates.at(-1)).toMatchObject({ updateType: 'FINISHED' });
    const output = readFileSync(join(task.sandbox, 'whoami-5.log'), 'utf8');
    const pid = Number(/^pid=(\d+) /.exec(output)?.[1]);
    expect(output).toMatch(/ user=nobody uid=65534 comm=sleep /);
    expect(pid).not.toBe(task.runnerPid);
    expect(statSync(`/proc/${pid}`).uid).toBe(65534);
  });
});


