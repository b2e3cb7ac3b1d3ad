import { createServer } from 'node:net';
import { eventually } from './eventually';

/**
 * A TCP port that was free a moment ago on 127.0.0.1. Prefer port 0 where the
 * code under test can report the port it got; use this for processes that
 * must be told a port up front.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ port: 0, host: '127.0.0.1' }, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => (port ? resolve(port) : reject(new Error('could not read the port of a probe server'))));
    });
  });
}

export interface WaitForHttpOptions {
  timeoutMs?: number;
  intervalMs?: number;
  /** Which answers count as "up" (default: any status below 500). */
  accept?: (status: number) => boolean;
}

/** Polls `url` with GET until it answers acceptably; resolves with the status and body text of that answer. */
export async function waitForHttp(url: string, options: WaitForHttpOptions = {}): Promise<{ status: number; body: string }> {
  const { timeoutMs = 10000, intervalMs = 100, accept = (status: number) => status < 500 } = options;
  return eventually(
    async () => {
      const response = await fetch(url, { signal: AbortSignal.timeout(Math.max(intervalMs * 10, 1000)) });
      const body = await response.text();
      if (!accept(response.status)) throw new Error(`answered ${response.status}: ${body.slice(0, 200)}`);
      return { status: response.status, body };
    },
    { timeoutMs, intervalMs, description: `GET ${url} answers` },
  );
}
