import { expectMatchesSchema } from '@singularity/testing';
import { ManualTimers } from '../health/manual-timers';
import { SchedulerHarness } from '../scheduler.harness';
import type { RequestHistoryRecord } from '../scheduler-state';
import { RecordingWebhookReceiver } from './recording-webhook-receiver';
import { WebhookDispatcher, type WebhookDispatcherOptions } from './webhook-dispatcher';
import { webhookIdOf, type SingularityDeployUpdate, type SingularityTaskWebhook } from './webhook.model';
import type { WebhookPoster } from './webhook-poster';
import { WebhookService } from './webhook.service';

const HOUR = 3_600_000;

/** A poster whose answers the test gives, one call at a time. */
class FakeWebhookPoster implements WebhookPoster {
  readonly calls: Array<{ url: string; body: unknown; answer: (status: number) => void }> = [];
  inFlight = 0;
  maxInFlight = 0;

  post(url: string, body: unknown): Promise<void> {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    return new Promise((resolve, reject) =>
      this.calls.push({
        url,
        body,
        answer: (status) => {
          this.inFlight--;
          if (status >= 200 && status < 300) resolve();
          else reject(new Error(`answered ${status}`));
        },
      }),
    );
  }
}

/** Lets every promise chain that can move, move (no timers involved). */
const settle = () => new Promise((resolve) => setImmediate(resolve));

