/// <reference types="jest" />
import { freePort, isProcessGroupAlive, signalProcessGroup } from '@singularity/node-util';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, closeSync, constants, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect as connectTcp } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { ZooKeeperConnection } from '../lib/zookeeper-client';

/*
 * A real ZooKeeper server for tests, from Debian's `zookeeper` package (3.8): `java` runs
 * `org.apache.zookeeper.server.ZooKeeperServerMain` (standalone) from /usr/share/java/zookeeper.jar,
 * in a process group of its own, on a free port, with its data in a fresh directory (on tmpfs when
 * there is one). Starting takes about 0.3 s.
 *
 * Environment:
 *   SINGULARITY_TEST_ZK_CLASSPATH   the server's classpath (default: Debian's jar, plus slf4j-simple if present)
 *   JAVA_HOME                        java from there, else `java` on PATH
 *   CI=true                          a missing server fails the suites instead of skipping them
 */

export interface ZooKeeperTestServerOptions {
  /** The server's data directory (default: a fresh one, deleted by `dispose()`). */
  dataDir?: string;
  /**
   * The server's tick (default 200 ms). Sessions may last 2 to 300 ticks here (maxSessionTimeout is set
   * to 60 s, above ZooKeeper's default of 20 ticks, so a 15 s session is allowed); expiry is checked
   * every tick.
   */
  tickTimeMillis?: number;
}

export interface ZooKeeperTestServer {
  /** Connect string, `127.0.0.1:<port>`. */
  readonly connect: string;
  readonly port: number;
  readonly dataDir: string;
  /** Where the server's output goes (its warnings and errors). */
  readonly logFile: string;
  isRunning(): boolean;
  /** Stops the server gracefully (SIGTERM to its process group; SIGKILL after 10 s). Sessions survive a restart. */
  stop(): Promise<void>;
  /** Kills it (SIGKILL to its process group), like a crash. */
  kill(): Promise<void>;
  /** Starts it again on the same port and data (stopping it first if it runs). */
  restart(): Promise<void>;
  /**
   * Ends a client's session from outside, as the server does when a session times out: attaches to it
   * with its id and password and closes it. The client sees `expired` on its next contact.
   */
  expireSession(session: { id: string; password: string }): Promise<void>;
  /** A root nobody used yet, `/test-<random>` (one per test keeps tests apart on one server). */
  freshRoot(prefix?: string): string;
  /** Stops the server and deletes its data directory if this helper made it. */
  dispose(): Promise<void>;
}

const DEBIAN_JAR = '/usr/share/java/zookeeper.jar';
const SLF4J_SIMPLE = '/usr/share/java/slf4j-simple.jar';
const READY_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 10_000;

const running = new Set<number>();
let exitHookInstalled = false;

export const isCI = (): boolean => /^(1|true|yes)$/i.test(process.env['CI'] ?? '');

