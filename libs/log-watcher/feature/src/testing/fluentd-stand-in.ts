import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { decode, encode, EventTime, IncompleteMsgpackError, type MsgpackValue } from '../lib/msgpack';

/** One event as fluentd would store it. */
export interface ReceivedEvent {
  tag: string;
  /** Event time in epoch millis. */
  time: number;
  record: Record<string, unknown>;
}

/**
 * For tests only: a stand-in for fluentd (which cannot run here), a TCP
 * server that reads the forward protocol (Message, Forward and PackedForward
 * modes), records every event and acknowledges `chunk` options as fluentd's
 * `in_forward` does. `stop()` and `start()` again on the same port imitate an
 * outage.
 */
export class FluentdStandIn {
  readonly events: ReceivedEvent[] = [];
  private server?: Server;
  private readonly sockets = new Set<Socket>();
  port = 0;

  async start(): Promise<this> {
    const server = createServer((socket) => this.accept(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
    return this;
  }

  /** Closes the listener and drops every connection. */
  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  messages(): string[] {
    return this.events.map((e) => String(e.record['message']));
  }

  private accept(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => undefined);
    let pending = Buffer.alloc(0);
    socket.on('data', (data: Buffer) => {
      pending = Buffer.concat([pending, data]);
      for (;;) {
        let decoded;
        try {
          decoded = decode(pending);
        } catch (err) {
          if (err instanceof IncompleteMsgpackError) return;
          socket.destroy();
          return;
        }
        pending = pending.subarray(decoded.offset);
        const chunk = this.receive(decoded.value);
        if (chunk !== undefined) socket.write(encode({ ack: chunk }));
      }
    });
  }

  /** Records the events of one message; returns its `chunk` option, if any. */
  private receive(message: MsgpackValue): string | undefined {
    if (!Array.isArray(message) || typeof message[0] !== 'string') return undefined;
    const tag = message[0];
    const toMillis = (t: MsgpackValue) => (t instanceof EventTime ? t.seconds * 1000 + t.nanoseconds / 1e6 : Number(t) * 1000);
    let option: MsgpackValue = null;
    if (Array.isArray(message[1])) {
      for (const entry of message[1] as MsgpackValue[][]) this.events.push({ tag, time: toMillis(entry[0]), record: entry[1] as Record<string, unknown> });
      option = message[2] ?? null;
    } else if (message[1] instanceof Uint8Array || typeof message[1] === 'string') {
      const bytes = Buffer.from(message[1] as Uint8Array);
      for (let at = 0; at < bytes.length; ) {
        const { value, offset } = decode(bytes, at);
        const entry = value as MsgpackValue[];
        this.events.push({ tag, time: toMillis(entry[0]), record: entry[1] as Record<string, unknown> });
        at = offset;
      }
      option = message[2] ?? null;
    } else {
      this.events.push({ tag, time: toMillis(message[1]), record: message[2] as Record<string, unknown> });
      option = message[3] ?? null;
    }
    const chunk = (option as { chunk?: unknown } | null)?.chunk;
    return typeof chunk === 'string' ? chunk : undefined;
  }
}
