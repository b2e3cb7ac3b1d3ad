import { ManualClock } from '@singularity/util';
import { SchedulerHarness } from './scheduler.harness';

/** SCHEDULED requests (spec §2.2, §2.4; scenarios 8, 22, 23). The harness clock starts at a whole minute. */
describe('scheduled requests (harness)', () => {
  const MINUTE = 60_000;
  const T0 = Date.UTC(2026, 10, 23, 12, 0, 0);
  let h: SchedulerHarness;
  beforeEach(async () => {
    h = await SchedulerHarness.create({ clock: new ManualClock(T0) });
    await h.registerAgent();
  });
  afterEach(() => h.stop());

  const pendingAt = () => h.runtime.tasks.scheduled('cron').map((t) => t.pendingTask.pendingTaskId.nextRunAt);
  async function at(millis: number): Promise<void> {
    h.clock.set(millis);
    await h.heartbeat('agent-1');
    await h.tick();
  }

  async function cronJob(schedule = '*/1 * * * *', extra: Record<string, unknown> = {}): Promise<void> {
    await h.runtime.requests.createOrUpdate({ id: 'cron', requestType: 'SCHEDULED', schedule, scheduleTimeZone: 'UTC', ...extra });
    await h.runtime.deploys.deploy({ deploy: { requestId: 'cron', id: 'c1', command: 'report' } });
    await h.tick();
    await h.tick();
  }

  it('runs `*/1 * * * *` once a minute and never overlaps itself', async () => {
    await cronJob();
    expect(h.runtime.requests.get('cron').request.quartzSchedule).toBe('0 */1 * * * ?');
    expect(pendingAt()).toEqual([T0 + MINUTE]);
    await at(T0 + MINUTE);
    const [first] = h.activeTaskIds('cron');
    expect(first).toBeDefined();
    await h.report(first, 'TASK_RUNNING');
    // Still running two fire times later: nothing else starts.
    await at(T0 + 3 * MINUTE + 1);
    expect(h.activeTaskIds('cron')).toEqual([first]);
    expect(pendingAt()).toEqual([]);
    await h.report(first, 'TASK_FINISHED');
    await h.tick();
    expect(pendingAt()).toEqual([T0 + 4 * MINUTE]);
    await at(T0 + 4 * MINUTE);
    expect(h.activeTaskIds('cron')).toHaveLength(1);
    expect(h.gateway.launches).toHaveLength(2);
  });

  it('waits waitAtLeastMillisAfterTaskFinishesForReschedule after a run (scenario 22)', async () => {
    await cronJob('*/1 * * * *', { waitAtLeastMillisAfterTaskFinishesForReschedule: 150_000 });
    await at(T0 + MINUTE);
    const [first] = h.activeTaskIds('cron');
    await h.report(first, 'TASK_FINISHED');
    await h.tick();
    expect(pendingAt()).toEqual([h.clock.now() + 150_000]);
  });

  it('becomes FINISHED without a future fire time, and a valid schedule revives it (scenario 23)', async () => {
    await cronJob('0 0 12 1 1 ? 2020', { scheduleType: 'QUARTZ' });
    expect(h.runtime.requests.get('cron').state).toBe('FINISHED');
    await h.runtime.requests.createOrUpdate({ id: 'cron', requestType: 'SCHEDULED', schedule: '*/5 * * * *', scheduleTimeZone: 'UTC' });
    await h.tick();
    expect(h.runtime.requests.get('cron').state).toBe('ACTIVE');
    expect(pendingAt()).toEqual([T0 + 5 * MINUTE]);
  });

  it('a redeploy never starts a second run; the next run uses the new deploy (scenario 8)', async () => {
    await cronJob();
    await at(T0 + MINUTE);
    const [first] = h.activeTaskIds('cron');
    await h.report(first, 'TASK_RUNNING');
    await h.runtime.deploys.deploy({ deploy: { requestId: 'cron', id: 'c2', command: 'report v2' } });
    await h.tick();
    await h.tick();
    expect(h.activeTaskIds('cron')).toEqual([first]);
    await h.report(first, 'TASK_FINISHED');
    await h.tick();
    await at(T0 + 2 * MINUTE);
    const [second] = h.activeTaskIds('cron');
    expect(second).toContain('-c2-');
  });

  it('runs now on request, and refuses a second run while one is in progress', async () => {
    await cronJob('0 0 * * *');
    await h.runtime.requests.run('cron', { runId: 'manual-1' }, 'ann');
    await h.tick();
    const [manual] = h.activeTaskIds('cron');
    expect(manual).toBeDefined();
    await expect(h.runtime.requests.run('cron', {}, 'ann')).rejects.toMatchObject({ status: 409 });
  });
});
