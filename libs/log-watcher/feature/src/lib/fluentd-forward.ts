import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import type { FluentdHost } from './log-watcher-config';
import { decode, encode, EventTime, IncompleteMsgpackError, type MsgpackValue } from './msgpack';

/** One log record: the metadata's `extraFields` plus `message`. */
export type LogRecord = Record<string, string>;

/** Where tailed lines go. */
export interface LogSink {
  /** Resolves once the records were accepted; rejects when no destination took them (nothing of them counts as sent). */
  send(tag: string, records: LogRecord[]): Promise<void>;
  close(): Promise<void>;
}

/** Every fluentd host refused, dropped or did not acknowledge a batch. */
export class FluentdUnavailableError extends Error {
  constructor(reasons: string[]) {
    super(`no fluentd host took the records: ${reasons.join('; ')}`);
    this.name = 'FluentdUnavailableError';
  }
}

/**
 * fluentd's forward protocol over TCP (Forward mode: `[tag, [[time, record], …],
 * {chunk, size}]` in MessagePack), to `fluentdHosts` tried in random order
 * (spec slave §5). Each batch asks for an acknowledgement (`chunk` → `{ack}`),
 * so a batch counts as sent only once fluentd has it: a host that accepts the
 * connection and then loses the data is a failure, and the caller keeps its
 * offset. A connection that worked is kept for the next batch. Batches go
 * out one at a time.
 */
export class FluentdForwardSink implements LogSink {
  private connection?: { host: FluentdHost; conn: ForwardConnection };
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly hosts: readonly FluentdHost[],
    private readonly ackTimeoutMillis: number,
    private readonly now: () => number = Date.now,
    private readonly random: () => number = Math.random,
  ) {
    if (hosts.length === 0) throw new Error('no fluentd host given');
  }

  send(tag: string, records: LogRecord[]): Promise<void> {
    const next = this.queue.then(() => this.sendNow(tag, records));
    this.queue = next.catch(() => undefined);
    return next;
  }

  async close(): Promise<void> {
    await this.queue;
    this.connection?.conn.destroy();
    this.connection = undefined;
  }

  private async sendNow(tag: string, records: LogRecord[]): Promise<void> {
    if (records.length === 0) return;
    const chunk = randomBytes(16).toString('base64');
    const time = EventTime.fromMillis(this.now());
    const message = encode([tag, records.map((record): MsgpackValue => [time, record]), { chunk, size: records.length }]);
    const reasons: string[] = [];
    for (const host of this.order()) {
      try {
        const conn = this.connection?.host === host ? this.connection.conn : await ForwardConnection.open(host, this.ackTimeoutMillis);
        if (this.connection?.conn !== conn) {
          this.connection?.conn.destroy();
          this.connection = { host, conn };
        }
        await conn.sendAwaitingAck(message, chunk, this.ackTimeoutMillis);
        return;
      } catch (err) {
        reasons.push(`${host.host}:${host.port}: ${(err as Error).message}`);
        if (this.connection?.host === host) {
          this.connection.conn.destroy();
          this.connection = undefined;
        }
      }
    }
    throw new FluentdUnavailableError(reasons);
  }

  /** The connected host first (keeps one connection busy rather than spreading over all), the rest shuffled. */
  private order(): FluentdHost[] {
    const shuffled = [...this.hosts];
    for (let i = shuffled.length - 1; i > 0; i--) {
      const j = Math.floor(this.random() * (i + 1));
      [shuffled[i], shuffled[j]] = [shuffled[j], shuffled[i]];
    }
    const current = this.connection?.host;
    return current ? [current, ...shuffled.filter((h) => h !== current)] : shuffled;
  }
}

/** One TCP connection to fluentd, reading `{ack: chunk}` answers as they come. */
class ForwardConnection {
  private incoming = Buffer.alloc(0);
  private waiting?: { chunk: string; resolve: () => void; reject: (err: Error) => void };
  private failure?: Error;

  private constructor(private readonly socket: Socket) {
    socket.on('data', (data: Buffer) => this.onData(data));
    socket.on('error', (err) => this.fail(err));
    socket.on('close', () => this.fail(new Error('connection closed')));
  }

  static open(host: FluentdHost, timeoutMillis: number): Promise<ForwardConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: host.host, port: host.port });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`no connection within ${timeoutMillis} ms`));
      }, timeoutMillis);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        resolve(new ForwardConnection(socket));
      });
      socket.once('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        reject(new Error(err.code ?? err.message));
      });
    });
  }

  sendAwaitingAck(message: Buffer, chunk: string, timeoutMillis: number): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => this.fail(new Error(`no ack within ${timeoutMillis} ms`)), timeoutMillis);
      this.waiting = {
        chunk,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (err) => {
          clearTimeout(timer);
          reject(err);
        },
      };
      this.socket.write(message);
    });
  }

  destroy(): void {
    this.socket.destroy();
  }

  private onData(data: Buffer): void {
    this.incoming = Buffer.concat([this.incoming, data]);
    for (;;) {
      let decoded;
      try {
        decoded = decode(this.incoming);
      } catch (err) {
        if (err instanceof IncompleteMsgpackError) return;
        return this.fail(new Error(`unreadable answer from fluentd: ${(err as Error).message}`));
      }
      this.incoming = this.incoming.subarray(decoded.offset);
      const ack = (decoded.value as { ack?: unknown } | null)?.ack;
      if (this.waiting && ack === this.waiting.chunk) {
        const waiting = this.waiting;
        this.waiting = undefined;
        waiting.resolve();
      }
    }
  }

  private fail(err: Error): void {
    this.failure ??= err;
    this.socket.destroy();
    const waiting = this.waiting;
    this.waiting = undefined;
    waiting?.reject(err);
  }
}
