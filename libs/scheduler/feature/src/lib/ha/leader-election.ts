import { randomBytes } from 'node:crypto';
import type { Logger } from '@singularity/node-util';
import { ZooKeeperError, ZK } from '@singularity/scheduler-state';
import { ZooKeeperSession, type SessionState } from './zookeeper-session';

/**
 * What one scheduler process tells the others about itself: the data of its
 * election znode and of its host-registry entry (spec §3.6 "Leader").
 */
export interface SchedulerInstance {
  /** Unique per process (host, port and a random part: a restarted process is a new instance). */
  id: string;
  /** Base URL others forward to, `http://<advertisedHost>:<port>` (no context path). */
  url: string;
  hostname: string;
  hostAddress: string;
  startedAt: number;
}

/** Connection of the election's own ZooKeeper session, as the leader guard needs it. */
export type ElectionConnection = 'connected' | 'disconnected';

/** What the rest of the scheduler sees of the election. */
export interface LeaderElection {
  readonly self: SchedulerInstance;
  /** Whether this instance holds the leadership now. */
  isLeader(): boolean;
  /** The current leader as last seen (kept while ZooKeeper is unreachable), or undefined before one is known. */
  leader(): SchedulerInstance | undefined;
  /** The leader's base URL, or undefined. */
  leaderUrl(): string | undefined;
  /** Every live instance (the host registry), the leader included. */
  instances(): SchedulerInstance[];
  /** Whether the election's session is connected now. */
  connection(): ElectionConnection;
  /**
   * One round trip to ZooKeeper that proves this instance is still a candidate with a live session (its
   * znode is there). Rejects otherwise. The guard uses it after the process stood still for a while.
   */
  confirm(): Promise<void>;
  on<E extends keyof LeaderElectionEvents>(event: E, listener: LeaderElectionEvents[E]): () => void;
}

export interface LeaderElectionEvents {
  /** This instance leads from now on. */
  elected: () => void;
  /** This instance led and does not any more (session expired, or its znode is gone). Emitted once. */
  lost: (reason: string) => void;
  /** Another instance became (or stopped being) the known leader. */
  leaderChanged: (leader: SchedulerInstance | undefined) => void;
  /** The election's session lost or regained its connection (within the session). */
  connection: (state: ElectionConnection) => void;
}

export interface ZooKeeperLeaderElectionOptions {
  /** ZooKeeper connect string (`zookeeper.quorum`). */
  connect: string;
  /** `zookeeper.zkNamespace`; `/singularity` by default. Election under `<ns>/leader`, registry under `<ns>/hosts`. */
  namespace: string;
  sessionTimeoutMillis: number;
  /** How long one attempt to connect waits before it is logged and retried. */
  connectTimeoutMillis: number;
  /** Back-off of calls that failed because the connection broke: base, doubled per try, up to `retryMaxTries` tries. */
  retryBaseSleepTimeMilliseconds: number;
  retryMaxTries: number;
  self: Omit<SchedulerInstance, 'id'> & { id?: string };
  logger: Logger;
}

const SEQUENCE = /(\d{10})$/;

/** A process-unique instance id: `<hostname>-<port>-<random>` (znode-name safe). */
export function instanceId(hostname: string, port: number): string {
  return `${hostname.replace(/[^A-Za-z0-9.-]/g, '_')}-${port}-${randomBytes(4).toString('hex')}`;
}

/**
 * Leader election with ZooKeeper's recipe (spec §3.6): each candidate creates
 * an ephemeral-sequential znode `<ns>/leader/<id>_<seq>` holding its
 * {@link SchedulerInstance}; the lowest sequence leads; every other candidate
 * watches its predecessor (and the leader's znode, to know whom to forward
 * to), so only a deletion near it wakes it. Each instance also registers an
 * ephemeral `<ns>/hosts/<id>`, from which the leader's `/state` lists
 * `hostStates`.
 *
 * Leadership ends with the session: when it expires (or the znode is deleted
 * by someone else) a leader hears `lost` and must stop acting at once; the
 * scheduler exits and its supervisor restarts it as a standby. A standby whose
 * session expires simply joins again with a new session. While the session is
 * merely disconnected nothing is decided here: the leader pauses (see
 * LeaderGuard), and the server decides expiry.
 */
export class ZooKeeperLeaderElection implements LeaderElection {
  readonly self: SchedulerInstance;
  private readonly leaderPath: string;
  private readonly hostsPath: string;
  private currentSession: ZooKeeperSession | undefined;
  /** Our candidate znode's name (child of `leaderPath`) in the current session. */
  private ownNode: string | undefined;
  private leading = false;
  private lostReported = false;
  private known: SchedulerInstance | undefined;
  private hosts = new Map<string, SchedulerInstance>();
  private hostsGeneration = 0;
  /** Paths with a watch set in the current session (a fired watch is removed). */
  private readonly watching = new Set<string>();
  private checking: Promise<void> | undefined;
  private recheck = false;
  private closed = false;
  private started = false;
  private readonly listeners: { [E in keyof LeaderElectionEvents]: Set<LeaderElectionEvents[E]> } = {
    elected: new Set(),
    lost: new Set(),
    leaderChanged: new Set(),
    connection: new Set(),
  };

