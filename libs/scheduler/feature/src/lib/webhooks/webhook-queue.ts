import { createHash } from 'node:crypto';
import type { ExtensionCollection, SchedulerState } from '../scheduler-state';
import type { QueuedWebhookUpdate, SingularityWebhook, WebhookPayloads, WebhookPlaceholders, WebhookType } from './webhook.model';

/** Extension collections of the live state (one znode directory each in ZooKeeper). */
export const WEBHOOK_COLLECTIONS = { webhooks: 'webhooks', updates: 'webhook-updates' } as const;

/** Oldest first; ties (same millisecond) in the order they were queued. */
export const byQueueOrder = (a: QueuedWebhookUpdate, b: QueuedWebhookUpdate) => a.queuedAt - b.queuedAt || a.seq - b.seq;

/**
 * The webhooks and their queued updates, kept in two extension collections of
 * the live state so that every write joins the state's next commit.
 *
 * It holds no memory of its own beyond those collections: the state hands the
 * same map to every `extension()` call, so several views over one state (the
 * service, the dispatcher) always agree. An update's key is derived from the
 * webhook and the event, so queuing one event twice for a webhook keeps one
 * record.
 */
export class WebhookQueue {
  private readonly webhooks: ExtensionCollection<SingularityWebhook>;
  private readonly updates: ExtensionCollection<QueuedWebhookUpdate>;
  private seq = 0;

  constructor(state: SchedulerState) {
    this.webhooks = state.extension<SingularityWebhook>(WEBHOOK_COLLECTIONS.webhooks);
    this.updates = state.extension<QueuedWebhookUpdate>(WEBHOOK_COLLECTIONS.updates);
    for (const update of this.updates.values()) this.seq = Math.max(this.seq, update.seq);
  }

  getWebhook(id: string): SingularityWebhook | undefined {
    return this.webhooks.get(id);
  }

  /** Every webhook, oldest first. */
  webhookList(type?: WebhookType): SingularityWebhook[] {
    return [...this.webhooks.values()].filter((w) => !type || w.type === type).sort((a, b) => a.timestamp - b.timestamp || a.id.localeCompare(b.id));
  }

  putWebhook(webhook: SingularityWebhook): void {
    this.webhooks.put(webhook.id, webhook);
  }

  /** Removes the webhook and everything queued for it. */
  removeWebhook(id: string): void {
    this.webhooks.delete(id);
    for (const [key, update] of [...this.updates.entries()]) if (update.webhookId === id) this.updates.delete(key);
  }

  /** Queues the update for every webhook of its type. */
  enqueue<T extends WebhookType>(type: T, eventKey: string, placeholders: WebhookPlaceholders, payload: WebhookPayloads[T], queuedAt: number): void {
    for (const webhook of this.webhooks.values()) {
      if (webhook.type !== type) continue;
      const key = updateKey(webhook.id, eventKey);
      if (this.updates.get(key)) continue;
      const update: QueuedWebhookUpdate<T> = { webhookId: webhook.id, type, eventKey, queuedAt, seq: ++this.seq, placeholders, payload };
      this.updates.put(key, update);
    }
  }

  /** What waits for one webhook, oldest first. */
  queuedFor(webhookId: string): QueuedWebhookUpdate[] {
    return [...this.updates.values()].filter((u) => u.webhookId === webhookId).sort(byQueueOrder);
  }

  /** Everything queued, oldest first. */
  allQueued(): QueuedWebhookUpdate[] {
    return [...this.updates.values()].sort(byQueueOrder);
  }

  queueSizes(): Map<string, number> {
    const sizes = new Map<string, number>();
    for (const update of this.updates.values()) sizes.set(update.webhookId, (sizes.get(update.webhookId) ?? 0) + 1);
    return sizes;
  }

  /** Removes a delivered or dropped update (no-op when it is gone already). */
  remove(update: QueuedWebhookUpdate): void {
    this.updates.delete(updateKey(update.webhookId, update.eventKey));
  }
}

/** Store keys are at most 1024 characters without `/`; webhook ids and task ids together can be longer. */
function updateKey(webhookId: string, eventKey: string): string {
  return createHash('sha256').update(webhookId).update('\n').update(eventKey).digest('base64url');
}
