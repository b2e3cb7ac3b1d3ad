import {
  AGENT_API,
  type AgentHeartbeat,
  type AgentHeartbeatResponse,
  type AgentRegistration,
  type AgentRegistrationResponse,
  type TaskStatusBatch,
  type TaskStatusBatchResponse,
} from '@singularity/models';
import { HttpCallError, postJson, type JsonResponse } from '@singularity/node-util';

/**
 * A call to the scheduler failed. `status` is the HTTP status when the
 * scheduler answered; undefined when it could not be reached at all.
 */
export class SchedulerCallError extends Error {
  constructor(
    message: string,
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'SchedulerCallError';
  }

  /** Worth retrying as is: unreachable, timed out, or a 5xx/429 answer. */
  get transient(): boolean {
    return this.status === undefined || this.status >= 500 || this.status === 429;
  }
}

/** The agent's side of the agent ↔ scheduler protocol (agent-protocol.ts `AGENT_API`). */
export interface SchedulerLink {
  readonly baseUrl: string;
  register(registration: AgentRegistration): Promise<AgentRegistrationResponse>;
  /** `{known:false}` also when the scheduler answers 404 (it never heard of this agent). */
  heartbeat(agentId: string, heartbeat: AgentHeartbeat): Promise<AgentHeartbeatResponse>;
  sendStatusUpdates(agentId: string, batch: TaskStatusBatch): Promise<TaskStatusBatchResponse>;
}

/**
 * SchedulerLink over HTTP (`postJson`), each call bounded by `timeoutMillis`.
 *
 * `baseUrl` may list several schedulers, comma-separated (a leader and its standbys,
 * docs/high-availability.md). Calls go to the current one; when it cannot be reached or answers 502, 503
 * or 504 (a standby without a leader or cut off from it, a leader whose ZooKeeper is unreachable) the
 * same call is tried once on each next URL in turn, and the one that answered stays current. Every
 * call of the protocol is idempotent, so trying it again elsewhere is safe.
 */
export class HttpSchedulerLink implements SchedulerLink {
  private readonly urls: string[];
  private current = 0;

  constructor(
    baseUrl: string,
    private readonly timeoutMillis = 10000,
  ) {
    this.urls = baseUrl
      .split(',')
      .map((url) => url.trim().replace(/\/+$/, ''))
      .filter(Boolean);
    if (this.urls.length === 0) throw new Error('no scheduler URL given');
  }

  /** The scheduler URL calls go to now. */
  get baseUrl(): string {
    return this.urls[this.current];
  }

  register(registration: AgentRegistration): Promise<AgentRegistrationResponse> {
    return this.post<AgentRegistrationResponse>(AGENT_API.register, registration);
  }

  async heartbeat(agentId: string, heartbeat: AgentHeartbeat): Promise<AgentHeartbeatResponse> {
    try {
      return await this.post<AgentHeartbeatResponse>(AGENT_API.heartbeat(agentId), heartbeat);
    } catch (err) {
      if (err instanceof SchedulerCallError && err.status === 404) return { known: false };
      throw err;
    }
  }

  async sendStatusUpdates(agentId: string, batch: TaskStatusBatch): Promise<TaskStatusBatchResponse> {
    const response = await this.post<TaskStatusBatchResponse>(AGENT_API.statusUpdates(agentId), batch);
    if (!response || !Array.isArray(response.acknowledged)) {
      throw new SchedulerCallError(`scheduler answered POST ${AGENT_API.statusUpdates(agentId)} without an 'acknowledged' list`, 502);
    }
    return response;
  }

  /** Tries the current URL, then each next one once, on errors that say "not here, not now". */
  private async post<T>(path: string, body: unknown): Promise<T> {
    let lastError: SchedulerCallError | undefined;
    for (let tried = 0; tried < this.urls.length; tried++) {
      const index = (this.current + tried) % this.urls.length;
      try {
        const answer = await this.postTo<T>(this.urls[index], path, body);
        this.current = index;
        return answer;
      } catch (err) {
        if (!(err instanceof SchedulerCallError) || !rotatesOn(err)) throw err;
        lastError = err;
      }
    }
    // None answered: start with the next one next time.
    this.current = (this.current + 1) % this.urls.length;
    throw lastError as SchedulerCallError;
  }

  /** Maps the shared helper's HttpCallError to SchedulerCallError, which the relay's retry policy reads. */
  private async postTo<T>(baseUrl: string, path: string, body: unknown): Promise<T> {
    let response: JsonResponse<T>;
    try {
      response = await postJson<T>(`${baseUrl}${path}`, body, { timeoutMillis: this.timeoutMillis });
    } catch (err) {
      if (!(err instanceof HttpCallError)) throw err;
      if (err.unreachable) throw new SchedulerCallError(`scheduler unreachable at ${baseUrl}: ${err.reason}`, undefined, { cause: err });
      throw new SchedulerCallError(`scheduler at ${baseUrl} answered ${err.status} to POST ${path}: ${err.reason}`, err.status, { cause: err });
    }
    if (!response.text) return {} as T;
    if (response.json === undefined) {
      throw new SchedulerCallError(`scheduler at ${baseUrl} answered POST ${path} with a body that is not JSON: ${response.text.slice(0, 200)}`, 502);
    }
    return response.json;
  }
}

/**
 * Unreachable, or "not here, not now": 503 (no leader, or ZooKeeper down at the leader), 502/504 (a
 * standby lost the leader mid-request, as when the leader changes). Another scheduler may do.
 */
function rotatesOn(err: SchedulerCallError): boolean {
  return err.status === undefined || err.status === 502 || err.status === 503 || err.status === 504;
}
