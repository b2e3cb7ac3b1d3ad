import { systemTimers, type TimerPort } from '../health/timers.port';
import type { SchedulerContext } from '../scheduler-context';
import { WebhookQueue } from './webhook-queue';
import { substitutePlaceholders, type QueuedWebhookUpdate } from './webhook.model';
import { FetchWebhookPoster, type WebhookPoster } from './webhook-poster';

/** Spec §5 "Webhooks" and `checkWebhooksEveryMillis`. */
export interface WebhookSettings {
  /** Time between delivery rounds (10 s). */
  checkWebhooksEveryMillis: number;
  /** POSTs in flight at once over all webhooks (100). */
  maxConcurrentWebhooks: number;
  /** A webhook whose receiver fails keeps at most this many updates, the newest (50). */
  maxQueuedUpdatesPerWebhook: number;
  /** An update that still fails this long after it was queued is dropped (168 h). */
  deleteUndeliverableWebhooksAfterHours: number;
}

export const DEFAULT_WEBHOOK_SETTINGS: WebhookSettings = {
  checkWebhooksEveryMillis: 10_000,
  maxConcurrentWebhooks: 100,
  maxQueuedUpdatesPerWebhook: 50,
  deleteUndeliverableWebhooksAfterHours: 168,
};

export interface WebhookDispatcherOptions {
  settings?: Partial<WebhookSettings>;
  /** Default: `FetchWebhookPoster` (real HTTP, 10 s timeout). */
  poster?: WebhookPoster;
  /** Schedules the rounds; default Node's timers. */
  timers?: TimerPort;
}

/** What one round did, for logs and tests. */
export interface WebhookRoundResult {
  attempted: number;
  delivered: number;
  failed: number;
  /** Failed updates dropped: too old, or beyond `maxQueuedUpdatesPerWebhook`. */
  dropped: number;
}

/**
 * Delivers queued webhook updates (spec §3.6), one round every
 * `checkWebhooksEveryMillis` on the leader.
 *
 * A round POSTs every update queued when it starts, oldest first, at most
 * `maxConcurrentWebhooks` at a time, to the webhook's uri with `$REQUEST_ID`,
 * `$DEPLOY_ID` and `$TASK_ID` filled in. A 2xx answer removes the update; any
 * other answer or no answer leaves it for the next round (at-least-once: a
 * crash before the removal is committed sends it again). Only updates whose
 * delivery failed are ever dropped: those queued longer ago than
 * `deleteUndeliverableWebhooksAfterHours`, then, for a webhook that failed in
 * the round, the oldest beyond `maxQueuedUpdatesPerWebhook`. A burst to a
 * healthy receiver is therefore delivered in full.
 */
export class WebhookDispatcher {
  readonly settings: WebhookSettings;
  private readonly queue: WebhookQueue;
  private readonly poster: WebhookPoster;
  private readonly timers: TimerPort;
  private timer: unknown;
  private running: Promise<WebhookRoundResult> | undefined;
  private stopped = true;

  constructor(
    private readonly ctx: SchedulerContext,
    options: WebhookDispatcherOptions = {},
  ) {
    this.settings = { ...DEFAULT_WEBHOOK_SETTINGS, ...options.settings };
    this.queue = new WebhookQueue(ctx.state);
    this.poster = options.poster ?? new FetchWebhookPoster();
    this.timers = options.timers ?? systemTimers;
  }

  /** Starts the rounds: the first after one interval, each next one an interval after the previous ended. */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.schedule();
  }

  /** Stops scheduling rounds and waits for the one in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) this.timers.clearTimeout(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => undefined);
  }

  /** Runs one round now; while one runs, returns that one. */
  deliverOnce(): Promise<WebhookRoundResult> {
    if (!this.running) {
      this.running = this.round().finally(() => {
        this.running = undefined;
      });
    }
    return this.running;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = this.timers.setTimeout(() => {
      this.timer = undefined;
      void this.deliverOnce()
        .catch((err) => this.ctx.logger.error({ err }, 'webhook round failed'))
        .finally(() => this.schedule());
    }, this.settings.checkWebhooksEveryMillis);
  }

  private async round(): Promise<WebhookRoundResult> {
    const now = this.ctx.clock.now();
    const oldestKept = now - this.settings.deleteUndeliverableWebhooksAfterHours * 3_600_000;
    const result: WebhookRoundResult = { attempted: 0, delivered: 0, failed: 0, dropped: 0 };
    const work: Array<{ update: QueuedWebhookUpdate; url: string }> = [];
    for (const update of this.queue.allQueued()) {
      const webhook = this.queue.getWebhook(update.webhookId);
      // Left behind by a webhook removed elsewhere: nobody wants it.
      if (!webhook) this.queue.remove(update);
      else work.push({ update, url: substitutePlaceholders(webhook.uri, update.placeholders) });
    }

    const failedWebhooks = new Set<string>();
    await runLimited(work, this.settings.maxConcurrentWebhooks, async ({ update, url }) => {
      result.attempted++;
      const failure = await this.send(url, update);
      if (failure === undefined) {
        result.delivered++;
        this.queue.remove(update);
        return;
      }
      result.failed++;
      failedWebhooks.add(update.webhookId);
      this.ctx.logger.debug({ webhookId: update.webhookId, url, failure }, 'webhook update not delivered; retrying next round');
      if (update.queuedAt < oldestKept) {
        result.dropped++;
        this.queue.remove(update);
      }
    });

    for (const webhookId of failedWebhooks) {
      const queued = this.queue.queuedFor(webhookId);
      for (const update of queued.slice(0, Math.max(0, queued.length - this.settings.maxQueuedUpdatesPerWebhook))) {
        result.dropped++;
        this.queue.remove(update);
      }
    }
    if (result.dropped > 0) this.ctx.logger.warn({ dropped: result.dropped, webhooks: [...failedWebhooks] }, 'dropped undeliverable webhook updates');
    await this.ctx.state.flush();
    return result;
  }

  /** Undefined when delivered (2xx), else why not. */
  private async send(url: string, update: QueuedWebhookUpdate): Promise<string | undefined> {
    try {
      await this.poster.post(url, update.payload);
      return undefined;
    } catch (err) {
      return (err as Error)?.message ?? String(err);
    }
  }
}

/** Runs `fn` over `items` in order with at most `limit` calls in flight. */
async function runLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
}
