/// <reference types="jest" />
import {
  buildTaskId,
  type ExtendedTaskState,
  type RequestHistoryType,
  type SingularityDeploy,
  type SingularityRequest,
  type SingularityTask,
  type SingularityTaskId,
} from '@singularity/models';
import { InvalidRequestError } from '@singularity/util';
import { toPaginatedResponse } from './history-paging';
import { InvalidHistoryItemError, taskHistoryRecord } from './history-records';
import type { HistoryRepository, TaskHistoryRecord, TaskIdHistoryFilter } from './history-repository.port';
import type { DeployHistoryRecord, SingularityRequestHistory, SingularityTaskHistory } from './history.types';

/** One repository under test, over fresh, empty data. */
export interface HistoryRepositoryFixture {
  readonly repository: HistoryRepository;
  /**
   * A new repository over the same data (for SQL: a new pool that runs the migrations again). Called
   * after `repository` is closed. Absent when the data lives in the repository object.
   */
  reopen?(): Promise<HistoryRepository>;
  /** Called after every repository of the fixture is closed. */
  cleanup?(): Promise<void>;
}

export interface HistoryRepositoryContractFactory {
  /** Whether the data outlives the repository object; when true, every fixture has `reopen`. */
  readonly durable: boolean;
  create(): Promise<HistoryRepositoryFixture>;
  /**
   * Optional check of read results against the reference schemas (e.g. `expectMatchesSchema` of
   * `@singularity/testing`), called with the value and a schema name such as `SingularityTaskHistory`.
   */
  checkShape?(value: unknown, schemaName: string): void;
}

/**
 * The HistoryRepository contract (see `history-repository.port.ts`) as a jest suite, run against every
 * implementation. It uses only the port. It touches jest's globals only when called.
 */
