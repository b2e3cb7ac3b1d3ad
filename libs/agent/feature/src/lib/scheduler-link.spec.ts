import { createServer, type Server } from 'node:http';
import { freePort } from '@singularity/node-util';
import { agentConfigSchema, defaultAddress } from './agent-config';
import { HttpSchedulerLink, SchedulerCallError } from './scheduler-link';

/** A scheduler stand-in that answers every POST with `status` and `body`, counting the calls. */
async function fakeScheduler(status: number, body: string): Promise<{ url: string; calls: string[]; server: Server }> {
  const calls: string[] = [];
  const server = createServer((req, res) => {
    calls.push(req.url ?? '');
    req.resume();
    req.on('end', () => {
      res.writeHead(status, { 'content-type': status === 200 ? 'application/json' : 'text/plain' });
      res.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}/singularity`, calls, server };
}

describe('HttpSchedulerLink with several schedulers', () => {
  const servers: Server[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
  });
  const start = async (status: number, body: string) => {
    const s = await fakeScheduler(status, body);
    servers.push(s.server);
    return s;
  };
  const registration = {
    agentId: 'a1',
    hostname: 'h',
    address: '127.0.0.1',
    port: 5051,
    rackId: 'DEFAULT',
    attributes: {},
    resources: { cpus: 1, memoryMb: 1, diskMb: 1 },
    portRange: { begin: 1, end: 2 },
    version: 'test',
    tasks: [],
  };

  it('moves on past an unreachable scheduler and a 503, and sticks to the one that answered', async () => {
    const dead = `http://127.0.0.1:${await freePort()}/singularity`;
    const standby = await start(503, 'no leader elected yet; retry in a few seconds');
    const leader = await start(200, JSON.stringify({ acknowledged: [1] }));
    const link = new HttpSchedulerLink(`${dead}, ${standby.url}/,${leader.url}`, 2000);
    expect(link.baseUrl).toBe(dead);

    const answer = await link.sendStatusUpdates('a1', { updates: [] });
    expect(answer.acknowledged).toEqual([1]);
    expect(link.baseUrl).toBe(leader.url);
    expect(standby.calls).toHaveLength(1);

    await link.sendStatusUpdates('a1', { updates: [] });
    expect(leader.calls).toHaveLength(2);
    expect(standby.calls).toHaveLength(1);
  });

  it('also moves on after a 502 (a standby cut off from the leader mid-request)', async () => {
    const cut = await start(502, 'the connection to the leader broke during the request');
    const leader = await start(200, JSON.stringify({ known: true }));
    const link = new HttpSchedulerLink(`${cut.url},${leader.url}`, 2000);
    expect(await link.heartbeat('a1', { tasks: [] })).toEqual({ known: true });
    expect(link.baseUrl).toBe(leader.url);
  });

  it('fails with the last error when none answers, and starts with the next one the time after', async () => {
    const a = await start(503, 'ZooKeeper is unreachable: live state cannot be written; retry later');
    const b = await start(503, 'no leader elected yet; retry in a few seconds');
    const link = new HttpSchedulerLink(`${a.url},${b.url}`, 2000);
    const err = await link.register(registration).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SchedulerCallError);
    expect((err as SchedulerCallError).status).toBe(503);
    expect((err as SchedulerCallError).transient).toBe(true);
    expect((err as Error).message).toMatch(/no leader elected yet/);
    expect(link.baseUrl).toBe(b.url);
  });

  it('does not move on for an answer that is not about availability (400, 404)', async () => {
    const refusing = await start(400, 'agentId: required string');
    const other = await start(200, JSON.stringify({ agentId: 'a1', heartbeatIntervalMillis: 1000 }));
    const link = new HttpSchedulerLink(`${refusing.url},${other.url}`, 2000);
    await expect(link.register(registration)).rejects.toMatchObject({ status: 400 });
    expect(other.calls).toHaveLength(0);
    const notFound = await start(404, 'unknown agent');
    const link2 = new HttpSchedulerLink(`${notFound.url},${other.url}`, 2000);
    expect(await link2.heartbeat('a1', { tasks: [] })).toEqual({ known: false });
    expect(other.calls).toHaveLength(0);
  });
});

describe('agent config: schedulerUrl', () => {
  it('takes one URL, a comma-separated list or a YAML list, and keeps them as one comma-separated string', () => {
    expect(agentConfigSchema.parse({}).schedulerUrl).toBe('http://localhost:7099/singularity');
    expect(agentConfigSchema.parse({ schedulerUrl: 'http://a:1/singularity, http://b:2/singularity' }).schedulerUrl).toBe('http://a:1/singularity,http://b:2/singularity');
    expect(agentConfigSchema.parse({ schedulerUrl: ['http://a:1/singularity', 'http://b:2/singularity'] }).schedulerUrl).toBe('http://a:1/singularity,http://b:2/singularity');
    expect(agentConfigSchema.safeParse({ schedulerUrl: 'http://a:1,not a url' }).success).toBe(false);
    expect(agentConfigSchema.safeParse({ schedulerUrl: [] }).success).toBe(false);
  });

  it('derives the agent address from the first scheduler', () => {
    expect(defaultAddress('http://127.0.0.1:7099/singularity,http://10.1.2.3:7099/singularity')).toBe('127.0.0.1');
  });
});
