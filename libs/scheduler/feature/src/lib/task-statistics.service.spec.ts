import { SchedulerHarness } from './scheduler.harness';
import { TaskStatisticsService } from './task-statistics.service';

/** The scheduler's statistics endpoint logic over the harness, with the agent's HTTP answers faked. */
describe('TaskStatisticsService', () => {
  let h: SchedulerHarness;
  let calls: string[];
  beforeEach(async () => {
    h = await SchedulerHarness.create();
    calls = [];
  });
  afterEach(() => h.stop());

  const agentAnswering = (status: number, body: unknown) =>
    new TaskStatisticsService(h.runtime.ctx, {
      fetch: async (input) => {
        calls.push(String(input));
        return new Response(typeof body === 'string' ? body : JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
      },
    });

  async function runningTask(): Promise<string> {
    await h.registerAgent({ agentId: 'agent-1', port: 5999 });
    await h.runtime.requests.createOrUpdate({ id: 'web', owners: ['a@b.c'], requestType: 'WORKER', instances: 1 });
    await h.runtime.deploys.deploy({ deploy: { requestId: 'web', id: 'd1', command: 'sleep 600', resources: { cpus: 1, memoryMb: 64, numPorts: 0, diskMb: 0 } } });
    await h.tick();
    const [taskId] = h.launchedIds();
    await h.report(taskId, 'TASK_RUNNING');
    return taskId;
  }

  it("asks the agent running the task and passes its statistics on", async () => {
    const taskId = await runningTask();
    const stats = { timestamp: 1.5, memRssBytes: 4096, memLimitBytes: 64 * 1024 * 1024 };
    await expect(agentAnswering(200, stats).statistics(taskId)).resolves.toEqual(stats);
    expect(calls).toEqual([`http://127.0.0.1:5999/agent/tasks/${encodeURIComponent(taskId)}/statistics`]);
  });

  it('is a 404 for a task that is not active, without asking any agent', async () => {
    await expect(agentAnswering(200, {}).statistics('web-d1-1-0-nowhere-DEFAULT')).rejects.toMatchObject({ status: 404, message: "Couldn't find active task with id web-d1-1-0-nowhere-DEFAULT" });
    expect(calls).toEqual([]);
  });

  it("passes the agent's 404 and its reason on, and other failures with their status", async () => {
    const taskId = await runningTask();
    await expect(agentAnswering(404, { message: `Task ${taskId} has no cgroup on this agent` }).statistics(taskId)).rejects.toMatchObject({
      status: 404,
      message: `Task ${taskId} has no cgroup on this agent`,
    });
    await expect(agentAnswering(500, { message: 'internal error: boom' }).statistics(taskId)).rejects.toMatchObject({ status: 500, message: 'internal error: boom' });
  });

  it('is a 503 when the agent does not answer', async () => {
    const taskId = await runningTask();
    const service = new TaskStatisticsService(h.runtime.ctx, {
      fetch: async () => {
        throw new Error('connect ECONNREFUSED');
      },
    });
    await expect(service.statistics(taskId)).rejects.toMatchObject({ status: 503, message: expect.stringMatching(/did not answer \(connect ECONNREFUSED\)/) });
  });
});
