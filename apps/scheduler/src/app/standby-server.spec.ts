import { createServer } from 'node:http';
import { createLogger } from '@singularity/node-util';
import { FakeAgentGateway, ZOOKEEPER_UNREACHABLE_MESSAGE, type SchedulerInstance } from '@singularity/scheduler-feature';
import { InMemoryStateStore } from '@singularity/scheduler-state';
import { createSchedulerApp, type SchedulerApp } from './create-app';
import { schedulerConfigSchema } from './scheduler-config';
import { NO_LEADER_MESSAGE, startStandbyServer, type StandbyServer } from './standby-server';

const logger = createLogger('standby-spec', {}, process.env['LOG_LEVEL'] ?? 'silent');
const instance = (id: string, url: string): SchedulerInstance => ({ id, url, hostname: id, hostAddress: '127.0.0.1', startedAt: Date.now() });

/** A leader's app on a real port, with the HA write gate switchable by the test. */
async function startLeader(): Promise<{ app: SchedulerApp; url: string; writable: { value: boolean } }> {
  const writable = { value: true };
  const app = await createSchedulerApp({
    config: schedulerConfigSchema.parse({ httpPort: 0, hostname: 'leader-host' }),
    store: new InMemoryStateStore(),
    logger,
    gateway: new FakeAgentGateway(),
    ha: {
      available: () => writable.value,
      hostStates: () => [
        { master: true, uptime: 1, driverStatus: 'DRIVER_RUNNING', hostAddress: '127.0.0.1', hostname: 'leader-host', mesosConnected: true, availableCachedCpus: 0, availableCachedMemory: 0 },
        { master: false, uptime: 1, driverStatus: 'DRIVER_NOT_STARTED', hostAddress: '127.0.0.1', hostname: 'standby-host', mesosConnected: false, availableCachedCpus: 0, availableCachedMemory: 0 },
      ],
    },
  });
  await app.app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.app.getHttpServer().address() as { port: number };
  return { app, url: `http://127.0.0.1:${address.port}`, writable };
}