/** Webhook delivery (spec §3.6) from real state events to a real HTTP receiver, on a manual clock. */
describe('WebhookDispatcher', () => {
  let h: SchedulerHarness;
  let webhooks: WebhookService;
  let receiver: RecordingWebhookReceiver;
  const dispatchers: WebhookDispatcher[] = [];

  beforeEach(async () => {
    h = await SchedulerHarness.create();
    webhooks = new WebhookService(h.runtime.ctx);
    receiver = await RecordingWebhookReceiver.start();
    await h.registerAgent();
  });
  afterEach(async () => {
    for (const d of dispatchers.splice(0)) await d.stop();
    await receiver.stop();
    await h.stop();
  });

  const dispatcher = (options: WebhookDispatcherOptions = {}) => {
    const d = new WebhookDispatcher(h.runtime.ctx, options);
    dispatchers.push(d);
    return d;
  };
  const queueSize = (uri: string, type: 'REQUEST' | 'TASK' | 'DEPLOY' = 'REQUEST') =>
    webhooks.summary().find((s) => s.webhook.id === webhookIdOf(type, uri))?.queueSize ?? 0;

  /** One request history item, written the way the request service writes them. */
  async function requestEvent(message: string): Promise<void> {
    h.clock.advance(1);
    const entry: RequestHistoryRecord = { createdAt: h.clock.now(), eventType: 'UPDATED', request: { id: 'r', requestType: 'WORKER', instances: 1 }, message };
    h.runtime.ctx.state.addRequestHistory(entry);
    await h.runtime.ctx.state.flush();
  }

  it('POSTs a request history item as JSON to the uri with $REQUEST_ID filled in, and forgets it once delivered', async () => {
    await webhooks.add({ uri: `${receiver.url}/requests/$REQUEST_ID`, type: 'REQUEST' });
    await h.runtime.requests.createOrUpdate({ id: 'my-service', requestType: 'WORKER' }, 'ann');
    const d = dispatcher();
    expect(await d.deliverOnce()).toEqual({ attempted: 1, delivered: 1, failed: 0, dropped: 0 });
    expect(receiver.received).toMatchObject([{ method: 'POST', path: '/requests/my-service', contentType: 'application/json' }]);
    const [body] = receiver.bodies();
    expectMatchesSchema(body, 'SingularityRequestHistory');
    expect(body).toMatchObject({ eventType: 'CREATED', user: 'ann', request: { id: 'my-service', requestType: 'WORKER' }, createdAt: h.clock.now() });
    expect(queueSize(`${receiver.url}/requests/$REQUEST_ID`)).toBe(0);
    expect(await d.deliverOnce()).toMatchObject({ attempted: 0 });
    expect(receiver.received).toHaveLength(1);
  });

  it('POSTs deploy STARTING and FINISHED updates with $REQUEST_ID and $DEPLOY_ID filled in', async () => {
    await webhooks.add({ uri: `${receiver.url}/deploys/$REQUEST_ID/$DEPLOY_ID`, type: 'DEPLOY' });
    await h.runtime.requests.createOrUpdate({ id: 'w', requestType: 'WORKER' });
    await h.runtime.deploys.deploy({ deploy: { requestId: 'w', id: 'd1', command: 'x', considerHealthyAfterRunningForSeconds: 0 } }, 'ann');
    await h.tick();
    await h.report(h.activeTaskIds('w')[0], 'TASK_RUNNING');
    await h.tick();
    expect(await dispatcher().deliverOnce()).toMatchObject({ attempted: 2, delivered: 2 });
    expect(receiver.received.map((r) => r.path)).toEqual(['/deploys/w/d1', '/deploys/w/d1']);
    const bodies = receiver.bodies<SingularityDeployUpdate>().sort((a, b) => a.eventType.localeCompare(b.eventType));
    bodies.forEach((b) => expectMatchesSchema(b, 'SingularityDeployUpdate'));
    expect(bodies).toMatchObject([
      { eventType: 'FINISHED', deployMarker: { requestId: 'w', deployId: 'd1' }, deploy: { requestId: 'w', id: 'd1', command: 'x' }, deployResult: { deployState: 'SUCCEEDED' } },
      { eventType: 'STARTING', deployMarker: { requestId: 'w', deployId: 'd1', user: 'ann' }, deploy: { id: 'd1' } },
    ]);
    expect(bodies[1].deployResult).toBeUndefined();
  });

  it('POSTs every task update with its task, to the uri with $TASK_ID filled in', async () => {
    await webhooks.add({ uri: `${receiver.url}/tasks/$TASK_ID?request=$REQUEST_ID`, type: 'TASK' });
    await h.runtime.requests.createOrUpdate({ id: 'w', requestType: 'WORKER' });
    await h.runtime.deploys.deploy({ deploy: { requestId: 'w', id: 'd1', command: 'x' } });
    await h.tick();
    const [taskId] = h.activeTaskIds('w');
    await h.report(taskId, 'TASK_RUNNING');
    await h.runtime.tasks.kill(taskId, {}, 'ann');
    await h.report(taskId, 'TASK_KILLED');
    const d = dispatcher();
    await d.deliverOnce();
    expect(new Set(receiver.received.map((r) => r.path))).toEqual(new Set([`/tasks/${taskId}?request=w`]));
    const bodies = receiver.bodies<SingularityTaskWebhook>().sort((a, b) => a.taskUpdate.timestamp - b.taskUpdate.timestamp);
    for (const body of bodies) {
      expect(Object.keys(body).sort()).toEqual(['task', 'taskUpdate']);
      expectMatchesSchema(body.task, 'SingularityTask');
      expectMatchesSchema(body.taskUpdate, 'SingularityTaskHistoryUpdate');
      expect(body.task.taskId.id).toBe(taskId);
    }
    expect(bodies.map((b) => b.taskUpdate.taskState)).toEqual(['TASK_LAUNCHED', 'TASK_RUNNING', 'TASK_CLEANING', 'TASK_KILLED']);
  });

  it('keeps an update the receiver answered 500 and delivers it in a later round', async () => {
    const uri = `${receiver.url}/in`;
    await webhooks.add({ uri, type: 'REQUEST' });
    await requestEvent('first');
    receiver.status = 500;
    const d = dispatcher();
    expect(await d.deliverOnce()).toEqual({ attempted: 1, delivered: 0, failed: 1, dropped: 0 });
    expect(queueSize(uri)).toBe(1);
    receiver.status = 204;
    h.clock.advance(10_000);
    expect(await d.deliverOnce()).toMatchObject({ attempted: 1, delivered: 1 });
    expect(queueSize(uri)).toBe(0);
    expect(receiver.bodies()).toMatchObject([{ message: 'first' }, { message: 'first' }]);
  });

  it('keeps updates for a receiver that does not answer at all', async () => {
    const gone = await RecordingWebhookReceiver.start();
    const uri = `${gone.url}/in`;
    await gone.stop();
    await webhooks.add({ uri, type: 'REQUEST' });
    await requestEvent('first');
    expect(await dispatcher().deliverOnce()).toMatchObject({ attempted: 1, failed: 1, dropped: 0 });
    expect(queueSize(uri)).toBe(1);
  });

  it('keeps the newest maxQueuedUpdatesPerWebhook (50) updates of a failing webhook, dropping the oldest', async () => {
    const uri = `${receiver.url}/in`;
    await webhooks.add({ uri, type: 'REQUEST' });
    for (let i = 1; i <= 53; i++) await requestEvent(`m${i}`);
    receiver.status = 503;
    expect(await dispatcher().deliverOnce()).toMatchObject({ attempted: 53, failed: 53, dropped: 3 });
    const kept = webhooks.queuedRequestUpdates(webhookIdOf('REQUEST', uri)).map((u) => u.message);
    expect(kept).toHaveLength(50);
    expect(kept[0]).toBe('m4');
    expect(kept.at(-1)).toBe('m53');
  });

  it('delivers a burst of more than 50 updates to a healthy receiver in full', async () => {
    const uri = `${receiver.url}/in`;
    await webhooks.add({ uri, type: 'REQUEST' });
    for (let i = 1; i <= 60; i++) await requestEvent(`m${i}`);
    expect(await dispatcher().deliverOnce()).toMatchObject({ attempted: 60, delivered: 60, dropped: 0 });
    expect(receiver.received).toHaveLength(60);
  });

  it('drops an update still undeliverable deleteUndeliverableWebhooksAfterHours (168 h) after it was queued', async () => {
    const uri = `${receiver.url}/in`;
    await webhooks.add({ uri, type: 'REQUEST' });
    await requestEvent('old');
    const queuedAt = h.clock.now();
    receiver.status = 500;
    const d = dispatcher();
    h.clock.set(queuedAt + 168 * HOUR);
    expect(await d.deliverOnce()).toMatchObject({ failed: 1, dropped: 0 });
    await requestEvent('new');
    h.clock.set(queuedAt + 168 * HOUR + 1);
    expect(await d.deliverOnce()).toMatchObject({ attempted: 2, failed: 2, dropped: 1 });
    expect(webhooks.queuedRequestUpdates(webhookIdOf('REQUEST', uri)).map((u) => u.message)).toEqual(['new']);
  });

  it('still delivers an old update once its receiver answers', async () => {
    const uri = `${receiver.url}/in`;
    await webhooks.add({ uri, type: 'REQUEST' });
    await requestEvent('old');
    h.clock.advance(200 * HOUR);
    expect(await dispatcher().deliverOnce()).toMatchObject({ delivered: 1, dropped: 0 });
  });

  it('keeps queued updates across a restart over the same store, and delivers them after it', async () => {
    const uri = `${receiver.url}/in/$REQUEST_ID`;
    await webhooks.add({ uri, type: 'REQUEST' });
    await h.runtime.requests.createOrUpdate({ id: 'before-restart', requestType: 'WORKER' });
    await h.stop();
    h = await SchedulerHarness.create({ store: h.store, clock: h.clock });
    webhooks = new WebhookService(h.runtime.ctx);
    expect(queueSize(uri)).toBe(1);
    expect(await dispatcher().deliverOnce()).toMatchObject({ delivered: 1 });
    expect(receiver.received).toMatchObject([{ path: '/in/before-restart', body: { request: { id: 'before-restart' } } }]);
    // The delivery is committed too: a second restart sends nothing again.
    await h.stop();
    h = await SchedulerHarness.create({ store: h.store, clock: h.clock });
    webhooks = new WebhookService(h.runtime.ctx);
    expect(queueSize(uri)).toBe(0);
  });

  it('has at most maxConcurrentWebhooks POSTs in flight, over all webhooks', async () => {
    await webhooks.add({ uri: 'http://a.example.com/', type: 'REQUEST' });
    await webhooks.add({ uri: 'http://b.example.com/', type: 'REQUEST' });
    for (let i = 1; i <= 3; i++) await requestEvent(`m${i}`);
    const poster = new FakeWebhookPoster();
    const round = dispatcher({ poster, settings: { maxConcurrentWebhooks: 2 } }).deliverOnce();
    for (let answered = 0; answered < 6; answered++) {
      await settle();
      expect(poster.inFlight).toBe(Math.min(2, 6 - answered));
      poster.calls[answered].answer(200);
    }
    expect(await round).toMatchObject({ attempted: 6, delivered: 6 });
    expect(poster.maxInFlight).toBe(2);
    expect(poster.calls.map((c) => [c.url, (c.body as RequestHistoryRecord).message])).toEqual(
      expect.arrayContaining([
        ['http://a.example.com/', 'm1'],
        ['http://b.example.com/', 'm3'],
      ]),
    );
  });

  it('sends up to maxConcurrentWebhooks at once to a real receiver', async () => {
    const uri = `${receiver.url}/in`;
    await webhooks.add({ uri, type: 'REQUEST' });
    for (let i = 1; i <= 7; i++) await requestEvent(`m${i}`);
    // The receiver answers only when 3 are open at once (or the last has come): a sender with fewer in flight would stall.
    receiver.holdUntil(3, 7);
    expect(await dispatcher({ settings: { maxConcurrentWebhooks: 3 } }).deliverOnce()).toMatchObject({ delivered: 7 });
    expect(receiver.maxOpen).toBe(3);
  });

  it('runs a round every checkWebhooksEveryMillis between start() and stop()', async () => {
    const timers = new ManualTimers(h.clock);
    const d = dispatcher({ timers });
    await webhooks.add({ uri: `${receiver.url}/in`, type: 'REQUEST' });
    await requestEvent('first');
    d.start();
    timers.advance(9_999);
    expect(receiver.received).toHaveLength(0);
    timers.advance(1);
    await d.deliverOnce(); // the round the timer started
    await settle();
    expect(receiver.received).toHaveLength(1);
    // The next round is due an interval after this one ended.
    expect(timers.nextDueAt()).toBe(h.clock.now() + 10_000);
    await requestEvent('second');
    timers.advance(10_000);
    await d.deliverOnce();
    expect(receiver.bodies()).toMatchObject([{ message: 'first' }, { message: 'second' }]);
    await d.stop();
    expect(timers.pending).toBe(0);
  });
});
