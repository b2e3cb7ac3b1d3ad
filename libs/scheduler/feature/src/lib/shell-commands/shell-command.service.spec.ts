import type { AgentShellCommandRequest, AgentShellCommandStatus, AgentShellCommandUpdate } from '@singularity/models';
import type { AgentAddress } from '../agent-gateway';
import { SchedulerHarness } from '../scheduler.harness';
import { ShellCommandAgentError, type ShellCommandAgentClient } from './shell-command-agent-client';
import { ShellCommandService } from './shell-command.service';

/** An agent that takes every request (ACKED) unless told otherwise; tests append later updates with `progress`. */
class FakeShellCommandAgent implements ShellCommandAgentClient {
  readonly sent: Array<{ agent: AgentAddress; taskId: string; request: AgentShellCommandRequest }> = [];
  readonly statuses = new Map<string, AgentShellCommandStatus>();
  unreachable = false;
  unknownTask = false;
  allowed = ['jstack', 'lsof'];

  async send(agent: AgentAddress, taskId: string, request: AgentShellCommandRequest): Promise<AgentShellCommandStatus | 'unknown'> {
    if (this.unreachable) throw new ShellCommandAgentError('agent-1: connection refused');
    this.sent.push({ agent, taskId, request });
    if (this.unknownTask) return 'unknown';
    const update: AgentShellCommandUpdate = this.allowed.includes(request.name)
      ? { updateType: 'ACKED', message: request.name, outputFilename: `${request.name}-${request.timestamp}.log`, timestamp: request.timestamp + 1 }
      : { updateType: 'INVALID', message: `Unknown shell command "${request.name}"; allowed: ${this.allowed.join(', ')}`, timestamp: request.timestamp + 1 };
    const status = { name: request.name, timestamp: request.timestamp, updates: [update] };
    this.statuses.set(`${taskId}:${request.name}:${request.timestamp}`, status);
    return structuredClone(status);
  }

  async list(_agent: AgentAddress, taskId: string): Promise<AgentShellCommandStatus[]> {
    if (this.unreachable) throw new ShellCommandAgentError('agent-1: connection refused');
    return [...this.statuses.entries()].filter(([k]) => k.startsWith(`${taskId}:`)).map(([, s]) => structuredClone(s));
  }

  progress(taskId: string, name: string, timestamp: number, ...updates: Array<Pick<AgentShellCommandUpdate, 'updateType' | 'message'>>): void {
    const status = this.statuses.get(`${taskId}:${name}:${timestamp}`);
    if (!status) throw new Error('no such command');
    for (const u of updates) status.updates.push({ ...u, timestamp: timestamp + status.updates.length + 1 });
  }
}

