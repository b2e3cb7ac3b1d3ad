import type {
  CrashLoopInfo,
  MachineState,
  RequestType,
  SingularityAgent,
  SingularityBounceRequest,
  SingularityDeleteRequestRequest,
  SingularityDeployRequest,
  SingularityExitCooldownRequest,
  SingularityKillTaskRequest,
  SingularityPauseRequest,
  SingularityPendingRequestParent,
  SingularityRequest,
  SingularityRequestParent,
  SingularityRunNowRequest,
  SingularityScaleRequest,
  SingularityState,
  SingularityTask,
  SingularityTaskCleanup,
  SingularityTaskHistoryUpdate,
  SingularityTaskId,
  SingularityTaskRequest,
  SingularityUnpauseRequest,
} from '@singularity/models';
import { SingularityClientError, serverMessageOf } from './singularity-client-error';

export interface SingularityClientOptions {
  /** Where the scheduler serves, with its context path: `http://host:7099/singularity`. */
  baseUrl: string;
  /** A fetch implementation (default: the global one). */
  fetch?: typeof fetch;
  /** Headers sent with every call (e.g. authorization). */
  headers?: Record<string, string>;
}

export interface RequestListOptions {
  useWebCache?: boolean;
  includeFullRequestData?: boolean;
  filterRelevantForUser?: boolean;
  limit?: number;
  requestType?: RequestType;
}

export interface StateOptions {
  skipCache?: boolean;
  includeRequestIds?: boolean;
}

/** The part of SingularityTaskHistory the client's callers read. */
export interface SingularityTaskHistorySummary {
  taskUpdates: SingularityTaskHistoryUpdate[];
}

type Query = Record<string, string | number | boolean | undefined>;

interface CallOptions {
  query?: Query;
  body?: unknown;
}

/**
 * A typed client of the scheduler's HTTP API (spec §4), over fetch. Every
 * method resolves with the parsed JSON answer, or rejects with a
 * SingularityClientError that carries the status and the server's message.
 */
export class SingularityClient {
  private readonly apiUrl: string;
  private readonly fetchImpl: typeof fetch;
  private readonly headers: Record<string, string>;

  constructor(options: SingularityClientOptions) {
    this.apiUrl = `${options.baseUrl.replace(/\/+$/, '')}/api`;
    this.fetchImpl = options.fetch ?? globalThis.fetch;
    this.headers = options.headers ?? {};
  }

  // ---- requests --------------------------------------------------------

  /** `POST /requests`: creates the request or replaces an existing one of the same id. */
  createOrUpdateRequest(request: SingularityRequest, options: { largeScaleDownAcknowledged?: boolean } = {}): Promise<SingularityRequestParent> {
    return this.call('POST', '/requests', { body: request, query: { largeScaleDownAcknowledged: options.largeScaleDownAcknowledged } });
  }

  getRequests(options: RequestListOptions = {}): Promise<SingularityRequestParent[]> {
    return this.call('GET', '/requests', { query: { ...options } });
  }

  getActiveRequests(options: RequestListOptions = {}): Promise<SingularityRequestParent[]> {
    return this.call('GET', '/requests/active', { query: { ...options } });
  }

  getPausedRequests(options: RequestListOptions = {}): Promise<SingularityRequestParent[]> {
    return this.call('GET', '/requests/paused', { query: { ...options } });
  }

  getCooldownRequests(options: RequestListOptions = {}): Promise<SingularityRequestParent[]> {
    return this.call('GET', '/requests/cooldown', { query: { ...options } });
  }

  /** `GET /requests/request/{id}`; an unknown id rejects with status 404. */
  getRequest(requestId: string, options: { useWebCache?: boolean } = {}): Promise<SingularityRequestParent> {
    return this.call('GET', `/requests/request/${seg(requestId)}`, { query: { ...options } });
  }

