import { SingularityClient } from '@singularity/client';
import { useOneMachineCluster, until } from './support/one-machine-cluster';

jest.setTimeout(240_000);

interface TaskHistory {
  taskUpdates: Array<{ taskState: string; statusMessage?: string }>;
}

/**
 * Issue 4, recovery: executors outlive their agent. `kill -9` the agent while
 * three tasks run and start it again: the scheduler still lists the same
 * three tasks RUNNING, the same processes live, and nothing is launched
 * again. A task that ends while the agent is down is reported once it is back.
 */
describe('agent kill -9 and restart with running tasks', () => {
  const cluster = useOneMachineCluster();
  let client: SingularityClient;
  beforeAll(() => {
    client = cluster.client;
  });

  const history = async (taskId: string): Promise<TaskHistory | undefined> => {
    const res = await fetch(`${cluster.baseUrl}/api/history/task/${encodeURIComponent(taskId)}`);
    return res.ok ? ((await res.json()) as TaskHistory) : undefined;
  };
  const lastState = async (taskId: string) => (await history(taskId))?.taskUpdates.at(-1)?.taskState;
  /** The runner's pid, from the RUNNING update's "Task running process bash - (pid: N)". */
  const runnerPid = async (taskId: string): Promise<number | undefined> => {
    const running = (await history(taskId))?.taskUpdates.find((u) => u.taskState === 'TASK_RUNNING');
    const match = running?.statusMessage?.match(/pid: (\d+)/);
    return match ? Number(match[1]) : undefined;
  };
  const activeIds = async (requestId: string) =>
    (await client.getActiveTasks())
      .filter((t) => t.taskId.requestId === requestId)
      .map((t) => t.taskId.id)
      .sort();
  const agentTasks = async () => (await (await fetch(`http://127.0.0.1:${cluster.agentPort}/agent/tasks`)).json()) as Array<{ taskId: string; state: string; executorPid?: number }>;
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  const allRunning = async (ids: string[]) => (await Promise.all(ids.map(lastState))).every((s) => s === 'TASK_RUNNING');

  it('keeps the same three tasks and processes, launches nothing again, and reports a task that ended meanwhile', async () => {
    await client.createOrUpdateRequest({ id: 'workers', owners: ['a@b.c'], requestType: 'WORKER', instances: 3 });
    await client.deploy({ deploy: { requestId: 'workers', id: 'd1', command: 'exec sleep 3600', resources: { cpus: 0.1, memoryMb: 32, numPorts: 0, diskMb: 0 } } });
    const ids = await until('three RUNNING tasks', async () => {
      const current = await activeIds('workers');
      return current.length === 3 && (await allRunning(current)) ? current : undefined;
    });
    const pids = await Promise.all(ids.map(async (id) => (await runnerPid(id))!));
    expect(pids.every((pid) => pid > 0 && alive(pid))).toBe(true);
    const executorsBefore = (await agentTasks()).map((t) => ({ taskId: t.taskId, executorPid: t.executorPid })).sort((a, b) => a.taskId.localeCompare(b.taskId));
    expect(executorsBefore.map((t) => t.taskId)).toEqual(ids);

    await cluster.killAgent();
    // Everything the agent started lives on without it.
    expect(pids.every(alive)).toBe(true);
    expect(executorsBefore.every((t) => alive(t.executorPid!))).toBe(true);
    await cluster.startAgent();

    // The same tasks, the same processes, nothing launched again (a few scheduling rounds later).
    await new Promise((r) => setTimeout(r, 4000));
    expect(await activeIds('workers')).toEqual(ids);
    expect(await allRunning(ids)).toBe(true);
    expect(pids.every(alive)).toBe(true);
    const executorsAfter = (await agentTasks()).map((t) => ({ taskId: t.taskId, executorPid: t.executorPid })).sort((a, b) => a.taskId.localeCompare(b.taskId));
    expect(executorsAfter).toEqual(executorsBefore);
    const requestHistory = (await (await fetch(`${cluster.baseUrl}/api/history/request/workers/tasks`)).json()) as unknown[];
    expect(requestHistory).toEqual([]); // no task of the request has ended, so none was replaced

    // A task that ends while the agent is down is reported when it comes back, and replaced once.
    await cluster.killAgent();
    const [victim, ...survivors] = ids;
    process.kill(pids[0], 'SIGKILL');
    await until('the victim to die', async () => (alive(pids[0]) ? undefined : true));
    await cluster.startAgent();
    await until('the victim to be reported FAILED', async () => ((await lastState(victim)) === 'TASK_FAILED' ? true : undefined));
    const failed = (await history(victim))!.taskUpdates.at(-1)!;
    expect(failed.statusMessage).toBe('Process failed with code 137');
    const replaced = await until('a replacement to run', async () => {
      const current = await activeIds('workers');
      return current.length === 3 && !current.includes(victim) && (await allRunning(current)) ? current : undefined;
    });
    expect(replaced.filter((id) => !survivors.includes(id))).toHaveLength(1);
    expect(pids.slice(1).every(alive)).toBe(true);
  });

  it('force-kills a task that traps SIGTERM once its sigKillProcessesAfterMillis is over, and the history says so', async () => {
    const graceMillis = 2000;
    await client.createOrUpdateRequest({ id: 'stubborn', owners: ['a@b.c'], requestType: 'WORKER', instances: 1 });
    await client.deploy({
      deploy: {
        requestId: 'stubborn',
        id: 'd1',
        customExecutorCmd: 'singularity-executor',
        executorData: { cmd: "trap 'echo got TERM, staying' TERM; while true; do sleep 1; done", sigKillProcessesAfterMillis: graceMillis },
        resources: { cpus: 0.1, memoryMb: 32, numPorts: 0, diskMb: 0 },
      },
    });
    const [taskId] = await until('the task to run', async () => {
      const current = await activeIds('stubborn');
      return current.length === 1 && (await allRunning(current)) ? current : undefined;
    });
    const pid = (await runnerPid(taskId))!;
    await client.killTask(taskId);
    const killed = await until('TASK_KILLED in the history', async () => {
      const last = (await history(taskId))?.taskUpdates.at(-1);
      return last?.taskState === 'TASK_KILLED' ? last : undefined;
    });
    // The executor measures the shutdown from the kill it received to the exit of the task's processes.
    const match = killed.statusMessage?.match(/^Task killed forcibly after waiting at least 00:02\.000 \(shutdownTime: (\d+)ms\)$/);
    expect(match).not.toBeNull();
    expect(Number(match![1])).toBeGreaterThanOrEqual(graceMillis);
    expect(Number(match![1])).toBeLessThanOrEqual(graceMillis + 2000);
    expect(alive(pid)).toBe(false);
  });
});
