import { InMemoryStateStore } from '@singularity/scheduler-state';
import { SchedulerHarness } from './scheduler.harness';
import type { StateEvent } from './scheduler-state';

describe('SchedulerState events and extension collections', () => {
  let h: SchedulerHarness;
  const events: StateEvent[] = [];
  beforeEach(async () => {
    events.length = 0;
    h = await SchedulerHarness.create({ store: new InMemoryStateStore() });
    h.runtime.ctx.state.subscribe((e) => events.push(e));
    await h.registerAgent();
  });
  afterEach(() => h.stop());

  it('emits request history, deploy start and finish, and every task update', async () => {
    await h.runtime.requests.createOrUpdate({ id: 'w', requestType: 'WORKER' });
    await h.runtime.deploys.deploy({ deploy: { requestId: 'w', id: 'd1', command: 'x', considerHealthyAfterRunningForSeconds: 0 } });
    await h.tick();
    const [taskId] = h.activeTaskIds('w');
    await h.report(taskId, 'TASK_RUNNING');
    await h.tick();
    expect(events.map((e) => e.type)).toEqual(['requestHistory', 'deployStarted', 'taskUpdate', 'taskUpdate', 'deployFinished']);
    const finished = events.find((e) => e.type === 'deployFinished');
    expect(finished).toMatchObject({ result: { deployState: 'SUCCEEDED' }, pendingDeploy: { deployMarker: { deployId: 'd1' } } });
  });

  it('keeps extension collections in the same store, across a restart', async () => {
    const queue = h.runtime.ctx.state.extension<{ n: number }>('webhook-queue');
    queue.put('a', { n: 1 });
    queue.put('b', { n: 2 });
    queue.delete('a');
    await h.runtime.ctx.state.flush();
    await h.stop();
    h = await SchedulerHarness.create({ store: h.store, clock: h.clock, gateway: h.gateway });
    const reloaded = h.runtime.ctx.state.extension<{ n: number }>('webhook-queue');
    expect([...reloaded.entries()]).toEqual([['b', { n: 2 }]]);
  });
});