  /** `DELETE /requests/request/{id}`: starts deleting; resolves with the request as it was. */
  deleteRequest(requestId: string, body?: SingularityDeleteRequestRequest): Promise<SingularityRequest> {
    return this.call('DELETE', `/requests/request/${seg(requestId)}`, { body });
  }

  pause(requestId: string, body?: SingularityPauseRequest): Promise<SingularityRequestParent> {
    return this.call('POST', `/requests/request/${seg(requestId)}/pause`, { body });
  }

  unpause(requestId: string, body?: SingularityUnpauseRequest): Promise<SingularityRequestParent> {
    return this.call('POST', `/requests/request/${seg(requestId)}/unpause`, { body });
  }

  bounce(requestId: string, body?: SingularityBounceRequest): Promise<SingularityRequestParent> {
    return this.call('POST', `/requests/request/${seg(requestId)}/bounce`, { body });
  }

  exitCooldown(requestId: string, body?: SingularityExitCooldownRequest): Promise<SingularityRequestParent> {
    return this.call('POST', `/requests/request/${seg(requestId)}/exit-cooldown`, { body });
  }

  /** `GET /requests/crashloops`: request id → its open crash loops. */
  getCrashLoops(): Promise<Record<string, CrashLoopInfo[]>> {
    return this.call('GET', '/requests/crashloops');
  }

  /** `GET /requests/request/{id}/crashloops`: its open and recently ended crash loops. */
  getCrashLoopsForRequest(requestId: string): Promise<CrashLoopInfo[]> {
    return this.call('GET', `/requests/request/${seg(requestId)}/crashloops`);
  }

  /** `POST /requests/request/{id}/run` (run now, spec §2.4). */
  run(requestId: string, body?: SingularityRunNowRequest): Promise<SingularityPendingRequestParent> {
    return this.call('POST', `/requests/request/${seg(requestId)}/run`, { body });
  }

  /** `PUT /requests/request/{id}/scale` (spec §2.6). */
  scale(
    requestId: string,
    body: SingularityScaleRequest,
    options: { largeScaleDownAcknowledged?: boolean } = {},
  ): Promise<SingularityRequestParent> {
    return this.call('PUT', `/requests/request/${seg(requestId)}/scale`, {
      body,
      query: { largeScaleDownAcknowledged: options.largeScaleDownAcknowledged },
    });
  }

  // ---- deploys ---------------------------------------------------------

  /** `POST /deploys`. */
  deploy(body: SingularityDeployRequest): Promise<SingularityRequestParent> {
    return this.call('POST', '/deploys', { body });
  }

  /** `DELETE /deploys/deploy/{deployId}/request/{requestId}`: cancels the pending deploy. */
  cancelDeploy(requestId: string, deployId: string): Promise<SingularityRequestParent> {
    return this.call('DELETE', `/deploys/deploy/${seg(deployId)}/request/${seg(requestId)}`);
  }

  // ---- tasks -----------------------------------------------------------

  getActiveTasks(): Promise<SingularityTask[]> {
    return this.call('GET', '/tasks/active');
  }

  /** Pending tasks with their request and deploy (spec §1 "/tasks/scheduled"). */
  getScheduledTasks(): Promise<SingularityTaskRequest[]> {
    return this.call('GET', '/tasks/scheduled');
  }

  getScheduledTasksForRequest(requestId: string): Promise<SingularityTaskRequest[]> {
    return this.call('GET', `/tasks/scheduled/request/${seg(requestId)}`);
  }

  getActiveTasksOnAgent(agentId: string): Promise<SingularityTask[]> {
    return this.call('GET', `/tasks/active/slave/${seg(agentId)}`);
  }

  /** `GET /tasks/active/slave/{agentId}/ids`: ids only, cheap enough for per-node daemons. */
  getActiveTaskIdsOnAgent(agentId: string): Promise<SingularityTaskId[]> {
    return this.call('GET', `/tasks/active/slave/${seg(agentId)}/ids`);
  }

