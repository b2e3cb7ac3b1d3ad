import { Client } from 'pg';
import { DataSource, type EntityManager, type Logger as TypeOrmLogger, type SelectQueryBuilder } from 'typeorm';
import { cannotConnect, createHistoryDatabase, type HistoryDatabase, type HistoryDatabaseOptions } from '../database/history-database';
import { describePostgresUrl, redactPostgresUrl } from '../database/postgres-url';
import type { HistoryLogger } from '../history-logger';
import { assertValidTaskIdHistoryFilter, escapeLike, normalizePaging } from '../history-paging';
import type {
  HistoryAgePurge,
  HistoryHealth,
  HistoryPage,
  HistoryPaging,
  HistoryRepository,
  TaskHistoryPurge,
  TaskHistoryRecord,
  TaskIdHistoryFilter,
} from '../history-repository.port';
import {
  assertValidDeployHistory,
  assertValidPurge,
  assertValidRequestHistory,
  assertValidTaskHistoryRecord,
  deployHistoryKey,
  firstPerKey,
  lastPerKey,
  newestPerTask,
  requestHistoryKey,
  storableJson,
  taskIdHistoryRow,
} from '../history-records';
import type {
  DeployHistoryRecord,
  SingularityDeployHistory,
  SingularityRequestHistory,
  SingularityTaskHistory,
  SingularityTaskIdHistory,
} from '../history.types';
import { DeployHistoryEntity, HISTORY_ENTITIES, RequestHistoryEntity, TaskHistoryEntity } from './entities';
import { HISTORY_MIGRATIONS, HISTORY_MIGRATIONS_TABLE } from './migrations';

export interface SqlHistoryRepositoryOptions {
  /** Connection URL (with password); see `createHistoryDatabase`. */
  url: string;
  logger: HistoryLogger;
  /** Pool connections (default 5): the persister writes in batches and reads are paged. */
  poolSize?: number;
  connectTimeoutMs?: number;
  /** A database (e.g. an embedded server) to close together with the repository. */
  database?: HistoryDatabase;
}

/** Rows per INSERT statement; a batch is split into several statements inside one transaction. */
const ROWS_PER_STATEMENT = 500;
/** Serialises migration runs of several scheduler instances starting at once (pg_advisory_lock key). */
const MIGRATION_LOCK_KEY = 7_318_041_133;

const UPSERT_TASKS = `
  INSERT INTO task_history AS t (task_id, request_id, deploy_id, run_id, host, last_task_status, started_at, updated_at, task_history)
  SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[], $8::bigint[], $9::jsonb[])
  ON CONFLICT (task_id) DO UPDATE SET
    request_id = EXCLUDED.request_id, deploy_id = EXCLUDED.deploy_id, run_id = EXCLUDED.run_id, host = EXCLUDED.host,
    last_task_status = EXCLUDED.last_task_status, started_at = EXCLUDED.started_at, updated_at = EXCLUDED.updated_at,
    task_history = EXCLUDED.task_history
  WHERE t.updated_at <= EXCLUDED.updated_at`;

const INSERT_REQUEST_HISTORY = `
  INSERT INTO request_history (request_id, created_at, event_type, f_user, message, request)
  SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::jsonb[])
  ON CONFLICT (request_id, created_at, event_type) DO NOTHING`;

const UPSERT_DEPLOYS = `
  INSERT INTO deploy_history (request_id, deploy_id, created_at, deploy_state, deploy_marker, deploy_result, deploy, deploy_statistics)
  SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::jsonb[], $6::jsonb[], $7::jsonb[], $8::jsonb[])
  ON CONFLICT (request_id, deploy_id) DO UPDATE SET
    created_at = EXCLUDED.created_at, deploy_state = EXCLUDED.deploy_state, deploy_marker = EXCLUDED.deploy_marker,
    deploy_result = EXCLUDED.deploy_result, deploy = EXCLUDED.deploy, deploy_statistics = EXCLUDED.deploy_statistics`;

/**
 * Rows to purge: each request's rows ranked newest first (all rows count, also those whose bytes are
 * gone), then those too old or beyond the kept number, oldest first, up to the limit.
 */
