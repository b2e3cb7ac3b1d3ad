import { postJson } from '@singularity/node-util';

/**
 * Sends one webhook update (a port, conventions §8): the dispatcher decides
 * what to send and when, the poster only does the HTTP.
 */
export interface WebhookPoster {
  /**
   * POSTs `body` as JSON to `url`. Resolves when the receiver answered 2xx;
   * rejects on any other answer or on none (refused, reset, timed out), with
   * a message that says which.
   */
  post(url: string, body: unknown): Promise<void>;
}

export const DEFAULT_WEBHOOK_TIMEOUT_MILLIS = 10_000;

/** The production poster: `postJson` (fetch), aborted after `timeoutMillis`. */
export class FetchWebhookPoster implements WebhookPoster {
  constructor(private readonly timeoutMillis = DEFAULT_WEBHOOK_TIMEOUT_MILLIS) {}

  async post(url: string, body: unknown): Promise<void> {
    await postJson(url, body, { timeoutMillis: this.timeoutMillis });
  }
}
