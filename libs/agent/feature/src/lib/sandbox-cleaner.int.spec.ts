import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildTaskId, safeTaskId, type AgentReportedTaskState, type ExecutorData } from '@singularity/models';
import { tempDir, type TempDir } from '@singularity/testing';
import { ManualClock } from '@singularity/util';
import { testLogger } from '../testing/agent-test-kit';
import { SandboxCleaner } from './sandbox-cleaner';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/**
 * The sandbox clean-up on real directories with a manual clock: the test sets
 * the time and calls sweep(), the way the cleaner's timer would.
 */
describe('SandboxCleaner', () => {
  let dir: TempDir;
  let dataDir: string;
  let sandboxRoot: string;
  let clock: ManualClock;
  let counter = 0;

  beforeEach(async () => {
    dir = await tempDir('sandbox-cleaner-');
    dataDir = join(dir.path, 'agent');
    sandboxRoot = join(dataDir, 'sandboxes');
    clock = new ManualClock();
  });
  afterEach(() => dir.cleanup());

  const cleaner = () =>
    new SandboxCleaner(
      {
        dataDir,
        appDirectory: 'app',
        appCleanupDelayMillis: 15 * MINUTE,
        failedAppCleanupDelayMillis: DAY,
        retentionMillis: 7 * DAY,
        taskDefinitions: { directory: join(dataDir, 'task-definitions'), suffix: '.task.json' },
      },
      testLogger(),
      clock,
    );

  /** A task whose end was acknowledged now: control directory in executors-finished/, sandbox with app/ and logs/. */
  const finishedTask = (state: AgentReportedTaskState, data: Partial<ExecutorData> = {}, finishedAt = clock.now()) => {
    const taskId = buildTaskId({ requestId: 'app', deployId: 'd1', startedAt: 1_700_000_000_000 + counter++, instanceNo: 1, host: 'h', rackId: 'r' }).id;
    const controlDirectory = join(dataDir, 'executors-finished', safeTaskId(taskId));
    const sandbox = join(sandboxRoot, safeTaskId(taskId));
    mkdirSync(controlDirectory, { recursive: true });
    mkdirSync(join(sandbox, 'app'), { recursive: true });
    mkdirSync(join(sandbox, 'logs'), { recursive: true });
    writeFileSync(join(sandbox, 'app', 'server.jar'), 'x');
    writeFileSync(join(sandbox, 'logs', 'service.log-1.gz'), 'x');
    writeFileSync(join(controlDirectory, 'task.json'), JSON.stringify({ taskId, sandboxDirectory: sandbox, executorData: { cmd: 'x', ...data } }));
    writeFileSync(
      join(controlDirectory, 'status.jsonl'),
      [
        { seq: 1, taskId, state: 'TASK_STAGING', timestamp: 1 },
        { seq: 2, taskId, state, timestamp: 2 },
      ]
        .map((r) => JSON.stringify(r))
        .join('\n') + '\n',
    );
    writeFileSync(join(controlDirectory, 'finished-at'), `${finishedAt}\n`);
    // What the executor left for executor cleanup.
    const definition = join(dataDir, 'task-definitions', `${safeTaskId(taskId)}.task.json`);
    mkdirSync(join(dataDir, 'task-definitions'), { recursive: true });
    writeFileSync(definition, JSON.stringify({ taskId }));
    return { taskId, controlDirectory, sandbox, app: join(sandbox, 'app'), definition };
  };

  it('removes app/ 15 minutes after the end, then the whole sandbox and control directory after the retention', async () => {
    const task = finishedTask('TASK_FINISHED');
    const gc = cleaner();
    expect(gc.recover()).toBe(1);

    clock.advance(15 * MINUTE - 1);
    expect(await gc.sweep()).toEqual({ appsRemoved: [], removed: [] });
    expect(existsSync(task.app)).toBe(true);

    clock.advance(1);
    expect(await gc.sweep()).toEqual({ appsRemoved: [task.taskId], removed: [] });
    expect(existsSync(task.app)).toBe(false);
    // The rest stays browsable.
    expect(existsSync(join(task.sandbox, 'logs', 'service.log-1.gz'))).toBe(true);
    expect(existsSync(task.controlDirectory)).toBe(true);

    clock.advance(7 * DAY - 15 * MINUTE);
    expect(await gc.sweep()).toEqual({ appsRemoved: [], removed: [task.controlDirectory] });
    expect(existsSync(task.sandbox)).toBe(false);
    expect(existsSync(task.controlDirectory)).toBe(false);
    expect(existsSync(task.definition)).toBe(false);
  });

  it('keeps app/ of a task that asked for it until the retention', async () => {
    const task = finishedTask('TASK_FINISHED', { preserveTaskSandboxAfterFinish: true });
    const gc = cleaner();
    gc.recover();
    clock.advance(6 * DAY);
    expect(await gc.sweep()).toEqual({ appsRemoved: [], removed: [] });
    expect(existsSync(task.app)).toBe(true);
    clock.advance(DAY);
    await gc.sweep();
    expect(existsSync(task.sandbox)).toBe(false);
  });

  it.each(['TASK_FAILED', 'TASK_LOST'] as const)('keeps app/ of a %s task for a day', async (state) => {
    const failed = finishedTask(state);
    const killed = finishedTask('TASK_KILLED');
    const gc = cleaner();
    gc.recover();
    clock.advance(HOUR);
    expect(await gc.sweep()).toEqual({ appsRemoved: [killed.taskId], removed: [] });
    expect(existsSync(failed.app)).toBe(true);
    clock.advance(DAY - HOUR);
    expect(await gc.sweep()).toEqual({ appsRemoved: [failed.taskId], removed: [] });
  });

  it('picks up where it left off after a restart: the pending work comes from the control directories', async () => {
    const early = finishedTask('TASK_FINISHED');
    const first = cleaner();
    first.recover();
    clock.advance(10 * MINUTE);
    const late = finishedTask('TASK_FINISHED');
    first.taskFinished(late.controlDirectory);
    first.stop();

    clock.advance(5 * MINUTE); // the agent was down meanwhile
    const second = cleaner();
    expect(second.recover()).toBe(2);
    expect(await second.sweep()).toEqual({ appsRemoved: [early.taskId], removed: [] });
    clock.advance(10 * MINUTE);
    expect(await second.sweep()).toEqual({ appsRemoved: [late.taskId], removed: [] });
    second.stop();
  });

  it('never deletes a directory task.json names that is not the task sandbox', async () => {
    const task = finishedTask('TASK_FINISHED');
    const elsewhere = join(dir.path, 'precious');
    mkdirSync(join(elsewhere, 'app'), { recursive: true });
    writeFileSync(join(task.controlDirectory, 'task.json'), JSON.stringify({ taskId: task.taskId, sandboxDirectory: elsewhere, executorData: { cmd: 'x' } }));
    const gc = cleaner();
    gc.recover();
    clock.advance(8 * DAY);
    expect(await gc.sweep()).toEqual({ appsRemoved: [], removed: [task.controlDirectory] });
    expect(existsSync(join(elsewhere, 'app'))).toBe(true);
  });
});
