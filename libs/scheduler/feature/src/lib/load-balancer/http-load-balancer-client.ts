import { systemClock, type Clock } from '@singularity/util';
import { lbWireId } from './load-balancer-requests';
import {
  DEFAULT_LOAD_BALANCER_SETTINGS,
  LOAD_BALANCER_STATES,
  type LoadBalancerMethod,
  type LoadBalancerRequest,
  type LoadBalancerRequestId,
  type LoadBalancerSettings,
  type LoadBalancerState,
  type SingularityLoadBalancerUpdate,
} from './load-balancer.types';

/**
 * The load balancer as the scheduler uses it (spec §3.5): an async API where
 * `enqueue` starts a request, `getState` polls it and `cancel` asks to stop it.
 * Every call answers with an update to record; none throws.
 */
export interface LoadBalancerClient {
  enqueue(request: LoadBalancerRequest): Promise<SingularityLoadBalancerUpdate>;
  getState(id: LoadBalancerRequestId): Promise<SingularityLoadBalancerUpdate>;
  cancel(id: LoadBalancerRequestId): Promise<SingularityLoadBalancerUpdate>;
}

/** `fetch` as the client uses it; replaceable where no real HTTP is wanted. */
export type LbFetch = (
  url: string,
  init: { method: string; headers: Record<string, string>; body?: string; signal: AbortSignal },
) => Promise<Response>;

export interface HttpLoadBalancerClientOptions {
  /** `loadBalancerUri`: POST here, GET/DELETE `{uri}/{id}`. */
  uri: string;
  /** `loadBalancerRequestTimeoutMillis` (2000): one whole call, body included. */
  timeoutMillis?: number;
  clock?: Clock;
  fetch?: LbFetch;
}

/**
 * A `LoadBalancerClient` speaking the Baragon HTTP API with `fetch`.
 *
 * Answers: a 2xx with a JSON `{loadBalancerRequestId, loadBalancerState,
 * message}` gives that state and message. A timeout (whole call over
 * `timeoutMillis`), a refused connection, a 504, or an unreadable answer give
 * UNKNOWN with a message: the request may or may not be in effect, so it is
 * polled again. Any other non-2xx gives FAILED for `enqueue` (the request was
 * refused) and UNKNOWN for `getState`/`cancel` (nothing is known about the
 * request itself).
 */
export class HttpLoadBalancerClient implements LoadBalancerClient {
  readonly uri: string;
  readonly timeoutMillis: number;
  private readonly clock: Clock;
  private readonly fetch: LbFetch;

  constructor(options: HttpLoadBalancerClientOptions) {
    this.uri = options.uri.replace(/\/+$/, '');
    this.timeoutMillis = Math.max(1, options.timeoutMillis ?? DEFAULT_LOAD_BALANCER_SETTINGS.loadBalancerRequestTimeoutMillis);
    this.clock = options.clock ?? systemClock;
    this.fetch = options.fetch ?? ((url, init) => fetch(url, init));
  }

  /** The client for the settings, or `undefined` when `loadBalancerUri` is unset (LB off). */
  static fromSettings(settings: Partial<LoadBalancerSettings>, extra: Pick<HttpLoadBalancerClientOptions, 'clock' | 'fetch'> = {}): HttpLoadBalancerClient | undefined {
    if (!settings.loadBalancerUri) return undefined;
    return new HttpLoadBalancerClient({ uri: settings.loadBalancerUri, timeoutMillis: settings.loadBalancerRequestTimeoutMillis, ...extra });
  }

  /** `{loadBalancerUri}/{wire id}`: where a request is polled and cancelled. */
  requestUri(id: LoadBalancerRequestId): string {
    return `${this.uri}/${encodeURIComponent(lbWireId(id))}`;
  }

  enqueue(request: LoadBalancerRequest): Promise<SingularityLoadBalancerUpdate> {
    return this.call('ENQUEUE', 'POST', this.uri, request.id, 'FAILED', JSON.stringify(request.body));
  }

  getState(id: LoadBalancerRequestId): Promise<SingularityLoadBalancerUpdate> {
    return this.call('CHECK_STATE', 'GET', this.requestUri(id), id, 'UNKNOWN');
  }

  cancel(id: LoadBalancerRequestId): Promise<SingularityLoadBalancerUpdate> {
    return this.call('CANCEL', 'DELETE', this.requestUri(id), id, 'UNKNOWN');
  }

  private async call(
    method: LoadBalancerMethod,
    httpMethod: string,
    url: string,
    id: LoadBalancerRequestId,
    onBadStatus: LoadBalancerState,
    body?: string,
  ): Promise<SingularityLoadBalancerUpdate> {
    const update = (state: LoadBalancerState, message?: string): SingularityLoadBalancerUpdate => ({
      loadBalancerState: state,
      state,
      loadBalancerRequestId: { ...id },
      ...(message !== undefined ? { message } : {}),
      timestamp: this.clock.now(),
      method,
      uri: url,
    });
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    try {
      const response = await this.fetch(url, { method: httpMethod, headers, body, signal: AbortSignal.timeout(this.timeoutMillis) });
      const text = await response.text();
      if (response.status === 504) return update('UNKNOWN', `Timed out waiting for the load balancer (HTTP 504)`);
      if (response.status < 200 || response.status > 299) {
        return update(onBadStatus, `Load balancer answered HTTP ${response.status}${text ? `: ${text.slice(0, 500)}` : ''}`);
      }
      const answer = parseAnswer(text);
      if (!answer) return update('UNKNOWN', `Unreadable load balancer answer (HTTP ${response.status}): ${text.slice(0, 500)}`);
      return update(answer.state, answer.message);
    } catch (error) {
      if (isTimeout(error)) return update('UNKNOWN', `Timed out after ${this.timeoutMillis} ms`);
      return update('UNKNOWN', `Load balancer request failed: ${describe(error)}`);
    }
  }
}

function parseAnswer(text: string): { state: LoadBalancerState; message?: string } | undefined {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof json !== 'object' || json === null) return undefined;
  const { loadBalancerState, message } = json as { loadBalancerState?: unknown; message?: unknown };
  if (typeof loadBalancerState !== 'string' || !LOAD_BALANCER_STATES.includes(loadBalancerState as LoadBalancerState)) return undefined;
  return { state: loadBalancerState as LoadBalancerState, ...(typeof message === 'string' ? { message } : {}) };
}

function isTimeout(error: unknown): boolean {
  const name = (error as { name?: unknown } | null)?.name;
  return name === 'TimeoutError' || (name === 'AbortError' && (error as { cause?: { name?: unknown } }).cause?.name === 'TimeoutError');
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = (error as Error & { cause?: unknown }).cause;
  const causeText = cause instanceof Error ? cause.message : cause !== undefined ? String(cause) : '';
  return causeText && causeText !== error.message ? `${error.message} (${causeText})` : error.message;
}
