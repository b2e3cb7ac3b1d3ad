import { useOneMachineCluster, until } from './support/one-machine-cluster';

jest.setTimeout(240_000);

/**
 * A finished task's sandbox through the scheduler's API (issue 4 items 5 and
 * 6, spec slave §1.8, scenario 18): its logs are rotated and its tail kept,
 * app/ goes after the (shortened) clean-up delay, the rest stays browsable
 * until the (shortened) retention, then it is gone.
 */
describe('one machine: a finished task sandbox until its retention', () => {
  const cluster = useOneMachineCluster({
    agentEnv: {
      SINGULARITY_AGENT_SANDBOX_APP_CLEANUP_DELAY_MILLIS: '1000',
      SINGULARITY_AGENT_SANDBOX_RETENTION_MILLIS: '20000',
    },
  });
  let api: string;
  beforeAll(() => {
    api = cluster.apiUrl;
  });

  const post = async (path: string, body: unknown) => {
    const res = await fetch(`${api}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  };
  const browse = async (taskId: string, path = '') => {
    const res = await fetch(`${api}/sandbox/${encodeURIComponent(taskId)}/browse${path ? `?path=${encodeURIComponent(path)}` : ''}`);
    return { status: res.status, names: res.ok ? ((await res.json()) as { files: Array<{ name: string }> }).files.map((f) => f.name).sort() : [] };
  };

  it('keeps the rotated logs and the tail browsable after app/ is gone, until the retention', async () => {
    await post('/requests', { id: 'once', owners: ['a@b.c'], requestType: 'RUN_ONCE' });
    await post('/deploys', { deploy: { requestId: 'once', id: 'v1', command: 'seq 1 3000', resources: { cpus: 0.1, memoryMb: 64 } } });

    const taskId = await until('the task to finish', async () => {
      const res = await fetch(`${api}/history/request/once/tasks`);
      const tasks = res.ok ? ((await res.json()) as Array<{ taskId: { id: string }; lastTaskState: string }>) : [];
      return tasks.find((t) => t.lastTaskState === 'TASK_FINISHED')?.taskId.id;
    });

    const cleaned = await until('app/ removed, the rest still there', async () => {
      const listing = await browse(taskId);
      return listing.status === 200 && !listing.names.includes('app') ? listing : undefined;
    });
    expect(cleaned.names).toEqual(expect.arrayContaining(['logs', 'tail_of_finished_service.log', 'runner.sh', 'executor.log']));
    expect(cleaned.names).not.toContain('service.log'); // rotated into logs/, the empty one removed
    expect((await browse(taskId, 'logs')).names).toEqual([expect.stringMatching(/^service\.log-\d+\.log\.gz$/)]);
    const tail = (await (await fetch(`${api}/sandbox/${encodeURIComponent(taskId)}/read?path=tail_of_finished_service.log&offset=0&length=65536`)).json()) as { data: string };
    const lines = tail.data.trim().split('\n');
    expect([lines.length, lines[0], lines.at(-1)]).toEqual([2500, '501', '3000']);

    await until('the sandbox removed after the retention', async () => ((await browse(taskId)).status !== 200 ? true : undefined), 60_000);
  });
});