function javaPath(): string | undefined {
  const home = process.env['JAVA_HOME'];
  const candidates = [...(home ? [join(home, 'bin', 'java')] : []), ...(process.env['PATH'] ?? '').split(delimiter).map((dir) => join(dir, 'java'))];
  return candidates.find((path) => {
    try {
      accessSync(path, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

function classpath(): string {
  const override = process.env['SINGULARITY_TEST_ZK_CLASSPATH'];
  if (override) return override;
  return [DEBIAN_JAR, ...(existsSync(SLF4J_SIMPLE) ? [SLF4J_SIMPLE] : [])].join(delimiter);
}

/** Why a test server cannot be started here, or undefined when it can (checked without starting one). */
export function zooKeeperUnavailable(): string | undefined {
  if (!javaPath()) return 'no java found (JAVA_HOME or PATH); install the zookeeper package (it brings a JRE)';
  const jars = classpath().split(delimiter).filter(Boolean);
  const missing = jars.filter((jar) => !existsSync(jar));
  if (jars.length === 0 || missing.length === jars.length) {
    return `the ZooKeeper server jar is missing (${jars.join(delimiter) || 'empty classpath'}): apt-get install zookeeper, or set SINGULARITY_TEST_ZK_CLASSPATH`;
  }
  return undefined;
}

/** Starts a server and waits until it serves clients. */
export async function startZooKeeperServer(options: ZooKeeperTestServerOptions = {}): Promise<ZooKeeperTestServer> {
  const java = javaPath();
  const unavailable = zooKeeperUnavailable();
  if (unavailable || !java) throw new Error(`cannot start a ZooKeeper test server: ${unavailable}`);
  const ownDir = options.dataDir === undefined ? mkdtempSync(join(scratchBase(), 'zookeeper-test-')) : undefined;
  const base = ownDir ?? (options.dataDir as string);
  const dataDir = ownDir ? join(ownDir, 'data') : base;
  mkdirSync(dataDir, { recursive: true });
  const logFile = join(ownDir ?? tmpdir(), ownDir ? 'server.log' : `zookeeper-test-${process.pid}-${randomBytes(4).toString('hex')}.log`);
  const tickTime = options.tickTimeMillis ?? 200;

  let child: ChildProcess | undefined;
  let port = 0;
  const configFile = join(ownDir ?? tmpdir(), ownDir ? 'zoo.cfg' : `zoo-${process.pid}-${randomBytes(4).toString('hex')}.cfg`);

  const launch = async (): Promise<void> => {
    writeFileSync(
      configFile,
      [
        `tickTime=${tickTime}`,
        `dataDir=${dataDir}`,
        `clientPort=${port}`,
        'clientPortAddress=127.0.0.1',
        `minSessionTimeout=${2 * tickTime}`,
        'maxSessionTimeout=60000',
        'admin.enableServer=false',
        '4lw.commands.whitelist=*',
        // The transaction log is preallocated in blocks of this many KB (default 64 MB, in RAM on tmpfs).
        'preAllocSize=4096',
        'maxClientCnxns=0',
        '',
      ].join('\n'),
    );
    const out = openSync(logFile, 'a');
    try {
      child = spawn(
        java,
        [
          '-Xmx256m',
          '-XX:+UseSerialGC',
          '-XX:TieredStopAtLevel=1', // starts faster; a test server never runs long enough for C2 to pay off
          '-Djava.net.preferIPv4Stack=true',
          '-Dorg.slf4j.simpleLogger.defaultLogLevel=warn',
          '-Dzookeeper.admin.enableServer=false',
          '-cp',
          classpath(),
          'org.apache.zookeeper.server.ZooKeeperServerMain',
          configFile,
        ],
        { detached: true, stdio: ['ignore', out, out] },
      );
    } finally {
      closeSync(out);
    }
    const started = child;
    const pid = started.pid;
    if (pid === undefined) throw new Error(`could not start java for ZooKeeper (see ${logFile})`);
    installExitHook();
    running.add(pid);
    started.once('exit', () => running.delete(pid));
    guardAgainstOrphaning(pid);
    await waitUntilReady(port, started, logFile);
  };

  const stopWith = async (signal: NodeJS.Signals): Promise<void> => {
    const current = child;
    if (!current || current.pid === undefined) return;
    const pid = current.pid;
    const exited = current.exitCode !== null || current.signalCode !== null ? Promise.resolve() : new Promise<void>((resolve) => current.once('exit', () => resolve()));
    signalProcessGroup(pid, signal);
    const gone = await Promise.race([exited.then(() => true), delay(signal === 'SIGKILL' ? 5000 : STOP_TIMEOUT_MS).then(() => false)]);
    if (!gone || isProcessGroupAlive(pid)) {
      signalProcessGroup(pid, 'SIGKILL');
      await Promise.race([exited, delay(5000)]);
    }
    running.delete(pid);
    child = undefined;
  };

  // A port that was free a moment ago may be taken before java binds it: try a few.
  for (let attempt = 1; ; attempt++) {
    port = await freePort();
    try {
      await launch();
      break;
    } catch (err) {
      await stopWith('SIGKILL');
      if (attempt >= 3) {
        if (ownDir) rmSync(ownDir, { recursive: true, force: true });
        throw err;
      }
    }
  }

  const server: ZooKeeperTestServer = {
    connect: `127.0.0.1:${port}`,
    port,
    dataDir,
    logFile,
    isRunning: () => child !== undefined && child.exitCode === null && child.signalCode === null,
    stop: () => stopWith('SIGTERM'),
    kill: () => stopWith('SIGKILL'),
    async restart() {
      await stopWith('SIGTERM');
      await launch();
    },
    expireSession: (session) => expireSession(`127.0.0.1:${port}`, session),
    freshRoot: (prefix = 'test') => `/${prefix}-${randomBytes(6).toString('hex')}`,
    async dispose() {
      await stopWith('SIGTERM');
      if (ownDir) rmSync(ownDir, { recursive: true, force: true });
      else {
        rmSync(configFile, { force: true });
        rmSync(logFile, { force: true });
      }
    },
  };
  return server;
}

/**
 * Ends `session` on the server: attaches to it with its id and password and closes it, as the server
 * does when a session times out; its owner gets `expired` on its next contact. The owner may take the
 * session back before the close lands (it reconnects as soon as the intruder's attach cuts it off), so
 * this attaches again until the server answers that the session is gone.
 */
export async function expireSession(connect: string, session: { id: string; password: string }, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    let settle: ((outcome: 'connected' | 'expired') => void) | undefined;
    const outcome = new Promise<'connected' | 'expired'>((resolve) => (settle = resolve));
    const intruder = new ZooKeeperConnection({
      connect,
      sessionTimeoutMillis: 10_000,
      session,
      onStateChange: (state) => {
        if (state === 'connected' || state === 'expired') settle?.(state);
      },
    });
    try {
      const result = await Promise.race([outcome, delay(Math.max(deadline - Date.now(), 0)).then(() => 'timeout' as const)]);
      if (result === 'expired') return;
      if (result === 'timeout') break;
    } finally {
      // Connected: closing it sends the close-session request.
      intruder.close();
    }
  }
  throw new Error(`could not expire session ${session.id} at ${connect} within ${timeoutMs} ms`);
}

/** The test side of a suite that needs ZooKeeper: the server (started in beforeAll) and fresh roots. */
export interface ZooKeeperTestContext {
  /** The suite's server; only inside tests and hooks (it starts in beforeAll). */
  readonly server: ZooKeeperTestServer;
  /** Shorthand for `server.connect`. */
  readonly connect: string;
  /** Shorthand for `server.freshRoot()`. */
  freshRoot(prefix?: string): string;
}

/**
 * `describe(what, body)` with one ZooKeeper server for the suite, started in `beforeAll` and stopped in
 * `afterAll`. Use a fresh root per test (`zk.freshRoot()`). When no server can be started here
 * (`zooKeeperUnavailable()`), the suite is skipped with a loud warning; under CI=true it fails instead.
 *
 *   describeWithZooKeeper('my ZooKeeper feature', (zk) => {
 *     it('works', async () => {
 *       const store = new ZooKeeperStateStore({ connect: zk.connect, root: zk.freshRoot() });
 *       …
 *     });
 *   });
 */
export function describeWithZooKeeper(what: string, body: (zk: ZooKeeperTestContext) => void, options: ZooKeeperTestServerOptions = {}): void {
  const unavailable = zooKeeperUnavailable();
  if (unavailable) {
    if (isCI()) {
      describe(what, () => {
        it('has the ZooKeeper server it needs', () => {
          throw new Error(`${unavailable}; CI=true, so a missing server fails this suite`);
        });
      });
      return;
    }
    const bar = '!'.repeat(100);
    console.warn(`\n${bar}\n!! SKIPPED: ${what}\n!! ${unavailable}\n!! (under CI=true this fails)\n${bar}\n`);
    describe.skip(what, () => body(unstarted));
    return;
  }
  let started: ZooKeeperTestServer | undefined;
  const context: ZooKeeperTestContext = {
    get server(): ZooKeeperTestServer {
      if (!started) throw new Error('the ZooKeeper test server is not started (use it inside tests and hooks)');
      return started;
    },
    get connect(): string {
      return context.server.connect;
    },
    freshRoot: (prefix) => context.server.freshRoot(prefix),
  };
  describe(what, () => {
    beforeAll(async () => {
      started = await startZooKeeperServer(options);
    }, READY_TIMEOUT_MS + 10_000);
    afterAll(async () => {
      await started?.dispose();
      started = undefined;
    }, STOP_TIMEOUT_MS + 10_000);
    body(context);
  });
}

const unstarted: ZooKeeperTestContext = {
  get server(): ZooKeeperTestServer {
    throw new Error('skipped: no ZooKeeper server');
  },
  get connect(): string {
    throw new Error('skipped: no ZooKeeper server');
  },
  freshRoot: () => {
    throw new Error('skipped: no ZooKeeper server');
  },
};

/**
 * Polls `srvr` until the server reports its mode: it answers `ruok` before it serves sessions, and a
 * client whose first handshake is refused that way takes a second or more to connect.
 */
async function waitUntilReady(port: number, child: ChildProcess, logFile: string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`ZooKeeper exited (${child.exitCode ?? child.signalCode}) before it answered on port ${port}:\n${tail(logFile)}`);
    }
    if (/^Mode: /m.test(await fourLetterWord(port, 'srvr').catch(() => ''))) return;
    await delay(50);
  }
  throw new Error(`ZooKeeper did not answer on port ${port} within ${READY_TIMEOUT_MS} ms:\n${tail(logFile)}`);
}

/** Sends a four-letter command (`ruok`, `stat`, `cons`, …) and returns the answer. */
export function fourLetterWord(port: number, word: string, timeoutMs = 2000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connectTcp({ port, host: '127.0.0.1' });
    let answer = '';
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`no answer to ${word} within ${timeoutMs} ms`)));
    socket.on('connect', () => socket.write(word));
    socket.on('data', (chunk) => (answer += chunk.toString('utf8')));
    socket.on('end', () => resolve(answer));
    socket.on('error', reject);
  });
}

function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8').slice(-3000);
  } catch {
    return '(no output)';
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/** tmpfs when there is one: the server fsyncs its transaction log on every write. */
function scratchBase(): string {
  try {
    accessSync('/dev/shm', constants.W_OK | constants.X_OK);
    return '/dev/shm';
  } catch {
    return tmpdir();
  }
}

/**
 * The exit hook below does not run when the test process is killed (a CI timeout, Ctrl-C on jest's
 * workers, kill -9). A shell beside the server polls both: when the test process is gone, it kills the
 * server's process group; when the server is gone, it exits too.
 */
function guardAgainstOrphaning(serverPgid: number): void {
  const script = `while kill -0 ${process.pid} 2>/dev/null && kill -0 ${serverPgid} 2>/dev/null; do sleep 1; done; kill -KILL -${serverPgid} 2>/dev/null`;
  const guard = spawn('sh', ['-c', script], { detached: true, stdio: 'ignore' });
  guard.on('error', () => undefined);
  guard.unref();
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Last resort when a test process ends without afterAll (a crash, a forced exit): no java left behind.
  process.once('exit', () => {
    for (const pgid of running) {
      try {
        signalProcessGroup(pgid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
  });
}