export function describeHistoryRepositoryContract(name: string, factory: HistoryRepositoryContractFactory): void {
  describe(`HistoryRepository contract: ${name}`, () => {
    let fixture: HistoryRepositoryFixture;
    let repo: HistoryRepository;
    let opened: HistoryRepository[];
    const shape = (value: unknown, schemaName: string) => factory.checkShape?.(value, schemaName);

    beforeEach(async () => {
      fixture = await factory.create();
      repo = fixture.repository;
      opened = [repo];
    });

    afterEach(async () => {
      for (const each of opened) await each.close().catch(() => undefined);
      await fixture.cleanup?.();
    });

    const ids = async (filter: TaskIdHistoryFilter, paging?: { count?: number; page?: number }) =>
      (await repo.getTaskIdHistories(filter, paging)).items.map((row) => row.taskId.id);

    describe('task history', () => {
      it('starts empty', async () => {
        expect(await repo.getTaskHistory(aTaskHistory().task.taskId.id)).toBeUndefined();
        expect(await repo.getTaskIdHistories({})).toEqual({ items: [], total: 0 });
        expect(await repo.getRequestHistory('r1')).toEqual({ items: [], total: 0 });
        expect(await repo.searchRequestIds('')).toEqual({ items: [], total: 0 });
        expect(await repo.getDeployHistories('r1')).toEqual({ items: [], total: 0 });
        expect(await repo.getDeployHistory('r1', 'd1')).toBeUndefined();
      });

      it('round-trips the full task history JSON', async () => {
        const history = aTaskHistory({ runId: 'run-ü-1', rich: true });
        await repo.saveTaskHistories([taskHistoryRecord(history)]);
        const read = await repo.getTaskHistory(history.task.taskId.id);
        expect(read).toEqual(history);
        shape(read, 'SingularityTaskHistory');
      });

      it('derives the search row from the history: ids, host, last status and its time, runId', async () => {
        const history = aTaskHistory({
          host: 'host-a.example.com',
          runId: 'run-42',
          updates: [
            ['TASK_LAUNCHED', T + 10],
            ['TASK_RUNNING', T + 20],
            ['TASK_FAILED', T + 30],
          ],
        });
        await repo.saveTaskHistories([taskHistoryRecord(history)]);
        const page = await repo.getTaskIdHistories({ requestId: history.task.taskId.requestId });
        expect(page.total).toBe(1);
        const [row] = page.items;
        expect(row).toEqual({
          taskId: expect.objectContaining({ id: history.task.taskId.id, requestId: 'r1', deployId: 'd1', startedAt: T, instanceNo: 1, host: 'host-a.example.com' }),
          updatedAt: T + 30,
          lastTaskState: 'TASK_FAILED',
          lastStatus: 'TASK_FAILED',
          runId: 'run-42',
        });
        shape(row, 'SingularityTaskIdHistory');
        shape(toPaginatedResponse(page), 'SingularityPaginatedResponseSingularityTaskIdHistory');
      });

      it('keeps runId through SQL and finds a run by it (scenario 37)', async () => {
        const withRun = aTaskHistory({ startedAt: T, runId: 'my-run' });
        const withoutRun = aTaskHistory({ startedAt: T + 1 });
        await repo.saveTaskHistories([withRun, withoutRun].map(taskHistoryRecord));
        expect(await ids({ requestId: 'r1', runId: 'my-run' })).toEqual([withRun.task.taskId.id]);
        const rows = (await repo.getTaskIdHistories({ requestId: 'r1' })).items;
        expect(rows.find((row) => row.taskId.id === withRun.task.taskId.id)?.runId).toBe('my-run');
        expect(rows.find((row) => row.taskId.id === withoutRun.task.taskId.id)).not.toHaveProperty('runId');
        expect((await repo.getTaskHistory(withRun.task.taskId.id))?.task.taskRequest.pendingTask.runId).toBe('my-run');
        expect(await repo.getTaskHistoryByRunId('r1', 'my-run')).toEqual(withRun);
        expect(await repo.getTaskHistoryByRunId('r1', 'other-run')).toBeUndefined();
        expect(await repo.getTaskHistoryByRunId('r2', 'my-run')).toBeUndefined();
      });

      it('finds the newest task of a run when a run was retried', async () => {
        const first = aTaskHistory({ startedAt: T, runId: 'retried' });
        const retry = aTaskHistory({ startedAt: T + 5, instanceNo: 1, runId: 'retried' });
        await repo.saveTaskHistories([first, retry].map(taskHistoryRecord));
        expect((await repo.getTaskHistoryByRunId('r1', 'retried'))?.task.taskId.id).toBe(retry.task.taskId.id);
      });

      it('re-saving a batch never duplicates (a retried batch)', async () => {
        const batch = [1, 2, 3].map((i) => taskHistoryRecord(aTaskHistory({ startedAt: T + i })));
        await repo.saveTaskHistories(batch);
        await repo.saveTaskHistories(batch);
        await repo.saveTaskHistories([batch[1]]);
        const page = await repo.getTaskIdHistories({});
        expect(page.total).toBe(3);
        expect(page.items.map((row) => row.taskId.id).sort()).toEqual(batch.map((r) => r.taskId).sort());
      });

      it('a newer save of a task replaces it; an older one does not', async () => {
        const base = aTaskHistory({ updates: [['TASK_RUNNING', T + 10]] });
        const newer = withUpdates(base, [['TASK_FINISHED', T + 20]], 'newer');
        await repo.saveTaskHistories([taskHistoryRecord(base)]);
        await repo.saveTaskHistories([taskHistoryRecord(newer)]);
        expect(await repo.getTaskHistory(base.task.taskId.id)).toEqual(newer);
        await repo.saveTaskHistories([taskHistoryRecord(base)]);
        expect(await repo.getTaskHistory(base.task.taskId.id)).toEqual(newer);
        const [row] = (await repo.getTaskIdHistories({})).items;
        expect(row).toMatchObject({ updatedAt: T + 20, lastTaskState: 'TASK_FINISHED' });
        // A tie replaces: the same time saved again with other content wins.
        const sameTime = { ...newer, directory: '/sandbox/changed' };
        await repo.saveTaskHistories([taskHistoryRecord(sameTime)]);
        expect((await repo.getTaskHistory(base.task.taskId.id))?.directory).toBe('/sandbox/changed');
      });

      it('a batch with the same task twice ends as if saved one by one', async () => {
        const base = aTaskHistory({ updates: [['TASK_RUNNING', T + 10]] });
        const newer = withUpdates(base, [['TASK_KILLED', T + 30]], 'newer');
        await repo.saveTaskHistories([taskHistoryRecord(base), taskHistoryRecord(newer), taskHistoryRecord(base)]);
        expect(await repo.getTaskHistory(base.task.taskId.id)).toEqual(newer);
        expect((await repo.getTaskIdHistories({})).total).toBe(1);
      });

      it('an invalid item refuses the whole batch and writes nothing', async () => {
        const good = taskHistoryRecord(aTaskHistory());
        const bad = { ...taskHistoryRecord(aTaskHistory({ startedAt: T + 1 })), updatedAt: Number.NaN };
        await expect(repo.saveTaskHistories([good, bad])).rejects.toThrow(InvalidHistoryItemError);
        const wrongRequest = { ...taskHistoryRecord(aTaskHistory({ startedAt: T + 2 })), requestId: 'other' };
        await expect(repo.saveTaskHistories([good, wrongRequest])).rejects.toThrow(/does not name request other/);
        const notAnId = { ...good, taskId: 'not-a-task-id' };
        await expect(repo.saveTaskHistories([notAnId])).rejects.toThrow(InvalidHistoryItemError);
        expect((await repo.getTaskIdHistories({})).total).toBe(0);
        await repo.saveTaskHistories([]);
        expect((await repo.getTaskIdHistories({})).total).toBe(0);
      });

      it('stores NUL characters and lone surrogates as U+FFFD, like JSONB must', async () => {
        const history = aTaskHistory({ updates: [['TASK_FAILED', T + 1, 'exit\u0000code \uD800 ok \uD83D\uDE00']] });
        await repo.saveTaskHistories([taskHistoryRecord(history)]);
        const read = await repo.getTaskHistory(history.task.taskId.id);
        expect(read?.taskUpdates[0].statusMessage).toBe('exit\uFFFDcode \uFFFD ok \uD83D\uDE00');
      });

      describe('search filters (spec §4 /history/tasks)', () => {
        // r1/d1 on host-a, r1/d2 on host-b, r2/d1 on host-a; statuses, runs and times differ.
        const rows = () => [
          aTaskHistory({ requestId: 'r1', deployId: 'd1', startedAt: T + 100, host: 'host-a', runId: 'run-1', updates: [['TASK_FINISHED', T + 150]] }),
          aTaskHistory({ requestId: 'r1', deployId: 'd1', startedAt: T + 200, host: 'host-a', instanceNo: 2, updates: [['TASK_FAILED', T + 250]] }),
          aTaskHistory({ requestId: 'r1', deployId: 'd2', startedAt: T + 300, host: 'host-b', runId: 'run-2', updates: [['TASK_KILLED', T + 350]] }),
          aTaskHistory({ requestId: 'r2', deployId: 'd1', startedAt: T + 400, host: 'host-a', runId: 'run-1', updates: [['TASK_FINISHED', T + 450]] }),
        ];
        let all: SingularityTaskHistory[];
        const id = (i: number) => all[i].task.taskId.id;

        beforeEach(async () => {
          all = rows();
          await repo.saveTaskHistories(all.map(taskHistoryRecord));
        });

        it('by request, deploy, run, host and last status', async () => {
          expect(await ids({ requestId: 'r1' })).toEqual([id(2), id(1), id(0)]);
          expect(await ids({ requestId: 'r2' })).toEqual([id(3)]);
          expect(await ids({ requestId: 'r3' })).toEqual([]);
          expect(await ids({ deployId: 'd1' })).toEqual([id(3), id(1), id(0)]);
          expect(await ids({ requestId: 'r1', deployId: 'd2' })).toEqual([id(2)]);
          expect(await ids({ runId: 'run-1' })).toEqual([id(3), id(0)]);
          expect(await ids({ requestId: 'r1', runId: 'run-1' })).toEqual([id(0)]);
          expect(await ids({ host: 'host-a' })).toEqual([id(3), id(1), id(0)]);
          expect(await ids({ host: 'host-b' })).toEqual([id(2)]);
          expect(await ids({ lastTaskStatus: 'TASK_FINISHED' })).toEqual([id(3), id(0)]);
          expect(await ids({ lastTaskStatus: 'TASK_LOST' })).toEqual([]);
          expect(await ids({ requestId: 'r1', host: 'host-a', lastTaskStatus: 'TASK_FAILED' })).toEqual([id(1)]);
        });

        it('by start and update time, with exclusive bounds', async () => {
          expect(await ids({ startedBefore: T + 200 })).toEqual([id(0)]);
          expect(await ids({ startedBefore: T + 201 })).toEqual([id(1), id(0)]);
          expect(await ids({ startedAfter: T + 300 })).toEqual([id(3)]);
          expect(await ids({ startedAfter: T + 299 })).toEqual([id(3), id(2)]);
          expect(await ids({ startedAfter: T + 100, startedBefore: T + 400 })).toEqual([id(2), id(1)]);
          expect(await ids({ updatedBefore: T + 250 })).toEqual([id(0)]);
          expect(await ids({ updatedAfter: T + 250 })).toEqual([id(3), id(2)]);
          expect(await ids({ updatedAfter: T + 149, updatedBefore: T + 351 })).toEqual([id(2), id(1), id(0)]);
          expect(await ids({ requestId: 'r1', updatedAfter: T + 150, startedBefore: T + 300 })).toEqual([id(1)]);
        });

        it('orders by start time, newest first by default, oldest first with ASC', async () => {
          expect(await ids({})).toEqual([id(3), id(2), id(1), id(0)]);
          expect(await ids({ orderDirection: 'DESC' })).toEqual([id(3), id(2), id(1), id(0)]);
          expect(await ids({ orderDirection: 'ASC' })).toEqual([id(0), id(1), id(2), id(3)]);
          expect(await ids({ requestId: 'r1', orderDirection: 'ASC' }, { count: 2, page: 2 })).toEqual([id(2)]);
        });

        it('refuses filters that cannot be meant', async () => {
          await expect(repo.getTaskIdHistories({ lastTaskStatus: 'RUNNING' as ExtendedTaskState })).rejects.toThrow(InvalidRequestError);
          await expect(repo.getTaskIdHistories({ orderDirection: 'UP' as 'ASC' })).rejects.toThrow(InvalidRequestError);
          await expect(repo.getTaskIdHistories({ startedAfter: Number.NaN })).rejects.toThrow(InvalidRequestError);
        });
      });

      it('breaks start-time ties by request id, then task id, in the same direction', async () => {
        const a = aTaskHistory({ requestId: 'ra', startedAt: T, instanceNo: 1 });
        const b1 = aTaskHistory({ requestId: 'rb', startedAt: T, instanceNo: 1 });
        const b2 = aTaskHistory({ requestId: 'rb', startedAt: T, instanceNo: 2 });
        const older = aTaskHistory({ requestId: 'rz', startedAt: T - 1 });
        await repo.saveTaskHistories([b2, older, a, b1].map(taskHistoryRecord));
        const id = (h: SingularityTaskHistory) => h.task.taskId.id;
        expect(await ids({ orderDirection: 'ASC' })).toEqual([id(older), id(a), id(b1), id(b2)]);
        expect(await ids({ orderDirection: 'DESC' })).toEqual([id(b2), id(b1), id(a), id(older)]);
      });

      it('pages: count (default 100, cut to 1000), page from 1, total over all pages', async () => {
        const many = Array.from({ length: 1050 }, (_, i) => taskHistoryRecord(aTaskHistory({ startedAt: T + i, requestId: i % 2 ? 'odd' : 'even' })));
        await repo.saveTaskHistories(many);

        const first = await repo.getTaskIdHistories({});
        expect(first.total).toBe(1050);
        expect(first.items).toHaveLength(100);
        expect(first.items[0].taskId.startedAt).toBe(T + 1049);
        expect(toPaginatedResponse(first)).toMatchObject({ dataCount: 1050, pageCount: 11, page: 1 });

        const capped = await repo.getTaskIdHistories({}, { count: 5000 });
        expect(capped.items).toHaveLength(1000);
        expect(toPaginatedResponse(capped, { count: 5000 })).toMatchObject({ dataCount: 1050, pageCount: 2, page: 1 });
        const rest = await repo.getTaskIdHistories({}, { count: 5000, page: 2 });
        expect(rest.items).toHaveLength(50);
        expect(rest.items[49].taskId.startedAt).toBe(T);

        const third = await repo.getTaskIdHistories({ requestId: 'odd', orderDirection: 'ASC' }, { count: 10, page: 3 });
        expect(third.total).toBe(525);
        expect(third.items.map((row) => row.taskId.startedAt)).toEqual(Array.from({ length: 10 }, (_, i) => T + 41 + 2 * i));
        expect(toPaginatedResponse(third, { count: 10, page: 3 })).toMatchObject({ dataCount: 525, pageCount: 53, page: 3 });

        const beyond = await repo.getTaskIdHistories({}, { count: 100, page: 12 });
        expect(beyond).toEqual({ items: [], total: 1050 });
      });

      it('refuses a count or page below 1', async () => {
        await expect(repo.getTaskIdHistories({}, { count: 0 })).rejects.toThrow(InvalidRequestError);
        await expect(repo.getTaskIdHistories({}, { page: 0 })).rejects.toThrow(InvalidRequestError);
        await expect(repo.getRequestHistory('r1', { count: -1 })).rejects.toThrow(InvalidRequestError);
        await expect(repo.getDeployHistories('r1', { page: 1.5 })).rejects.toThrow(InvalidRequestError);
        await expect(repo.searchRequestIds('r', { count: 0 })).rejects.toThrow(InvalidRequestError);
      });
    });

    describe('request history', () => {
      it('saves events once and lists a request newest first, paged', async () => {
        const events = [
          anEvent('r1', T + 1, 'CREATED', { user: 'alice' }),
          anEvent('r1', T + 2, 'UPDATED', { message: 'scaled to 3', request: { instances: 3 } }),
          anEvent('r1', T + 2, 'PAUSED'),
          anEvent('r2', T + 3, 'CREATED'),
          anEvent('r1', T + 4, 'DELETING'),
        ];
        await repo.saveRequestHistory(events);
        await repo.saveRequestHistory(events);
        const page = await repo.getRequestHistory('r1');
        expect(page.total).toBe(4);
        expect(page.items).toEqual([events[4], events[1], events[2], events[0]]);
        for (const item of page.items) shape(item, 'SingularityRequestHistory');
        shape(toPaginatedResponse(page), 'SingularityPaginatedResponseSingularityRequestHistory');
        expect((await repo.getRequestHistory('r1', { count: 3, page: 2 })).items).toEqual([events[0]]);
        expect(await repo.getRequestHistory('r9')).toEqual({ items: [], total: 0 });
      });

      it('an event already stored is left as it is (events are immutable); a batch keeps the first of a key', async () => {
        const first = anEvent('r1', T, 'CREATED', { message: 'first' });
        await repo.saveRequestHistory([first]);
        await repo.saveRequestHistory([anEvent('r1', T, 'CREATED', { message: 'second' })]);
        await repo.saveRequestHistory([anEvent('r1', T + 1, 'UPDATED', { message: 'a' }), anEvent('r1', T + 1, 'UPDATED', { message: 'b' })]);
        const items = (await repo.getRequestHistory('r1')).items;
        expect(items.map((e) => e.message)).toEqual(['a', 'first']);
      });

      it('refuses a batch with an invalid event and writes none of it', async () => {
        const bad = { ...anEvent('r1', T + 1, 'CREATED'), eventType: 'EXPLODED' as RequestHistoryType };
        await expect(repo.saveRequestHistory([anEvent('r1', T, 'CREATED'), bad])).rejects.toThrow(InvalidHistoryItemError);
        expect((await repo.getRequestHistory('r1')).total).toBe(0);
      });

      it('searches request ids by literal prefix: % and _ match only themselves', async () => {
        const requestIds = ['abc', 'abd', 'a_b', 'axb', 'a%c', 'ab', 'zab', 'A-b'];
        await repo.saveRequestHistory(requestIds.flatMap((id, i) => [anEvent(id, T + i, 'CREATED'), anEvent(id, T + 100 + i, 'UPDATED')]));
        expect(await repo.searchRequestIds('ab')).toEqual({ items: ['ab', 'abc', 'abd'], total: 3 });
        expect(await repo.searchRequestIds('a_')).toEqual({ items: ['a_b'], total: 1 });
        expect(await repo.searchRequestIds('a%')).toEqual({ items: ['a%c'], total: 1 });
        expect(await repo.searchRequestIds('%')).toEqual({ items: [], total: 0 });
        expect(await repo.searchRequestIds('_')).toEqual({ items: [], total: 0 });
        expect(await repo.searchRequestIds('a\\')).toEqual({ items: [], total: 0 });
        expect(await repo.searchRequestIds('A')).toEqual({ items: ['A-b'], total: 1 });
        const all = await repo.searchRequestIds('');
        expect(all).toEqual({ items: ['A-b', 'a%c', 'a_b', 'ab', 'abc', 'abd', 'axb', 'zab'], total: 8 });
        expect(await repo.searchRequestIds('a', { count: 2, page: 2 })).toEqual({ items: ['ab', 'abc'], total: 6 });
      });
    });

    describe('deploy history', () => {
      it('lists a request’s deploys newest first with marker and result; one deploy read whole', async () => {
        const d1 = aDeployHistory('r1', 'd1', T + 1, 'SUCCEEDED', true);
        const d2 = aDeployHistory('r1', 'd2', T + 2, 'FAILED');
        const d3 = aDeployHistory('r1', 'd3', T + 3, 'CANCELED');
        const other = aDeployHistory('r2', 'd1', T + 4, 'SUCCEEDED');
        await repo.saveDeployHistories([d1, d2, d3, other]);
        const page = await repo.getDeployHistories('r1');
        expect(page.total).toBe(3);
        expect(page.items).toEqual([d3, d2, d1].map(({ deployMarker, deployResult }) => ({ deployMarker, deployResult })));
        for (const item of page.items) shape(item, 'SingularityDeployHistory');
        shape(toPaginatedResponse(page), 'SingularityPaginatedResponseSingularityDeployHistory');
        expect((await repo.getDeployHistories('r1', { count: 2, page: 2 })).items.map((d) => d.deployMarker.deployId)).toEqual(['d1']);

        const full = await repo.getDeployHistory('r1', 'd1');
        expect(full).toEqual(d1);
        shape(full, 'SingularityDeployHistory');
        expect(await repo.getDeployHistory('r1', 'd2')).toEqual(d2);
        expect(await repo.getDeployHistory('r1', 'nope')).toBeUndefined();
        expect(await repo.getDeployHistory('r2', 'd2')).toBeUndefined();
      });

      it('re-saving a deploy replaces it (last write wins) without duplicating', async () => {
        const d1 = aDeployHistory('r1', 'd1', T, 'SUCCEEDED');
        await repo.saveDeployHistories([d1]);
        const updated = aDeployHistory('r1', 'd1', T, 'SUCCEEDED', true);
        await repo.saveDeployHistories([updated, updated]);
        expect((await repo.getDeployHistories('r1')).total).toBe(1);
        expect(await repo.getDeployHistory('r1', 'd1')).toEqual(updated);
      });

      it('refuses a deploy without its result or deploy and writes none of the batch', async () => {
        const bad = { ...aDeployHistory('r1', 'd2', T, 'FAILED'), deploy: undefined } as unknown as DeployHistoryRecord;
        await expect(repo.saveDeployHistories([aDeployHistory('r1', 'd1', T, 'SUCCEEDED'), bad])).rejects.toThrow(InvalidHistoryItemError);
        expect((await repo.getDeployHistories('r1')).total).toBe(0);
      });
    });

    describe('purge (spec §3.6)', () => {
      // r1: 5 tasks updated at T+10..T+50; r2: 3 tasks updated at T+15..T+35.
      let r1: TaskHistoryRecord[];
      let r2: TaskHistoryRecord[];
      const remaining = async (requestId: string) => (await ids({ requestId, orderDirection: 'ASC' })).length;

      beforeEach(async () => {
        r1 = [1, 2, 3, 4, 5].map((i) => taskHistoryRecord(aTaskHistory({ requestId: 'r1', startedAt: T + i, updates: [['TASK_FINISHED', T + 10 * i]] })));
        r2 = [1, 2, 3].map((i) => taskHistoryRecord(aTaskHistory({ requestId: 'r2', startedAt: T + i, updates: [['TASK_FINISHED', T + 5 + 10 * i]] })));
        await repo.saveTaskHistories([...r1, ...r2]);
      });

      it('keeps the newest N of every request', async () => {
        expect(await repo.purgeTaskHistory({ keepNewestPerRequest: 2, limit: 100 })).toBe(4);
        expect(await ids({ requestId: 'r1' })).toEqual([r1[4].taskId, r1[3].taskId]);
        expect(await ids({ requestId: 'r2' })).toEqual([r2[2].taskId, r2[1].taskId]);
        expect(await repo.getTaskHistory(r1[0].taskId)).toBeUndefined();
        expect(await repo.purgeTaskHistory({ keepNewestPerRequest: 2, limit: 100 })).toBe(0);
      });

      it('purges rows older than a time, and the union of both criteria', async () => {
        expect(await repo.purgeTaskHistory({ olderThan: T + 20, limit: 100 })).toBe(2);
        expect(await remaining('r1')).toBe(4);
        expect(await remaining('r2')).toBe(2);
        // r1 (20, 30, 40, 50): 20 is too old, 20 and 30 are beyond the newest 2. r2 (25, 35): 25 is too old.
        expect(await repo.purgeTaskHistory({ olderThan: T + 26, keepNewestPerRequest: 2, limit: 100 })).toBe(3);
        expect(await ids({ requestId: 'r1' })).toEqual([r1[4].taskId, r1[3].taskId]);
        expect(await ids({ requestId: 'r2' })).toEqual([r2[2].taskId]);
      });

      it('purges at most `limit` rows per call, oldest first', async () => {
        expect(await repo.purgeTaskHistory({ keepNewestPerRequest: 0, limit: 3 })).toBe(3);
        // The oldest three by update time: r1@10, r2@15, r1@20.
        expect(await repo.getTaskHistory(r1[0].taskId)).toBeUndefined();
        expect(await repo.getTaskHistory(r2[0].taskId)).toBeUndefined();
        expect(await repo.getTaskHistory(r1[1].taskId)).toBeUndefined();
        expect(await repo.getTaskHistory(r2[1].taskId)).toBeDefined();
        expect(await repo.purgeTaskHistory({ keepNewestPerRequest: 0, limit: 3 })).toBe(3);
        expect(await repo.purgeTaskHistory({ keepNewestPerRequest: 0, limit: 3 })).toBe(2);
        expect((await repo.getTaskIdHistories({})).total).toBe(0);
      });

      it('can be limited to one request, and does nothing without a criterion', async () => {
        expect(await repo.purgeTaskHistory({ limit: 100 })).toBe(0);
        expect(await repo.purgeTaskHistory({ requestId: 'r2', keepNewestPerRequest: 1, limit: 100 })).toBe(2);
        expect(await remaining('r1')).toBe(5);
        expect(await remaining('r2')).toBe(1);
      });

      it('in bytes mode drops the JSON but keeps the searchable row', async () => {
        const runTask = taskHistoryRecord(aTaskHistory({ requestId: 'r1', startedAt: T + 9, runId: 'old-run', updates: [['TASK_FINISHED', T + 1]] }));
        await repo.saveTaskHistories([runTask]);
        expect(await repo.purgeTaskHistory({ olderThan: T + 25, limit: 100, mode: 'bytes' })).toBe(4);
        expect(await repo.getTaskHistory(r1[0].taskId)).toBeUndefined();
        expect(await repo.getTaskHistory(runTask.taskId)).toBeUndefined();
        expect(await repo.getTaskHistoryByRunId('r1', 'old-run')).toBeUndefined();
        expect(await repo.getTaskHistory(r1[2].taskId)).toBeDefined();
        expect(await remaining('r1')).toBe(6);
        expect(await ids({ runId: 'old-run' })).toEqual([runTask.taskId]);
        // Rows already without bytes are not counted again; the newest-N rank still counts them.
        expect(await repo.purgeTaskHistory({ olderThan: T + 25, limit: 100, mode: 'bytes' })).toBe(0);
        expect(await repo.purgeTaskHistory({ keepNewestPerRequest: 2, limit: 100, mode: 'bytes' })).toBe(1);
        expect(await repo.getTaskHistory(r1[2].taskId)).toBeUndefined();
        expect(await repo.getTaskHistory(r1[3].taskId)).toBeDefined();
      });

      it('purges request and deploy history by age, at most `limit` per call', async () => {
        await repo.saveRequestHistory([anEvent('r1', T + 1, 'CREATED'), anEvent('r1', T + 2, 'UPDATED'), anEvent('r2', T + 3, 'CREATED')]);
        await repo.saveDeployHistories([aDeployHistory('r1', 'd1', T + 1, 'SUCCEEDED'), aDeployHistory('r1', 'd2', T + 5, 'SUCCEEDED')]);
        expect(await repo.purgeRequestHistory({ olderThan: T + 3, limit: 1 })).toBe(1);
        expect(await repo.purgeRequestHistory({ olderThan: T + 3, limit: 10 })).toBe(1);
        expect((await repo.getRequestHistory('r1')).total).toBe(0);
        expect((await repo.getRequestHistory('r2')).total).toBe(1);
        expect(await repo.purgeDeployHistory({ olderThan: T + 5, limit: 10 })).toBe(1);
        expect((await repo.getDeployHistories('r1')).items.map((d) => d.deployMarker.deployId)).toEqual(['d2']);
      });

      it('refuses a limit below 1', async () => {
        await expect(repo.purgeTaskHistory({ keepNewestPerRequest: 1, limit: 0 })).rejects.toThrow(RangeError);
        await expect(repo.purgeRequestHistory({ olderThan: T, limit: -1 })).rejects.toThrow(RangeError);
      });
    });

    describe('lifecycle', () => {
      it('is healthy while open; after close it reports so and every call rejects', async () => {
        expect(await repo.health()).toMatchObject({ healthy: true });
        expect(JSON.stringify(await repo.health())).not.toMatch(/:[^/@]*@/);
        await repo.close();
        await repo.close();
        expect(await repo.health()).toMatchObject({ healthy: false });
        await expect(repo.saveTaskHistories([taskHistoryRecord(aTaskHistory())])).rejects.toThrow(/closed/);
        await expect(repo.getTaskIdHistories({})).rejects.toThrow(/closed/);
        await expect(repo.purgeTaskHistory({ keepNewestPerRequest: 1, limit: 1 })).rejects.toThrow(/closed/);
      });

      // Only for stores whose data outlives the object (left out, not skipped, for the in-memory one).
      if (!factory.durable) return;
      it('keeps everything across close and reopen (the migrations run again and change nothing)', async () => {
        if (!fixture.reopen) throw new Error('a durable fixture must offer reopen()');
        const history = aTaskHistory({ runId: 'kept', rich: true });
        const event = anEvent('r1', T, 'CREATED');
        const deploy = aDeployHistory('r1', 'd1', T, 'SUCCEEDED', true);
        await repo.saveTaskHistories([taskHistoryRecord(history)]);
        await repo.saveRequestHistory([event]);
        await repo.saveDeployHistories([deploy]);
        await repo.close();
        repo = await fixture.reopen();
        opened.push(repo);
        expect(await repo.getTaskHistory(history.task.taskId.id)).toEqual(history);
        expect((await repo.getRequestHistory('r1')).items).toEqual([event]);
        expect(await repo.getDeployHistory('r1', 'd1')).toEqual(deploy);
        await repo.saveTaskHistories([taskHistoryRecord(history)]);
        expect((await repo.getTaskIdHistories({})).total).toBe(1);
      });
    });
  });
}