const PURGE_TASKS_CANDIDATES = `
  WITH ranked AS (
    SELECT task_id, updated_at, task_history IS NOT NULL AS has_bytes,
           row_number() OVER (PARTITION BY request_id ORDER BY updated_at DESC, task_id DESC) AS newest_rank
    FROM task_history
    WHERE $1::text IS NULL OR request_id = $1::text
  ), doomed AS (
    SELECT task_id FROM ranked
    WHERE (($2::bigint IS NOT NULL AND updated_at < $2::bigint) OR ($3::bigint IS NOT NULL AND newest_rank > $3::bigint))
      AND ($5::boolean = false OR has_bytes)
    ORDER BY updated_at ASC, task_id ASC
    LIMIT $4::int
  )`;

const PURGE_TASK_ROWS = `${PURGE_TASKS_CANDIDATES}, gone AS (
    DELETE FROM task_history t USING doomed d WHERE t.task_id = d.task_id RETURNING 1
  ) SELECT count(*)::int AS purged FROM gone`;

const PURGE_TASK_BYTES = `${PURGE_TASKS_CANDIDATES}, gone AS (
    UPDATE task_history t SET task_history = NULL FROM doomed d WHERE t.task_id = d.task_id RETURNING 1
  ) SELECT count(*)::int AS purged FROM gone`;

const PURGE_REQUEST_HISTORY = `
  WITH doomed AS (
    SELECT request_id, created_at, event_type FROM request_history WHERE created_at < $1::bigint ORDER BY created_at LIMIT $2::int
  ), gone AS (
    DELETE FROM request_history r USING doomed d
    WHERE r.request_id = d.request_id AND r.created_at = d.created_at AND r.event_type = d.event_type RETURNING 1
  ) SELECT count(*)::int AS purged FROM gone`;

const PURGE_DEPLOY_HISTORY = `
  WITH doomed AS (
    SELECT request_id, deploy_id FROM deploy_history WHERE created_at < $1::bigint ORDER BY created_at LIMIT $2::int
  ), gone AS (
    DELETE FROM deploy_history h USING doomed d WHERE h.request_id = d.request_id AND h.deploy_id = d.deploy_id RETURNING 1
  ) SELECT count(*)::int AS purged FROM gone`;

/**
 * The history port on PostgreSQL through TypeORM and `pg`. The schema comes only from the versioned
 * migrations in `./migrations` (run at open, never `synchronize`); the entities describe it for reads.
 * Writes are `INSERT … SELECT FROM unnest(…)` upserts, one transaction per batch.
 */
export class SqlHistoryRepository implements HistoryRepository {
  private closed?: Promise<void>;

  private constructor(
    private readonly dataSource: DataSource,
    private readonly url: string,
    private readonly logger: HistoryLogger,
    private readonly database?: HistoryDatabase,
  ) {}

  /** Connects and brings the schema up to date (pending migrations run under an advisory lock). */
  static async open(options: SqlHistoryRepositoryOptions): Promise<SqlHistoryRepository> {
    const { url, logger } = options;
    const connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
    const dataSource = new DataSource({
      type: 'postgres',
      url,
      entities: HISTORY_ENTITIES,
      migrations: HISTORY_MIGRATIONS,
      migrationsTableName: HISTORY_MIGRATIONS_TABLE,
      migrationsRun: true,
      migrationsTransactionMode: 'each',
      synchronize: false,
      poolSize: options.poolSize ?? 5,
      applicationName: 'singularity-history',
      connectTimeoutMS: connectTimeoutMs,
      maxQueryExecutionTime: 5_000,
      logging: ['error', 'warn', 'migration'],
      logger: new TypeOrmToPino(logger),
    });

    const lock = new Client({ connectionString: url, connectionTimeoutMillis: connectTimeoutMs, application_name: 'singularity-history-migrations' });
    lock.on('error', () => undefined);
    try {
      await lock.connect();
    } catch (err) {
      throw cannotConnect(url, err);
    }
    try {
      await lock.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
      await dataSource.initialize();
    } catch (err) {
      if (dataSource.isInitialized) await dataSource.destroy().catch(() => undefined);
      throw new Error(`history database at ${describePostgresUrl(url)}: opening or migrating failed: ${(err as Error).message}`, { cause: err });
    } finally {
      await lock.end().catch(() => undefined);
    }
    logger.info({ url: redactPostgresUrl(url), migrations: HISTORY_MIGRATIONS.length }, 'history repository open, schema up to date');
    return new SqlHistoryRepository(dataSource, url, logger, options.database);
  }

