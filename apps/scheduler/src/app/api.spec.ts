import { InMemoryStateStore } from '@singularity/scheduler-state';
import { createLogger } from '@singularity/node-util';
import { FakeAgentGateway } from '@singularity/scheduler-feature';
import { expectMatchesSchema } from '@singularity/testing';
import { ManualClock } from '@singularity/util';
import { createSchedulerApp, type SchedulerApp } from './create-app';
import { schedulerConfigSchema } from './scheduler-config';

/** The HTTP layer over the real runtime (in-memory store, fake agent gateway), through Fastify's inject. */
describe('scheduler API', () => {
  let s: SchedulerApp;
  const gateway = new FakeAgentGateway();

  beforeEach(async () => {
    s = await createSchedulerApp({
      config: schedulerConfigSchema.parse({ httpPort: 0, hostname: 'test-host' }),
      store: new InMemoryStateStore(),
      logger: createLogger('api-spec', {}, 'warn'),
      clock: new ManualClock(),
      gateway,
    });
  });
  afterEach(async () => {
    await s.app.close();
    await s.runtime.stop();
  });

  const call = async (method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, payload?: unknown) => {
    const res = await s.app.inject({ method, url: `/singularity/api${url}`, payload: payload as never, headers: payload === undefined ? {} : { 'content-type': 'application/json' } });
    return { status: res.statusCode, text: res.body, json: () => JSON.parse(res.body) };
  };

  it('creates a request and answers a SingularityRequestParent', async () => {
    const res = await call('POST', '/requests', { id: 'x', owners: ['a@b.c'], requestType: 'SERVICE', instances: 2 });
    expect(res.status).toBe(200);
    const parent = res.json();
    expectMatchesSchema(parent, 'SingularityRequestParent');
    expect(parent).toMatchObject({ request: { id: 'x', requestType: 'SERVICE', instances: 2, owners: ['a@b.c'] }, state: 'ACTIVE' });
    const list = await call('GET', '/requests');
    expect(list.json().map((p: { request: { id: string } }) => p.request.id)).toEqual(['x']);
  });

  it.each([
    ['a missing id', { owners: ['a@b.c'], requestType: 'SERVICE' }, /^id: /],
    ['instances -1', { id: 'x', requestType: 'SERVICE', instances: -1 }, /^instances: /],
    ['an id with /', { id: 'a/b', requestType: 'SERVICE' }, /^id: /],
    ['an unknown requestType', { id: 'x', requestType: 'NOPE' }, /^requestType: /],
  ])('rejects %s with a 400 naming the field, and stores nothing', async (_what, body, message) => {
    const res = await call('POST', '/requests', body);
    expect(res.status).toBe(400);
    expect(res.text).toMatch(message);
    expect((await call('GET', '/requests')).json()).toEqual([]);
  });

  it('rejects malformed JSON with a 400', async () => {
    const res = await s.app.inject({ method: 'POST', url: '/singularity/api/requests', payload: '{"id":', headers: { 'content-type': 'application/json' } });
    expect(res.statusCode).toBe(400);
    expect(res.body).toMatch(/not valid JSON/);
  });

  it('answers 404 for an unknown request and 409 for a second pause', async () => {
    expect((await call('GET', '/requests/request/nope')).status).toBe(404);
    await call('POST', '/requests', { id: 'w', requestType: 'WORKER' });
    expect((await call('POST', '/requests/request/w/pause')).status).toBe(200);
    const again = await call('POST', '/requests/request/w/pause');
    expect(again.status).toBe(409);
    expect(again.text).toMatch(/already paused/);
    expect((await call('GET', '/requests/paused')).json()).toHaveLength(1);
  });

  it('refuses a second deploy while one is pending, and a reused deploy id', async () => {
    await call('POST', '/requests', { id: 'w', requestType: 'WORKER' });
    const deploy = (id: string) => ({ deploy: { requestId: 'w', id, command: 'sleep 100' } });
    expect((await call('POST', '/deploys', deploy('d1'))).status).toBe(200);
    expect((await call('POST', '/deploys', deploy('d2'))).status).toBe(409);
    expect((await call('DELETE', '/deploys/deploy/d1/request/w')).status).toBe(200);
    await s.runtime.scheduler.tick();
    const reused = await call('POST', '/deploys', deploy('d1'));
    expect(reused.status).toBe(400);
    expect(reused.text).toMatch(/^deploy\.id: /);
  });

  it('serves state, agents and scheduled tasks in the reference shapes', async () => {
    await s.runtime.agents.register({
      agentId: 'a1', hostname: 'h1', address: '127.0.0.1', port: 5051, rackId: 'r1', attributes: {},
      resources: { cpus: 4, memoryMb: 4096, diskMb: 1000 }, portRange: { begin: 31000, end: 31100 }, version: 't', tasks: [],
    });
    await call('POST', '/requests', { id: 'w', requestType: 'WORKER', instances: 2 });
    await call('POST', '/deploys', { deploy: { requestId: 'w', id: 'd1', command: 'sleep 100', resources: { cpus: 8, memoryMb: 64 } } });
    await s.runtime.scheduler.tick();
    const state = await call('GET', '/state?skipCache=true');
    expectMatchesSchema(state.json(), 'SingularityState');
    expect(state.json()).toMatchObject({ activeRequests: 1, scheduledTasks: 2, activeSlaves: 1, activeRacks: 1 });
    const agents = await call('GET', '/slaves');
    expectMatchesSchema(agents.json()[0], 'SingularitySlave');
    const scheduled = await call('GET', '/tasks/scheduled');
    expect(scheduled.json()).toHaveLength(2);
    expectMatchesSchema(scheduled.json()[0], 'SingularityTaskRequest');
  });

  it('serves the web UI and the API docs', async () => {
    const ui = await s.app.inject({ method: 'GET', url: '/singularity/ui' });
    expect(ui.statusCode).toBe(200);
    expect(ui.body).toContain('<title>Singularity</title>');
    const docs = await s.app.inject({ method: 'GET', url: '/singularity/api-docs/openapi.json' });
    expect(Object.keys(JSON.parse(docs.body).paths)).toContain('/singularity/api/requests');
  });
});
