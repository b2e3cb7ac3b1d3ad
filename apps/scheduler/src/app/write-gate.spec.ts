import { createLogger } from '@singularity/node-util';
import { FakeAgentGateway, ZOOKEEPER_UNREACHABLE_MESSAGE } from '@singularity/scheduler-feature';
import { InMemoryStateStore } from '@singularity/scheduler-state';
import { ManualClock } from '@singularity/util';
import { createSchedulerApp, type SchedulerApp } from './create-app';
import { schedulerConfigSchema } from './scheduler-config';

/**
 * The leader's write gate (docs/high-availability.md): while live state cannot be written (ZooKeeper
 * unreachable), every write (API and agent calls) gets a 503 that says why and touches nothing; reads go on.
 */
describe('write gate of an HA leader', () => {
  let s: SchedulerApp;
  let available: boolean;

  beforeEach(async () => {
    available = true;
    s = await createSchedulerApp({
      config: schedulerConfigSchema.parse({ httpPort: 0, hostname: 'test-host' }),
      store: new InMemoryStateStore(),
      logger: createLogger('write-gate-spec', {}, 'silent'),
      clock: new ManualClock(),
      gateway: new FakeAgentGateway(),
      ha: {
        available: () => available,
        hostStates: () => [
          { master: true, uptime: 5, driverStatus: 'DRIVER_RUNNING', hostAddress: '10.0.0.1', hostname: 'one', mesosConnected: true, availableCachedCpus: 0, availableCachedMemory: 0 },
          { master: false, uptime: 7, driverStatus: 'DRIVER_NOT_STARTED', hostAddress: '10.0.0.2', hostname: 'two', mesosConnected: false, availableCachedCpus: 0, availableCachedMemory: 0 },
        ],
      },
    });
  });
  afterEach(async () => {
    await s.app.close();
    await s.runtime.stop();
  });

  const call = (method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, payload?: unknown) =>
    s.app.inject({ method, url: `/singularity${url}`, payload: payload as never, headers: payload === undefined ? {} : { 'content-type': 'application/json' } });
  const register = () =>
    call('POST', '/internal/agents/register', {
      agentId: 'agent-1',
      hostname: 'agent-1',
      address: '127.0.0.1',
      port: 5051,
      resources: { cpus: 1, memoryMb: 128, diskMb: 100 },
      portRange: { begin: 31000, end: 31010 },
      tasks: [],
    });

  it('refuses API and agent writes with a 503 while unavailable, changing nothing; reads still answer', async () => {
    expect((await call('POST', '/api/requests', { id: 'before', requestType: 'WORKER' })).statusCode).toBe(200);
    available = false;

    const refused = await call('POST', '/api/requests', { id: 'during', requestType: 'WORKER' });
    expect(refused.statusCode).toBe(503);
    expect(refused.headers['retry-after']).toBe('5');
    expect(refused.body).toBe(ZOOKEEPER_UNREACHABLE_MESSAGE);
    for (const res of [await call('DELETE', '/api/requests/request/before'), await call('PUT', '/api/requests/request/before/scale', { instances: 3 }), await register()]) {
      expect(res.statusCode).toBe(503);
      expect(res.body).toBe(ZOOKEEPER_UNREACHABLE_MESSAGE);
    }
    expect(s.runtime.ctx.state.getRequest('during')).toBeUndefined();
    expect(s.runtime.ctx.state.getRequest('before')?.request.instances).toBeUndefined();
    expect(s.runtime.ctx.state.agents.size).toBe(0);

    const read = await call('GET', '/api/requests');
    expect(read.statusCode).toBe(200);
    expect(read.json().map((p: { request: { id: string } }) => p.request.id)).toEqual(['before']);
    expect((await call('GET', '/health')).json()).toMatchObject({ ok: true, leader: true, writable: false });

    available = true;
    expect((await call('POST', '/api/requests', { id: 'after', requestType: 'WORKER' })).statusCode).toBe(200);
    expect((await register()).statusCode).toBe(200);
    expect((await call('GET', '/health')).json()).toMatchObject({ ok: true, leader: true, writable: true });
  });

  it('lists every scheduler instance in /state hostStates', async () => {
    const state = (await call('GET', '/api/state?skipCache=true')).json();
    expect(state.hostStates.map((h: { hostname: string; master: boolean }) => [h.hostname, h.master])).toEqual([
      ['one', true],
      ['two', false],
    ]);
  });
});
