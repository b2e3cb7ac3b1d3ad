import { expectMatchesSchema } from '@singularity/testing';
import { Client } from 'pg';
import { describeWithServer, postgresUnavailable, sql, TEST_PG_URL, TestDatabases, testLogger, emptyHistoryTables } from '../../testing/test-postgres';
import { describeHistoryRepositoryContract } from '../history-repository.contract';
import { taskHistoryRecord } from '../history-records';
import { HISTORY_MIGRATIONS } from './migrations';
import { SqlHistoryRepository } from './sql-history-repository';

// `npm test` runs every project together, where the preset's testTimeout does not apply (jest's 5 s does):
// initdb and the large batches need more under load.
jest.setTimeout(30_000);

/*
 * SqlHistoryRepository on the machine's PostgreSQL (15 here; SINGULARITY_TEST_PG_URL picks another):
 * one fresh database for this file, emptied between cases, dropped at the end.
 */
describeWithServer('SqlHistoryRepository on an external PostgreSQL', postgresUnavailable(TEST_PG_URL), () => {
  const databases = new TestDatabases(TEST_PG_URL);
  const logger = testLogger();
  let url: string;

  beforeAll(async () => {
    url = await databases.create();
  });
  afterAll(() => databases.dropAll());

  const open = () => SqlHistoryRepository.open({ url, logger, poolSize: 3 });

  describeHistoryRepositoryContract('SqlHistoryRepository (external PostgreSQL)', {
    durable: true,
    create: async () => {
      const repository = await open();
      await emptyHistoryTables(url);
      return { repository, reopen: open };
    },
    checkShape: expectMatchesSchema,
  });

  describe('schema and migrations', () => {
    // These cases empty the file's database (dropping the tables is much lighter than a new database, whose
    // DROP costs a checkpoint), so they run after the contract.
    it('creates the schema on an empty database; opening again runs nothing', async () => {
      const fresh = url;
      await dropHistorySchema(fresh);
      const first = await SqlHistoryRepository.open({ url: fresh, logger });
      const names = HISTORY_MIGRATIONS.map((m) => new m().name);
      expect(await first.appliedMigrations()).toEqual(names);
      await first.close();

      const second = await SqlHistoryRepository.open({ url: fresh, logger });
      expect(await second.appliedMigrations()).toEqual(names);
      await second.close();
      expect(await sql(fresh, 'SELECT count(*)::int AS n FROM history_migrations')).toEqual([{ n: names.length }]);
    });

    it('entities and migrations describe the same schema (TypeORM would change nothing)', async () => {
      const repo = await open();
      try {
        expect(await repo.schemaDrift()).toEqual([]);
      } finally {
        await repo.close();
      }
    });

    it('several instances opening a new database at once migrate it once', async () => {
      const fresh = url;
      await dropHistorySchema(fresh);
      const repos = await Promise.all([1, 2, 3].map(() => SqlHistoryRepository.open({ url: fresh, logger, poolSize: 1 })));
      await Promise.all(repos.map((repo) => repo.close()));
      expect(await sql(fresh, 'SELECT count(*)::int AS n FROM history_migrations')).toEqual([{ n: HISTORY_MIGRATIONS.length }]);
    });

    it('has an index for every task search filter', async () => {
      await (await open()).close();
      const filters: Array<[string, string]> = [
        ['request', `request_id = 'r'`],
        ['request + deploy', `request_id = 'r' AND deploy_id = 'd'`],
        ['request + run', `request_id = 'r' AND run_id = 'x'`],
        ['host', `host = 'h'`],
        ['last status', `last_task_status = 'TASK_FAILED'`],
        ['started range', `started_at > 5 AND started_at < 10`],
        ['updated range', `updated_at < 10`],
      ];
      for (const [what, where] of filters) {
        const plan = await explain(url, `SELECT task_id FROM task_history WHERE ${where} ORDER BY started_at DESC LIMIT 100`);
        expect({ what, usesIndex: /Index/.test(plan) }).toEqual({ what, usesIndex: true });
      }
      expect(await explain(url, `SELECT DISTINCT request_id FROM request_history WHERE request_id LIKE 'ab%'`)).toMatch(/Index/);
      expect(await explain(url, `SELECT * FROM deploy_history WHERE request_id = 'r' ORDER BY created_at DESC`)).toMatch(/Index/);
    });

    it('a batch is one transaction: a row the database refuses late in a large batch leaves nothing', async () => {
      const repo = await open();
      await emptyHistoryTables(url);
      try {
        const records = Array.from({ length: 1200 }, (_, i) => taskHistoryRecord(taskHistoryAt(i)));
        const victim = records[1100].taskId;
        await sql(
          url,
          `CREATE FUNCTION refuse_victim() RETURNS trigger AS $$
           BEGIN IF NEW.task_id = '${victim}' THEN RAISE EXCEPTION 'refused by test'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql`,
        );
        await sql(url, `CREATE TRIGGER refuse_victim BEFORE INSERT ON task_history FOR EACH ROW EXECUTE FUNCTION refuse_victim()`);
        await expect(repo.saveTaskHistories(records)).rejects.toThrow(/refused by test/);
        expect((await repo.getTaskIdHistories({})).total).toBe(0);
        await sql(url, 'DROP TRIGGER refuse_victim ON task_history');
        await repo.saveTaskHistories(records);
        expect((await repo.getTaskIdHistories({})).total).toBe(1200);
      } finally {
        await sql(url, 'DROP TRIGGER IF EXISTS refuse_victim ON task_history; DROP FUNCTION IF EXISTS refuse_victim()');
        await repo.close();
      }
    });
  });
});

/** Back to an empty database: the history tables and the migrations record gone. */
function dropHistorySchema(url: string): Promise<unknown> {
  return sql(url, 'DROP TABLE IF EXISTS task_history, request_history, deploy_history, history_migrations');
}

/** The plan of `query` with sequential scans priced out: it names an index when one fits. */
async function explain(url: string, query: string): Promise<string> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('SET enable_seqscan = off');
    const result = await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${query}`);
    return result.rows.map((row) => row['QUERY PLAN']).join('\n');
  } finally {
    await client.end();
  }
}

function taskHistoryAt(i: number) {
  const taskId = {
    requestId: 'big',
    deployId: 'd1',
    startedAt: 1_700_000_000_000 + i,
    instanceNo: 1,
    host: 'h1',
    sanitizedHost: 'h1',
    rackId: 'r1',
    sanitizedRackId: 'r1',
    id: `big-d1-${1_700_000_000_000 + i}-1-h1-r1`,
  };
  const agent = { value: 'a1' };
  return {
    task: {
      taskId,
      taskRequest: {
        request: { id: 'big', requestType: 'WORKER' as const },
        deploy: { requestId: 'big', id: 'd1', command: 'true' },
        pendingTask: {
          pendingTaskId: { requestId: 'big', deployId: 'd1', nextRunAt: 0, instanceNo: 1, pendingType: 'NEW_DEPLOY' as const, createdAt: 0, id: 'big-d1-0-1-NEW_DEPLOY-0' },
        },
      },
      mesosTask: { taskId: { value: taskId.id }, agentId: agent, slaveId: agent, name: 'big', resources: [] },
      offers: [],
      rackId: 'r1',
    },
    taskUpdates: [{ taskId, timestamp: taskId.startedAt + 10, taskState: 'TASK_FINISHED' as const }],
    healthcheckResults: [],
    loadBalancerUpdates: [],
    shellCommandHistory: [],
    taskMetadata: [],
  };
}
