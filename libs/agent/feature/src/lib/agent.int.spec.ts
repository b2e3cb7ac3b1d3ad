import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AGENT_HTTP, safeTaskId, type AgentLaunchRequest, type AgentTaskReport } from '@singularity/models';
import { isProcessAlive } from '@singularity/node-util';
import { eventually, tempDir, type TempDir } from '@singularity/testing';
import {
  aLaunchRequest,
  killLaunchedExecutors,
  launchesIn,
  postJson,
  statusRecordsIn,
  testAgentConfig,
  testLogger,
} from '../testing/agent-test-kit';
import { FakeScheduler } from '../testing/fake-scheduler';
import { Agent } from './agent';
import type { AgentConfigInput } from './agent-config';

/**
 * The agent in this process against a FakeScheduler (real HTTP) and
 * FakeExecutor processes (real, detached, signalled).
 */
describe('Agent with FakeExecutor and FakeScheduler', () => {
  let dir: TempDir;
  let scheduler: FakeScheduler;
  let agents: Agent[];
  let dataDir: string;
  let launchLog: string;

  beforeEach(async () => {
    dir = await tempDir('agent-int-');
    dataDir = join(dir.path, 'agent');
    launchLog = join(dir.path, 'launches.log');
    scheduler = new FakeScheduler();
    await scheduler.start();
    agents = [];
  });

  afterEach(async () => {
    scheduler.recover();
    for (const agent of agents) await agent.stop();
    killLaunchedExecutors(launchLog);
    await scheduler.stop();
    await dir.cleanup();
  });

  const startAgent = async (overrides: AgentConfigInput = {}): Promise<Agent> => {
    const agent = new Agent(testAgentConfig(dataDir, scheduler.url, overrides), { logger: testLogger() });
    agents.push(agent);
    await agent.start();
    return agent;
  };
  const url = (agent: Agent, path: string) => `http://127.0.0.1:${agent.port}${path}`;
  const launch = (agent: Agent, request: AgentLaunchRequest) => postJson(url(agent, AGENT_HTTP.tasks), request);
  const controlDir = (taskId: string) => join(dataDir, 'executors', safeTaskId(taskId));
  const agentTasks = async (agent: Agent) => (await (await fetch(url(agent, AGENT_HTTP.tasks))).json()) as AgentTaskReport[];
  const waitForStates = (taskId: string, states: string[], description: string) =>
    eventually(() => expect(scheduler.statesOf(taskId)).toEqual(states), { timeoutMs: 15000, description });

  it('registers its resources, rack, attributes and port range, heartbeats, and keeps its agentId across a restart', async () => {
    const first = await startAgent();
    await first.whenRegistered();
    const registration = scheduler.registrations[0];
    expect(registration).toMatchObject({
      agentId: first.agentId,
      address: '127.0.0.1',
      port: first.port,
      rackId: 'rack-a',
      attributes: { zone: 'z1' },
      resources: { cpus: 4, memoryMb: 8192, diskMb: 20000 },
      portRange: { begin: 42000, end: 42999 },
      tasks: [],
    });
    expect(registration.hostname).toBeTruthy();
    expect(registration.version).toBeTruthy();
    expect(readFileSync(join(dataDir, 'agent-id'), 'utf8').trim()).toBe(first.agentId);
    await eventually(() => expect(scheduler.heartbeats.some((h) => h.agentId === first.agentId)).toBe(true), { description: 'a heartbeat' });

    await first.stop();
    const second = await startAgent();
    await second.whenRegistered();
    expect(second.agentId).toBe(first.agentId);
    expect(scheduler.registrations.map((r) => r.agentId)).toEqual([first.agentId, first.agentId]);
  });

  it('keeps retrying registration while the scheduler fails, and registers again when a heartbeat says it is unknown', async () => {
    scheduler.fail('register');
    const agent = await startAgent();
    await eventually(async () => expect((await (await fetch(url(agent, AGENT_HTTP.health))).json()) as object).toMatchObject({ ok: true, registered: false }), {
      description: 'health answers while unregistered',
    });
    scheduler.recover();
    await agent.whenRegistered();
    scheduler.forget(agent.agentId);
    await eventually(() => expect(scheduler.registrations.length).toBeGreaterThanOrEqual(2), { timeoutMs: 10000, description: 'registered again' });
  });

  it('launches idempotently: the same launch POSTed three times starts one executor', async () => {
    const agent = await startAgent();
    const request = aLaunchRequest();
    const answers = await Promise.all([launch(agent, request), launch(agent, request)]);
    answers.push(await launch(agent, request));
    expect(answers.map((a) => a.status).sort()).toEqual([200, 200, 202]);
    await waitForStates(request.spec.taskId, ['TASK_STAGING', 'TASK_STARTING', 'TASK_RUNNING'], 'task running');
    expect((await launch(agent, request)).status).toBe(200);
    expect(launchesIn(launchLog)).toEqual([{ pid: expect.any(Number), taskId: request.spec.taskId }]);

    const [report] = await agentTasks(agent);
    expect(report).toEqual({ taskId: request.spec.taskId, state: 'TASK_RUNNING', executorPid: launchesIn(launchLog)[0].pid });
    const definition = JSON.parse(readFileSync(join(controlDir(request.spec.taskId), 'task.json'), 'utf8'));
    expect(definition).toMatchObject({
      ...request.spec,
      controlDirectory: controlDir(request.spec.taskId),
      sandboxDirectory: join(dataDir, 'sandboxes', safeTaskId(request.spec.taskId)),
      statusFile: join(controlDir(request.spec.taskId), 'status.jsonl'),
      killFile: join(controlDir(request.spec.taskId), 'kill.json'),
      defaultSigKillProcessesAfterMillis: 2000,
    });
    expect(JSON.parse(readFileSync(join(controlDir(request.spec.taskId), 'executor.json'), 'utf8'))).toMatchObject({ pid: report.executorPid });
  });

  it('relays statuses in order and at least once, retrying while the scheduler answers 503', async () => {
    scheduler.fail('status-updates');
    const agent = await startAgent();
    const request = aLaunchRequest();
    expect((await launch(agent, request)).status).toBe(202);
    const statusFile = join(controlDir(request.spec.taskId), 'status.jsonl');
    await eventually(() => expect(statusRecordsIn(statusFile).map((r) => r.state)).toContain('TASK_RUNNING'), { timeoutMs: 10000, description: 'RUNNING written' });
    await eventually(() => expect(scheduler.refusedBatches.length).toBeGreaterThanOrEqual(2), { description: 'relay retried' });
    expect(scheduler.batches).toEqual([]);

    scheduler.recover();
    await waitForStates(request.spec.taskId, ['TASK_STAGING', 'TASK_STARTING', 'TASK_RUNNING'], 'all three relayed');
    // In order: the seqs the scheduler received never go backwards.
    const seqs = scheduler.updatesOf(request.spec.taskId).map((u) => u.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(scheduler.updatesOf(request.spec.taskId)[2]).toMatchObject({ taskId: request.spec.taskId, seq: 3, state: 'TASK_RUNNING', message: expect.stringContaining('sleep') });
    await eventually(() => expect(readFileSync(join(controlDir(request.spec.taskId), 'acked'), 'utf8').trim()).toBe('3'), { description: 'acks persisted' });
  });

  it('kills: writes kill.json, SIGTERMs the executor, relays TASK_KILLED and drops the finished task', async () => {
    const agent = await startAgent();
    const request = aLaunchRequest();
    await launch(agent, request);
    await waitForStates(request.spec.taskId, ['TASK_STAGING', 'TASK_STARTING', 'TASK_RUNNING'], 'task running');
    const [{ pid }] = launchesIn(launchLog);

    const kill = { message: 'scale down', user: 'tester', sigKillProcessesAfterMillis: 5000 };
    const answer = await postJson(url(agent, AGENT_HTTP.kill(request.spec.taskId)), kill);
    expect(answer.status).toBe(202);
    expect(JSON.parse(readFileSync(join(controlDir(request.spec.taskId), 'kill.json'), 'utf8'))).toEqual(kill);
    await waitForStates(request.spec.taskId, ['TASK_STAGING', 'TASK_STARTING', 'TASK_RUNNING', 'TASK_KILLED'], 'task killed');
    // The FakeExecutor puts kill.json's message into TASK_KILLED: it read the request after its SIGTERM.
    expect(scheduler.updatesOf(request.spec.taskId).at(-1)?.message).toBe('Task killed after SIGTERM: scale down');
    await eventually(() => expect(isProcessAlive(pid)).toBe(false), { description: 'executor exited' });

    await eventually(async () => expect(await agentTasks(agent)).toEqual([]), { description: 'task dropped from the table' });
    expect(existsSync(join(dataDir, 'executors-finished', safeTaskId(request.spec.taskId), 'status.jsonl'))).toBe(true);
    expect(existsSync(controlDir(request.spec.taskId))).toBe(false);

    expect((await postJson(url(agent, AGENT_HTTP.kill(request.spec.taskId)), {})).status).toBe(200);
    expect((await launch(agent, request)).status).toBe(200);
    expect(launchesIn(launchLog)).toHaveLength(1);
    const unknown = await postJson(url(agent, AGENT_HTTP.kill('nope-d1-1-1-h-r')), {});
    expect(unknown).toEqual({ status: 404, body: { message: 'Task nope-d1-1-1-h-r is not known to this agent' } });
  });

  it('records TASK_LOST for an executor that dies without a terminal status', async () => {
    const agent = await startAgent();
    const request = aLaunchRequest({ env: { FAKE_EXECUTOR_BEHAVIOUR: 'crash' } });
    await launch(agent, request);
    await waitForStates(request.spec.taskId, ['TASK_STAGING', 'TASK_STARTING', 'TASK_RUNNING', 'TASK_LOST'], 'task lost');
    expect(scheduler.updatesOf(request.spec.taskId).at(-1)).toMatchObject({ seq: 4, state: 'TASK_LOST', message: 'Executor exited unexpectedly (exit code 3)' });
    await eventually(async () => expect(await agentTasks(agent)).toEqual([]), { description: 'task dropped from the table' });
  });

  it('records TASK_LOST when the executor command cannot be started', async () => {
    const agent = await startAgent({ executorCommand: [join(dir.path, 'no-such-executor')], checkExecutorConfig: false });
    const request = aLaunchRequest();
    expect((await launch(agent, request)).status).toBe(202);
    await waitForStates(request.spec.taskId, ['TASK_STAGING', 'TASK_LOST'], 'task lost');
    expect(scheduler.updatesOf(request.spec.taskId).at(-1)?.message).toMatch(/^Executor could not be started/);
  });

  it('after a restart re-attaches running executors and records TASK_LOST for one that died while it was down', async () => {
    const first = await startAgent();
    const survivor = aLaunchRequest();
    const victim = aLaunchRequest();
    await launch(first, survivor);
    await launch(first, victim);
    await waitForStates(survivor.spec.taskId, ['TASK_STAGING', 'TASK_STARTING', 'TASK_RUNNING'], 'survivor running');
    await waitForStates(victim.spec.taskId, ['TASK_STAGING', 'TASK_STARTING', 'TASK_RUNNING'], 'victim running');
    await first.stop();

    const victimPid = launchesIn(launchLog).find((l) => l.taskId === victim.spec.taskId)?.pid as number;
    const survivorPid = launchesIn(launchLog).find((l) => l.taskId === survivor.spec.taskId)?.pid as number;
    process.kill(-victimPid, 'SIGKILL');
    await eventually(() => expect(isProcessAlive(victimPid)).toBe(false), { description: 'victim dead' });

    const second = await startAgent();
    await waitForStates(victim.spec.taskId, ['TASK_STAGING', 'TASK_STARTING', 'TASK_RUNNING', 'TASK_LOST'], 'victim lost');
    expect(scheduler.updatesOf(victim.spec.taskId).at(-1)?.message).toBe('Executor is gone');
    await second.whenRegistered();
    expect(scheduler.registrations.at(-1)?.tasks).toContainEqual({ taskId: survivor.spec.taskId, state: 'TASK_RUNNING', executorPid: survivorPid });
    expect(isProcessAlive(survivorPid)).toBe(true);

    // The re-attached executor is still under control: a kill reaches it.
    expect((await postJson(url(second, AGENT_HTTP.kill(survivor.spec.taskId)), { message: 'bye' })).status).toBe(202);
    await waitForStates(survivor.spec.taskId, ['TASK_STAGING', 'TASK_STARTING', 'TASK_RUNNING', 'TASK_KILLED'], 'survivor killed');
    expect(launchesIn(launchLog)).toHaveLength(2);
  });

  it('SIGKILLs an executor that ignores SIGTERM past the grace period and records a forced TASK_KILLED', async () => {
    const agent = await startAgent({ executorKillMarginMillis: 200 });
    const request = aLaunchRequest({ env: { FAKE_EXECUTOR_BEHAVIOUR: 'ignore-term' } });
    await launch(agent, request);
    await waitForStates(request.spec.taskId, ['TASK_STAGING', 'TASK_STARTING', 'TASK_RUNNING'], 'task running');
    expect((await postJson(url(agent, AGENT_HTTP.kill(request.spec.taskId)), { sigKillProcessesAfterMillis: 300 })).status).toBe(202);
    await waitForStates(request.spec.taskId, ['TASK_STAGING', 'TASK_STARTING', 'TASK_RUNNING', 'TASK_KILLED'], 'task killed');
    expect(scheduler.updatesOf(request.spec.taskId).at(-1)).toMatchObject({ forced: true, message: 'Task killed; its executor ended without reporting it (signal SIGKILL)' });
  });

  it('answers 400 with a message for bad bodies, and 503 to launches while stopping', async () => {
    const agent = await startAgent();
    expect(await postJson(url(agent, AGENT_HTTP.tasks), {})).toEqual({ status: 400, body: { message: 'spec: Invalid input: expected object, received undefined' } });
    const noCmd = aLaunchRequest();
    (noCmd.spec.executorData as { cmd?: string }).cmd = undefined;
    expect(await postJson(url(agent, AGENT_HTTP.tasks), noCmd)).toMatchObject({ status: 400, body: { message: expect.stringMatching(/^spec\.executorData\.cmd: /) } });
    const badJson = await fetch(url(agent, AGENT_HTTP.tasks), { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"spec":' });
    expect(badJson.status).toBe(400);
    expect(((await badJson.json()) as { message: string }).message).toMatch(/^body: not valid JSON/);
    expect(await postJson(url(agent, AGENT_HTTP.kill('x-d1-1-1-h-r')), { destroy: 'yes' })).toMatchObject({ status: 400, body: { message: expect.stringMatching(/^destroy: /) } });
    expect(launchesIn(launchLog)).toEqual([]);

    // While stopping (killTasksOnShutdown waits for its tasks; this one ignores SIGTERM), launches are refused.
    const stopping = await startAgent({ killTasksOnShutdown: true, dataDir: join(dir.path, 'agent2') });
    const running = aLaunchRequest({ env: { FAKE_EXECUTOR_BEHAVIOUR: 'ignore-term' } });
    await launch(stopping, running);
    await waitForStates(running.spec.taskId, ['TASK_STAGING', 'TASK_STARTING', 'TASK_RUNNING'], 'task running');
    const stopped = stopping.stop();
    const refused = await launch(stopping, aLaunchRequest());
    expect(refused).toEqual({ status: 503, body: { message: 'The agent is shutting down and accepts no launches' } });
    await stopped;
    expect(scheduler.statesOf(running.spec.taskId).at(-1)).toBe('TASK_KILLED');
  });
});