// ---------------------------------------------------------------------------------------------------
// Fixtures: complete, valid objects with fixed times (no clock, no randomness).
// ---------------------------------------------------------------------------------------------------

const T = 1_700_000_000_000;

interface TaskHistoryParts {
  requestId?: string;
  deployId?: string;
  startedAt?: number;
  instanceNo?: number;
  host?: string;
  runId?: string;
  /** [state, time, message?]; default: one TASK_FINISHED a second after the start. */
  updates?: Array<[ExtendedTaskState, number, string?]>;
  /** Fill every optional part: health checks, LB updates, shell commands, metadata, odd strings. */
  rich?: boolean;
}

function aRequestOf(id: string, extra: Partial<SingularityRequest> = {}): SingularityRequest {
  return { id, requestType: 'WORKER', owners: ['owner@example.com'], instances: 1, ...extra };
}

function aDeployOf(requestId: string, id: string): SingularityDeploy {
  return { requestId, id, command: 'sleep 1000', resources: { cpus: 1, memoryMb: 64, numPorts: 0, diskMb: 0 } };
}

function aTaskHistory(parts: TaskHistoryParts = {}): SingularityTaskHistory {
  const requestId = parts.requestId ?? 'r1';
  const deployId = parts.deployId ?? 'd1';
  const taskId: SingularityTaskId = buildTaskId({
    requestId,
    deployId,
    startedAt: parts.startedAt ?? T,
    instanceNo: parts.instanceNo ?? 1,
    host: parts.host ?? 'host1.example.com',
    rackId: 'rack-1',
  });
  const request = aRequestOf(requestId);
  const deploy = aDeployOf(requestId, deployId);
  const agent = { value: 'agent-1' };
  const task: SingularityTask = {
    taskId,
    taskRequest: {
      request,
      deploy,
      pendingTask: {
        pendingTaskId: {
          requestId,
          deployId,
          nextRunAt: taskId.startedAt,
          instanceNo: taskId.instanceNo,
          pendingType: 'NEW_DEPLOY',
          createdAt: taskId.startedAt,
          id: `${requestId}-${deployId}-${taskId.startedAt}-${taskId.instanceNo}-NEW_DEPLOY-${taskId.startedAt}`,
        },
        ...(parts.runId === undefined ? {} : { runId: parts.runId }),
      },
    },
    mesosTask: {
      taskId: { value: taskId.id },
      agentId: agent,
      slaveId: agent,
      name: requestId,
      resources: [
        { name: 'cpus', type: 'SCALAR', scalar: { value: 1 } },
        { name: 'mem', type: 'SCALAR', scalar: { value: 64 } },
        { name: 'ports', type: 'RANGES', ranges: { range: [{ begin: 31000, end: 31001 }] } },
      ],
    },
    offers: [{ id: { value: `offer-${taskId.startedAt}` }, agentId: agent, slaveId: agent, hostname: taskId.host }],
    rackId: taskId.rackId,
  };
  const updates = parts.updates ?? [['TASK_FINISHED', taskId.startedAt + 1000]];
  const history: SingularityTaskHistory = {
    task,
    taskUpdates: updates.map(([taskState, timestamp, statusMessage]) => ({ taskId, timestamp, taskState, ...(statusMessage ? { statusMessage } : {}) })),
    healthcheckResults: [],
    loadBalancerUpdates: [],
    shellCommandHistory: [],
    taskMetadata: [],
  };
  if (!parts.rich) return history;
  history.directory = `/var/lib/singularity/tasks/${taskId.id}`;
  history.containerId = 'container-1';
  history.taskUpdates = [
    { taskId, timestamp: taskId.startedAt + 1, taskState: 'TASK_LAUNCHED' },
    { taskId, timestamp: taskId.startedAt + 2, taskState: 'TASK_RUNNING', statusMessage: 'quotes " and \\ backslash, tab\t, newline\n, ünïcödé ✓, emoji 🚀' },
    {
      taskId,
      timestamp: taskId.startedAt + 3,
      taskState: 'TASK_FAILED',
      statusReason: 'REASON_COMMAND_EXECUTOR_FAILED',
      statusMessage: 'exit 1',
      previous: [{ taskId, timestamp: taskId.startedAt + 2, taskState: 'TASK_RUNNING' }],
    },
  ];
  history.healthcheckResults = [
    { taskId, timestamp: taskId.startedAt + 2, statusCode: 200, durationMillis: 12, duration: 12, responseBody: '{"ok":true}', startup: false },
    { taskId, timestamp: taskId.startedAt + 1, errorMessage: 'connection refused', startup: true },
  ];
  history.loadBalancerUpdates = [
    {
      loadBalancerState: 'SUCCESS',
      state: 'SUCCESS',
      loadBalancerRequestId: { id: taskId.id, requestType: 'ADD', attemptNumber: 1 },
      timestamp: taskId.startedAt + 2,
      method: 'CHECK_STATE',
      uri: 'http://lb.example.com/api/request',
      message: 'added',
    },
  ];
  history.shellCommandHistory = [
    {
      shellRequest: { taskId, user: 'alice', timestamp: taskId.startedAt + 2, shellCommand: { name: 'jstack', options: ['-l'] } },
      shellUpdates: [{ shellRequestId: { taskId, name: 'jstack', timestamp: taskId.startedAt + 2 }, timestamp: taskId.startedAt + 3, updateType: 'FINISHED', outputFilename: 'jstack.out' }],
    },
  ];
  history.taskMetadata = [{ taskId, timestamp: taskId.startedAt + 3, type: 'note', title: 'Deploy note', message: 'big numbers 9007199254740991, -0.5e-7', level: 'WARN' }];
  history.task.taskRequest.deploy = {
    ...deploy,
    env: { PATH: '/usr/bin', EMPTY: '' },
    metadata: { nested: 'yes' },
    arguments: ['--flag', 'a b'],
    healthcheck: { uri: '/health', portIndex: 0, failureStatusCodes: [500, 503] },
  };
  return history;
}

