import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import pino from 'pino';
import type { ExecutorData, S3UploadMetadata, SingularityTaskHistoryUpdate } from '@singularity/models';
import { tempDir, type TempDir } from '@singularity/testing';
import { globalTaskDefinitionPath, markTeardownCompleted, writeGlobalTaskDefinition, type GlobalTaskDefinition } from '../global-task-definition';
import { TaskLogs } from '../task-logs';
import { ExecutorCleanup, matchInSandbox, SAFE_MODE_MESSAGE, type CleanupScheduler, type ExecutorCleanupResult } from './executor-cleanup';
import { executorCleanupConfigSchema, type ExecutorCleanupConfig } from './executor-cleanup-config';

/**
 * Executor cleanup (spec slave §4) over real files, the real logrotate and
 * real processes. The scheduler is a stand-in object implementing the
 * CleanupScheduler port (its HTTP adapter has its own test against a real
 * HTTP server); the whole program against the real executor is in
 * apps/executor/src/cleanup.int.spec.ts.
 */
const NOW = 1_800_000_000_000;
const MINUTE = 60_000;
const logger = pino({ level: 'silent' });

let dir: TempDir;
beforeEach(async () => {
  dir = await tempDir('executor-cleanup-');
});
afterEach(() => dir.cleanup());

function config(over: { executor?: Record<string, unknown>; executorCleanup?: Record<string, unknown> } = {}): ExecutorCleanupConfig {
  return executorCleanupConfigSchema.parse({
    base: { s3UploaderMetadataDirectory: join(dir.path, 's3'), logWatcherMetadataDirectory: join(dir.path, 'tail') },
    executor: {
      globalTaskDefinitionDirectory: join(dir.path, 'task-definitions'),
      logrotateConfDirectory: join(dir.path, 'logrotate.d'),
      logrotateHourlyConfDirectory: join(dir.path, 'logrotate.d', 'hourly'),
      cronDirectory: join(dir.path, 'cron.d'),
      ...over.executor,
    },
    executorCleanup: { executorCleanupResultsDirectory: join(dir.path, 'results'), ...over.executorCleanup },
  });
}

/** The scheduler as the cleanup sees it; each test says what it answers. */
class SchedulerStandIn implements CleanupScheduler {
  active: string[] = [];
  state: string | undefined = 'ACTIVE';
  histories = new Map<string, SingularityTaskHistoryUpdate[] | Error>();
  down = false;

  async agentId(): Promise<string> {
    if (this.down) throw new Error('connect ECONNREFUSED 127.0.0.1:7099');
    return 'agent-1';
  }
  async activeTaskIds(): Promise<string[]> {
    return this.active;
  }
  async agentState(): Promise<string | undefined> {
    return this.state;
  }
  async taskUpdates(taskId: string): Promise<SingularityTaskHistoryUpdate[] | undefined> {
    const history = this.histories.get(taskId);
    if (history instanceof Error) throw history;
    return history;
  }

  ended(taskId: string, taskState: string, minutesAgo: number): void {
    const id = { id: taskId } as SingularityTaskHistoryUpdate['taskId'];
    this.histories.set(taskId, [
      { taskId: id, timestamp: NOW - (minutesAgo + 10) * MINUTE, taskState: 'TASK_RUNNING' },
      { taskId: id, timestamp: NOW - minutesAgo * MINUTE, taskState: taskState as SingularityTaskHistoryUpdate['taskState'] },
    ]);
  }
}

/** A pid that is certainly not running: a child that has exited and been reaped. */
async function deadPid(): Promise<number> {
  const child = spawn('true');
  await new Promise((resolve) => child.once('exit', resolve));
  return child.pid!;
}

let taskCounter = 0;