  constructor(private readonly options: ZooKeeperLeaderElectionOptions) {
    const ns = normalizeNamespace(options.namespace);
    this.leaderPath = `${ns === '/' ? '' : ns}/leader`;
    this.hostsPath = `${ns === '/' ? '' : ns}/hosts`;
    const url = new URL(options.self.url);
    this.self = { ...options.self, id: options.self.id ?? instanceId(options.self.hostname, Number(url.port) || 80) };
  }

  isLeader(): boolean {
    return this.leading;
  }

  leader(): SchedulerInstance | undefined {
    return this.known;
  }

  leaderUrl(): string | undefined {
    return this.known?.url;
  }

  instances(): SchedulerInstance[] {
    const all = new Map(this.hosts);
    // Our own entry even before the registry answered, and the leader's even if its entry is missing.
    all.set(this.self.id, this.self);
    if (this.known && !all.has(this.known.id)) all.set(this.known.id, this.known);
    return [...all.values()].sort((a, b) => a.startedAt - b.startedAt || a.id.localeCompare(b.id));
  }

  connection(): ElectionConnection {
    return this.currentSession?.state === 'connected' ? 'connected' : 'disconnected';
  }

  async confirm(): Promise<void> {
    const session = this.currentSession;
    const node = this.ownNode;
    if (!session || !node || session.state !== 'connected') throw new Error('the leader election has no connected session');
    if (!(await session.get(`${this.leaderPath}/${node}`))) throw new Error(`the election znode ${this.leaderPath}/${node} is gone`);
    if (this.currentSession !== session || this.ownNode !== node) throw new Error('the election session changed meanwhile');
  }

  /** The election session's id and password while it lives (logs; tests expire it from outside). */
  get session(): { id: string; password: string } | undefined {
    return this.currentSession?.credentials;
  }

  on<E extends keyof LeaderElectionEvents>(event: E, listener: LeaderElectionEvents[E]): () => void {
    const set = this.listeners[event] as Set<LeaderElectionEvents[E]>;
    set.add(listener);
    return () => set.delete(listener);
  }

  /**
   * Connects and joins the election. Resolves once this instance is a candidate; keeps trying (logging
   * each failed attempt) while ZooKeeper cannot be reached, so a standby started before ZooKeeper joins
   * when it comes up.
   */
  async start(): Promise<void> {
    if (this.started) throw new Error('the leader election is already started');
    this.started = true;
    await this.joinUntilDone('cannot join the leader election yet; retrying');
  }

  private async joinUntilDone(message: string): Promise<void> {
    for (let attempt = 1; !this.closed; attempt++) {
      try {
        await this.join();
        return;
      } catch (err) {
        if (this.closed) return;
        const delay = Math.min(this.options.retryBaseSleepTimeMilliseconds * 2 ** Math.min(attempt - 1, 5), 30_000);
        this.options.logger.warn({ err: (err as Error).message, zookeeper: this.options.connect, attempt, retryInMs: delay }, message);
        await sleep(delay);
      }
    }
  }

  /** Leaves the election: the session is closed, so the next candidate leads at once. */
  async close(): Promise<void> {
    this.closed = true;
    const session = this.currentSession;
    this.currentSession = undefined;
    this.leading = false;
    session?.close();
    await this.checking?.catch(() => undefined);
  }

  // ---- joining ----

  private newSession(): ZooKeeperSession {
    this.watching.clear();
    this.ownNode = undefined;
    const session: ZooKeeperSession = new ZooKeeperSession({
      connect: this.options.connect,
      sessionTimeoutMillis: this.options.sessionTimeoutMillis,
      onStateChange: (state) => this.onSessionState(session, state),
      onHandleReplaced: (info) => {
        if (this.currentSession !== session) return;
        // The watches went with the old handle (our znodes did not: same session). The next `connected`
        // runs the check and reads the registry again, which sets them anew.
        this.watching.clear();
        this.options.logger.warn({ ...info, instance: this.self.id }, 'leader election: replaced a stuck ZooKeeper handle (same session)');
      },
    });
    this.currentSession = session;
    return session;
  }

