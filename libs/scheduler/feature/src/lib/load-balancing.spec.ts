import { expectMatchesSchema } from '@singularity/testing';
import { FakeLoadBalancer, HttpLoadBalancerClient, lbWireId, lbRequestIdForTask } from './load-balancer';
import { SchedulerHarness } from './scheduler.harness';

/** Load-balanced requests against a FakeLoadBalancer (a real Baragon-style HTTP server): spec §3.5, scenarios 11 and 12. */
describe('load balancing (harness + FakeLoadBalancer)', () => {
  let h: SchedulerHarness;
  let lb: FakeLoadBalancer;

  async function setUp(graceMillis = 0): Promise<void> {
    lb = await FakeLoadBalancer.start();
    h = await SchedulerHarness.create({ loadBalancer: new HttpLoadBalancerClient({ uri: lb.uri }), lbGraceMillis: graceMillis });
    await h.registerAgent();
    await h.runtime.requests.createOrUpdate({ id: 'web', requestType: 'SERVICE', loadBalanced: true, instances: 1 });
  }
  afterEach(async () => {
    await h.stop();
    await lb.close();
  });

  const deploy = (id: string) =>
    h.runtime.deploys.deploy({ deploy: { requestId: 'web', id, command: 'serve', serviceBasePath: '/web', loadBalancerGroups: ['edge'], resources: { cpus: 0.1, memoryMb: 32, numPorts: 1, diskMb: 0 } } });

  async function runAndHeal(): Promise<void> {
    for (const id of h.activeTaskIds('web')) {
      if (h.runtime.tasks.history(id).taskUpdates.at(-1)?.taskState === 'TASK_LAUNCHED') await h.report(id, 'TASK_RUNNING');
    }
    h.clock.advance(6000);
    await h.heartbeat('agent-1');
    await h.tick(); // the step is healthy: the LB request is sent after the commit
    await h.tick(); // its SUCCESS completes the step
  }

  it('(11) a deploy adds the new tasks and removes only old tasks that were added, which die after LB success', async () => {
    await setUp();
    await deploy('d1');
    await h.tick();
    const [old] = h.activeTaskIds('web');
    await runAndHeal();
    expect(h.runtime.requests.get('web').requestDeployState?.activeDeploy?.deployId).toBe('d1');
    expect(lb.enqueued).toHaveLength(1);
    expect(lb.enqueued[0].addUpstreams.map((u) => u.upstream)).toEqual([expect.stringMatching(/:31000$/)]);
    expect(lb.enqueued[0].removeUpstreams).toEqual([]);

    await deploy('d2');
    await h.tick();
    const fresh = h.activeTaskIds('web').find((id) => id !== old)!;
    await runAndHeal();
    expect(lb.enqueued).toHaveLength(2);
    expect(lb.enqueued[1].addUpstreams.map((u) => u.requestId)).toHaveLength(1);
    expect(lb.enqueued[1].removeUpstreams).toHaveLength(1);
    expect(h.runtime.requests.get('web').requestDeployState?.activeDeploy?.deployId).toBe('d2');
    await h.tick();
    expect(h.gateway.kills.map((k) => k.taskId)).toEqual([old]);
    expect(h.runtime.scheduler.lb.isAdded(fresh)).toBe(true);
  });

  it('(12) an added task that died waits in lbcleanup; REMOVE is retried as attempt 2 after FAILED and clears after SUCCESS + grace', async () => {
    await setUp(10_000);
    await deploy('d1');
    await h.tick();
    const [task] = h.activeTaskIds('web');
    await runAndHeal();
    expect(h.runtime.scheduler.lb.isAdded(task)).toBe(true);

    lb.setOutcome(lbWireId(lbRequestIdForTask(task, 'REMOVE', 1)), { kind: 'FAILED' });
    await h.report(task, 'TASK_FAILED', 'Process failed with code 1');
    await h.tick();
    expect(h.runtime.scheduler.lb.cleanupTaskIds()).toEqual([task]);
    const updates = h.runtime.scheduler.lb.updatesOf(task);
    expect(updates.at(-1)).toMatchObject({ loadBalancerState: 'FAILED', loadBalancerRequestId: { requestType: 'REMOVE', attemptNumber: 1 } });
    expectMatchesSchema(updates.at(-1), 'SingularityLoadBalancerUpdate');

    await h.tick();
    expect(h.runtime.scheduler.lb.updatesOf(task).at(-1)).toMatchObject({ loadBalancerState: 'SUCCESS', loadBalancerRequestId: { requestType: 'REMOVE', attemptNumber: 2 } });
    expect(h.runtime.scheduler.lb.cleanupTaskIds()).toEqual([task]);
    h.clock.advance(10_000);
    expect(h.runtime.scheduler.lb.cleanupTaskIds()).toEqual([]);
  });

  it('a failed LB deploy request fails the deploy (LOAD_BALANCER_UPDATE_FAILED) and keeps the old deploy', async () => {
    await setUp();
    lb.defaultOutcome = { kind: 'FAILED' };
    await deploy('d1');
    await h.tick();
    await runAndHeal();
    await h.tick();
    expect(h.runtime.ctx.state.getDeployResult('web', 'd1')).toMatchObject({ deployState: 'FAILED', deployFailures: [{ reason: 'LOAD_BALANCER_UPDATE_FAILED' }] });
  });
});