/** A task as an executor leaves it: definition, sandbox with app/ and service.log. */
async function aTask(cfg: ExecutorCleanupConfig, options: { data?: Partial<ExecutorData>; pid?: number; teardownCompleted?: boolean } = {}): Promise<GlobalTaskDefinition> {
  taskCounter += 1;
  const taskId = `app-d1-${NOW}-${taskCounter}-host_1-rack1`;
  const sandbox = join(dir.path, 'sandbox', taskId);
  mkdirSync(join(sandbox, 'app'), { recursive: true });
  writeFileSync(join(sandbox, 'app', 'server.jar'), 'jar');
  writeFileSync(join(sandbox, 'service.log'), 'line 1\nline 2\n');
  const definition: GlobalTaskDefinition = {
    taskId,
    requestId: 'app',
    deployId: 'd1',
    executorData: { cmd: 'true', defaultS3Bucket: 'logs-bucket', ...options.data },
    env: { TASK_ID: taskId },
    resources: { cpus: 1, memoryMb: 64, diskMb: 64, ports: [] },
    sandboxDirectory: sandbox,
    controlDirectory: join(dir.path, 'control', taskId),
    statusFile: join(dir.path, 'control', taskId, 'status.jsonl'),
    killFile: join(dir.path, 'control', taskId, 'kill.json'),
    defaultSigKillProcessesAfterMillis: 30000,
    executorPid: options.pid ?? (await deadPid()),
  };
  await writeGlobalTaskDefinition(cfg, definition, definition.executorPid);
  if (options.teardownCompleted ?? true) await markTeardownCompleted(cfg, taskId);
  return definition;
}

function definitionFile(cfg: ExecutorCleanupConfig, taskId: string): string {
  return globalTaskDefinitionPath(cfg.executor.globalTaskDefinitionDirectory!, cfg.executor.globalTaskDefinitionSuffix, taskId);
}

async function runCleanup(cfg: ExecutorCleanupConfig, scheduler: SchedulerStandIn): Promise<ExecutorCleanupResult> {
  return new ExecutorCleanup({ config: cfg, scheduler, logger, clock: { now: () => NOW } }).run();
}

const NOTHING_DONE = { successfullyCleanedTasks: 0, waitingTasks: 0, errorTasks: 0, ioErrorTasks: 0 };

describe('executor cleanup: when it touches nothing (scenario 27)', () => {
  it('the scheduler cannot be reached: says why, deletes nothing, still writes its results', async () => {
    const cfg = config();
    const task = await aTask(cfg);
    const scheduler = new SchedulerStandIn();
    scheduler.down = true;
    const result = await runCleanup(cfg, scheduler);
    expect(result).toMatchObject({ totalTaskFiles: 1, ...NOTHING_DONE, errorMessage: expect.stringContaining('ECONNREFUSED') });
    expect(existsSync(join(task.sandboxDirectory, 'app', 'server.jar'))).toBe(true);
    expect(existsSync(definitionFile(cfg, task.taskId))).toBe(true);
    const [file] = readdirSync(join(dir.path, 'results'));
    expect(file).toBe(`${NOW}.cleanup.json`);
    expect(JSON.parse(readFileSync(join(dir.path, 'results', file), 'utf8'))).toEqual(result);
  });

  it('no active task on a live agent in safe mode: aborts with the spec message', async () => {
    const cfg = config();
    const task = await aTask(cfg);
    const scheduler = new SchedulerStandIn();
    scheduler.ended(task.taskId, 'TASK_FINISHED', 60);
    await expect(runCleanup(cfg, scheduler)).resolves.toMatchObject({ ...NOTHING_DONE, mesosRunningTasks: 0, errorMessage: SAFE_MODE_MESSAGE });
    expect(existsSync(join(task.sandboxDirectory, 'app'))).toBe(true);
  });

  it('no active task on a decommissioned agent: cleans, unless cleanTasksWhenDecommissioned is off', async () => {
    const scheduler = new SchedulerStandIn();
    scheduler.state = 'DECOMMISSIONED';
    const off = config({ executorCleanup: { cleanTasksWhenDecommissioned: false } });
    const kept = await aTask(off);
    scheduler.ended(kept.taskId, 'TASK_KILLED', 60);
    await expect(runCleanup(off, scheduler)).resolves.toMatchObject({ ...NOTHING_DONE, errorMessage: expect.stringContaining('cleanTasksWhenDecommissioned') });
    const result = await runCleanup(config(), scheduler);
    expect(result).toMatchObject({ successfullyCleanedTasks: 1 });
    expect(result.errorMessage).toBeUndefined();
    expect(existsSync(join(kept.sandboxDirectory, 'app'))).toBe(false);
  });

  it('without safe mode, no active task is no reason to stop', async () => {
    const cfg = config({ executorCleanup: { safeModeWontRunWithNoTasks: false } });
    const task = await aTask(cfg);
    const scheduler = new SchedulerStandIn();
    scheduler.ended(task.taskId, 'TASK_FINISHED', 60);
    await expect(runCleanup(cfg, scheduler)).resolves.toMatchObject({ successfullyCleanedTasks: 1 });
  });
});

