import { eventually } from './eventually';

/** A TCP port that was free a moment ago on 127.0.0.1 (re-exported from node-util for specs). */
export { freePort } from '@singularity/node-util';

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