  async saveTaskHistories(items: readonly TaskHistoryRecord[]): Promise<void> {
    this.assertOpen();
    items.forEach(assertValidTaskHistoryRecord);
    const rows = newestPerTask(items);
    if (rows.length === 0) return;
    const histories = rows.map((row) => JSON.stringify(storableJson(row.history)));
    await this.dataSource.transaction(async (manager) => {
      for (const [start, chunk] of chunks(rows)) {
        await manager.query(UPSERT_TASKS, [
          chunk.map((r) => r.taskId),
          chunk.map((r) => r.requestId),
          chunk.map((r) => r.deployId),
          chunk.map((r) => r.runId ?? null),
          chunk.map((r) => r.host),
          chunk.map((r) => r.lastTaskStatus ?? null),
          chunk.map((r) => r.startedAt),
          chunk.map((r) => r.updatedAt),
          histories.slice(start, start + chunk.length),
        ]);
      }
    });
  }

  async saveRequestHistory(items: readonly SingularityRequestHistory[]): Promise<void> {
    this.assertOpen();
    items.forEach(assertValidRequestHistory);
    const rows = firstPerKey(items, requestHistoryKey).map((item) => storableJson(item));
    if (rows.length === 0) return;
    await this.dataSource.transaction(async (manager) => {
      for (const [, chunk] of chunks(rows)) {
        await manager.query(INSERT_REQUEST_HISTORY, [
          chunk.map((r) => r.request.id),
          chunk.map((r) => r.createdAt),
          chunk.map((r) => r.eventType),
          chunk.map((r) => r.user ?? null),
          chunk.map((r) => r.message ?? null),
          chunk.map((r) => JSON.stringify(r.request)),
        ]);
      }
    });
  }

  async saveDeployHistories(items: readonly DeployHistoryRecord[]): Promise<void> {
    this.assertOpen();
    items.forEach(assertValidDeployHistory);
    const rows = lastPerKey(items, deployHistoryKey).map((item) => storableJson(item));
    if (rows.length === 0) return;
    const json = (value: unknown) => (value === undefined ? null : JSON.stringify(value));
    await this.dataSource.transaction(async (manager) => {
      for (const [, chunk] of chunks(rows)) {
        await manager.query(UPSERT_DEPLOYS, [
          chunk.map((r) => r.deployMarker.requestId),
          chunk.map((r) => r.deployMarker.deployId),
          chunk.map((r) => r.deployMarker.timestamp),
          chunk.map((r) => r.deployResult?.deployState ?? null),
          chunk.map((r) => json(r.deployMarker)),
          chunk.map((r) => json(r.deployResult)),
          chunk.map((r) => json(r.deploy)),
          chunk.map((r) => json(r.deployStatistics)),
        ]);
      }
    });
  }

  async getTaskHistory(taskId: string): Promise<SingularityTaskHistory | undefined> {
    this.assertOpen();
    const row = await this.manager.findOne(TaskHistoryEntity, { select: { taskId: true, history: true }, where: { taskId } });
    return row?.history ?? undefined;
  }

  async getTaskHistoryByRunId(requestId: string, runId: string): Promise<SingularityTaskHistory | undefined> {
    this.assertOpen();
    const row = await this.manager
      .createQueryBuilder(TaskHistoryEntity, 't')
      .select(['t.taskId', 't.history'])
      .where('t.requestId = :requestId AND t.runId = :runId AND t.history IS NOT NULL', { requestId, runId })
      .orderBy('t.startedAt', 'DESC')
      .addOrderBy('t.taskId', 'DESC')
      .limit(1)
      .getOne();
    return row?.history ?? undefined;
  }

  async getTaskIdHistories(filter: TaskIdHistoryFilter, paging?: HistoryPaging): Promise<HistoryPage<SingularityTaskIdHistory>> {
    this.assertOpen();
    assertValidTaskIdHistoryFilter(filter);
    const { count, offset } = normalizePaging(paging);
    const direction = filter.orderDirection ?? 'DESC';
    const query = applyTaskFilter(
      this.manager.createQueryBuilder(TaskHistoryEntity, 't').select(['t.taskId', 't.host', 't.updatedAt', 't.lastTaskStatus', 't.runId']),
      filter,
    );
    const [rows, total] = await query
      .orderBy('t.startedAt', direction)
      .addOrderBy('t.requestId', direction)
      .addOrderBy('t.taskId', direction)
      .offset(offset)
      .limit(count)
      .getManyAndCount();
    return { items: rows.map(taskIdHistoryRow), total };
  }