describe('ShellCommandService', () => {
  let h: SchedulerHarness;
  let agent: FakeShellCommandAgent;
  let service: ShellCommandService;
  let taskId: string;

  beforeEach(async () => {
    h = await SchedulerHarness.create();
    agent = new FakeShellCommandAgent();
    service = new ShellCommandService(h.runtime.ctx, agent);
    await h.registerAgent();
    await h.runtime.requests.createOrUpdate({ id: 'web', requestType: 'WORKER' });
    await h.runtime.deploys.deploy({ deploy: { requestId: 'web', id: 'd1', command: 'run' } });
    await h.tick();
    [taskId] = h.activeTaskIds('web');
    await h.report(taskId, 'TASK_RUNNING');
  });
  afterEach(() => h.stop());

  it('records the request, hands it to the task agent and keeps its updates in the history', async () => {
    const request = await service.run(taskId, { name: 'jstack', options: ['-l'], user: 'body-user' }, 'ann');
    const timestamp = h.clock.now();
    expect(request).toEqual({ taskId: expect.objectContaining({ id: taskId }), user: 'ann', timestamp, shellCommand: { name: 'jstack', options: ['-l'], user: 'body-user' } });
    expect(agent.sent).toEqual([{ agent: expect.objectContaining({ agentId: 'agent-1', address: '127.0.0.1', port: 5051 }), taskId, request: { name: 'jstack', options: ['-l'], timestamp, user: 'ann' } }]);
    expect(service.queued()).toEqual([]);

    agent.progress(taskId, 'jstack', timestamp, { updateType: 'STARTED', message: 'Started as pid 9' }, { updateType: 'FINISHED', message: 'Finished with code 0' });
    const [history] = await service.history(taskId);
    expect(history.shellRequest).toEqual(request);
    expect(history.shellUpdates.map((u) => [u.updateType, u.message])).toEqual([
      ['ACKED', 'jstack'],
      ['STARTED', 'Started as pid 9'],
      ['FINISHED', 'Finished with code 0'],
    ]);
    expect(history.shellUpdates[0]).toMatchObject({ shellRequestId: { taskId: request.taskId, name: 'jstack', timestamp }, outputFilename: `jstack-${timestamp}.log` });
    expect(await service.updates(taskId, 'jstack', timestamp)).toEqual(history.shellUpdates);
    expect(await service.updates(taskId, 'jstack', timestamp + 1)).toEqual([]);
  });

  it('passes unknown names on; the agent answers INVALID with the allowed names', async () => {
    const request = await service.run(taskId, { name: 'rm-rf' });
    expect(await service.updates(taskId, 'rm-rf', request.timestamp)).toMatchObject([{ updateType: 'INVALID', message: 'Unknown shell command "rm-rf"; allowed: jstack, lsof' }]);
  });

  it('refuses bad bodies and tasks that are not active with a 400', async () => {
    await expect(service.run(taskId, {})).rejects.toMatchObject({ status: 400, message: expect.stringMatching(/^name: /) });
    await expect(service.run(taskId, { name: 'lsof', options: 'x' })).rejects.toMatchObject({ status: 400, message: expect.stringMatching(/^options: /) });
    await expect(service.run(taskId, { name: 'lsof', logfileName: '../../etc/passwd' })).rejects.toMatchObject({ status: 400, message: expect.stringMatching(/^logfileName: /) });
    await expect(service.run('web-d1-1-1-nohost-DEFAULT', { name: 'lsof' })).rejects.toMatchObject({
      status: 400,
      message: "web-d1-1-1-nohost-DEFAULT is not an active task, can't run lsof on it",
    });
    expect(agent.sent).toEqual([]);
  });

  it('keeps a request queued while the agent cannot be reached and sends it on the next read', async () => {
    agent.unreachable = true;
    const request = await service.run(taskId, { name: 'lsof' });
    expect(service.queued()).toEqual([request]);
    expect(await service.history(taskId)).toEqual([{ shellRequest: request, shellUpdates: [] }]);
    agent.unreachable = false;
    const [history] = await service.history(taskId);
    expect(history.shellUpdates.map((u) => u.updateType)).toEqual(['ACKED']);
    expect(service.queued()).toEqual([]);
    expect(agent.sent).toHaveLength(1);
  });

  it('records INVALID when the agent does not run the task', async () => {
    agent.unknownTask = true;
    const request = await service.run(taskId, { name: 'lsof' });
    expect(await service.updates(taskId, 'lsof', request.timestamp)).toMatchObject([{ updateType: 'INVALID', message: `Task ${taskId} is not running on its agent` }]);
    expect(service.queued()).toEqual([]);
  });

  it('gives two requests of one command in the same millisecond their own timestamps', async () => {
    const first = await service.run(taskId, { name: 'lsof' });
    const second = await service.run(taskId, { name: 'lsof' });
    expect(second.timestamp).toBe(first.timestamp + 1);
    expect((await service.history(taskId)).map((c) => c.shellRequest.timestamp)).toEqual([first.timestamp, second.timestamp]);
  });

  it('keeps the history in live state across a restart of the scheduler', async () => {
    const request = await service.run(taskId, { name: 'lsof' });
    await h.stop();
    h = await SchedulerHarness.create({ store: h.store, clock: h.clock, gateway: h.gateway });
    service = new ShellCommandService(h.runtime.ctx, agent);
    expect((await service.history(taskId)).map((c) => [c.shellRequest, c.shellUpdates.map((u) => u.updateType)])).toEqual([[request, ['ACKED']]]);
  });
});
