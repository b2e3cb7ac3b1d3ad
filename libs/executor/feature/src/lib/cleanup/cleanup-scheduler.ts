import { SingularityClient, SingularityClientError } from '@singularity/client';
import { AGENT_HTTP, type SingularityTaskHistoryUpdate } from '@singularity/models';
import type { ExecutorCleanupConfig } from './executor-cleanup-config';
import type { CleanupScheduler } from './executor-cleanup';

/**
 * {@link CleanupScheduler} over the scheduler's HTTP API: each call tries
 * `singularityHosts` in order and answers with the first that responds (a
 * standby scheduler answers reads too). The agent id comes from the
 * configuration or from the local agent's health endpoint.
 */
export class HttpCleanupScheduler implements CleanupScheduler {
  private readonly clients: SingularityClient[];

  constructor(private readonly settings: ExecutorCleanupConfig['executorCleanup']) {
    const scheme = settings.singularityUseSsl ? 'https' : 'http';
    const context = settings.singularityContextPath.replace(/^\/+|\/+$/g, '');
    const timeout = settings.requestTimeoutMillis;
    const timedFetch: typeof fetch = (input, init) => fetch(input, { ...init, signal: AbortSignal.timeout(timeout) });
    this.clients = settings.singularityHosts.map(
      (host) => new SingularityClient({ baseUrl: `${scheme}://${host}${context ? `/${context}` : ''}`, fetch: timedFetch }),
    );
  }

  async agentId(): Promise<string> {
    if (this.settings.agentId) return this.settings.agentId;
    const url = new URL(AGENT_HTTP.health, this.settings.agentUrl).toString();
    let body: { agentId?: unknown };
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(this.settings.requestTimeoutMillis) });
      body = (await response.json()) as { agentId?: unknown };
    } catch (err) {
      throw new Error(`cannot ask the local agent (${url}) for its id: ${(err as Error).message}; set executorCleanup.agentId or agentUrl`);
    }
    if (typeof body.agentId !== 'string' || body.agentId === '') throw new Error(`the local agent (${url}) did not say its id`);
    return body.agentId;
  }

  async activeTaskIds(agentId: string): Promise<string[]> {
    const ids = await this.any((client) => client.getActiveTaskIdsOnAgent(agentId));
    return ids.map((id) => id.id);
  }

  async agentState(agentId: string): Promise<string | undefined> {
    try {
      return (await this.any((client) => client.getAgent(agentId))).currentState?.state;
    } catch (err) {
      if (err instanceof SingularityClientError && err.status === 404) return undefined;
      throw err;
    }
  }

  async taskUpdates(taskId: string): Promise<SingularityTaskHistoryUpdate[] | undefined> {
    try {
      return (await this.any((client) => client.getTaskHistory(taskId))).taskUpdates;
    } catch (err) {
      if (err instanceof SingularityClientError && err.status === 404) return undefined;
      throw err;
    }
  }

  /** The first answer; a 4xx is an answer (not retried on the next host), a refused connection or 5xx is not. */
  private async any<T>(call: (client: SingularityClient) => Promise<T>): Promise<T> {
    let last: unknown;
    for (const client of this.clients) {
      try {
        return await call(client);
      } catch (err) {
        if (err instanceof SingularityClientError && err.status >= 400 && err.status < 500) throw err;
        last = err;
      }
    }
    throw last;
  }
}