  async getRequestHistory(requestId: string, paging?: HistoryPaging): Promise<HistoryPage<SingularityRequestHistory>> {
    this.assertOpen();
    const { count, offset } = normalizePaging(paging);
    const [rows, total] = await this.manager
      .createQueryBuilder(RequestHistoryEntity, 'r')
      .where('r.requestId = :requestId', { requestId })
      .orderBy('r.createdAt', 'DESC')
      .addOrderBy('r.eventType', 'DESC')
      .offset(offset)
      .limit(count)
      .getManyAndCount();
    return { items: rows.map(toRequestHistory), total };
  }

  async searchRequestIds(requestIdLike: string, paging?: HistoryPaging): Promise<HistoryPage<string>> {
    this.assertOpen();
    const { count, offset } = normalizePaging(paging);
    const pattern = `${escapeLike(requestIdLike)}%`;
    const [rows, totals] = await Promise.all([
      this.dataSource.query<Array<{ request_id: string }>>(
        `SELECT DISTINCT request_id FROM request_history WHERE request_id LIKE $1 ESCAPE '\\' ORDER BY request_id LIMIT $2 OFFSET $3`,
        [pattern, count, offset],
      ),
      this.dataSource.query<Array<{ total: number }>>(
        `SELECT count(DISTINCT request_id)::int AS total FROM request_history WHERE request_id LIKE $1 ESCAPE '\\'`,
        [pattern],
      ),
    ]);
    return { items: rows.map((row) => row.request_id), total: totals[0]?.total ?? 0 };
  }

  async getDeployHistories(requestId: string, paging?: HistoryPaging): Promise<HistoryPage<SingularityDeployHistory>> {
    this.assertOpen();
    const { count, offset } = normalizePaging(paging);
    const [rows, total] = await this.manager
      .createQueryBuilder(DeployHistoryEntity, 'd')
      .select(['d.requestId', 'd.deployId', 'd.deployMarker', 'd.deployResult'])
      .where('d.requestId = :requestId', { requestId })
      .orderBy('d.createdAt', 'DESC')
      .addOrderBy('d.deployId', 'DESC')
      .offset(offset)
      .limit(count)
      .getManyAndCount();
    return { items: rows.map(toDeployHistory), total };
  }

  async getDeployHistory(requestId: string, deployId: string): Promise<SingularityDeployHistory | undefined> {
    this.assertOpen();
    const row = await this.manager.findOne(DeployHistoryEntity, { where: { requestId, deployId } });
    return row ? toDeployHistory(row) : undefined;
  }

  async purgeTaskHistory(options: TaskHistoryPurge): Promise<number> {
    this.assertOpen();
    assertValidPurge(options);
    if (options.olderThan === undefined && options.keepNewestPerRequest === undefined) return 0;
    const bytes = options.mode === 'bytes';
    const rows = await this.dataSource.query<Array<{ purged: number }>>(bytes ? PURGE_TASK_BYTES : PURGE_TASK_ROWS, [
      options.requestId ?? null,
      options.olderThan ?? null,
      options.keepNewestPerRequest ?? null,
      options.limit,
      bytes,
    ]);
    const purged = rows[0]?.purged ?? 0;
    if (purged > 0) this.logger.info({ ...options, purged }, bytes ? 'purged task history bytes' : 'purged task history rows');
    return purged;
  }

  async purgeRequestHistory(options: HistoryAgePurge): Promise<number> {
    this.assertOpen();
    assertValidPurge(options);
    const rows = await this.dataSource.query<Array<{ purged: number }>>(PURGE_REQUEST_HISTORY, [options.olderThan, options.limit]);
    return rows[0]?.purged ?? 0;
  }

  async purgeDeployHistory(options: HistoryAgePurge): Promise<number> {
    this.assertOpen();
    assertValidPurge(options);
    const rows = await this.dataSource.query<Array<{ purged: number }>>(PURGE_DEPLOY_HISTORY, [options.olderThan, options.limit]);
    return rows[0]?.purged ?? 0;
  }