  private async join(): Promise<void> {
    if (!this.currentSession || this.currentSession.state === 'expired' || this.currentSession.state === 'closed') this.newSession();
    const session = this.currentSession as ZooKeeperSession;
    try {
      await session.waitConnected(this.options.connectTimeoutMillis);
    } catch (err) {
      // A fresh session next attempt: the C client keeps a failed one trying forever otherwise.
      if (this.currentSession === session) {
        this.currentSession = undefined;
        session.close();
      }
      throw err;
    }
    this.options.logger.info(
      { zookeeper: this.options.connect, session: session.id, timeoutMs: session.negotiatedTimeoutMillis, instance: this.self.id },
      'leader election: connected to ZooKeeper',
    );
    const data = Buffer.from(JSON.stringify(this.self), 'utf8');
    await this.retrying('prepare the election znodes', async () => {
      await session.ensurePath(this.leaderPath);
      await session.ensurePath(this.hostsPath);
    });
    await this.retrying('register in the host registry', async () => {
      try {
        await session.create(`${this.hostsPath}/${this.self.id}`, data, 'ephemeral');
      } catch (err) {
        // Ours already (a create whose answer was lost to a connection break).
        if (!(err instanceof ZooKeeperError && err.code === ZK.NODEEXISTS)) throw err;
      }
    });
    await this.retrying('become a candidate', async () => {
      const mine = (await session.children(this.leaderPath)).find((name) => name.startsWith(`${this.self.id}_`));
      if (mine) this.ownNode = mine;
      else this.ownNode = basename(await session.create(`${this.leaderPath}/${this.self.id}_`, data, 'ephemeral-sequential'));
    });
    this.options.logger.info({ node: `${this.leaderPath}/${this.ownNode}`, instance: this.self.id, url: this.self.url }, 'leader election: candidate');
    void this.refreshHosts();
    await this.check();
  }

