import { freePort } from '@singularity/testing';
import { spawnSync } from 'node:child_process';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Client } from 'pg';
import { describeWithServer, embeddedPostgresUnavailable, postgresUnavailable, scratchDir, sql, TEST_PG_URL, type ScratchDir } from '../../testing/test-postgres';
import type { HistoryLogger } from '../history-logger';
import { createHistoryDatabase, type HistoryDatabase } from './history-database';
import { describePostgresUrl, withDatabase } from './postgres-url';

// `npm test` runs every project together, where the preset's testTimeout does not apply (jest's 5 s does):
// initdb and the large batches need more under load.
jest.setTimeout(30_000);

/** A logger that keeps what it is told, to check messages and that no password is ever logged. */
function recordingLogger() {
  const lines: Array<{ level: string; obj: unknown; msg?: string }> = [];
  const at = (level: string) => (obj: unknown, msg?: string) => {
    lines.push({ level, obj, msg });
  };
  const logger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') } as unknown as HistoryLogger;
  return { logger, lines, text: () => JSON.stringify(lines) };
}

async function queryOne(url: string, text: string): Promise<unknown> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(text)).rows[0];
  } finally {
    await client.end();
  }
}

describe('createHistoryDatabase: configuration errors', () => {
  it('says which setting to change when the server does not answer', async () => {
    const port = await freePort();
    const { logger } = recordingLogger();
    await expect(createHistoryDatabase({ url: `postgres://postgres:pw@127.0.0.1:${port}/history`, logger, connectTimeoutMs: 2000 })).rejects.toThrow(
      new RegExp(`^cannot connect to postgres at 127\\.0\\.0\\.1:${port}/history: .*ECONNREFUSED.*; set database\\.url .*or remove it to use the embedded server$`),
    );
  });

  it('refuses a URL that is not a postgres URL, and a configuration with neither URL nor data directory', async () => {
    const { logger } = recordingLogger();
    await expect(createHistoryDatabase({ url: 'mysql://db/x', logger })).rejects.toThrow(/database\.url must start with postgres:\/\//);
    await expect(createHistoryDatabase({ url: 'not a url', logger })).rejects.toThrow(/database\.url is not a URL/);
    await expect(createHistoryDatabase({ logger })).rejects.toThrow(/set database\.url, or give a data directory/);
  });
});

describeWithServer('createHistoryDatabase with database.url', postgresUnavailable(TEST_PG_URL), () => {
  it('connects, logs the server without the password, and leaves the server running on close', async () => {
    const { logger, text } = recordingLogger();
    const url = TEST_PG_URL.replace('postgres://postgres@', 'postgres://postgres:s3cr3t-pw@');
    const db = await createHistoryDatabase({ url, logger });
    expect(db.kind).toBe('external');
    expect(db.url).toBe(url);
    expect(db.safeUrl).not.toContain('s3cr3t');
    expect(db.describe()).toBe(`PostgreSQL at ${describePostgresUrl(url)}`);
    expect(text()).toMatch(/history database: PostgreSQL at .*\(PostgreSQL \d+/);
    expect(text()).not.toContain('s3cr3t');
    await db.close();
    expect(await queryOne(TEST_PG_URL, 'SELECT 1 AS one')).toEqual({ one: 1 });
  });

  it('creates the database when the server has none by that name', async () => {
    const name = `singularity_test_created_${process.pid}_${Date.now()}`;
    const { logger } = recordingLogger();
    try {
      const db = await createHistoryDatabase({ url: withDatabase(TEST_PG_URL, name), logger });
      expect(await queryOne(db.url, 'SELECT current_database() AS name')).toEqual({ name });
      // A second start finds it.
      await createHistoryDatabase({ url: withDatabase(TEST_PG_URL, name), logger });
    } finally {
      await sql(TEST_PG_URL, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    }
  });
});

describeWithServer('createHistoryDatabase with the embedded PostgreSQL', embeddedPostgresUnavailable(), () => {
  // The cases run in order over one data directory: the first one initialises the cluster.
  let dir: ScratchDir;
  const started: HistoryDatabase[] = [];
  const start = async (logger: HistoryLogger, port?: number) => {
    const db = await createHistoryDatabase({ embedded: { dataDir: dir.path, port, unsafeNoFsync: true }, logger });
    started.push(db);
    return db;
  };

  beforeAll(async () => {
    dir = scratchDir('history-db-');
  });
  afterAll(async () => {
    for (const db of started) await db.close();
    await dir.cleanup();
  });

  it('initialises a cluster once, starts on a free port, and stops on close', async () => {
    const { logger, lines, text } = recordingLogger();
    const db = await start(logger);
    expect(db.kind).toBe('embedded');
    expect(db.dataDir).toBe(join(dir.path, 'pgdata'));
    expect(db.describe()).toMatch(new RegExp(`^embedded PostgreSQL at 127\\.0\\.0\\.1:\\d+/singularity, data in ${db.dataDir}$`));
    expect(lines.map((l) => l.msg)).toContain('embedded PostgreSQL: initialised a new cluster');
    expect(lines.map((l) => l.msg)).toContain('embedded PostgreSQL: created the database');
    const password = (await readFile(join(dir.path, 'password'), 'utf8')).trim();
    expect(password.length).toBeGreaterThan(20);
    expect(text()).not.toContain(password);
    expect(db.safeUrl).not.toContain(password);
    expect(db.describe()).not.toContain(password);
    expect(((await stat(join(dir.path, 'password'))).mode & 0o777).toString(8)).toBe('600');
    if (process.getuid?.() === 0) {
      const postgresUid = Number(spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).stdout.trim());
      expect((await stat(db.dataDir as string)).uid).toBe(postgresUid);
      expect((await stat(dir.path)).uid).toBe(postgresUid);
    }

    expect(await queryOne(db.url, 'SELECT current_database() AS name, current_setting($$server_version_num$$)::int >= 180000 AS pg18')).toEqual({
      name: 'singularity',
      pg18: true,
    });
    await sql(db.url, 'CREATE TABLE kept (x int); INSERT INTO kept VALUES (42)');
    // The password is required: the server does not trust local connections.
    await expect(queryOne(db.safeUrl, 'SELECT 1')).rejects.toThrow(/password/);

    await db.close();
    await db.close();
    await expect(queryOne(db.url, 'SELECT 1')).rejects.toThrow(/ECONNREFUSED/);
  });

  it('restarts on the same data without initdb, keeping the data, on the port it is given', async () => {
    const port = await freePort();
    const { logger, lines } = recordingLogger();
    const db = await start(logger, port);
    expect(db.url).toContain(`@127.0.0.1:${port}/`);
    expect(lines.map((l) => l.msg)).not.toContain('embedded PostgreSQL: initialised a new cluster');
    expect(lines.map((l) => l.msg)).not.toContain('embedded PostgreSQL: created the database');
    expect(await queryOne(db.url, 'SELECT x FROM kept')).toEqual({ x: 42 });
    await db.close();
  });

  it('refuses a data directory a live server of another process holds', async () => {
    const { logger } = recordingLogger();
    const first = await start(logger);
    try {
      await expect(start(logger)).rejects.toThrow(/is in use by a running PostgreSQL \(pid \d+ for process \d+\)/);
      expect(await queryOne(first.url, 'SELECT x FROM kept')).toEqual({ x: 42 });
    } finally {
      await first.close();
    }
  });

  it('stops a server that a dead process left running, then starts', async () => {
    const { logger } = recordingLogger();
    const orphan = await start(logger);
    // Pretend the process that started it died without stopping it (kill -9).
    const owner = JSON.parse(await readFile(join(dir.path, 'owner.json'), 'utf8')) as { pid: number; postgresPid: number };
    const dead = spawnSync('true').pid as number;
    await writeFile(join(dir.path, 'owner.json'), JSON.stringify({ ...owner, pid: dead }));

    const recorder = recordingLogger();
    const db = await start(recorder.logger);
    expect(recorder.lines.map((l) => l.msg)).toContain('embedded PostgreSQL: stopping a server left running by a process that is gone');
    expect(await queryOne(db.url, 'SELECT x FROM kept')).toEqual({ x: 42 });
    expect(() => process.kill(owner.postgresPid, 0)).toThrow(/ESRCH/);
    await orphan.close();
    await db.close();
  });

  it('refuses a data directory that holds something other than a cluster', async () => {
    const other = scratchDir('history-db-junk-');
    try {
      await mkdir(join(other.path, 'pgdata'));
      await writeFile(join(other.path, 'pgdata', 'stray.txt'), 'not a cluster');
      const { logger } = recordingLogger();
      await expect(createHistoryDatabase({ embedded: { dataDir: other.path }, logger })).rejects.toThrow(/is not empty but holds no PostgreSQL cluster/);
    } finally {
      await other.cleanup();
    }
  });

  if (process.getuid?.() === 0) {
    it('as root, says so when the postgres user cannot reach the data directory', async () => {
      const locked = scratchDir('history-db-locked-');
      try {
        const { logger } = recordingLogger();
        await expect(createHistoryDatabase({ embedded: { dataDir: join(locked.path, 'inner', 'history') }, logger })).rejects.toThrow(
          new RegExp(`runs as user 'postgres' \\(uid \\d+\\), which cannot enter ${locked.path} \\(mode 700\\)`),
        );
      } finally {
        await locked.cleanup();
      }
    });
  }
});
