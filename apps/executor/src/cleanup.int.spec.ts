import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { freePort, isProcessAlive } from '@singularity/node-util';
import { spawnTs } from '@singularity/testing';
import { eventually, useExecutorRuns, type ExecutorRun } from './testing/executor-harness';

/**
 * The executor's task definition and the executor-cleanup program
 * (spec slave §1.4 step 2, §4; scenarios 26 and 27) with the real executor,
 * the real logrotate and the real cleanup program. The scheduler is a stand-in
 * HTTP server answering the three calls the cleanup makes; the full cluster
 * cannot run inside this app's tests.
 */
const CLEANUP_MAIN = 'apps/executor-cleanup/src/main.ts';
const MINUTE = 60_000;

interface SchedulerStandIn {
  host: string;
  calls: string[];
  close(): Promise<void>;
}

/** Answers like the scheduler: `active` ids on agent-1, the given history per task, 404 otherwise. */
async function schedulerStandIn(active: string[], histories: Record<string, Array<{ taskState: string; timestamp: number }>>): Promise<SchedulerStandIn> {
  const calls: string[] = [];
  const server: Server = createServer((req, res) => {
    calls.push(`${req.method} ${req.url}`);
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const url = req.url ?? '';
    if (url === '/singularity/api/tasks/active/slave/agent-1/ids') return send(200, active.map((id) => ({ id })));
    if (url === '/singularity/api/slaves/slave/agent-1/details') return send(200, { id: 'agent-1', currentState: { state: 'ACTIVE' } });
    const history = /^\/singularity\/api\/history\/task\/(.+)$/.exec(url);
    if (history && histories[decodeURIComponent(history[1])]) {
      const taskId = decodeURIComponent(history[1]);
      return send(200, { taskUpdates: histories[taskId].map((u) => ({ taskId: { id: taskId }, ...u })) });
    }
    send(404, { message: `no such thing: ${url}` });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    host: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    calls,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

function definitionFile(run: ExecutorRun): string {
  return join(run.root, 'task-definitions', `${run.definition.taskId}.task.json`);
}

async function runCleanup(run: ExecutorRun, executorCleanup: Record<string, unknown>): Promise<{ code: number | null; stderr: string; result?: Record<string, unknown> }> {
  // The executor's own configuration file, plus the cleanup's section.
  const config = JSON.parse(readFileSync(run.configFile, 'utf8')) as Record<string, unknown>;
  const file = join(run.root, 'cleanup.json');
  const results = join(run.root, 'cleanup-results');
  writeFileSync(file, JSON.stringify({ ...config, executorCleanup: { agentId: 'agent-1', executorCleanupResultsDirectory: results, ...executorCleanup } }));
  const child = spawnTs(CLEANUP_MAIN, ['--config', file], { env: { LOG_LEVEL: 'warn' } });
  const { code } = await child.exited;
  const written = existsSync(results) ? readdirSync(results) : [];
  const result = written.length > 0 ? (JSON.parse(readFileSync(join(results, written.sort().at(-1)!), 'utf8')) as Record<string, unknown>) : undefined;
  return { code, stderr: child.stderr(), result };
}

describe('executor cleanup with the real executor', () => {
  const { start } = useExecutorRuns();
  const servers: SchedulerStandIn[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.close()));
  });

  it('the executor leaves its task definition with its pid, marked once its teardown is done', async () => {
    const run = start({ executorData: { cmd: 'echo hello' } });
    await run.waitForState('TASK_FINISHED');
    expect(await run.waitForExit()).toBe(0);
    const written = JSON.parse(readFileSync(definitionFile(run), 'utf8')) as Record<string, unknown>;
    expect(written).toMatchObject({ taskId: run.definition.taskId, executorPid: run.child!.pid, executorStartTime: expect.any(Number), teardownCompleted: true, sandboxDirectory: run.sandbox });
  });

  it('scenario 26: after the executor and its task were SIGKILLed, cleanup rotates, queues the upload, removes app/ and the definition', async () => {
    const run = start({ executorData: { cmd: "bash -c 'echo started; mkdir -p ../app; echo data > ../app/state; sleep 600'", defaultS3Bucket: 'task-logs' } });
    const running = await run.waitForState('TASK_RUNNING');
    await eventually(() => (readFileSync(run.sandboxFile('service.log'), 'utf8').includes('started') ? true : undefined), 'the task to write its log');
    // Everything dies at once (an OOM kill of the whole slice, a crash): no terminal update, no teardown.
    const runnerPid = Number(/\(pid: (\d+)\)$/.exec(running.message ?? '')![1]);
    process.kill(run.child!.pid!, 'SIGKILL');
    process.kill(-runnerPid, 'SIGKILL');
    await run.waitForExit();
    await eventually(() => (isProcessAlive(runnerPid) ? undefined : true), 'the task to be gone');
    const metadata = join(run.root, 's3-uploader-metadata', `${run.definition.taskId}-default.s3.json`);
    expect(JSON.parse(readFileSync(metadata, 'utf8'))).toMatchObject({ finished: false });
    expect(JSON.parse(readFileSync(definitionFile(run), 'utf8'))).not.toHaveProperty('teardownCompleted');

    const scheduler = await schedulerStandIn(['another-task-on-this-agent'], {
      [run.definition.taskId]: [
        { taskState: 'TASK_RUNNING', timestamp: Date.now() - 30 * MINUTE },
        { taskState: 'TASK_LOST', timestamp: Date.now() - 20 * MINUTE },
      ],
    });
    servers.push(scheduler);
    // The first host refuses connections: the cleanup goes on to the next, as with a dead scheduler instance.
    const deadHost = `127.0.0.1:${await freePort()}`;
    // TASK_LOST counts as failed: app/ is kept 24 h unless told otherwise.
    const { code, stderr, result } = await runCleanup(run, { singularityHosts: [deadHost, scheduler.host], cleanupAppDirectoryOfFailedTasksAfterMillis: 0 });
    expect({ code, stderr: code === 0 ? '' : stderr }).toEqual({ code: 0, stderr: '' });
    expect(result).toMatchObject({ totalTaskFiles: 1, mesosRunningTasks: 1, successfullyCleanedTasks: 1, errorTasks: 0, ioErrorTasks: 0 });

    const rotated = readdirSync(join(run.sandbox, 'logs'));
    expect(rotated).toEqual([expect.stringMatching(/^service\.log-.*\.gz$/)]);
    expect(gunzipSync(readFileSync(join(run.sandbox, 'logs', rotated[0]))).toString()).toContain('started');
    expect(JSON.parse(readFileSync(metadata, 'utf8'))).toMatchObject({ finished: true, uploadImmediately: true, s3Bucket: 'task-logs' });
    expect(readFileSync(run.sandboxFile('tail_of_finished_service.log'), 'utf8')).toContain('started');
    expect(existsSync(join(run.sandbox, 'app'))).toBe(false);
    expect(existsSync(definitionFile(run))).toBe(false);
    expect(readdirSync(join(run.root, 'logrotate.d')).filter((name) => name.includes(run.definition.taskId))).toEqual([]);
    expect(scheduler.calls).toContain(`GET /singularity/api/history/task/${run.definition.taskId}`);
  });

  it('scenario 27: with the scheduler down it deletes nothing and says why', async () => {
    const run = start({ executorData: { cmd: "bash -c 'mkdir -p ../app; echo data > ../app/state'" } });
    await run.waitForState('TASK_FINISHED');
    await run.waitForExit();
    const { code, result } = await runCleanup(run, { singularityHosts: [`127.0.0.1:${await freePort()}`], requestTimeoutMillis: 2000 });
    expect(code).toBe(0);
    expect(result).toMatchObject({ totalTaskFiles: 1, successfullyCleanedTasks: 0, errorMessage: expect.stringMatching(/^Could not tell which tasks are active/) });
    expect(readFileSync(join(run.sandbox, 'app', 'state'), 'utf8')).toBe('data\n');
    expect(existsSync(definitionFile(run))).toBe(true);
  });

  it('a bad configuration stops it with a message naming the key', async () => {
    const run = start({ executorData: { cmd: 'true' } });
    await run.waitForExit();
    const { code, stderr } = await runCleanup(run, { compressionType: 'ZIP' });
    expect(code).toBe(78);
    expect(stderr).toContain("'executorCleanup.compressionType'");
  });
});
