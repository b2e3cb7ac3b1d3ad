import { expectMatchesSchema } from '@singularity/testing';
import type { CrashLoopInfo } from '@singularity/models';
import { SchedulerHarness } from './scheduler.harness';
import { WEBHOOK_COLLECTIONS, webhookIdOf } from './webhooks';

const OOM_MESSAGE = 'Task killed by the kernel: out of memory (limit 64 MB)';

/** Crash loops (spec §2.6, scenario 36) from real task failures, on a manual clock. */
describe('crash loops (harness)', () => {
  let h: SchedulerHarness;
  beforeEach(async () => {
    h = await SchedulerHarness.create();
    await h.registerAgent();
  });
  afterEach(() => h.stop());

  const loops = (id: string) => h.runtime.requests.crashLoops(id);
  const types = (id: string) => loops(id).map((l) => [l.type, l.end === undefined ? 'open' : 'ended']);

  /** A worker whose deploy d1 is active, with one running task. */
  async function activeWorker(id: string): Promise<void> {
    await h.runtime.requests.createOrUpdate({ id, requestType: 'WORKER' });
    await h.runtime.deploys.deploy({ deploy: { requestId: id, id: 'd1', command: 'work', considerHealthyAfterRunningForSeconds: 0 } });
    await h.tick();
    await h.report(h.activeTaskIds(id)[0], 'TASK_RUNNING');
    await h.tick();
    expect(h.runtime.requests.get(id).requestDeployState?.activeDeploy?.deployId).toBe('d1');
  }

  /** Fails the request's running task (launching one first if none runs), then lets `gapMillis` pass. */
  async function fail(id: string, gapMillis: number, message = 'Process failed with code 1'): Promise<void> {
    if (h.activeTaskIds(id).length === 0) await h.tick();
    const [taskId] = h.activeTaskIds(id);
    const record = h.runtime.ctx.state.getTask(taskId);
    if (!record?.updates.some((u) => u.taskState === 'TASK_RUNNING')) await h.report(taskId, 'TASK_RUNNING');
    await h.report(taskId, 'TASK_FAILED', message);
    h.clock.advance(gapMillis);
    await h.heartbeat();
    await h.tick();
  }

  it('5 failures within a minute open a FAST_FAILURE_LOOP, shown by both routes, that ends once the minute has passed (scenario 36)', async () => {
    await activeWorker('crashy');
    const start = h.clock.now();
    for (let i = 0; i < 5; i++) await fail('crashy', 5_000);

    const [loop] = loops('crashy');
    expect(loop).toEqual({ requestId: 'crashy', deployId: 'd1', start, type: 'FAST_FAILURE_LOOP' });
    expectMatchesSchema(loop, 'CrashLoopInfo');
    expect(h.runtime.requests.allCrashLoops()).toEqual({ crashy: [loop] });

    h.clock.advance(61_000);
    await h.heartbeat();
    await h.tick();
    expect(loops('crashy')).toEqual([{ ...loop, end: h.clock.now() }]);
    expect(h.runtime.requests.allCrashLoops()).toEqual({});
  });

  it('failures older than the window do not count', async () => {
    await activeWorker('w');
    for (let i = 0; i < 3; i++) await fail('w', 5_000);
    h.clock.advance(120_000);
    for (let i = 0; i < 4; i++) await fail('w', 5_000);
    expect(loops('w')).toEqual([]);
    expect(h.runtime.requests.get('w').state).toBe('ACTIVE');

    await fail('w', 0);
    expect(types('w')).toEqual([['FAST_FAILURE_LOOP', 'open']]);
  });

  it("OOM kills (the executor's message) make an OOM loop: 4 within 30 minutes", async () => {
    await activeWorker('hungry');
    // 50 s apart: too slow for a fast failure loop, too close together to spread over 3-minute buckets.
    for (let i = 0; i < 3; i++) await fail('hungry', 50_000, OOM_MESSAGE);
    expect(loops('hungry')).toEqual([]);
    await fail('hungry', 0, OOM_MESSAGE);
    expect(types('hungry')).toEqual([['OOM', 'open']]);
  });

  it('tasks that fail before they ever run make a STARTUP_FAILURE_LOOP', async () => {
    await activeWorker('broken');
    await fail('broken', 10_000);
    for (let i = 0; i < 3; i++) {
      await h.tick();
      const [taskId] = h.activeTaskIds('broken');
      await h.report(taskId, 'TASK_FAILED', 'artifact download failed');
      h.clock.advance(10_000);
      await h.heartbeat();
    }
    expect(types('broken')).toEqual([['STARTUP_FAILURE_LOOP', 'open']]);
  });

  it('queues a CRASHLOOP webhook, durably, when a loop opens and when it ends', async () => {
    const uri = 'http://hooks.example.com/crash/$REQUEST_ID';
    await h.runtime.webhooks.add({ uri, type: 'CRASHLOOP' });
    await activeWorker('crashy');
    for (let i = 0; i < 5; i++) await fail('crashy', 5_000);
    h.clock.advance(61_000);
    await h.heartbeat();
    await h.tick();

    const stored = [...((await h.store.load()).get(WEBHOOK_COLLECTIONS.updates)?.values() ?? [])] as Array<{ webhookId: string; type: string; payload: CrashLoopInfo }>;
    const crashLoopUpdates = stored.filter((u) => u.type === 'CRASHLOOP');
    expect(crashLoopUpdates.map((u) => u.webhookId)).toEqual([webhookIdOf('CRASHLOOP', uri), webhookIdOf('CRASHLOOP', uri)]);
    const [opened, ended] = crashLoopUpdates.map((u) => u.payload).sort((a, b) => (a.end ?? 0) - (b.end ?? 0));
    expect(opened).toMatchObject({ requestId: 'crashy', deployId: 'd1', type: 'FAST_FAILURE_LOOP' });
    expect(opened.end).toBeUndefined();
    expect(ended).toEqual({ ...opened, end: h.clock.now() });
    expectMatchesSchema(ended, 'CrashLoopInfo');
  });

  it('is a 404 for an unknown request', () => {
    expect(() => loops('nope')).toThrow(expect.objectContaining({ status: 404 }));
  });

  it('drops the loops of a deploy that is no longer active', async () => {
    await activeWorker('crashy');
    for (let i = 0; i < 5; i++) await fail('crashy', 5_000);
    expect(types('crashy')).toEqual([['FAST_FAILURE_LOOP', 'open']]);
    await h.runtime.deploys.deploy({ deploy: { requestId: 'crashy', id: 'd2', command: 'fixed', considerHealthyAfterRunningForSeconds: 0 } });
    for (let i = 0; i < 3 && h.runtime.requests.get('crashy').requestDeployState?.activeDeploy?.deployId !== 'd2'; i++) {
      await h.tick();
      for (const taskId of h.activeTaskIds('crashy')) await h.report(taskId, 'TASK_RUNNING');
      h.clock.advance(5_000);
      await h.heartbeat();
    }
    await h.tick();
    expect(h.runtime.requests.get('crashy').requestDeployState?.activeDeploy?.deployId).toBe('d2');
    expect(loops('crashy')).toEqual([]);
  });
});