  /** `GET /history/task/{id}`: a task's updates, live or finished; rejects with 404 when nothing is known. */
  getTaskHistory(taskId: string): Promise<SingularityTaskHistorySummary> {
    return this.call('GET', `/history/task/${seg(taskId)}`);
  }

  /** `GET /tasks/task/{id}`: active tasks only; others reject with 404. */
  getTask(taskId: string): Promise<SingularityTask> {
    return this.call('GET', `/tasks/task/${seg(taskId)}`);
  }

  /** `DELETE /tasks/task/{id}` (spec §2.6 Kill); resolves with the cleanup it created. */
  killTask(taskId: string, body?: SingularityKillTaskRequest): Promise<SingularityTaskCleanup> {
    return this.call('DELETE', `/tasks/task/${seg(taskId)}`, { body });
  }

  // ---- state and agents ------------------------------------------------

  getState(options: StateOptions = {}): Promise<SingularityState> {
    return this.call('GET', '/state', { query: { ...options } });
  }

  /** `GET /slaves` (the agents), optionally only those in `state`. */
  getAgents(options: { state?: MachineState } = {}): Promise<SingularityAgent[]> {
    return this.call('GET', '/slaves', { query: { state: options.state } });
  }

  /** `GET /slaves/slave/{agentId}/details`. */
  getAgent(agentId: string): Promise<SingularityAgent> {
    return this.call('GET', `/slaves/slave/${seg(agentId)}/details`);
  }

  // ---------------------------------------------------------------------

  private async call<T>(method: string, path: string, options: CallOptions = {}): Promise<T> {
    const target = path + queryString(options.query);
    const headers: Record<string, string> = { accept: 'application/json', ...this.headers };
    const init: RequestInit = { method, headers };
    if (options.body !== undefined) {
      headers['content-type'] = 'application/json';
      init.body = JSON.stringify(options.body);
    }
    let response: Response;
    try {
      response = await this.fetchImpl(this.apiUrl + target, init);
    } catch (err) {
      throw new SingularityClientError(`${method} /api${target} failed: ${describeNetworkError(err)}`, method, `/api${target}`, 0, undefined, {
        cause: err,
      });
    }
    const body = parseBody(await response.text(), response.headers.get('content-type'));
    if (!response.ok) {
      const statusText = response.statusText ? ` ${response.statusText}` : '';
      const serverMessage = serverMessageOf(body);
      throw new SingularityClientError(
        `${method} /api${target} failed with ${response.status}${statusText}${serverMessage ? `: ${truncate(serverMessage, 1000)}` : ''}`,
        method,
        `/api${target}`,
        response.status,
        body,
      );
    }
    return body as T;
  }
}

function seg(value: string): string {
  return encodeURIComponent(value);
}

function queryString(query: Query | undefined): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query ?? {})) {
    if (value !== undefined) params.append(key, String(value));
  }
  const text = params.toString();
  return text ? `?${text}` : '';
}

function parseBody(text: string, contentType: string | null): unknown {
  if (text.length === 0) return undefined;
  const looksJson = contentType?.includes('json') || /^\s*[[{"]/.test(text);
  if (!looksJson) return text;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

function describeNetworkError(err: unknown): string {
  // Duck-typed: errors from fetch may come from another realm (e.g. under jest), so `instanceof Error` fails.
  const text = (value: unknown): string | undefined => {
    if (!value || typeof value !== 'object') return value === undefined ? undefined : String(value);
    const { message, code } = value as { message?: unknown; code?: unknown };
    return (typeof message === 'string' && message) || (typeof code === 'string' ? code : undefined);
  };
  const outer = text(err) ?? 'unknown error';
  const cause = err && typeof err === 'object' ? text((err as { cause?: unknown }).cause) : undefined;
  return cause ? `${outer} (${cause})` : outer;
}

function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