describe('executor cleanup: per task', () => {
  let cfg: ExecutorCleanupConfig;
  let scheduler: SchedulerStandIn;
  beforeEach(() => {
    cfg = config();
    scheduler = new SchedulerStandIn();
    scheduler.active = ['some-other-task'];
  });

  it('ignores tasks the scheduler lists as active and tasks whose executor still runs', async () => {
    const listed = await aTask(cfg);
    const alive = await aTask(cfg, { pid: process.pid });
    scheduler.active.push(listed.taskId);
    scheduler.ended(alive.taskId, 'TASK_FINISHED', 60);
    await expect(runCleanup(cfg, scheduler)).resolves.toMatchObject({ totalTaskFiles: 2, mesosRunningTasks: 2, runningTasksIgnored: 2, ...NOTHING_DONE });
    for (const task of [listed, alive]) expect(existsSync(join(task.sandboxDirectory, 'app'))).toBe(true);
  });

  it('does not take a reused pid for the executor: a live process that started at another time counts as gone', async () => {
    const task = await aTask(cfg, { pid: process.pid });
    const file = definitionFile(cfg, task.taskId);
    const written = JSON.parse(readFileSync(file, 'utf8')) as GlobalTaskDefinition;
    expect(written.executorStartTime).toEqual(expect.any(Number));
    writeFileSync(file, JSON.stringify({ ...written, executorStartTime: written.executorStartTime! - 1 }));
    scheduler.ended(task.taskId, 'TASK_FINISHED', 60);
    await expect(runCleanup(cfg, scheduler)).resolves.toMatchObject({ runningTasksIgnored: 0, successfullyCleanedTasks: 1 });
  });

  it('counts unreadable definitions and tasks whose history cannot be read, and leaves both', async () => {
    const task = await aTask(cfg);
    const broken = join(cfg.executor.globalTaskDefinitionDirectory!, 'broken.task.json');
    writeFileSync(broken, '{"taskId": ');
    scheduler.histories.set(task.taskId, new Error('503 the history database is unavailable'));
    await expect(runCleanup(cfg, scheduler)).resolves.toMatchObject({ totalTaskFiles: 2, invalidTasks: 1, errorTasks: 1, successfullyCleanedTasks: 0 });
    expect(existsSync(broken)).toBe(true);
    expect(existsSync(definitionFile(cfg, task.taskId))).toBe(true);
  });

  it('a task that ended 15 minutes ago or more: app/ and the definition go, logs/ stays', async () => {
    const task = await aTask(cfg);
    mkdirSync(join(task.sandboxDirectory, 'logs'));
    writeFileSync(join(task.sandboxDirectory, 'logs', 'service.log-1.gz'), 'x');
    scheduler.ended(task.taskId, 'TASK_FINISHED', 15);
    await expect(runCleanup(cfg, scheduler)).resolves.toMatchObject({ successfullyCleanedTasks: 1, waitingTasks: 0 });
    expect(existsSync(join(task.sandboxDirectory, 'app'))).toBe(false);
    expect(existsSync(join(task.sandboxDirectory, 'logs', 'service.log-1.gz'))).toBe(true);
    expect(existsSync(definitionFile(cfg, task.taskId))).toBe(false);
  });

  it('a task that ended less than 15 minutes ago, or has no terminal update, waits', async () => {
    const recent = await aTask(cfg);
    const unended = await aTask(cfg);
    scheduler.ended(recent.taskId, 'TASK_FINISHED', 14);
    scheduler.ended(unended.taskId, 'TASK_RUNNING', 60);
    await expect(runCleanup(cfg, scheduler)).resolves.toMatchObject({ waitingTasks: 2, successfullyCleanedTasks: 0 });
    for (const task of [recent, unended]) {
      expect(existsSync(join(task.sandboxDirectory, 'app'))).toBe(true);
      expect(existsSync(definitionFile(cfg, task.taskId))).toBe(true);
    }
  });

  it('a task the scheduler knows nothing of is cleaned', async () => {
    const task = await aTask(cfg);
    await expect(runCleanup(cfg, scheduler)).resolves.toMatchObject({ successfullyCleanedTasks: 1 });
    expect(existsSync(join(task.sandboxDirectory, 'app'))).toBe(false);
  });

  it('keeps app/ of a failed task for cleanupAppDirectoryOfFailedTasksAfterMillis, and of a preserved one always', async () => {
    const failedRecently = await aTask(cfg);
    const failedLongAgo = await aTask(cfg);
    const preserved = await aTask(cfg, { data: { preserveTaskSandboxAfterFinish: true } });
    scheduler.ended(failedRecently.taskId, 'TASK_FAILED', 60);
    scheduler.ended(failedLongAgo.taskId, 'TASK_LOST', 24 * 60 + 1);
    scheduler.ended(preserved.taskId, 'TASK_FINISHED', 60);
    await expect(runCleanup(cfg, scheduler)).resolves.toMatchObject({ waitingTasks: 1, successfullyCleanedTasks: 2 });
    expect(existsSync(join(failedRecently.sandboxDirectory, 'app'))).toBe(true);
    expect(existsSync(definitionFile(cfg, failedRecently.taskId))).toBe(true);
    expect(existsSync(join(failedLongAgo.sandboxDirectory, 'app'))).toBe(false);
    expect(existsSync(join(preserved.sandboxDirectory, 'app', 'server.jar'))).toBe(true);
    expect(existsSync(definitionFile(cfg, preserved.taskId))).toBe(false);
  });

  it('removes the files marked deleteInExecutorCleanup, only inside the sandbox', async () => {
    const outside = join(dir.path, 'outside');
    mkdirSync(outside);
    writeFileSync(join(outside, 'gc.log'), 'keep');
    cfg = config({ executor: { logrotateAdditionalFiles: [{ filename: 'app/gc*.log', deleteInExecutorCleanup: true }, { filename: 'link/gc.log', deleteInExecutorCleanup: true }, 'app/keep.log'] } });
    const task = await aTask(cfg);
    writeFileSync(join(task.sandboxDirectory, 'app', 'gc-1.log'), 'x');
    writeFileSync(join(task.sandboxDirectory, 'app', 'keep.log'), 'x');
    symlinkSync(outside, join(task.sandboxDirectory, 'link'));
    await expect(matchInSandbox(task.sandboxDirectory, 'app/gc*.log')).resolves.toEqual([join(task.sandboxDirectory, 'app', 'gc-1.log')]);
    await expect(matchInSandbox(task.sandboxDirectory, 'link/gc.log')).resolves.toEqual([]);
    await expect(matchInSandbox(task.sandboxDirectory, '../outside/gc.log')).resolves.toEqual([]);
    scheduler.ended(task.taskId, 'TASK_FINISHED', 60);
    // app/ preserved, so the test can see which of its files went
    const preserved = { ...task, executorData: { ...task.executorData, preserveTaskSandboxAfterFinish: true } };
    writeFileSync(definitionFile(cfg, task.taskId), JSON.stringify({ ...preserved, teardownCompleted: true }));
    await expect(runCleanup(cfg, scheduler)).resolves.toMatchObject({ successfullyCleanedTasks: 1 });
    expect(existsSync(join(task.sandboxDirectory, 'app', 'gc-1.log'))).toBe(false);
    expect(existsSync(join(task.sandboxDirectory, 'app', 'keep.log'))).toBe(true);
    expect(readFileSync(join(outside, 'gc.log'), 'utf8')).toBe('keep');
  });

  it('a task whose sandbox is gone: its rotation configs and definition go', async () => {
    const task = await aTask(cfg, { teardownCompleted: false });
    await TaskLogs.prepare({ definition: task, config: cfg, logger });
    const conf = join(dir.path, 'logrotate.d', task.taskId);
    expect(existsSync(conf)).toBe(true);
    rmSync(task.sandboxDirectory, { recursive: true, force: true });
    await expect(runCleanup(cfg, scheduler)).resolves.toMatchObject({ successfullyCleanedTasks: 1 });
    expect(existsSync(conf)).toBe(false);
    expect(existsSync(definitionFile(cfg, task.taskId))).toBe(false);
  });
});

