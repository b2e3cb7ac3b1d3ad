import { describeValue, FieldReader, invalidField, type SingularityTaskHistoryUpdate } from '@singularity/models';
import { InvalidRequestError } from '@singularity/util';
import type { SchedulerContext } from '../scheduler-context';
import type { RequestHistoryRecord, StateEvent } from '../scheduler-state';
import { WebhookQueue } from './webhook-queue';
import {
  WEBHOOK_TYPES,
  webhookIdOf,
  type CrashLoopInfo,
  type SingularityDeployUpdate,
  type SingularityWebhook,
  type SingularityWebhookSummary,
  type WebhookCreateResult,
  type WebhookDeleteResult,
} from './webhook.model';

/** Longest webhook id: it is a state store key (at most 1024 characters). */
const MAX_WEBHOOK_ID_LENGTH = 1024;

/**
 * The webhook endpoints (spec §4) and the queuing of updates (§3.6).
 *
 * It listens to the live state's events: each request history item, deploy
 * start and finish, and task update is queued for every webhook of its type
 * inside the mutation that caused it, so the queued update becomes durable in
 * the same commit as the change it reports. `WebhookDispatcher` sends them.
 */
export class WebhookService {
  private readonly queue: WebhookQueue;

  constructor(private readonly ctx: SchedulerContext) {
    this.queue = new WebhookQueue(ctx.state);
    ctx.state.subscribe((event) => this.onStateEvent(event));
  }

  /** `GET /webhooks`. */
  list(): SingularityWebhook[] {
    return this.queue.webhookList();
  }

  /** `POST /webhooks`: a client's `id` is ignored, the id is `{TYPE}-{url-encoded uri}`. */
  async add(body: unknown, user?: string): Promise<WebhookCreateResult> {
    const r = FieldReader.of(body);
    const type = r.requiredOneOf('type', WEBHOOK_TYPES);
    const uri = r.requiredString('uri');
    checkUri(uri);
    const id = webhookIdOf(type, uri);
    if (id.length > MAX_WEBHOOK_ID_LENGTH) throw invalidField('uri', `too long (its webhook id has ${id.length} characters, at most ${MAX_WEBHOOK_ID_LENGTH})`);
    if (this.queue.getWebhook(id)) return 'EXISTED';
    this.queue.putWebhook({ id, uri, type, user: user ?? r.string('user'), timestamp: this.ctx.clock.now() });
    await this.ctx.state.flush();
    return 'CREATED';
  }

  /** `DELETE /webhooks?webhookId=`: the webhook and its queued updates. */
  async remove(webhookId: string | undefined): Promise<WebhookDeleteResult> {
    const id = requiredId(webhookId);
    if (!this.queue.getWebhook(id)) return 'DIDNT_EXIST';
    this.queue.removeWebhook(id);
    await this.ctx.state.flush();
    return 'DELETED';
  }

  /** `GET /webhooks/summary`. */
  summary(): SingularityWebhookSummary[] {
    const sizes = this.queue.queueSizes();
    return this.list().map((webhook) => ({ webhook, queueSize: sizes.get(webhook.id) ?? 0 }));
  }

  /** `GET /webhooks/request?webhookId=`: request history items waiting for the webhook, oldest first. */
  queuedRequestUpdates(webhookId: string | undefined): RequestHistoryRecord[] {
    return this.queued(webhookId, 'REQUEST').map((u) => u.payload as RequestHistoryRecord);
  }

  /** `GET /webhooks/deploy?webhookId=`. */
  queuedDeployUpdates(webhookId: string | undefined): SingularityDeployUpdate[] {
    return this.queued(webhookId, 'DEPLOY').map((u) => u.payload as SingularityDeployUpdate);
  }

  /** `GET /webhooks/task?webhookId=`: the task updates (`SingularityTaskHistoryUpdate`) waiting, as the reference lists them. */
  queuedTaskUpdates(webhookId: string | undefined): SingularityTaskHistoryUpdate[] {
    return this.queued(webhookId, 'TASK').map((u) => (u.payload as { taskUpdate: SingularityTaskHistoryUpdate }).taskUpdate);
  }

  /**
   * Queues a crash loop for the CRASHLOOP webhooks: once when it opens, once
   * more (with `end`) when it ends. Called inside the state mutation that saved
   * the loop; the caller's flush makes it durable.
   */
  crashLoop(info: CrashLoopInfo): void {
    const placeholders = { requestId: info.requestId, deployId: info.deployId };
    const key = `${info.requestId}:${info.deployId}:${info.type}:${info.start}:${info.end ?? 'open'}`;
    this.queue.enqueue('CRASHLOOP', key, placeholders, info, this.ctx.clock.now());
  }

  private queued(webhookId: string | undefined, type: SingularityWebhook['type']) {
    return this.queue.queuedFor(requiredId(webhookId)).filter((u) => u.type === type);
  }

  private onStateEvent(event: StateEvent): void {
    const now = this.ctx.clock.now();
    switch (event.type) {
      case 'requestHistory': {
        const { entry } = event;
        this.queue.enqueue('REQUEST', `${entry.request.id}:${entry.createdAt}:${entry.eventType}`, { requestId: entry.request.id }, entry, now);
        return;
      }
      case 'deployStarted':
      case 'deployFinished': {
        const marker = event.pendingDeploy.deployMarker;
        const update: SingularityDeployUpdate =
          event.type === 'deployStarted'
            ? { deployMarker: marker, deploy: event.deploy, eventType: 'STARTING' }
            : { deployMarker: marker, deploy: event.deploy, eventType: 'FINISHED', deployResult: event.result };
        const key = `${marker.requestId}:${marker.deployId}:${update.eventType}:${update.deployResult?.timestamp ?? marker.timestamp}`;
        this.queue.enqueue('DEPLOY', key, { requestId: marker.requestId, deployId: marker.deployId }, update, now);
        return;
      }
      case 'taskUpdate': {
        const { taskId } = event.update;
        const placeholders = { requestId: taskId.requestId, deployId: taskId.deployId, taskId: taskId.id };
        const key = `${taskId.id}:${event.update.taskState}:${event.update.timestamp}`;
        this.queue.enqueue('TASK', key, placeholders, { task: event.task, taskUpdate: event.update }, now);
        return;
      }
      case 'crashLoop':
        this.crashLoop(event.info);
        return;
    }
  }
}

function requiredId(webhookId: string | undefined): string {
  if (!webhookId) throw new InvalidRequestError('webhookId: required', 'webhookId');
  return webhookId;
}

/** An absolute http(s) URL once its placeholders are filled in. */
function checkUri(uri: string): void {
  let url: URL;
  try {
    url = new URL(uri.replace(/\$(REQUEST_ID|DEPLOY_ID|TASK_ID)/g, 'x'));
  } catch {
    throw invalidField('uri', `must be an absolute http or https URL (got ${describeValue(uri)})`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw invalidField('uri', `must be an http or https URL (got ${describeValue(uri)})`);
}
