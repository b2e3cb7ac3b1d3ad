import { createLogger } from '@singularity/node-util';
import { describeWithZooKeeper } from '@singularity/scheduler-state/testing';
import { ZooKeeperLeaderElection } from './leader-election';
import { hostStatesOf } from './leader-guard';

const logger = createLogger('leader-election-spec', {}, process.env['LOG_LEVEL'] ?? 'silent');

/** Polls until `fn` answers something other than undefined; fails after `timeoutMs`. */
async function until<T>(what: string, fn: () => T | undefined, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = fn();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describeWithZooKeeper('ZooKeeperLeaderElection (real ZooKeeper)', (zk) => {
  const elections: ZooKeeperLeaderElection[] = [];
  /**
   * Expires the election's session from outside. The client may win the session back between the
   * intruder's attach and its close (then nothing expires): try again until `expired()` says it did.
   */
  const expire = async (election: ZooKeeperLeaderElection, expired: () => boolean) => {
    const session = election.session;
    if (!session) throw new Error('no session to expire');
    for (let attempt = 1; ; attempt++) {
      await zk.server.expireSession(session).catch(() => undefined);
      const deadline = Date.now() + 3000;
      while (Date.now() < deadline && !expired()) await new Promise((r) => setTimeout(r, 20));
      if (expired()) return;
      if (attempt >= 5) throw new Error(`session ${session.id} did not expire`);
    }
  };
  afterEach(async () => {
    await Promise.all(elections.splice(0).map((e) => e.close()));
  });

  const candidate = (namespace: string, name: string, sessionTimeoutMillis = 4000) => {
    const election = new ZooKeeperLeaderElection({
      connect: zk.connect,
      namespace,
      sessionTimeoutMillis,
      connectTimeoutMillis: 5000,
      retryBaseSleepTimeMilliseconds: 100,
      retryMaxTries: 3,
      self: { url: `http://${name}:7099`, hostname: name, hostAddress: '127.0.0.1', startedAt: Date.now() },
      logger,
    });
    elections.push(election);
    return election;
  };
  const leaders = (es: ZooKeeperLeaderElection[]) => es.filter((e) => e.isLeader());

  it('elects exactly one of three candidates, and every candidate knows its URL and every instance', async () => {
    const ns = zk.freshRoot('ha');
    const [a, b, c] = ['a', 'b', 'c'].map((name) => candidate(ns, name));
    const elected: string[] = [];
    for (const e of [a, b, c]) e.on('elected', () => elected.push(e.self.hostname));
    // One after the other: the first to join has the lowest sequence number.
    await a.start();
    await b.start();
    await c.start();
    await until('a leader', () => leaders([a, b, c])[0]);
    await until('every candidate to know the leader and the three instances', () =>
      [a, b, c].every((e) => e.leaderUrl() === 'http://a:7099' && e.instances().length === 3) ? true : undefined,
    );
    expect(leaders([a, b, c]).map((e) => e.self.hostname)).toEqual(['a']);
    expect(elected).toEqual(['a']);
    const states = hostStatesOf(b, Date.now());
    expect(states.map((s) => [s.hostname, s.master])).toEqual([
      ['a', true],
      ['b', false],
      ['c', false],
    ]);
  });

  it('hands the leadership to the next candidate when the leader leaves, and everyone follows the new URL', async () => {
    const ns = zk.freshRoot('ha');
    const [a, b, c] = ['a', 'b', 'c'].map((name) => candidate(ns, name));
    for (const e of [a, b, c]) await e.start();
    await until('a to lead', () => (a.isLeader() ? true : undefined));
    const electedB = new Promise<void>((resolve) => b.on('elected', resolve));
    let cElected = false;
    c.on('elected', () => (cElected = true));

    await a.close();
    await electedB;
    await until('c to follow b', () => (c.leaderUrl() === 'http://b:7099' ? true : undefined));
    expect(leaders([b, c]).map((e) => e.self.hostname)).toEqual(['b']);
    expect(cElected).toBe(false);
    await until('the registry to forget a', () => (b.instances().length === 2 ? true : undefined));
    expect(hostStatesOf(b, Date.now()).map((s) => [s.hostname, s.master])).toEqual([
      ['b', true],
      ['c', false],
    ]);
  });

  it('reports `lost` to a leader whose session expires, and the next candidate leads', async () => {
    const ns = zk.freshRoot('ha');
    const [a, b] = ['a', 'b'].map((name) => candidate(ns, name));
    await a.start();
    await b.start();
    await until('a to lead', () => (a.isLeader() ? true : undefined));
    let lost: string | undefined;
    a.on('lost', (reason) => (lost = reason));
    const electedB = new Promise<void>((resolve) => b.on('elected', resolve));

    await expire(a, () => lost !== undefined);
    expect(lost).toMatch(/session .* expired/);
    await electedB;
    expect(a.isLeader()).toBe(false);
    await until('b to know it leads', () => (b.leaderUrl() === 'http://b:7099' ? true : undefined));
  });

  it('lets a standby whose session expired join again, behind the leader', async () => {
    const ns = zk.freshRoot('ha');
    const [a, b] = ['a', 'b'].map((name) => candidate(ns, name));
    await a.start();
    await b.start();
    await until('a to lead', () => (a.isLeader() ? true : undefined));
    const before = await until('b to have a session', () => b.session);
    let lostOnB = false;
    b.on('lost', () => (lostOnB = true));

    await expire(b, () => b.session?.id !== before.id);
    await until('b to have a new session', () => (b.session && b.session.id !== before.id ? true : undefined));
    await until('b to know the leader again', () => (b.leaderUrl() === 'http://a:7099' && b.connection() === 'connected' ? true : undefined));
    expect(lostOnB).toBe(false);
    // b is a candidate again: when a leaves, b leads.
    const electedB = new Promise<void>((resolve) => b.on('elected', resolve));
    await a.close();
    await electedB;
  });

  it('keeps the leader through a ZooKeeper outage longer than the session timeout (ZooKeeper restores sessions), reporting the connection', async () => {
    const ns = zk.freshRoot('ha');
    const a = candidate(ns, 'a', 2000);
    await a.start();
    await until('a to lead', () => (a.isLeader() ? true : undefined));
    const seen: string[] = [];
    a.on('connection', (state) => seen.push(state));
    let lost = false;
    a.on('lost', () => (lost = true));

    await zk.server.stop();
    await until('a to see the connection go', () => (seen.includes('disconnected') ? true : undefined));
    // Three session timeouts: no session expires while the server is down.
    await new Promise((r) => setTimeout(r, 6000));
    await zk.server.restart();
    await until('a to see it come back', () => (seen.at(-1) === 'connected' ? true : undefined));
    expect(a.isLeader()).toBe(true);
    expect(lost).toBe(false);
    expect(seen).toEqual(['disconnected', 'connected']);
  });

  it('sets its watches again after the outage replaced its stuck handles: the standby takes over, the registry updates', async () => {
    const ns = zk.freshRoot('ha');
    const replaced: string[] = [];
    const spyLogger = new Proxy(logger, {
      get: (target, key, receiver) =>
        key === 'warn'
          ? (obj: unknown, msg?: string) => {
              if (msg?.includes('replaced a stuck ZooKeeper handle')) replaced.push(msg);
            }
          : Reflect.get(target, key, receiver),
    });
    const make = (name: string) => {
      const e = new ZooKeeperLeaderElection({
        connect: zk.connect,
        namespace: ns,
        sessionTimeoutMillis: 2000,
        connectTimeoutMillis: 5000,
        retryBaseSleepTimeMilliseconds: 100,
        retryMaxTries: 3,
        self: { url: `http://${name}:7099`, hostname: name, hostAddress: '127.0.0.1', startedAt: Date.now() },
        logger: spyLogger,
      });
      elections.push(e);
      return e;
    };
    const a = make('a');
    await a.start();
    await until('a to lead', () => (a.isLeader() ? true : undefined));
    const b = make('b');
    await b.start();
    await until('b to know a leads', () => (b.leader()?.id === a.self.id ? true : undefined));

    await zk.server.stop();
    // Longer than a third of the session timeout: both handles get replaced (same sessions).
    await new Promise((r) => setTimeout(r, 4000));
    await zk.server.restart();
    await until('both to reconnect', () => (a.connection() === 'connected' && b.connection() === 'connected' ? true : undefined));
    expect(replaced.length).toBeGreaterThan(0);
    expect(a.isLeader()).toBe(true);

    // b's watch on a's znode was set again on the new handle: a leaving wakes it.
    const c = make('c');
    await c.start();
    await until('a to see c in the registry', () => (a.instances().some((i) => i.id === c.self.id) ? true : undefined));
    const electedB = new Promise<void>((resolve) => b.on('elected', resolve));
    await a.close();
    await electedB;
    expect(c.isLeader()).toBe(false);
  }, 40_000);
});
