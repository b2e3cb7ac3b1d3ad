/// <reference types="jest" />
import { createLogger } from '@singularity/node-util';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { embeddedPostgresBinaries } from '../lib/database/embedded-postgres-server';
import { describePostgresUrl, quoteIdentifier, withDatabase } from '../lib/database/postgres-url';

/*
 * Test support for the *.int.spec.ts files of this lib (not exported): the machine's PostgreSQL, fresh
 * databases on it, and the rule for a missing server: skipped, loudly, on a developer machine; a failed
 * test under CI=true.
 */

/** The server the SQL suites use; `SINGULARITY_TEST_PG_URL` overrides it. */
export const TEST_PG_URL = process.env['SINGULARITY_TEST_PG_URL'] || 'postgres://postgres@127.0.0.1:5432/postgres';

export const isCI = (): boolean => /^(1|true|yes)$/i.test(process.env['CI'] ?? '');

/** A logger for specs: silent unless LOG_LEVEL is set. */
export const testLogger = () => createLogger('history-test', {}, process.env['LOG_LEVEL'] ?? 'silent');

/**
 * Whether PostgreSQL at `url` answers `SELECT 1`, asked synchronously (suites are defined synchronously)
 * by a child node process. Returns why not, or undefined when it answers.
 */
export function postgresUnavailable(url: string, timeoutMs = 5000): string | undefined {
  const script = `
    const { Client } = require('pg');
    const c = new Client({ connectionString: process.argv[1], connectionTimeoutMillis: ${timeoutMs} });
    c.connect().then(() => c.query('SELECT 1')).then(() => c.end()).then(
      () => process.exit(0),
      (e) => { process.stderr.write(String((e && (e.message || e.code)) || e)); process.exit(1); });`;
  const probe = spawnSync(process.execPath, ['-e', script, url], { encoding: 'utf8', timeout: timeoutMs + 2000, cwd: __dirname });
  if (probe.status === 0) return undefined;
  return `PostgreSQL at ${describePostgresUrl(url)} does not answer (${(probe.stderr || probe.error?.message || `exit ${probe.status}`).trim()})`;
}

/** Whether the embedded server can run here: its binaries, and a `postgres` user when we are root. */
export function embeddedPostgresUnavailable(): string | undefined {
  try {
    const { postgres, initdb } = embeddedPostgresBinaries();
    accessSync(postgres, constants.X_OK);
    accessSync(initdb, constants.X_OK);
  } catch (err) {
    return `the embedded PostgreSQL binaries are missing: ${(err as Error).message}`;
  }
  if (process.getuid?.() === 0 && spawnSync('id', ['-u', 'postgres']).status !== 0) {
    return "running as root without a 'postgres' user for the embedded PostgreSQL";
  }
  return undefined;
}

/**
 * `describe(what, body)` when `unavailable` is undefined. Otherwise: under CI=true a suite whose one test
 * fails with the reason; elsewhere the suite is defined as skipped, with a loud warning.
 */
export function describeWithServer(what: string, unavailable: string | undefined, body: () => void): void {
  if (!unavailable) {
    describe(what, body);
    return;
  }
  if (isCI()) {
    describe(what, () => {
      it('has the server it needs', () => {
        throw new Error(`${unavailable}; CI=true, so a missing server fails this suite`);
      });
    });
    return;
  }
  const bar = '!'.repeat(100);
  console.warn(`\n${bar}\n!! SKIPPED: ${what}\n!! ${unavailable}\n!! (set SINGULARITY_TEST_PG_URL, or start PostgreSQL; under CI=true this fails)\n${bar}\n`);
  describe.skip(what, body);
}

/** Fresh databases `singularity_test_<random>` on one server, all dropped by `dropAll()`. */
export class TestDatabases {
  private readonly created: string[] = [];

  constructor(private readonly adminUrl: string) {}

  /** Creates an empty database and returns its URL. */
  async create(): Promise<string> {
    const name = `singularity_test_${randomBytes(6).toString('hex')}`;
    await this.admin(`CREATE DATABASE ${quoteIdentifier(name)}`);
    this.created.push(name);
    // Commits need not wait for the disk in a throw-away database: fewer fsyncs for the other suites to wait behind.
    await this.admin(`ALTER DATABASE ${quoteIdentifier(name)} SET synchronous_commit = off`);
    return withDatabase(this.adminUrl, name);
  }

  async dropAll(): Promise<void> {
    for (const name of this.created.splice(0)) await this.admin(`DROP DATABASE IF EXISTS ${quoteIdentifier(name)} WITH (FORCE)`);
  }

  private async admin(sql: string): Promise<void> {
    const client = new Client({ connectionString: this.adminUrl });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  }
}

/** Runs statements on `url` with a short-lived client. */
export async function sql<T extends Record<string, unknown> = Record<string, unknown>>(url: string, text: string, params: unknown[] = []): Promise<T[]> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(text, params)).rows;
  } finally {
    await client.end();
  }
}

/**
 * Empties the history tables (between the cases of one suite, which share a database). DELETE, not
 * TRUNCATE: on tables this small it is several times faster (no new files to create and sync).
 */
export function emptyHistoryTables(url: string): Promise<unknown> {
  return sql(url, 'DELETE FROM task_history; DELETE FROM request_history; DELETE FROM deploy_history');
}

export interface ScratchDir {
  readonly path: string;
  cleanup(): Promise<void>;
}

/**
 * A fresh directory for an embedded cluster, on tmpfs (/dev/shm) when there is one: initdb writes about
 * 40 MB, and on a disk that would slow the fsyncs of suites running beside this one.
 */
export function scratchDir(prefix: string): ScratchDir {
  let base = tmpdir();
  try {
    accessSync('/dev/shm', constants.W_OK | constants.X_OK);
    base = '/dev/shm';
  } catch {
    // No tmpfs: the OS temp dir.
  }
  const path = mkdtempSync(join(base, prefix));
  return { path, cleanup: async () => rmSync(path, { recursive: true, force: true }) };
}
