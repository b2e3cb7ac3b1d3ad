import { SingularityClient, SingularityClientError } from '@singularity/client';
import type { SingularityTask } from '@singularity/models';
import { expectMatchesSchema } from '@singularity/testing';
import { useOneMachineCluster, until } from './support/one-machine-cluster';

jest.setTimeout(240_000);

/**
 * The foundation's promise, end to end with real processes: scheduler, agent,
 * executor and a real service (python's http.server) on its assigned PORT0.
 */
describe('one machine: scheduler + agent + executor', () => {
  const cluster = useOneMachineCluster();
  let client: SingularityClient;
  beforeAll(() => {
    client = cluster.client;
  });

  const runningTasks = async (requestId: string): Promise<SingularityTask[]> => {
    const tasks = (await client.getActiveTasks()).filter((t) => t.taskId.requestId === requestId);
    const states = await Promise.all(tasks.map((t) => taskState(t.taskId.id)));
    return tasks.filter((_t, i) => states[i] === 'TASK_RUNNING');
  };
  const taskState = async (taskId: string): Promise<string | undefined> => {
    const res = await fetch(`${cluster.baseUrl}/api/history/task/${encodeURIComponent(taskId)}`);
    if (!res.ok) return undefined;
    const history = (await res.json()) as { taskUpdates: Array<{ taskState: string }> };
    return history.taskUpdates.at(-1)?.taskState;
  };
  const waitForRunning = (requestId: string, count: number, exclude: string[] = []) =>
    until(`${count} running task(s) of ${requestId}`, async () => {
      const running = (await runningTasks(requestId)).filter((t) => !exclude.includes(t.taskId.id));
      const all = (await client.getActiveTasks()).filter((t) => t.taskId.requestId === requestId);
      return running.length === count && all.length === count ? running : undefined;
    });

  it('rejects bad requests with a 400 naming the field, and stores nothing', async () => {
    const cases: Array<[unknown, string]> = [
      [{ owners: ['a@b.c'], requestType: 'SERVICE' }, 'id'],
      [{ id: 'neg', requestType: 'SERVICE', instances: -1 }, 'instances'],
      [{ id: 'a/b', requestType: 'SERVICE' }, 'id'],
      [{ id: 'weird', requestType: 'NOPE' }, 'requestType'],
    ];
    for (const [body, field] of cases) {
      const res = await fetch(`${cluster.baseUrl}/api/requests`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      expect(res.status).toBe(400);
      expect(await res.text()).toMatch(new RegExp(`^${field}`));
    }
    expect(await client.getRequests()).toEqual([]);
  });

  it('creates, deploys, serves on PORT0, replaces a killed task, scales 1→3→1, and survives kill -9 of the scheduler', async () => {
    const created = await client.createOrUpdateRequest({ id: 'web', owners: ['a@b.c'], requestType: 'SERVICE', instances: 1 });
    expectMatchesSchema(created, 'SingularityRequestParent');
    expect(created.state).toBe('ACTIVE');

    await client.deploy({
      deploy: { requestId: 'web', id: 'd1', command: 'exec python3 -m http.server $PORT0', resources: { cpus: 0.1, memoryMb: 64, numPorts: 1, diskMb: 0 } },
    });
    const [first] = await waitForRunning('web', 1);
    expectMatchesSchema(first, 'SingularityTask');
    const port = Number(first.mesosTask.resources.find((r) => r.name === 'ports')?.ranges?.range[0].begin);
    const page = await until('the service to answer on PORT0', async () => {
      const res = await fetch(`http://127.0.0.1:${port}/`);
      return res.ok ? res.text() : undefined;
    });
    expect(page).toContain('Directory listing');
    await until('deploy d1 to become active', async () =>
      (await client.getRequest('web')).requestDeployState?.activeDeploy?.deployId === 'd1' ? true : undefined,
    );

    // Kill: a replacement starts.
    const cleanup = await client.killTask(first.taskId.id);
    expectMatchesSchema(cleanup, 'SingularityTaskCleanup');
    const [replacement] = await waitForRunning('web', 1, [first.taskId.id]);
    expect(replacement.taskId.id).not.toBe(first.taskId.id);
    await until('the killed task to be TASK_KILLED', async () => ((await taskState(first.taskId.id)) === 'TASK_KILLED' ? true : undefined));

    // Scale 1 → 3 → 1: exactly one task remains.
    await client.scale('web', { instances: 3 });
    await waitForRunning('web', 3);
    await client.scale('web', { instances: 1 });
    const [survivor] = await waitForRunning('web', 1);
    expect(survivor.taskId.instanceNo).toBe(1);

    // kill -9 the scheduler and start it again: everything is still there, nothing starts twice.
    const agentTasks = async () => (await (await fetch(`http://127.0.0.1:${cluster.agentPort}/agent/tasks`)).json()) as Array<{ taskId: string; executorPid?: number }>;
    await until('the agent to run only the survivor', async () => ((await agentTasks()).length === 1 ? true : undefined));
    const before = {
      requests: (await client.getRequests()).map((r) => r.request.id),
      activeDeploy: (await client.getRequest('web')).requestDeployState?.activeDeploy?.deployId,
      tasks: (await client.getActiveTasks()).map((t) => t.taskId.id).sort(),
      agentTasks: await agentTasks(),
    };
    await cluster.killScheduler();
    await cluster.startScheduler();
    expect((await client.getRequests()).map((r) => r.request.id)).toEqual(before.requests);
    expect((await client.getRequest('web')).requestDeployState?.activeDeploy?.deployId).toBe(before.activeDeploy);
    expect((await client.getActiveTasks()).map((t) => t.taskId.id).sort()).toEqual(before.tasks);
    // A few scheduling rounds later the same tasks run, with the same executor processes.
    await new Promise((r) => setTimeout(r, 3000));
    expect((await client.getActiveTasks()).map((t) => t.taskId.id).sort()).toEqual(before.tasks);
    expect(await agentTasks()).toEqual(before.agentTasks);
    expect(before.agentTasks[0]).toMatchObject({ taskId: survivor.taskId.id, state: 'TASK_RUNNING' });
    const state = await client.getState();
    expectMatchesSchema(state, 'SingularityState');
    expect(state.activeTasks).toBe(1);
  });

  it('serves the task sandbox through the scheduler: browse, read, download; paths stay inside', async () => {
    const [task] = await waitForRunning('web', 1);
    const api = `${cluster.baseUrl}/api`;
    const taskId = encodeURIComponent(task.taskId.id);
    const listing = await until('the sandbox listing', async () => {
      const res = await fetch(`${api}/sandbox/${taskId}/browse`);
      return res.ok ? ((await res.json()) as { files: Array<{ name: string }>; fullPathToRoot: string }) : undefined;
    });
    expectMatchesSchema(listing, 'SingularitySandbox');
    expect(listing.files.map((f) => f.name)).toEqual(expect.arrayContaining(['service.log', 'runner.sh', 'deploy.env']));
    const chunk = await until('service.log to hold the request log', async () => {
      const res = await fetch(`${api}/sandbox/${taskId}/read?path=service.log&offset=0&length=100`);
      const body = (await res.json()) as { data: string; offset: number; nextOffset: number };
      return body.data.length > 0 ? body : undefined;
    });
    expectMatchesSchema(chunk, 'MesosFileChunkObject');
    expect(chunk.offset).toBe(0);
    // grep keeps only the matching lines of the chunk (deploy.env: one `export NAME=` line per variable).
    const grepped = (await (await fetch(`${api}/sandbox/${taskId}/read?path=deploy.env&offset=0&length=65536&grep=${encodeURIComponent('^export TASK_(ID|HOST)=')}`)).json()) as { data: string };
    expect(grepped.data.trim().split('\n').map((line) => line.split('=')[0]).sort()).toEqual(['export TASK_HOST', 'export TASK_ID']);
    const badGrep = await fetch(`${api}/sandbox/${taskId}/read?path=deploy.env&grep=${encodeURIComponent('(a+)+')}`);
    expect(badGrep.status).toBe(400);
    expect(await badGrep.text()).toMatch(/grep: nested quantifiers/);
    const escape = await fetch(`${api}/sandbox/${taskId}/read?path=../../etc/passwd&offset=0&length=100`);
    expect([400, 404]).toContain(escape.status);
    expect(await escape.text()).not.toContain('root:');
    const download = await fetch(`${api}/tasks/download?slaveHostname=${encodeURIComponent(task.taskId.host)}&path=${encodeURIComponent(`${listing.fullPathToRoot}/deploy.env`)}`);
    expect(download.status).toBe(200);
    expect(await download.text()).toContain('export TASK_ID=');
    const outside = await fetch(`${api}/tasks/download?slaveHostname=${encodeURIComponent(task.taskId.host)}&path=/etc/passwd`);
    expect(outside.status).toBe(400);
  });

  it('answers 404 for an unknown request and 409 for pausing twice', async () => {
    await expect(client.getRequest('nope')).rejects.toMatchObject({ status: 404 });
    await client.createOrUpdateRequest({ id: 'worker', requestType: 'WORKER' });
    await client.pause('worker');
    const err = await client.pause('worker').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SingularityClientError);
    expect((err as SingularityClientError).status).toBe(409);
  });
});