describe('executor cleanup: finishing what a dead executor left (scenario 26, spec §4 steps 5 and 6)', () => {
  it('runs the teardown: rotates service.log with the real logrotate, saves the tail, marks the upload metadata finished and immediate', async () => {
    const cfg = config();
    const scheduler = new SchedulerStandIn();
    scheduler.active = ['some-other-task'];
    const task = await aTask(cfg, { teardownCompleted: false });
    // What the executor had written before it was SIGKILLed: rotation configs and unfinished metadata.
    await TaskLogs.prepare({ definition: task, config: cfg, logger });
    const metadataFile = join(dir.path, 's3', `${task.taskId}-default.s3.json`);
    expect(JSON.parse(readFileSync(metadataFile, 'utf8'))).toMatchObject({ finished: false });
    scheduler.ended(task.taskId, 'TASK_LOST', 60 * 25);

    await expect(runCleanup(cfg, scheduler)).resolves.toMatchObject({ successfullyCleanedTasks: 1 });

    const rotated = readdirSync(join(task.sandboxDirectory, 'logs'));
    expect(rotated).toHaveLength(1);
    expect(rotated[0]).toMatch(/^service\.log-.*\.gz$/);
    expect(gunzipSync(readFileSync(join(task.sandboxDirectory, 'logs', rotated[0]))).toString()).toBe('line 1\nline 2\n');
    expect(readFileSync(join(task.sandboxDirectory, 'tail_of_finished_service.log'), 'utf8')).toBe('line 1\nline 2\n');
    expect(JSON.parse(readFileSync(metadataFile, 'utf8')) as S3UploadMetadata).toMatchObject({ finished: true, uploadImmediately: true, s3Bucket: 'logs-bucket' });
    expect(existsSync(join(dir.path, 'logrotate.d', task.taskId))).toBe(false);
    expect(existsSync(join(task.sandboxDirectory, 'app'))).toBe(false);
  });

  it('does not rerun a teardown the executor completed (the log watcher would ship the log twice)', async () => {
    const cfg = config();
    const scheduler = new SchedulerStandIn();
    scheduler.active = ['some-other-task'];
    const task = await aTask(cfg, { data: { loggingTag: 'web' }, teardownCompleted: false });
    // A normal end: the executor tears down and says so; the daemons then consume and remove their metadata.
    const logs = await TaskLogs.prepare({ definition: task, config: cfg, logger });
    await expect(logs.finish()).resolves.toBe(true);
    await markTeardownCompleted(cfg, task.taskId);
    for (const daemonDir of ['tail', 's3']) {
      expect(readdirSync(join(dir.path, daemonDir))).toHaveLength(1);
      rmSync(join(dir.path, daemonDir), { recursive: true });
    }
    scheduler.ended(task.taskId, 'TASK_FINISHED', 60);
    await expect(runCleanup(cfg, scheduler)).resolves.toMatchObject({ successfullyCleanedTasks: 1 });
    expect(existsSync(join(dir.path, 'tail'))).toBe(false);
    expect(existsSync(join(dir.path, 's3'))).toBe(false);
  });

  it('mends rotations logrotate left half done: the empty .gz goes, its twin is compressed', async () => {
    const cfg = config();
    const scheduler = new SchedulerStandIn();
    scheduler.active = ['some-other-task'];
    const task = await aTask(cfg);
    const logs = join(task.sandboxDirectory, 'logs');
    mkdirSync(logs);
    writeFileSync(join(logs, 'service.log-20260101.log'), 'half rotated\n');
    writeFileSync(join(logs, 'service.log-20260101.log.gz'), '');
    writeFileSync(join(logs, 'service.log-20250101.log.gz'), '');
    scheduler.ended(task.taskId, 'TASK_FINISHED', 1); // waiting: mending happens anyway
    await expect(runCleanup(cfg, scheduler)).resolves.toMatchObject({ waitingTasks: 1 });
    expect(readdirSync(logs)).toEqual(['service.log-20260101.log.gz']);
    expect(gunzipSync(readFileSync(join(logs, 'service.log-20260101.log.gz'))).toString()).toBe('half rotated\n');
  });
});
