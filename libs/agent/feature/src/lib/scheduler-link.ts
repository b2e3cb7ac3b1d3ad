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

/** SchedulerLink over HTTP (`postJson`), each call bounded by `timeoutMillis`. */
export class HttpSchedulerLink implements SchedulerLink {
  readonly baseUrl: string;

  constructor(
    baseUrl: string,
    private readonly timeoutMillis = 10000,
  ) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
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

  /** Maps the shared helper's HttpCallError to SchedulerCallError, which the relay's retry policy reads. */
  private async post<T>(path: string, body: unknown): Promise<T> {
    let response: JsonResponse<T>;
    try {
      response = await postJson<T>(`${this.baseUrl}${path}`, body, { timeoutMillis: this.timeoutMillis });
    } catch (err) {
      if (!(err instanceof HttpCallError)) throw err;
      if (err.unreachable) throw new SchedulerCallError(`scheduler unreachable at ${this.baseUrl}: ${err.reason}`, undefined, { cause: err });
      throw new SchedulerCallError(`scheduler answered ${err.status} to POST ${path}: ${err.reason}`, err.status, { cause: err });
    }
    if (!response.text) return {} as T;
    if (response.json === undefined) {
      throw new SchedulerCallError(`scheduler answered POST ${path} with a body that is not JSON: ${response.text.slice(0, 200)}`, 502);
    }
    return response.json;
  }
}
