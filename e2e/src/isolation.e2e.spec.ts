import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { readdir, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { safeTaskId } from '@singularity/models';
import { detectCgroupHierarchy, isProcessAlive, TaskCgroup } from '@singularity/node-util';
import { expectMatchesSchema } from '@singularity/testing';
import { OneMachineCluster, until } from './support/one-machine-cluster';

jest.setTimeout(240_000);

/**
 * Task cgroups end to end (issue 4, isolation): scheduler, agent and the real
 * executor program on this machine's cgroup v1 controllers (needs root). The
 * executor configuration puts every task cgroup under a parent of this test,
 * removed afterwards with whatever is left in it.
 */
const CGROUP_ROOT = '/sys/fs/cgroup';
const PARENT = `singularity-e2e-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;

/** The operator's executor configuration: required cgroups under this test's parent. */
function operatorConfig(): { dir: string; file: string } {
  const dir = mkdtempSync(join(tmpdir(), 'isolation-e2e-'));
  const file = join(dir, 'executor.yaml');
  writeFileSync(file, `executor:\n  cgroups: required\n  cgroupRoot: ${CGROUP_ROOT}\n  cgroupParent: ${PARENT}\n`);
  return { dir, file };
}

describe('isolation: task cgroups, OOM, escaped children, statistics', () => {
  const operator = operatorConfig();
  const cluster = new OneMachineCluster({ agentEnv: { SINGULARITY_AGENT_EXECUTOR_CONFIG_FILE: operator.file } });
  let api: string;

  beforeAll(async () => {
    const detected = await detectCgroupHierarchy(CGROUP_ROOT);
    if (!detected.ok || detected.hierarchy.version !== 'v1') throw new Error(`this test needs the cgroup v1 controllers at ${CGROUP_ROOT}`);
    await cluster.start();
    api = `${cluster.baseUrl}/api`;
  });

  afterAll(async () => {
    await cluster.stop();
    // Whatever a failed test left: kill it, remove the task cgroups and the parent.
    const detected = await detectCgroupHierarchy(CGROUP_ROOT);
    if (detected.ok && detected.hierarchy.version === 'v1') {
      for (const mount of new Set(Object.values(detected.hierarchy.mounts))) {
        const children = await readdir(join(mount, PARENT), { withFileTypes: true }).catch(() => []);
        for (const child of children.filter((c) => c.isDirectory())) {
          const cgroup = TaskCgroup.open({ version: 'v1', name: child.name, parent: PARENT, dirs: { memory: join(mount, PARENT, child.name) }, limits: {}, createdAt: 0 });
          await cgroup.killAll();
          await cgroup.remove().catch(() => undefined);
        }
        await rmdir(join(mount, PARENT)).catch(() => undefined);
      }
    }
    rmSync(operator.dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
    if (!expect.getState().suppressedErrors?.length) cluster.cleanup();
  });

  const post = (path: string, body: unknown) => fetch(`${api}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const json = async <T>(path: string): Promise<T> => (await (await fetch(`${api}${path}`)).json()) as T;
  const lastUpdate = async (taskId: string) => {
    const res = await fetch(`${api}/history/task/${encodeURIComponent(taskId)}`);
    if (!res.ok) return undefined;
    return ((await res.json()) as { taskUpdates: Array<{ taskState: string; statusMessage?: string }> }).taskUpdates.at(-1);
  };
  const activeTaskOf = (requestId: string) =>
    until(`a task of ${requestId}`, async () => (await json<Array<{ taskId: { id: string; requestId: string } }>>('/tasks/active')).find((t) => t.taskId.requestId === requestId)?.taskId.id);
  const running = (taskId: string) => until(`${taskId} to run`, async () => ((await lastUpdate(taskId))?.taskState === 'TASK_RUNNING' ? true : undefined));
  const memoryCgroup = (taskId: string) => join(CGROUP_ROOT, 'memory', PARENT, safeTaskId(taskId));

  async function deploy(requestId: string, requestType: string, command: string, memoryMb: number): Promise<void> {
    expect((await post('/requests', { id: requestId, owners: ['a@b.c'], requestType, instances: 1 })).ok).toBe(true);
    const res = await post('/deploys', { deploy: { requestId, id: 'd1', command, resources: { cpus: 0.5, memoryMb, numPorts: 0, diskMb: 64 } } });
    expect(res.ok).toBe(true);
  }

  it('a task allocating past memoryMb is OOM-killed by the kernel: TASK_FAILED saying so; its cgroup is removed', async () => {
    await deploy('hog', 'RUN_ONCE', 'python3 -c "b = bytearray(200 * 1024 * 1024)"', 32);
    const taskId = await activeTaskOf('hog');
    const last = await until('the hog to fail', async () => {
      const update = await lastUpdate(taskId);
      return update && ['TASK_FAILED', 'TASK_FINISHED', 'TASK_KILLED', 'TASK_LOST'].includes(update.taskState) ? update : undefined;
    });
    expect(last).toMatchObject({ taskState: 'TASK_FAILED', statusMessage: 'Task killed by the kernel: out of memory (limit 32 MB)' });
    expect(existsSync(memoryCgroup(taskId))).toBe(false);
  });

  it('statistics of a running task through the agent and the scheduler: plausible, schema-valid; 404 for unknown tasks', async () => {
    const script = 'import time; b = bytearray(16 * 1024 * 1024); [b.__setitem__(i, 1) for i in range(0, len(b), 4096)]; time.sleep(600)';
    await deploy('busy', 'WORKER', `exec python3 -c '${script}'`, 64);
    const taskId = await activeTaskOf('busy');
    await running(taskId);
    const fromScheduler = await until('statistics with the 16 MB in rss', async () => {
      const res = await fetch(`${api}/tasks/task/${encodeURIComponent(taskId)}/statistics`);
      if (!res.ok) return undefined;
      const stats = (await res.json()) as { memRssBytes: number };
      return stats.memRssBytes >= 16 * 1024 * 1024 ? stats : undefined;
    });
    expectMatchesSchema(fromScheduler, 'MesosTaskStatisticsObject');
    expect(fromScheduler).toMatchObject({ memLimitBytes: 64 * 1024 * 1024, cpusLimit: 1, diskLimitBytes: 64 * 1024 * 1024 });
    expect((fromScheduler as unknown as { memTotalBytes: number }).memTotalBytes).toBeGreaterThanOrEqual(fromScheduler.memRssBytes);

    const fromAgent = await fetch(`http://127.0.0.1:${cluster.agentPort}/agent/tasks/${encodeURIComponent(taskId)}/statistics`);
    expect(fromAgent.status).toBe(200);
    const agentStats = (await fromAgent.json()) as { memLimitBytes: number; memRssBytes: number };
    expectMatchesSchema(agentStats, 'MesosTaskStatisticsObject');
    expect(agentStats.memLimitBytes).toBe(64 * 1024 * 1024);
    expect(agentStats.memRssBytes).toBeGreaterThan(0);

    const unknown = await fetch(`${api}/tasks/task/nope-d1-1-0-host-rack/statistics`);
    expect(unknown.status).toBe(404);
    const unknownOnAgent = await fetch(`http://127.0.0.1:${cluster.agentPort}/agent/tasks/nope/statistics`);
    expect(unknownOnAgent.status).toBe(404);
  });

  it('a child that left the process group (setsid) dies with its killed task; the cgroup goes', async () => {
    const pidDir = join(cluster.dir, 'escaped');
    mkdirSync(pidDir, { recursive: true });
    await deploy('escape', 'WORKER', `setsid sleep 600 >/dev/null 2>&1 < /dev/null & echo $! > ${pidDir}/$TASK_ID.pid; exec sleep 600`, 64);
    const taskId = await activeTaskOf('escape');
    await running(taskId);
    const pidFile = join(pidDir, `${taskId}.pid`);
    const escaped = await until('the escaped pid', async () => (existsSync(pidFile) && readFileSync(pidFile, 'utf8').trim() ? Number(readFileSync(pidFile, 'utf8')) : undefined));
    expect(isProcessAlive(escaped)).toBe(true);
    expect(readFileSync(`/proc/${escaped}/cgroup`, 'utf8')).toContain(`:memory:/${PARENT}/${safeTaskId(taskId)}`);

    // Stop the request so nothing replaces the task, then kill the task.
    expect((await fetch(`${api}/requests/request/escape`, { method: 'DELETE' })).ok).toBe(true);
    await until('the task to be killed', async () => ((await lastUpdate(taskId))?.taskState === 'TASK_KILLED' ? true : undefined));
    await until('the escaped child to be gone', async () => (isProcessAlive(escaped) ? undefined : true));
    await until('the task cgroup to be removed', async () => (existsSync(memoryCgroup(taskId)) ? undefined : true));
  });
});
