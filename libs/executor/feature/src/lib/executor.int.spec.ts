import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import type { ExecutorData, ExecutorTaskDefinition, TaskStatusRecord } from '@singularity/models';
import { isProcessAlive } from '@singularity/node-util';
import type { ArtifactStager, StagingContext } from './artifact-stager';
import { artifactStagers } from './artifacts';
import { TaskExecutor } from './executor';
import { executorConfig } from './executor-config';
import { TaskFailureError } from './executor-errors';
import { StatusWriter } from './status-writer';

/**
 * The executor in-process, with real files and processes; the CLI tests in
 * apps/executor cover the same through the real program.
 */
let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'task-executor-'));
  mkdirSync(join(root, 'control'));
});
afterEach(() => rmSync(root, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 }));

function definition(data: Partial<ExecutorData> = {}, env: Record<string, string> = {}): ExecutorTaskDefinition {
  return {
    taskId: 'req-dep-1-0-host-rack',
    requestId: 'req',
    deployId: 'dep',
    executorData: { cmd: 'true', ...data },
    env: { TASK_ID: 'req-dep-1-0-host-rack', ...env },
    resources: { cpus: 1, memoryMb: 64, diskMb: 64, ports: [] },
    sandboxDirectory: join(root, 'T'),
    controlDirectory: join(root, 'control'),
    statusFile: join(root, 'control', 'status.jsonl'),
    killFile: join(root, 'control', 'kill.json'),
    defaultSigKillProcessesAfterMillis: 30000,
  };
}

const statuses = (def: ExecutorTaskDefinition): TaskStatusRecord[] =>
  readFileSync(def.statusFile, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as TaskStatusRecord);

async function start(def: ExecutorTaskDefinition, stagers?: ArtifactStager[]) {
  const status = await StatusWriter.open(def.statusFile, def.taskId);
  const executor = new TaskExecutor({ definition: def, status, logger: pino({ level: 'silent' }), stagers, leftoverKillTimeoutMillis: 5000 });
  const done = executor.run().finally(() => status.close());
  return { executor, done };
}

/** A stager that waits until the task is killed, like a slow download would. */
class BlockingStager implements ArtifactStager {
  readonly name = 'blocking';
  entered!: () => void;
  readonly started = new Promise<void>((resolve) => (this.entered = resolve));
  stage(_data: ExecutorData, { signal }: StagingContext): Promise<void> {
    this.entered();
    return new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }));
  }
}

describe('TaskExecutor', () => {
  it('aborts staging on a kill and never starts the runner', async () => {
    const def = definition();
    const stager = new BlockingStager();
    const { executor, done } = await start(def, [stager]);
    await stager.started;
    executor.kill({});
    executor.kill({ destroy: true, user: 'alice' });
    const terminal = await done;
    expect(terminal).toMatchObject({ state: 'TASK_KILLED', message: 'Task killed before service process started' });
    expect(statuses(def).map((s) => s.state)).toEqual(['TASK_STARTING', 'TASK_KILLED']);
    expect(existsSync(join(def.sandboxDirectory, 'runner.sh'))).toBe(false);
    expect(existsSync(join(def.sandboxDirectory, 'service.log'))).toBe(false);
  });

  it('reports a kill that came before run() as killed before start', async () => {
    const def = definition();
    const status = await StatusWriter.open(def.statusFile, def.taskId);
    const executor = new TaskExecutor({ definition: def, status, logger: pino({ level: 'silent' }) });
    executor.kill({});
    await expect(executor.run()).resolves.toMatchObject({ state: 'TASK_KILLED', message: 'Task killed before service process started' });
    await status.close();
  });

  it('fails the task on a TaskFailureError and loses it on an unexpected error', async () => {
    const failing = (err: Error): ArtifactStager => ({ name: 'failing', stage: () => Promise.reject(err) });
    const def = definition();
    const first = await start(def, [failing(new TaskFailureError('Md5sum a (p) does not match expected (b)'))]);
    await expect(first.done).resolves.toMatchObject({ state: 'TASK_FAILED', message: 'Md5sum a (p) does not match expected (b)' });

    rmSync(def.statusFile);
    const eacces = Object.assign(new Error('EACCES: permission denied, open x'), { code: 'EACCES' });
    const second = await start(def, [failing(eacces)]);
    await expect(second.done).resolves.toMatchObject({ state: 'TASK_LOST', message: 'EACCES while initializing task: EACCES: permission denied, open x' });

    rmSync(def.statusFile);
    const third = await start(def, [failing(new RangeError('bad'))]);
    await expect(third.done).resolves.toMatchObject({ state: 'TASK_LOST', message: 'RangeError while initializing task: bad' });
    expect(existsSync(join(def.sandboxDirectory, 'runner.sh'))).toBe(false);
  });

  it('fails on an invalid environment variable name before staging anything', async () => {
    const def = definition({ embeddedArtifacts: [{ filename: 'a.txt', content: 'YQ==' }] }, { 'BAD-NAME': 'x' });
    const { done } = await start(def, artifactStagers(executorConfig()));
    await expect(done).resolves.toMatchObject({ state: 'TASK_FAILED', message: 'Invalid environment variable name "BAD-NAME"' });
    expect(existsSync(def.sandboxDirectory) ? readdirSync(def.sandboxDirectory) : []).toEqual([]);
  });

  it('fails a task whose remote artifact cannot be fetched, naming the artifact, and never runs it', async () => {
    // Port 1 on the loopback: nothing listens there, the connection is refused.
    const def = definition({ cmd: 'touch ../ran', externalArtifacts: [{ name: 'app', filename: 'app.tar.gz', url: 'http://127.0.0.1:1/app.tar.gz' }] });
    const { done } = await start(def);
    await expect(done).resolves.toMatchObject({ state: 'TASK_FAILED', message: 'Artifact "app": GET http://127.0.0.1:1/app.tar.gz failed: ECONNREFUSED' });
    expect(statuses(def).map((s) => s.state)).toEqual(['TASK_STARTING', 'TASK_FAILED']);
    expect(existsSync(join(def.sandboxDirectory, 'runner.sh'))).toBe(false);
    expect(existsSync(join(def.sandboxDirectory, 'ran'))).toBe(false);
  });

  it('runs the task and kills what it left behind in its process group', async () => {
    const def = definition({ cmd: 'sleep 300 & echo $! > ../leftover.pid' });
    const { executor, done } = await start(def);
    const terminal = await done;
    expect(terminal).toMatchObject({ state: 'TASK_FINISHED', message: 'Process exited normally with code 0', exitCode: 0 });
    const leftover = Number(readFileSync(join(def.sandboxDirectory, 'leftover.pid'), 'utf8'));
    expect(leftover).toBeGreaterThan(1);
    expect(isProcessAlive(leftover)).toBe(false);
    expect(executor.processPid).toBeGreaterThan(1);
    expect(statuses(def).map((s) => s.state)).toEqual(['TASK_STARTING', 'TASK_RUNNING', 'TASK_FINISHED']);
  });

  it('does not run a task whose status file already ends it', async () => {
    const def = definition({ cmd: 'touch ../ran' });
    writeFileSync(def.statusFile, `${JSON.stringify({ seq: 1, taskId: def.taskId, state: 'TASK_LOST', timestamp: 1 })}\n`);
    const { done } = await start(def);
    await expect(done).resolves.toBeUndefined();
    expect(existsSync(join(def.sandboxDirectory, 'ran'))).toBe(false);
    expect(statuses(def)).toHaveLength(1);
  });
});