describe('standby server', () => {
  let leader: Awaited<ReturnType<typeof startLeader>>;
  let standby: StandbyServer;
  let known: SchedulerInstance | undefined;
  const self = instance('standby-1', 'http://127.0.0.1:1');

  beforeEach(async () => {
    leader = await startLeader();
    known = instance('leader-1', leader.url);
    standby = await startStandbyServer({ host: '127.0.0.1', port: 0, logger, leader: () => known, self: () => self, connectTimeoutMillis: 2000 });
  });
  afterEach(async () => {
    await standby.close();
    await leader.app.app.close();
    await leader.app.runtime.stop();
  });

  const viaStandby = (path: string, init?: RequestInit) => fetch(`http://127.0.0.1:${standby.port}/singularity${path}`, init);
  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    viaStandby(path, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });

  it('forwards a write to the leader, where it lands, and streams the answer back', async () => {
    const res = await post('/api/requests', { id: 'via-standby', owners: ['a@b.c'], requestType: 'WORKER', instances: 2 }, { 'x-username': 'someone' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/application\/json/);
    expect(((await res.json()) as { request: { id: string } }).request.id).toBe('via-standby');
    expect(leader.app.runtime.ctx.state.getRequest('via-standby')?.request.instances).toBe(2);
    // The history event carries the user: headers went through.
    const history = (await (await viaStandby('/api/history/request/via-standby/requests')).json()) as Array<{ user?: string }>;
    expect(history[0]?.user).toBe('someone');
  });

  it("passes the leader's error status and text through, and the query string with it", async () => {
    const bad = await post('/api/requests', { id: 'a/b', requestType: 'SERVICE' });
    expect(bad.status).toBe(400);
    expect(await bad.text()).toMatch(/^id: /);
    const state = await viaStandby('/api/state?skipCache=true');
    expect(state.status).toBe(200);
    const hostStates = ((await state.json()) as { hostStates: Array<{ hostname: string; master: boolean }> }).hostStates;
    expect(hostStates.map((h) => [h.hostname, h.master])).toEqual([
      ['leader-host', true],
      ['standby-host', false],
    ]);
  });

  it("forwards the agents' internal calls", async () => {
    const res = await post('/internal/agents/register', {
      agentId: 'agent-1',
      hostname: 'agent-1',
      address: '127.0.0.1',
      port: 5051,
      resources: { cpus: 1, memoryMb: 128, diskMb: 100 },
      portRange: { begin: 31000, end: 31010 },
      tasks: [],
    });
    expect(res.status).toBe(200);
    expect(leader.app.runtime.ctx.state.agents.has('agent-1')).toBe(true);
  });

  it("passes the leader's 503 on while ZooKeeper is unreachable there", async () => {
    leader.writable.value = false;
    const res = await post('/api/requests', { id: 'refused', requestType: 'WORKER' });
    expect(res.status).toBe(503);
    expect(await res.text()).toBe(ZOOKEEPER_UNREACHABLE_MESSAGE);
    expect(leader.app.runtime.ctx.state.getRequest('refused')).toBeUndefined();
  });

  it('answers its own health: not the leader, and who is', async () => {
    const res = await viaStandby('/health');
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ ok: true, leader: false, leaderUrl: leader.url, leaderHostname: 'leader-1' });
  });

  it('answers 503 with a clear text when no leader is known, and when the leader is unreachable', async () => {
    known = undefined;
    const none = await post('/api/requests', { id: 'x', requestType: 'WORKER' });
    expect(none.status).toBe(503);
    expect(none.headers.get('retry-after')).toBe('5');
    expect(await none.text()).toBe(NO_LEADER_MESSAGE);
    expect((await (await viaStandby('/health')).json()) as object).toMatchObject({ leader: false, leaderUrl: null, message: NO_LEADER_MESSAGE });

    // A leader that died: its URL refuses connections.
    known = instance('leader-1', leader.url);
    await leader.app.app.close();
    const dead = await post('/api/requests', { id: 'x', requestType: 'WORKER' });
    expect(dead.status).toBe(503);
    expect(await dead.text()).toMatch(new RegExp(`^the leader at ${leader.url} is unreachable \\(ECONNREFUSED\\); retry in a few seconds$`));
  });

  it('never forwards a request twice, nor to itself while it takes over', async () => {
    const twice = await post('/api/requests', { id: 'x', requestType: 'WORKER' }, { 'x-singularity-forwarded-by': 'standby-2' });
    expect(twice.status).toBe(503);
    known = self;
    const self503 = await post('/api/requests', { id: 'x', requestType: 'WORKER' });
    expect(self503.status).toBe(503);
    expect(await self503.text()).toMatch(/just elected leader/);
    expect(leader.app.runtime.ctx.state.getRequest('x')).toBeUndefined();
  });

  it('cuts an exchange still waiting for a previous leader when the leader changes (502), so the client retries at once', async () => {
    // A "leader" that accepts connections and never answers (frozen, or dead without closing its socket).
    const frozen = createServer(() => undefined);
    await new Promise<void>((resolve) => frozen.listen(0, '127.0.0.1', resolve));
    const listeners: Array<() => void> = [];
    const other = await startStandbyServer({
      host: '127.0.0.1',
      port: 0,
      logger,
      leader: () => known,
      self: () => self,
      onLeaderChange: (listener) => listeners.push(listener),
    });
    try {
      known = instance('frozen-leader', `http://127.0.0.1:${(frozen.address() as { port: number }).port}`);
      const pending = fetch(`http://127.0.0.1:${other.port}/singularity/internal/agents/a1/heartbeat`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"tasks":[]}' });
      await new Promise((r) => setTimeout(r, 200));
      known = instance('leader-1', leader.url);
      for (const listener of listeners) listener();
      const res = await pending;
      expect(res.status).toBe(502);
      expect(await res.text()).toMatch(/broke during the request \(the leader changed meanwhile\)/);
      // The next one goes to the new leader.
      expect((await fetch(`http://127.0.0.1:${other.port}/singularity/health`)).status).toBe(200);
      expect((await fetch(`http://127.0.0.1:${other.port}/singularity/api/requests`)).status).toBe(200);
    } finally {
      await other.close();
      frozen.closeAllConnections();
      await new Promise((resolve) => frozen.close(resolve));
    }
  });

  it('answers 404 outside the context path', async () => {
    expect((await fetch(`http://127.0.0.1:${standby.port}/other`)).status).toBe(404);
  });
});
