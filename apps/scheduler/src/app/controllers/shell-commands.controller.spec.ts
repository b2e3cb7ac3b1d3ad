import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AgentShellCommandRequest, AgentShellCommandStatus } from '@singularity/models';
import { createLogger } from '@singularity/node-util';
import { FakeAgentGateway } from '@singularity/scheduler-feature';
import { InMemoryStateStore } from '@singularity/scheduler-state';
import { expectMatchesSchema } from '@singularity/testing';
import { ManualClock } from '@singularity/util';
import { createSchedulerApp, type SchedulerApp } from '../create-app';
import { schedulerConfigSchema } from '../scheduler-config';

/**
 * `/tasks/task/{taskId}/command` over HTTP: the scheduler app with the real
 * HTTP agent client, against a small stand-in for the agent's
 * `/agent/tasks/{taskId}/commands` that acknowledges and later finishes.
 */
describe('shell commands over HTTP', () => {
  let s: SchedulerApp;
  let agent: Server;
  const received: Array<{ taskId: string; body: AgentShellCommandRequest }> = [];
  const statuses: AgentShellCommandStatus[] = [];

  beforeEach(async () => {
    received.length = 0;
    statuses.length = 0;
    agent = createServer((req, res) => {
      const taskId = decodeURIComponent(/^\/agent\/tasks\/([^/]+)\/commands$/.exec(req.url ?? '')?.[1] ?? '');
      let text = '';
      req.on('data', (chunk: Buffer) => (text += chunk.toString()));
      req.on('end', () => {
        res.setHeader('content-type', 'application/json');
        if (req.method === 'POST') {
          const body = JSON.parse(text) as AgentShellCommandRequest;
          received.push({ taskId, body });
          const status = { name: body.name, timestamp: body.timestamp, updates: [{ updateType: 'ACKED' as const, message: body.name, outputFilename: `${body.name}-${body.timestamp}.log`, timestamp: 1 }] };
          statuses.push(status);
          res.statusCode = 202;
          res.end(JSON.stringify(status));
        } else {
          res.end(JSON.stringify(statuses));
        }
      });
    });
    await new Promise<void>((resolve) => agent.listen(0, '127.0.0.1', resolve));
    s = await createSchedulerApp({
      config: schedulerConfigSchema.parse({ httpPort: 0, hostname: 'test-host' }),
      store: new InMemoryStateStore(),
      logger: createLogger('shell-commands-spec', {}, 'warn'),
      clock: new ManualClock(),
      gateway: new FakeAgentGateway(),
    });
  });

  afterEach(async () => {
    await s.app.close();
    await s.runtime.stop();
    await new Promise((resolve) => agent.close(resolve));
  });

  const call = async (method: 'GET' | 'POST', url: string, payload?: unknown, headers: Record<string, string> = {}) => {
    const res = await s.app.inject({ method, url: `/singularity/api${url}`, payload: payload as never, headers: payload === undefined ? headers : { 'content-type': 'application/json', ...headers } });
    return { status: res.statusCode, text: res.body, json: () => JSON.parse(res.body) };
  };

  async function runningTask(): Promise<string> {
    await s.runtime.agents.register({
      agentId: 'agent-1',
      hostname: 'agent-1',
      address: '127.0.0.1',
      port: (agent.address() as AddressInfo).port,
      rackId: 'DEFAULT',
      attributes: {},
      resources: { cpus: 4, memoryMb: 4096, diskMb: 10000 },
      portRange: { begin: 31000, end: 31999 },
      version: 'test',
      tasks: [],
    });
    await call('POST', '/requests', { id: 'web', requestType: 'WORKER' });
    await call('POST', '/deploys', { deploy: { requestId: 'web', id: 'd1', command: 'run' } });
    await s.runtime.scheduler.tick();
    const [task] = s.runtime.tasks.active();
    await s.runtime.agents.statusUpdates('agent-1', { updates: [{ seq: 1, taskId: task.taskId.id, state: 'TASK_RUNNING', timestamp: 1 }] });
    return task.taskId.id;
  }

  it('runs a command through the agent; the history and its updates have the reference shapes', async () => {
    const taskId = await runningTask();
    const posted = await call('POST', `/tasks/task/${taskId}/command`, { name: 'jstack', options: ['-l'] }, { 'x-username': 'ann' });
    expect(posted.status).toBe(200);
    const request = posted.json();
    expectMatchesSchema(request, 'SingularityTaskShellCommandRequest');
    expect(request).toMatchObject({ taskId: { id: taskId }, user: 'ann', shellCommand: { name: 'jstack', options: ['-l'] } });
    expect(received).toEqual([{ taskId, body: { name: 'jstack', options: ['-l'], timestamp: request.timestamp, user: 'ann' } }]);

    statuses[0].updates.push({ updateType: 'FINISHED', message: 'Finished with code 0', outputFilename: statuses[0].updates[0].outputFilename, timestamp: 2 });
    const history = (await call('GET', `/tasks/task/${taskId}/command`)).json();
    expect(history).toHaveLength(1);
    expectMatchesSchema(history[0], 'SingularityTaskShellCommandHistory');
    expect(history[0].shellUpdates.map((u: { updateType: string }) => u.updateType)).toEqual(['ACKED', 'FINISHED']);
    const updates = (await call('GET', `/tasks/task/${taskId}/command/jstack/${request.timestamp}`)).json();
    for (const update of updates) expectMatchesSchema(update, 'SingularityTaskShellCommandUpdate');
    expect(updates).toEqual(history[0].shellUpdates);
    expect((await call('GET', '/tasks/commands/queued')).json()).toEqual([]);
  });

  it('answers 400 with the reason for a bad body, a task that is not active and a bad timestamp', async () => {
    const taskId = await runningTask();
    const noName = await call('POST', `/tasks/task/${taskId}/command`, { options: [] });
    expect([noName.status, noName.text]).toEqual([400, expect.stringMatching(/^name: /)]);
    const inactive = await call('POST', '/tasks/task/web-d1-1-1-gone-DEFAULT/command', { name: 'lsof' });
    expect([inactive.status, inactive.text]).toEqual([400, "web-d1-1-1-gone-DEFAULT is not an active task, can't run lsof on it"]);
    const badTimestamp = await call('GET', `/tasks/task/${taskId}/command/lsof/yesterday`);
    expect([badTimestamp.status, badTimestamp.text]).toEqual([400, "commandTimestamp: must be a number of milliseconds (got 'yesterday')"]);
    expect(received).toEqual([]);
  });
});
