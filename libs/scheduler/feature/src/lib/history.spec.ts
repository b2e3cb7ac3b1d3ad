import { HISTORY_PURGING_DEFAULTS, InMemoryHistoryRepository, type HistoryRepository } from '@singularity/scheduler-history';
import { HistoryPersister } from './history-persister';
import { expectMatchesSchema } from '@singularity/testing';
import { SchedulerHarness } from './scheduler.harness';
import { SHELL_COMMANDS_COLLECTION, type ShellCommandRecord } from './shell-commands/shell-command.service';

/** A repository whose database can be "down": every call throws while `down` is set. */
class FlakyHistoryRepository extends InMemoryHistoryRepository {
  down = false;
  override async saveTaskHistories(...args: Parameters<HistoryRepository['saveTaskHistories']>) {
    if (this.down) throw new Error('connect ECONNREFUSED 127.0.0.1:5432');
    return super.saveTaskHistories(...args);
  }
  override async saveRequestHistory(...args: Parameters<HistoryRepository['saveRequestHistory']>) {
    if (this.down) throw new Error('connect ECONNREFUSED 127.0.0.1:5432');
    return super.saveRequestHistory(...args);
  }
}

describe('history: persister and /history reads (harness)', () => {
  let h: SchedulerHarness;
  let repo: FlakyHistoryRepository;
  beforeEach(async () => {
    repo = new FlakyHistoryRepository();
    h = await SchedulerHarness.create({ history: repo });
    await h.registerAgent();
    await h.runtime.requests.createOrUpdate({ id: 'job', requestType: 'ON_DEMAND' });
    await h.runtime.deploys.deploy({ deploy: { requestId: 'job', id: 'j1', command: 'work' } });
    await h.tick();
  });
  afterEach(() => h.stop());

  async function finishedRun(runId: string): Promise<string> {
    await h.runtime.requests.run('job', { runId }, 'ann');
    await h.tick();
    const taskId = h.activeTaskIds('job').at(-1)!;
    await h.report(taskId, 'TASK_RUNNING');
    await h.report(taskId, 'TASK_FINISHED', 'Process exited normally with code 0');
    return taskId;
  }

  it('moves finished tasks to SQL with their run id; reads still find them; listings never show active tasks (scenario 37)', async () => {
    const done = await finishedRun('run-1');
    await h.runtime.requests.run('job', { runId: 'run-2' }, 'ann');
    await h.tick();
    const moved = await h.runtime.historyPersister.persistOnce();
    expect(moved).toMatchObject({ tasks: 1 });
    expect(h.runtime.ctx.state.getFinishedTask(done)).toBeUndefined();
    const history = await h.runtime.history.task(done);
    expectMatchesSchema(history, 'SingularityTaskHistory');
    expect(history.taskUpdates.map((u) => u.taskState)).toEqual(['TASK_LAUNCHED', 'TASK_RUNNING', 'TASK_FINISHED']);
    expect((await h.runtime.history.run('job', 'run-1')).task.taskId.id).toBe(done);
    const listed = await h.runtime.history.tasksPaginated({ requestId: 'job' }, {});
    expect(listed.objects.map((t) => t.taskId.id)).toEqual([done]);
    expect(listed.objects[0].runId).toBe('run-1');
    expectMatchesSchema(listed, 'SingularityPaginatedResponseSingularityTaskIdHistory');
    expect(h.runtime.history.activeTasks('job')).toHaveLength(1);
  });

  it("moves a finished task's shell commands with it, and drops them from live state", async () => {
    const done = await finishedRun('run-1');
    const commands = h.runtime.ctx.state.extension<ShellCommandRecord>(SHELL_COMMANDS_COLLECTION);
    const task = h.runtime.ctx.state.getFinishedTask(done)!.task;
    const request = (name: string, timestamp: number) => ({ taskId: task.taskId, timestamp, shellCommand: { name } });
    commands.put(`${done}:jstack:200`, { shellRequest: request('jstack', 200), shellUpdates: [{ shellRequestId: { taskId: task.taskId, name: 'jstack', timestamp: 200 }, timestamp: 201, message: 'done', updateType: 'FINISHED' }] });
    commands.put(`${done}:lsof:100`, { shellRequest: request('lsof', 100), shellUpdates: [] });
    await h.runtime.ctx.state.flush();
    await h.runtime.historyPersister.persistOnce();
    const stored = await repo.getTaskHistory(done);
    expect(stored?.shellCommandHistory.map((c) => c.shellRequest.shellCommand.name)).toEqual(['lsof', 'jstack']);
    expect(stored?.shellCommandHistory[1].shellUpdates).toMatchObject([{ updateType: 'FINISHED', message: 'done' }]);
    expect([...commands.entries()]).toEqual([]);
    expectMatchesSchema(await h.runtime.history.task(done), 'SingularityTaskHistory');
  });

  it('keeps finished tasks in live state while the database is down and moves them exactly once after', async () => {
    const done = await finishedRun('run-1');
    repo.down = true;
    const failed = await h.runtime.historyPersister.persistOnce();
    expect(failed.error).toMatch(/ECONNREFUSED/);
    expect(h.runtime.ctx.state.getFinishedTask(done)).toBeDefined();
    expect((await h.runtime.history.task(done)).task.taskId.id).toBe(done);
    repo.down = false;
    await h.runtime.historyPersister.persistOnce();
    await h.runtime.historyPersister.persistOnce();
    const stored = await repo.getTaskIdHistories({ requestId: 'job' });
    expect(stored.total).toBe(1);
  });

  it('purges old task history but keeps the newest N per request (scenario 37)', async () => {
    for (const runId of ['a', 'b', 'c']) {
      await finishedRun(runId);
      h.clock.advance(1000);
    }
    await h.runtime.historyPersister.persistOnce();
    const purger = new HistoryPersister(h.runtime.ctx, repo, { ...HISTORY_PURGING_DEFAULTS, enabled: true, deleteTaskHistoryAfterTasksPerRequest: 2 });
    await purger.purgeOnce();
    const left = await repo.getTaskIdHistories({ requestId: 'job' });
    expect(left.items.map((t) => t.runId)).toEqual(['c', 'b']);
  });

  it('request history and deploys read the same before and after they move', async () => {
    await h.runtime.deploys.deploy({ deploy: { requestId: 'job', id: 'j2', command: 'work v2' } });
    await h.tick();
    const before = await h.runtime.history.requestHistory('job', {});
    await h.runtime.historyPersister.persistOnce();
    expect(await h.runtime.history.requestHistory('job', {})).toEqual(before);
    expect(before.map((e) => e.eventType)).toEqual(['CREATED']);
    const deploys = await h.runtime.history.deploys('job', {});
    expect(deploys.map((d) => d.deployMarker.deployId)).toEqual(['j2', 'j1']);
    const old = await h.runtime.history.deploy('job', 'j1');
    expect(old.deployResult?.deployState).toBe('SUCCEEDED');
    expectMatchesSchema(old, 'SingularityDeployHistory');
    expect(await h.runtime.history.searchRequestIds('jo', {})).toEqual(['job']);
  });
});
