import { InMemoryStateStore } from '@singularity/scheduler-state';
import { createLogger } from '@singularity/node-util';
import { FakeAgentGateway } from '@singularity/scheduler-feature';
import { expectMatchesSchema } from '@singularity/testing';
import { ManualClock } from '@singularity/util';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createSchedulerApp, type SchedulerApp } from './create-app';
import { schedulerConfigSchema } from './scheduler-config';

describe('webhooks over HTTP (wiring check)', () => {
  let s: SchedulerApp;
  beforeEach(async () => {
    s = await createSchedulerApp({
      config: schedulerConfigSchema.parse({ httpPort: 0, hostname: 'test-host', maxConcurrentWebhooks: 7 }),
      store: new InMemoryStateStore(),
      logger: createLogger('api-spec', {}, 'warn'),
      clock: new ManualClock(),
      gateway: new FakeAgentGateway(),
    });
  });
  afterEach(async () => {
    await s.app.close();
    await s.runtime.stop();
  });
  const call = async (method: 'GET' | 'POST' | 'DELETE', url: string, payload?: unknown, headers: Record<string, string> = {}) => {
    const res = await s.app.inject({ method, url: `/singularity/api${url}`, payload: payload as never, headers: payload === undefined ? headers : { 'content-type': 'application/json', ...headers } });
    return { status: res.statusCode, text: res.body, type: res.headers['content-type'], json: () => JSON.parse(res.body) };
  };

  it('add/list/summary/queued/delete', async () => {
    expect(s.runtime.webhookDispatcher.settings.maxConcurrentWebhooks).toBe(7);
    const created = await call('POST', '/webhooks', { uri: 'http://h.example.com/$TASK_ID', type: 'REQUEST', id: 'x' }, { 'x-username': 'ann' });
    expect([created.status, created.text, created.type]).toEqual([200, '"CREATED"', 'application/json; charset=utf-8']);
    expect((await call('POST', '/webhooks', { uri: 'http://h.example.com/$TASK_ID', type: 'REQUEST' })).json()).toBe('EXISTED');
    const bad = await call('POST', '/webhooks', { uri: 'nope', type: 'REQUEST' });
    expect([bad.status, bad.text]).toEqual([400, "uri: must be an absolute http or https URL (got 'nope')"]);
    const badType = await call('POST', '/webhooks', { uri: 'http://h.example.com/', type: 'X' });
    expect(badType.status).toBe(400);
    const list = (await call('GET', '/webhooks')).json();
    expect(list).toMatchObject([{ id: 'REQUEST-http%3A%2F%2Fh.example.com%2F%24TASK_ID', user: 'ann' }]);
    expectMatchesSchema(list[0], 'SingularityWebhook');
    await call('POST', '/requests', { id: 'r', requestType: 'WORKER' });
    const summary = (await call('GET', '/webhooks/summary')).json();
    expect(summary).toMatchObject([{ queueSize: 1 }]);
    const id = encodeURIComponent(list[0].id);
    const queued = (await call('GET', `/webhooks/request?webhookId=${id}`)).json();
    expect(queued).toMatchObject([{ eventType: 'CREATED' }]);
    expect((await call('GET', `/webhooks/task?webhookId=${id}`)).json()).toEqual([]);
    expect((await call('GET', `/webhooks/deploy`)).status).toBe(400);
    expect((await call('GET', `/webhooks/request/${id}`)).json()).toMatchObject([{ eventType: 'CREATED' }]);
    expect((await call('DELETE', `/webhooks/${id}`)).text).toBe('"DELETED"');
    await call('POST', '/webhooks', { uri: 'http://h.example.com/$TASK_ID', type: 'REQUEST' });
    expect((await call('DELETE', `/webhooks?webhookId=${id}`)).text).toBe('"DELETED"');
    expect((await call('DELETE', `/webhooks?webhookId=${id}`)).json()).toBe('DIDNT_EXIST');
  });

  it('delivers through the runtime-owned dispatcher', async () => {
    const bodies: unknown[] = [];
    const server = createServer((req, res) => {
      let t = '';
      req.on('data', (c) => (t += c));
      req.on('end', () => {
        bodies.push({ url: req.url, body: JSON.parse(t) });
        res.end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    await call('POST', '/webhooks', { uri: `http://127.0.0.1:${port}/r/$REQUEST_ID`, type: 'REQUEST' });
    await call('POST', '/requests', { id: 'r', requestType: 'WORKER' });
    await s.runtime.webhookDispatcher.deliverOnce();
    expect(bodies).toMatchObject([{ url: '/r/r', body: { eventType: 'CREATED' } }]);
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });
});
