import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One POST as the receiver saw it. */
export interface ReceivedWebhook {
  method: string;
  path: string;
  contentType: string | undefined;
  body: unknown;
}

/**
 * Test support: a real HTTP server on 127.0.0.1, port 0, that records what
 * webhooks POST to it and answers `status` (200 unless told otherwise).
 *
 * With `holdUntil(n, total)` it keeps requests waiting until `n` are open at
 * once (or all `total` expected have arrived) and then answers them together,
 * so a test can see how many the sender has in flight without any timing.
 */
export class RecordingWebhookReceiver {
  readonly received: ReceivedWebhook[] = [];
  status = 200;
  /** Requests open at once, the most seen. */
  maxOpen = 0;
  private open = 0;
  private held: Array<() => void> = [];
  private hold: { atOnce: number; total: number } | undefined;
  private readonly server: Server;
  private waiters: Array<{ count: number; resolve: () => void }> = [];

  private constructor() {
    this.server = createServer((req, res) => void this.handle(req, res));
  }

  static async start(): Promise<RecordingWebhookReceiver> {
    const receiver = new RecordingWebhookReceiver();
    await new Promise<void>((resolve) => receiver.server.listen(0, '127.0.0.1', resolve));
    return receiver;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  holdUntil(atOnce: number, total: number): void {
    this.hold = { atOnce, total };
  }

  bodies<T = unknown>(): T[] {
    return this.received.map((r) => r.body as T);
  }

  /** Resolves once `count` requests have been received. */
  waitFor(count: number): Promise<void> {
    if (this.received.length >= count) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ count, resolve }));
  }

  async stop(): Promise<void> {
    for (const release of this.held) release();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.open++;
    this.maxOpen = Math.max(this.maxOpen, this.open);
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    this.received.push({ method: req.method ?? '', path: req.url ?? '', contentType: req.headers['content-type'], body: text ? JSON.parse(text) : undefined });
    this.waiters = this.waiters.filter((w) => (this.received.length >= w.count ? (w.resolve(), false) : true));
    const answer = () => {
      this.open--;
      res.writeHead(this.status, { 'content-type': 'text/plain' }).end('ok');
    };
    if (!this.hold) return answer();
    this.held.push(answer);
    if (this.held.length >= this.hold.atOnce || this.received.length >= this.hold.total) {
      const release = this.held;
      this.held = [];
      for (const r of release) r();
    }
  }
}
