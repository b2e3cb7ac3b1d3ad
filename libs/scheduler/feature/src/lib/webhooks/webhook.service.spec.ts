import { expectMatchesSchema } from '@singularity/testing';
import { InvalidRequestError } from '@singularity/util';
import { SchedulerHarness } from '../scheduler.harness';
import { WEBHOOK_COLLECTIONS } from './webhook-queue';
import { formUrlEncode, substitutePlaceholders, webhookIdOf } from './webhook.model';
import { WebhookService } from './webhook.service';

/** The webhook endpoints (spec §4) and the queuing of updates (§3.6), over the real runtime. */
describe('WebhookService', () => {
  let h: SchedulerHarness;
  let webhooks: WebhookService;
  const RECEIVER = 'http://hooks.example.com/in';

  beforeEach(async () => {
    h = await SchedulerHarness.create();
    webhooks = new WebhookService(h.runtime.ctx);
    await h.registerAgent();
  });
  afterEach(() => h.stop());

  const storedUpdates = async () => (await h.store.load()).get(WEBHOOK_COLLECTIONS.updates)?.size ?? 0;

  /** A worker with one running task of deploy d1: request, deploy and task events. */
  async function workerWithRunningTask(): Promise<string> {
    await h.runtime.requests.createOrUpdate({ id: 'w', requestType: 'WORKER' });
    await h.runtime.deploys.deploy({ deploy: { requestId: 'w', id: 'd1', command: 'x', considerHealthyAfterRunningForSeconds: 0 } });
    await h.tick();
    const [taskId] = h.activeTaskIds('w');
    await h.report(taskId, 'TASK_RUNNING');
    await h.tick();
    return taskId;
  }

  describe('add, list, delete', () => {
    it('creates a webhook with the id {TYPE}-{url-encoded uri}, ignoring a client id, and lists it', async () => {
      expect(await webhooks.add({ id: 'mine', uri: RECEIVER, type: 'REQUEST' }, 'ann')).toBe('CREATED');
      const [webhook] = webhooks.list();
      expect(webhook).toEqual({ id: 'REQUEST-http%3A%2F%2Fhooks.example.com%2Fin', uri: RECEIVER, type: 'REQUEST', user: 'ann', timestamp: h.clock.now() });
      for (const w of webhooks.list()) expectMatchesSchema(w, 'SingularityWebhook');
    });

    it('answers EXISTED for the same type and uri, and keeps the first; another type is another webhook', async () => {
      await webhooks.add({ uri: RECEIVER, type: 'TASK' }, 'ann');
      h.clock.advance(1000);
      expect(await webhooks.add({ uri: RECEIVER, type: 'TASK', id: 'other' }, 'bob')).toBe('EXISTED');
      expect(webhooks.list()).toMatchObject([{ type: 'TASK', user: 'ann' }]);
      expect(await webhooks.add({ uri: RECEIVER, type: 'DEPLOY' })).toBe('CREATED');
      expect(webhooks.list().map((w) => w.id)).toEqual([webhookIdOf('TASK', RECEIVER), webhookIdOf('DEPLOY', RECEIVER)]);
    });

    it('takes the user from the body when no user is signed in', async () => {
      await webhooks.add({ uri: RECEIVER, type: 'TASK', user: 'carl' });
      expect(webhooks.list()[0].user).toBe('carl');
    });

    it('deletes a webhook (DELETED), then DIDNT_EXIST', async () => {
      await webhooks.add({ uri: RECEIVER, type: 'REQUEST' });
      const id = webhookIdOf('REQUEST', RECEIVER);
      expect(await webhooks.remove(id)).toBe('DELETED');
      expect(webhooks.list()).toEqual([]);
      expect(await webhooks.remove(id)).toBe('DIDNT_EXIST');
    });

    it('persists webhooks before answering, across a restart', async () => {
      await webhooks.add({ uri: RECEIVER, type: 'REQUEST' });
      await h.stop();
      h = await SchedulerHarness.create({ store: h.store, clock: h.clock });
      expect(new WebhookService(h.runtime.ctx).list().map((w) => w.id)).toEqual([webhookIdOf('REQUEST', RECEIVER)]);
    });

    it.each([
      ['no uri', { type: 'TASK' }, /^uri: required/],
      ['an empty uri', { uri: '', type: 'TASK' }, /^uri: required/],
      ['a relative uri', { uri: '/hooks', type: 'TASK' }, /^uri: must be an absolute http or https URL/],
      ['a non-http uri', { uri: 'ftp://hooks.example.com/x', type: 'TASK' }, /^uri: must be an http or https URL/],
      ['a uri that is not a string', { uri: 42, type: 'TASK' }, /^uri: must be a string/],
      ['no type', { uri: RECEIVER }, /^type: required \(one of TASK, REQUEST, DEPLOY, CRASHLOOP\)/],
      ['an unknown type', { uri: RECEIVER, type: 'NOPE' }, /^type: must be one of TASK, REQUEST, DEPLOY, CRASHLOOP \(got 'NOPE'\)/],
      ['a lower-case type', { uri: RECEIVER, type: 'task' }, /^type: must be one of/],
      ['a body that is not an object', 'hello', /^body: must be a JSON object/],
      ['a uri too long for an id', { uri: `${RECEIVER}/${'é'.repeat(200)}`, type: 'TASK' }, /^uri: too long/],
    ])('rejects %s with a 400 naming the field, and stores nothing', async (_what, body, message) => {
      const attempt = webhooks.add(body);
      await expect(attempt).rejects.toBeInstanceOf(InvalidRequestError);
      await expect(attempt).rejects.toMatchObject({ status: 400, message: expect.stringMatching(message) });
      expect(webhooks.list()).toEqual([]);
    });

    it('needs a webhookId to delete or to list queued updates (400)', async () => {
      await expect(webhooks.remove(undefined)).rejects.toMatchObject({ status: 400, message: 'webhookId: required' });
      expect(() => webhooks.queuedTaskUpdates('')).toThrow('webhookId: required');
    });

    it('accepts placeholders in the uri', async () => {
      expect(await webhooks.add({ uri: 'http://hooks.example.com/$REQUEST_ID/$DEPLOY_ID/$TASK_ID', type: 'TASK' })).toBe('CREATED');
    });
  });

  describe('queued updates', () => {
    const REQUEST_HOOK = webhookIdOf('REQUEST', RECEIVER);
    const DEPLOY_HOOK = webhookIdOf('DEPLOY', RECEIVER);
    const TASK_HOOK = webhookIdOf('TASK', RECEIVER);

    beforeEach(async () => {
      for (const type of ['REQUEST', 'DEPLOY', 'TASK', 'CRASHLOOP']) await webhooks.add({ uri: RECEIVER, type });
    });

    it('queues each event for the webhooks of its type, in the commit of the change itself', async () => {
      await h.runtime.requests.createOrUpdate({ id: 'w', requestType: 'WORKER' });
      // createOrUpdate flushed the request; the queued update went with it.
      expect(await storedUpdates()).toBe(1);
      expect(webhooks.queuedRequestUpdates(REQUEST_HOOK)).toMatchObject([{ eventType: 'CREATED', request: { id: 'w' } }]);
      expect(webhooks.queuedDeployUpdates(DEPLOY_HOOK)).toEqual([]);
    });

    it('lists queued request, deploy and task updates in the reference shapes, oldest first', async () => {
      const taskId = await workerWithRunningTask();
      const requests = webhooks.queuedRequestUpdates(REQUEST_HOOK);
      const deploys = webhooks.queuedDeployUpdates(DEPLOY_HOOK);
      const tasks = webhooks.queuedTaskUpdates(TASK_HOOK);
      requests.forEach((u) => expectMatchesSchema(u, 'SingularityRequestHistory'));
      deploys.forEach((u) => expectMatchesSchema(u, 'SingularityDeployUpdate'));
      tasks.forEach((u) => expectMatchesSchema(u, 'SingularityTaskHistoryUpdate'));
      expect(requests.map((u) => u.eventType)).toEqual(['CREATED']);
      expect(deploys).toMatchObject([
        { eventType: 'STARTING', deployMarker: { requestId: 'w', deployId: 'd1' }, deploy: { id: 'd1' } },
        { eventType: 'FINISHED', deployMarker: { requestId: 'w', deployId: 'd1' }, deployResult: { deployState: 'SUCCEEDED' } },
      ]);
      expect(deploys[0].deployResult).toBeUndefined();
      expect(tasks.map((u) => [u.taskId.id, u.taskState])).toEqual([
        [taskId, 'TASK_LAUNCHED'],
        [taskId, 'TASK_RUNNING'],
      ]);
      // Another type's id, or an unknown one, has nothing queued of this kind.
      expect(webhooks.queuedTaskUpdates(REQUEST_HOOK)).toEqual([]);
      expect(webhooks.queuedRequestUpdates('REQUEST-nope')).toEqual([]);
    });

    it('summarises each webhook with its queue size (oldest webhook first, then by id)', async () => {
      await workerWithRunningTask();
      const summary = webhooks.summary();
      summary.forEach((s) => expectMatchesSchema(s, 'SingularityWebhookSummary'));
      expect(summary.map((s) => [s.webhook.type, s.queueSize])).toEqual([
        ['CRASHLOOP', 0],
        ['DEPLOY', 2],
        ['REQUEST', 1],
        ['TASK', 2],
      ]);
    });

    it('queues CRASHLOOP updates handed over by a detector', async () => {
      webhooks.crashLoop({ requestId: 'w', deployId: 'd1', start: h.clock.now(), type: 'FAST_FAILURE_LOOP' });
      await h.runtime.ctx.state.flush();
      const [summary] = webhooks.summary().filter((s) => s.webhook.type === 'CRASHLOOP');
      expect(summary.queueSize).toBe(1);
    });

    it('queues nothing for a webhook added after the event', async () => {
      await h.runtime.requests.createOrUpdate({ id: 'w', requestType: 'WORKER' });
      await webhooks.add({ uri: `${RECEIVER}/late`, type: 'REQUEST' });
      expect(webhooks.queuedRequestUpdates(webhookIdOf('REQUEST', `${RECEIVER}/late`))).toEqual([]);
    });

    it('drops the queued updates of a deleted webhook', async () => {
      await workerWithRunningTask();
      expect(await storedUpdates()).toBe(5);
      await webhooks.remove(TASK_HOOK);
      expect(webhooks.queuedTaskUpdates(TASK_HOOK)).toEqual([]);
      expect(await storedUpdates()).toBe(3);
    });

    it('queues an event once per webhook, however many services listen to the same state', async () => {
      const second = new WebhookService(h.runtime.ctx);
      await h.runtime.requests.createOrUpdate({ id: 'w', requestType: 'WORKER' });
      expect(second.queuedRequestUpdates(REQUEST_HOOK)).toHaveLength(1);
      expect(webhooks.queuedRequestUpdates(REQUEST_HOOK)).toHaveLength(1);
    });
  });

  describe('ids and uris', () => {
    it('url-encodes like the original (URLEncoder): space as +, unreserved .-*_ kept, UTF-8 bytes as %XX', () => {
      expect(formUrlEncode('http://h:8080/a b?x=1&y=~é*._-')).toBe('http%3A%2F%2Fh%3A8080%2Fa+b%3Fx%3D1%26y%3D%7E%C3%A9*._-');
      expect(webhookIdOf('CRASHLOOP', 'http://h/')).toBe('CRASHLOOP-http%3A%2F%2Fh%2F');
    });

    it('fills $REQUEST_ID, $DEPLOY_ID and $TASK_ID, every occurrence, leaving unknown ones', () => {
      expect(substitutePlaceholders('http://h/$REQUEST_ID/$DEPLOY_ID/$TASK_ID?r=$REQUEST_ID', { requestId: 'r1', deployId: 'd.1', taskId: 'r1-d.1-1-1-h-R' })).toBe(
        'http://h/r1/d.1/r1-d.1-1-1-h-R?r=r1',
      );
      expect(substitutePlaceholders('http://h/$REQUEST_ID/$TASK_ID', { requestId: 'a b' })).toBe('http://h/a%20b/$TASK_ID');
    });
  });
});
