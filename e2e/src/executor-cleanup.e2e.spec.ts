import { join } from 'node:path';
import { readdirSync, readFileSync } from 'node:fs';
import { spawnTs } from '@singularity/testing';
import { useOneMachineCluster, until } from './support/one-machine-cluster';

jest.setTimeout(240_000);

/**
 * Executor cleanup (spec slave §4) against the real scheduler and agent: the
 * agent id comes from the local agent, the active tasks and the histories
 * from the scheduler's API. A running service is left alone; a finished
 * one-off task loses app/ and its definition.
 */
describe('one machine: executor cleanup', () => {
  const cluster = useOneMachineCluster();
  let api: string;
  beforeAll(() => {
    api = cluster.apiUrl;
  });
  const sandboxNames = async (taskId: string) => {
    const res = await fetch(`${api}/sandbox/${encodeURIComponent(taskId)}/browse`);
    return ((await res.json()) as { files: Array<{ name: string }> }).files.map((f) => f.name);
  };

  it('cleans the finished task, ignores the running one, and says so in its results', async () => {
    const client = cluster.client;
    await client.createOrUpdateRequest({ id: 'svc', owners: ['a@b.c'], requestType: 'WORKER', instances: 1 });
    await client.deploy({ deploy: { requestId: 'svc', id: 'v1', command: 'sleep 600', resources: { cpus: 0.1, memoryMb: 64, diskMb: 0, numPorts: 0 } } });
    await client.createOrUpdateRequest({ id: 'once', owners: ['a@b.c'], requestType: 'RUN_ONCE' });
    await client.deploy({ deploy: { requestId: 'once', id: 'v1', command: 'echo state > state; echo done', resources: { cpus: 0.1, memoryMb: 64, diskMb: 0, numPorts: 0 } } });

    const running = await until('the service to run', async () => (await client.getActiveTasks()).find((t) => t.taskId.requestId === 'svc')?.taskId.id);
    const finished = await until('the one-off task to finish', async () => {
      const res = await fetch(`${api}/history/request/once/tasks`);
      const tasks = res.ok ? ((await res.json()) as Array<{ taskId: { id: string }; lastTaskState: string }>) : [];
      return tasks.find((t) => t.lastTaskState === 'TASK_FINISHED')?.taskId.id;
    });
    const definitions = join(cluster.dir, 'agent', 'task-definitions');
    await until('both task definitions, the finished one with its teardown done', async () => {
      const names = readdirSync(definitions);
      if (names.length !== 2) return undefined;
      const done = JSON.parse(readFileSync(join(definitions, `${finished}.task.json`), 'utf8')) as { teardownCompleted?: boolean };
      return done.teardownCompleted ? true : undefined;
    });
    expect(await sandboxNames(finished)).toContain('app');

    const results = join(cluster.dir, 'cleanup-results');
    const cleanup = spawnTs('apps/executor-cleanup/src/main.ts', ['--config', join(cluster.dir, 'agent', 'executor.yaml')], {
      env: {
        LOG_LEVEL: 'warn',
        SINGULARITY_EXECUTOR_CLEANUP_EXECUTOR_CLEANUP__SINGULARITY_HOSTS: `[127.0.0.1:${cluster.schedulerPort}]`,
        SINGULARITY_EXECUTOR_CLEANUP_EXECUTOR_CLEANUP__AGENT_URL: `http://127.0.0.1:${cluster.agentPort}`,
        SINGULARITY_EXECUTOR_CLEANUP_EXECUTOR_CLEANUP__EXECUTOR_CLEANUP_RESULTS_DIRECTORY: results,
        // The task ended a moment ago: do not wait the usual 15 minutes.
        SINGULARITY_EXECUTOR_CLEANUP_EXECUTOR_CLEANUP__CLEANUP_LOGS_AFTER_TASK_END_MILLIS: '0',
      },
    });
    const { code } = await cleanup.exited;
    expect({ code, stderr: code === 0 ? '' : cleanup.stderr() }).toEqual({ code: 0, stderr: '' });
    const [file] = readdirSync(results);
    expect(JSON.parse(readFileSync(join(results, file), 'utf8'))).toEqual({
      totalTaskFiles: 2,
      mesosRunningTasks: 1,
      waitingTasks: 0,
      runningTasksIgnored: 1,
      successfullyCleanedTasks: 1,
      ioErrorTasks: 0,
      errorTasks: 0,
      invalidTasks: 0,
    });
    expect(await sandboxNames(finished)).not.toContain('app');
    expect(await sandboxNames(finished)).toContain('logs');
    expect(await sandboxNames(running)).toContain('app');
    expect(readdirSync(definitions)).toEqual([`${running}.task.json`]);
  });
});
