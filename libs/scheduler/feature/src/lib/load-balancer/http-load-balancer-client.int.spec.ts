import { expectMatchesSchema } from '@singularity/testing';
import { ManualClock } from '@singularity/util';
import { FakeLoadBalancer } from './fake-load-balancer';
import { HttpLoadBalancerClient } from './http-load-balancer-client';
import { buildTaskRequest, lbWireId, nextTaskAttempt } from './load-balancer-requests';
import { anLbTask } from './load-balancer.test-support';
import type { SingularityLoadBalancerUpdate } from './load-balancer.types';

const T0 = 1_700_000_000_000;

describe('HttpLoadBalancerClient against a FakeLoadBalancer', () => {
  let lb: FakeLoadBalancer;
  let clock: ManualClock;
  let client: HttpLoadBalancerClient;
  const task = anLbTask([{ begin: 31000, end: 31001 }]);

  beforeEach(async () => {
    lb = await FakeLoadBalancer.start();
    clock = new ManualClock(T0);
    client = new HttpLoadBalancerClient({ uri: lb.uri, timeoutMillis: 2000, clock });
  });

  afterEach(async () => {
    await lb.close();
  });

  function expectValid(...updates: SingularityLoadBalancerUpdate[]): void {
    for (const update of updates) expectMatchesSchema(update, 'SingularityLoadBalancerUpdate');
  }

  it('is off without loadBalancerUri and on with it', () => {
    expect(HttpLoadBalancerClient.fromSettings({})).toBeUndefined();
    const configured = HttpLoadBalancerClient.fromSettings({ loadBalancerUri: `${lb.uri}/` });
    expect(configured?.uri).toBe(lb.uri);
    expect(configured?.timeoutMillis).toBe(2000);
  });

  it('enqueues, polls WAITING until SUCCESS, recording method, uri, timestamp and both state fields', async () => {
    const add = buildTaskRequest(task, 'ADD');
    const wireId = lbWireId(add.id);
    lb.setOutcome(wireId, { kind: 'WAITING', polls: 2, then: 'SUCCESS' });

    const enqueued = await client.enqueue(add);
    expect(enqueued).toEqual({
      loadBalancerState: 'WAITING',
      state: 'WAITING',
      loadBalancerRequestId: add.id,
      timestamp: T0,
      method: 'ENQUEUE',
      uri: lb.uri,
    });
    expect(lb.enqueued).toEqual([add.body]);

    const polls: SingularityLoadBalancerUpdate[] = [];
    for (let i = 0; i < 3; i++) {
      clock.advance(1000);
      polls.push(await client.getState(add.id));
    }
    expect(polls.map((p) => p.loadBalancerState)).toEqual(['WAITING', 'WAITING', 'SUCCESS']);
    expect(polls[2]).toMatchObject({ method: 'CHECK_STATE', uri: `${lb.uri}/${wireId}`, timestamp: T0 + 3000, state: 'SUCCESS' });
    expect(lb.calls.map((c) => `${c.method} ${c.id}`)).toEqual([`POST ${wireId}`, `GET ${wireId}`, `GET ${wireId}`, `GET ${wireId}`]);
    expectValid(enqueued, ...polls);
  });

  it('cancels a waiting request', async () => {
    const remove = buildTaskRequest(task, 'REMOVE');
    lb.setOutcome(lbWireId(remove.id), { kind: 'WAITING', polls: 10, then: 'SUCCESS' });
    await client.enqueue(remove);
    const cancelled = await client.cancel(remove.id);
    expect(cancelled).toMatchObject({ loadBalancerState: 'CANCELED', method: 'CANCEL', uri: `${lb.uri}/${lbWireId(remove.id)}` });
    expect((await client.getState(remove.id)).loadBalancerState).toBe('CANCELED');
    expect(lb.calls.map((c) => c.method)).toEqual(['POST', 'DELETE', 'GET']);
    expectValid(cancelled);
  });

  it('answers SUCCESS at once when the load balancer does', async () => {
    const update = await client.enqueue(buildTaskRequest(task, 'ADD'));
    expect(update.loadBalancerState).toBe('SUCCESS');
    expectValid(update);
  });

  it('reports FAILED with the load balancer’s message, from enqueue or after polling', async () => {
    const now = buildTaskRequest(task, 'ADD', 1);
    lb.setOutcome(lbWireId(now.id), { kind: 'FAILED' });
    const failedAtOnce = await client.enqueue(now);
    expect(failedAtOnce).toMatchObject({ loadBalancerState: 'FAILED', message: 'agent apply failed' });

    const later = buildTaskRequest(task, 'ADD', 2);
    lb.setOutcome(lbWireId(later.id), { kind: 'WAITING', polls: 0, then: 'FAILED' });
    expect((await client.enqueue(later)).loadBalancerState).toBe('WAITING');
    const failedLater = await client.getState(later.id);
    expect(failedLater).toMatchObject({ loadBalancerState: 'FAILED', method: 'CHECK_STATE' });
    expectValid(failedAtOnce, failedLater);
  });

  it('reports INVALID_REQUEST_NOOP', async () => {
    const remove = buildTaskRequest(task, 'REMOVE');
    lb.setOutcome(lbWireId(remove.id), { kind: 'INVALID_REQUEST_NOOP' });
    const update = await client.enqueue(remove);
    expect(update).toMatchObject({ loadBalancerState: 'INVALID_REQUEST_NOOP', message: 'nothing to change' });
    expectValid(update);
  });

  it('turns an HTTP 500 into FAILED for enqueue and UNKNOWN for polling and cancelling, never throwing', async () => {
    const add = buildTaskRequest(task, 'ADD');
    lb.setOutcome(lbWireId(add.id), { kind: 'HTTP_ERROR', status: 500 });
    const updates = [await client.enqueue(add), await client.getState(add.id), await client.cancel(add.id)];
    expect(updates.map((u) => u.loadBalancerState)).toEqual(['FAILED', 'UNKNOWN', 'UNKNOWN']);
    for (const update of updates) expect(update.message).toMatch(/HTTP 500/);
    expectValid(...updates);
  });

  it('turns a 504 into UNKNOWN and an unknown id into UNKNOWN (404)', async () => {
    const add = buildTaskRequest(task, 'ADD');
    lb.setOutcome(lbWireId(add.id), { kind: 'HTTP_ERROR', status: 504 });
    expect(await client.enqueue(add)).toMatchObject({ loadBalancerState: 'UNKNOWN', message: expect.stringMatching(/504/) });
    const never = buildTaskRequest(task, 'REMOVE', 7);
    expect(await client.getState(never.id)).toMatchObject({ loadBalancerState: 'UNKNOWN', message: expect.stringMatching(/HTTP 404/) });
  });

  it('turns a call slower than loadBalancerRequestTimeoutMillis into UNKNOWN with a message', async () => {
    const quick = new HttpLoadBalancerClient({ uri: lb.uri, timeoutMillis: 50, clock });
    const add = buildTaskRequest(task, 'ADD');
    lb.setOutcome(lbWireId(add.id), { kind: 'SLOW' });
    const updates = [await quick.enqueue(add), await quick.getState(add.id)];
    for (const update of updates) expect(update).toMatchObject({ loadBalancerState: 'UNKNOWN', message: 'Timed out after 50 ms' });
    expectValid(...updates);
  });

  it('turns an unreachable load balancer into UNKNOWN with a message', async () => {
    const uri = lb.uri;
    await lb.close();
    const update = await new HttpLoadBalancerClient({ uri, clock }).enqueue(buildTaskRequest(task, 'ADD'));
    expect(update.loadBalancerState).toBe('UNKNOWN');
    expect(update.message).toMatch(/failed/);
    lb = await FakeLoadBalancer.start(); // for afterEach
  });

  it('retries a FAILED then CANCELED removal under the next attempt ids', async () => {
    const first = buildTaskRequest(task, 'REMOVE', nextTaskAttempt(undefined));
    lb.setOutcome(lbWireId(first.id), { kind: 'FAILED' });
    const failed = await client.enqueue(first);

    const second = buildTaskRequest(task, 'REMOVE', nextTaskAttempt(failed));
    lb.setOutcome(lbWireId(second.id), { kind: 'WAITING', polls: 5, then: 'SUCCESS' });
    await client.enqueue(second);
    const cancelled = await client.cancel(second.id);

    const third = buildTaskRequest(task, 'REMOVE', nextTaskAttempt(cancelled));
    const succeeded = await client.enqueue(third);

    expect([failed, cancelled, succeeded].map((u) => [u.loadBalancerRequestId.attemptNumber, u.loadBalancerState])).toEqual([
      [1, 'FAILED'],
      [2, 'CANCELED'],
      [3, 'SUCCESS'],
    ]);
    expect(lb.enqueued.map((b) => b.loadBalancerRequestId)).toEqual([1, 2, 3].map((n) => `${task.taskId.id}-REMOVE-${n}`));
    expect(lb.enqueued.every((b) => b.removeUpstreams[0]?.upstream === 'host1.example.com:31000')).toBe(true);
  });
});
