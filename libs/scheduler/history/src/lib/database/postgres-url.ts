/** A `postgres://user:password@host:port/database?…` connection string, taken apart. */
export interface PostgresUrl {
  host: string;
  port: number;
  database: string;
  user?: string;
}

/** Parses a `postgres:` / `postgresql:` URL; throws a message naming `database.url` when it is not one. */
export function parsePostgresUrl(url: string): PostgresUrl {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error(`database.url is not a URL (want postgres://user:password@host:port/database)`);
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    throw new Error(`database.url must start with postgres:// or postgresql://, got ${parsed.protocol}//`);
  }
  const database = decodeURIComponent(parsed.pathname.replace(/^\//, ''));
  return {
    host: parsed.hostname || 'localhost',
    port: parsed.port ? Number(parsed.port) : 5432,
    database: database || decodeURIComponent(parsed.username) || 'postgres',
    user: parsed.username ? decodeURIComponent(parsed.username) : undefined,
  };
}

/** The URL without its password (and without query parameters, which may carry one): safe to log. */
export function redactPostgresUrl(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.password = '';
    parsed.search = '';
    return parsed.toString();
  } catch {
    return '(unparseable database url)';
  }
}

/** `host:port/database`, for messages. */
export function describePostgresUrl(url: string): string {
  try {
    const { host, port, database } = parsePostgresUrl(url);
    return `${host}:${port}/${database}`;
  } catch {
    return '(unparseable database url)';
  }
}

/** The same server and credentials, another database. */
export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${encodeURIComponent(database)}`;
  return parsed.toString();
}

/** A double-quoted SQL identifier. */
export function quoteIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