  async health(): Promise<HistoryHealth> {
    const database = redactPostgresUrl(this.url);
    if (this.closed) return { healthy: false, database, error: 'closed' };
    let timer: NodeJS.Timeout | undefined;
    try {
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('no answer within 5 s')), 5_000);
      });
      await Promise.race([this.dataSource.query('SELECT 1'), timeout]);
      return { healthy: true, database };
    } catch (err) {
      return { healthy: false, database, error: (err as Error).message };
    } finally {
      clearTimeout(timer);
    }
  }

  /** Names of the migrations recorded as applied, oldest first. */
  async appliedMigrations(): Promise<string[]> {
    this.assertOpen();
    const rows = await this.dataSource.query<Array<{ name: string }>>(`SELECT name FROM ${HISTORY_MIGRATIONS_TABLE} ORDER BY id`);
    return rows.map((row) => row.name);
  }

  /** SQL TypeORM would run to make the schema match the entities: empty when migrations and entities agree. */
  async schemaDrift(): Promise<string[]> {
    this.assertOpen();
    const log = await this.dataSource.driver.createSchemaBuilder().log();
    return log.upQueries.map((query) => query.query);
  }

  async close(): Promise<void> {
    this.closed ??= (async () => {
      if (this.dataSource.isInitialized) await this.dataSource.destroy();
      await this.database?.close();
    })();
    return this.closed;
  }

  private get manager(): EntityManager {
    return this.dataSource.manager;
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('history repository is closed');
  }
}

/**
 * Provisions the database (`createHistoryDatabase`) and opens the repository on it; closing the
 * repository also stops an embedded server.
 */
export async function openSqlHistoryRepository(options: HistoryDatabaseOptions & { poolSize?: number }): Promise<SqlHistoryRepository> {
  const database = await createHistoryDatabase(options);
  try {
    return await SqlHistoryRepository.open({ url: database.url, logger: options.logger, poolSize: options.poolSize, database, connectTimeoutMs: options.connectTimeoutMs });
  } catch (err) {
    await database.close();
    throw err;
  }
}

function applyTaskFilter(query: SelectQueryBuilder<TaskHistoryEntity>, filter: TaskIdHistoryFilter): SelectQueryBuilder<TaskHistoryEntity> {
  const equal = ['requestId', 'deployId', 'runId', 'host', 'lastTaskStatus'] as const;
  for (const field of equal) if (filter[field] !== undefined) query.andWhere(`t.${field} = :${field}`, { [field]: filter[field] });
  if (filter.startedBefore !== undefined) query.andWhere('t.startedAt < :startedBefore', { startedBefore: filter.startedBefore });
  if (filter.startedAfter !== undefined) query.andWhere('t.startedAt > :startedAfter', { startedAfter: filter.startedAfter });
  if (filter.updatedBefore !== undefined) query.andWhere('t.updatedAt < :updatedBefore', { updatedBefore: filter.updatedBefore });
  if (filter.updatedAfter !== undefined) query.andWhere('t.updatedAt > :updatedAfter', { updatedAfter: filter.updatedAfter });
  return query;
}

function toRequestHistory(row: RequestHistoryEntity): SingularityRequestHistory {
  const out: SingularityRequestHistory = { createdAt: row.createdAt, eventType: row.eventType, request: row.request };
  if (row.user !== null) out.user = row.user;
  if (row.message !== null) out.message = row.message;
  return out;
}

function toDeployHistory(row: DeployHistoryEntity): SingularityDeployHistory {
  const out: SingularityDeployHistory = { deployMarker: row.deployMarker };
  if (row.deployResult) out.deployResult = row.deployResult;
  if (row.deploy) out.deploy = row.deploy;
  if (row.deployStatistics) out.deployStatistics = row.deployStatistics;
  return out;
}

function* chunks<T>(rows: readonly T[]): Generator<[number, T[]]> {
  for (let start = 0; start < rows.length; start += ROWS_PER_STATEMENT) yield [start, rows.slice(start, start + ROWS_PER_STATEMENT)];
}

/** TypeORM's log events into our logger: migrations at info, problems at warn, queries not at all. */
class TypeOrmToPino implements TypeOrmLogger {
  constructor(private readonly logger: HistoryLogger) {}
  logQuery(): void {
    // Queries are not logged.
  }
  logQueryError(error: string | Error, query: string): void {
    this.logger.warn({ err: typeof error === 'string' ? new Error(error) : error, query: query.slice(0, 500) }, 'history query failed');
  }
  logQuerySlow(time: number, query: string): void {
    this.logger.warn({ millis: time, query: query.slice(0, 500) }, 'slow history query');
  }
  logSchemaBuild(message: string): void {
    this.logger.debug({ message }, 'history schema');
  }
  logMigration(message: string): void {
    this.logger.info({ message }, 'history migration');
  }
  log(level: 'log' | 'info' | 'warn', message: unknown): void {
    if (level === 'warn') this.logger.warn({ message }, 'typeorm');
    else this.logger.debug({ message }, 'typeorm');
  }
}