  /** Retries `fn` after connection losses (the session itself survives them), with exponential back-off. */
  private async retrying(what: string, fn: () => Promise<void>): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        const transient = err instanceof ZooKeeperError && err.isConnectionLoss;
        if (!transient || attempt >= this.options.retryMaxTries || this.closed) throw new Error(`could not ${what}: ${(err as Error).message}`, { cause: err });
        await sleep(this.options.retryBaseSleepTimeMilliseconds * 2 ** (attempt - 1));
      }
    }
  }

  // ---- the election proper ----

  /** Re-reads the candidates and decides; concurrent calls coalesce into one follow-up. */
  private check(): Promise<void> {
    if (this.checking) {
      this.recheck = true;
      return this.checking;
    }
    this.checking = this.runCheck()
      .catch((err) => this.onCheckFailed(err))
      .finally(() => {
        this.checking = undefined;
        if (this.recheck && !this.closed) {
          this.recheck = false;
          void this.check();
        }
      });
    return this.checking;
  }

  private async runCheck(): Promise<void> {
    const session = this.currentSession;
    if (!session || this.closed || session.state !== 'connected' || !this.ownNode) return;
    const candidates = (await session.children(this.leaderPath)).filter((name) => SEQUENCE.test(name)).sort((a, b) => sequenceOf(a) - sequenceOf(b));
    const index = candidates.indexOf(this.ownNode);
    if (index < 0) {
      // Our znode is gone while the session lives: someone deleted it.
      if (this.leading) return this.loseLeadership(`its election znode ${this.leaderPath}/${this.ownNode} was deleted`);
      this.options.logger.warn({ node: this.ownNode }, 'leader election: our candidate znode disappeared; joining again');
      this.ownNode = undefined;
      await this.retrying('become a candidate again', async () => {
        this.ownNode = basename(await session.create(`${this.leaderPath}/${this.self.id}_`, Buffer.from(JSON.stringify(this.self), 'utf8'), 'ephemeral-sequential'));
      });
      this.recheck = true;
      return;
    }
    const leaderNode = candidates[0];
    if (index === 0) {
      this.setKnownLeader(this.self);
      await this.watch(session, `${this.leaderPath}/${this.ownNode}`);
      if (!this.leading) {
        this.leading = true;
        this.options.logger.info({ instance: this.self.id, url: this.self.url, node: this.ownNode }, 'leader election: this instance is the leader');
        this.emit('elected');
      }
      return;
    }
    const leaderData = await session.get(`${this.leaderPath}/${leaderNode}`);
    if (!leaderData) {
      this.recheck = true;
      return;
    }
    this.setKnownLeader(parseInstance(leaderData) ?? this.known);
    // Woken when the leader goes (whom to forward to) and when our predecessor goes (our turn may come).
    const predecessor = candidates[index - 1];
    for (const node of new Set([leaderNode, predecessor])) {
      if (!(await this.watch(session, `${this.leaderPath}/${node}`))) this.recheck = true;
    }
  }

  /** Sets an exists-watch once per path and session; false when the znode is gone already. */
  private async watch(session: ZooKeeperSession, path: string): Promise<boolean> {
    if (this.watching.has(path)) return true;
    this.watching.add(path);
    try {
      const exists = await session.exists(path, () => {
        this.watching.delete(path);
        if (this.currentSession === session) void this.check();
      });
      if (!exists) this.watching.delete(path);
      return exists;
    } catch (err) {
      this.watching.delete(path);
      throw err;
    }
  }

  private onCheckFailed(err: unknown): void {
    if (this.closed) return;
    if (err instanceof ZooKeeperError && (err.isConnectionLoss || err.isSessionEnd)) return; // the session events drive what follows
    this.options.logger.error({ err }, 'leader election check failed; retrying');
    setTimeout(() => void this.check(), this.options.retryBaseSleepTimeMilliseconds).unref();
  }

  private async refreshHosts(): Promise<void> {
    const session = this.currentSession;
    if (!session || session.state !== 'connected') return;
    // Refreshes overlap when the registry changes quickly: only the latest one may set the result.
    const generation = ++this.hostsGeneration;
    try {
      const names = await session.children(this.hostsPath, () => {
        if (this.currentSession === session) void this.refreshHosts();
      });
      const entries = await Promise.all(names.map(async (name) => parseInstance(await session.get(`${this.hostsPath}/${name}`))));
      if (generation !== this.hostsGeneration) return;
      this.hosts = new Map(entries.filter((e): e is SchedulerInstance => e !== undefined).map((e) => [e.id, e]));
    } catch (err) {
      if (!(err instanceof ZooKeeperError && (err.isConnectionLoss || err.isSessionEnd))) this.options.logger.warn({ err }, 'could not read the host registry');
    }
  }

  private setKnownLeader(leader: SchedulerInstance | undefined): void {
    if (leader?.id === this.known?.id && leader?.url === this.known?.url) return;
    this.known = leader;
    if (leader && leader.id !== this.self.id) this.options.logger.info({ leader: leader.id, url: leader.url }, 'leader election: the leader is another instance');
    this.emit('leaderChanged', leader);
  }

  private loseLeadership(reason: string): void {
    this.leading = false;
    if (this.lostReported) return;
    this.lostReported = true;
    this.options.logger.error({ reason, instance: this.self.id }, 'leader election: leadership lost');
    this.emit('lost', reason);
  }

  private onSessionState(session: ZooKeeperSession, state: SessionState): void {
    if (this.currentSession !== session) return;
    if (state === 'connected') {
      this.emit('connection', 'connected');
      if (this.ownNode) {
        // Watches fired while we were away were delivered on reconnection; read everything again anyway.
        void this.refreshHosts();
        void this.check();
      }
    } else if (state === 'disconnected') {
      this.options.logger.warn({ session: session.id, leader: this.leading }, 'leader election: lost the connection to ZooKeeper');
      this.emit('connection', 'disconnected');
    } else if (state === 'expired') {
      this.emit('connection', 'disconnected');
      this.currentSession = undefined;
      if (this.leading) {
        this.loseLeadership(`its ZooKeeper session ${session.id ?? ''} expired`);
        return;
      }
      if (this.closed || !this.started) return;
      this.options.logger.warn({ instance: this.self.id }, 'leader election: ZooKeeper session expired; joining again with a new session');
      void this.joinUntilDone('cannot join the leader election again yet; retrying');
    }
  }

  private emit<E extends keyof LeaderElectionEvents>(event: E, ...args: Parameters<LeaderElectionEvents[E]>): void {
    for (const listener of [...this.listeners[event]]) {
      try {
        (listener as (...a: Parameters<LeaderElectionEvents[E]>) => void)(...args);
      } catch (err) {
        this.options.logger.error({ err, event }, 'leader election listener failed');
      }
    }
  }
}

/** `singularity`, `/singularity/` → `/singularity`. */
export function normalizeNamespace(namespace: string): string {
  const trimmed = namespace.trim().replace(/\/+$/, '');
  return trimmed.startsWith('/') ? trimmed || '/' : `/${trimmed}`;
}

function sequenceOf(name: string): number {
  return Number(SEQUENCE.exec(name)?.[1] ?? Number.MAX_SAFE_INTEGER);
}

function basename(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

function parseInstance(data: Buffer | undefined): SchedulerInstance | undefined {
  if (!data || data.length === 0) return undefined;
  try {
    const value = JSON.parse(data.toString('utf8')) as Partial<SchedulerInstance>;
    if (typeof value.id !== 'string' || typeof value.url !== 'string') return undefined;
    return {
      id: value.id,
      url: value.url,
      hostname: String(value.hostname ?? ''),
      hostAddress: String(value.hostAddress ?? ''),
      startedAt: Number(value.startedAt ?? 0),
    };
  } catch {
    return undefined;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