function withUpdates(history: SingularityTaskHistory, extra: Array<[ExtendedTaskState, number]>, directory: string): SingularityTaskHistory {
  const { taskId } = history.task;
  return {
    ...history,
    directory,
    taskUpdates: [...history.taskUpdates, ...extra.map(([taskState, timestamp]) => ({ taskId, timestamp, taskState }))],
  };
}

function anEvent(
  requestId: string,
  createdAt: number,
  eventType: RequestHistoryType,
  extra: { user?: string; message?: string; request?: Partial<SingularityRequest> } = {},
): SingularityRequestHistory {
  const event: SingularityRequestHistory = { createdAt, eventType, request: aRequestOf(requestId, extra.request) };
  if (extra.user) event.user = extra.user;
  if (extra.message) event.message = extra.message;
  return event;
}

function aDeployHistory(requestId: string, deployId: string, timestamp: number, deployState: 'SUCCEEDED' | 'FAILED' | 'CANCELED', statistics = false): DeployHistoryRecord {
  const record: DeployHistoryRecord = {
    deployMarker: { requestId, deployId, timestamp, user: 'deployer', message: `deploy ${deployId}` },
    deployResult: {
      deployState,
      timestamp: timestamp + 60_000,
      deployFailures:
        deployState === 'FAILED'
          ? [{ reason: 'TASK_FAILED_HEALTH_CHECKS', taskId: buildTaskId({ requestId, deployId, startedAt: timestamp, instanceNo: 1, host: 'h1', rackId: 'r' }), message: 'unhealthy' }]
          : [],
      ...(deployState === 'CANCELED' ? { message: 'cancelled by alice' } : {}),
    },
    deploy: aDeployOf(requestId, deployId),
  };
  if (statistics) {
    record.deployStatistics = {
      requestId,
      deployId,
      numSuccess: 3,
      numFailures: 1,
      numSequentialRetries: 0,
      numTasks: 4,
      lastFinishAt: timestamp + 5_000,
      lastTaskState: 'TASK_FINISHED',
      averageRuntimeMillis: 1200,
      instanceSequentialFailureTimestamps: { '1': [timestamp + 1_000] },
      taskFailureEvents: [{ instance: 1, timestamp: timestamp + 1_000, type: 'BAD_EXIT_CODE' }],
    };
  }
  return record;
}
