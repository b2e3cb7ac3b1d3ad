import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { BaragonRequest, BaragonResponse, LoadBalancerState } from './load-balancer.types';

/**
 * What the fake does with one LB request (keyed by its wire id):
 * - `SUCCESS` / `FAILED` / `INVALID_REQUEST_NOOP`: the POST answers that state at once;
 * - `WAITING`: the POST and the next `polls` GETs answer WAITING, later GETs `then`;
 * - `HTTP_ERROR`: every call for it answers `status` with a plain-text body;
 * - `SLOW`: every call for it is held open (until `close`), beyond any client timeout.
 */
export type FakeLbOutcome =
  | { kind: 'SUCCESS' | 'FAILED' | 'INVALID_REQUEST_NOOP' }
  | { kind: 'WAITING'; polls: number; then: 'SUCCESS' | 'FAILED' }
  | { kind: 'HTTP_ERROR'; status: number }
  | { kind: 'SLOW' };

export interface FakeLbCall {
  method: string;
  path: string;
  /** The wire id: from the body for POST, from the path for GET/DELETE. */
  id?: string;
  body?: BaragonRequest;
}

interface Tracked {
  outcome: FakeLbOutcome;
  state: LoadBalancerState;
  pollsLeft: number;
  body: BaragonRequest;
}

const BASE_PATH = '/baragon/v2/request';

/**
 * Test support: a Baragon-style load balancer on a real HTTP server
 * (127.0.0.1, port 0). POST `{uri}` starts a request, GET `{uri}/{id}` polls
 * it, DELETE `{uri}/{id}` cancels it (CANCELED unless already finished);
 * unknown ids get 404. Every call is recorded in `calls`.
 */
export class FakeLoadBalancer {
  readonly calls: FakeLbCall[] = [];
  /** The outcome of requests without one of their own. */
  defaultOutcome: FakeLbOutcome = { kind: 'SUCCESS' };
  private readonly outcomes = new Map<string, FakeLbOutcome>();
  private readonly tracked = new Map<string, Tracked>();
  private readonly held: ServerResponse[] = [];
  private readonly server: Server;

  private constructor() {
    this.server = createServer((req, res) => {
      void this.handle(req, res).catch((error: unknown) => {
        res.statusCode = 500;
        res.end(String(error));
      });
    });
  }

  static async start(): Promise<FakeLoadBalancer> {
    const fake = new FakeLoadBalancer();
    await new Promise<void>((resolve, reject) => {
      fake.server.once('error', reject);
      fake.server.listen(0, '127.0.0.1', () => resolve());
    });
    return fake;
  }

  /** `loadBalancerUri` for the client. */
  get uri(): string {
    const address = this.server.address();
    if (!address || typeof address === 'string') throw new Error('FakeLoadBalancer is not listening');
    return `http://127.0.0.1:${address.port}${BASE_PATH}`;
  }

  /** Sets the outcome of the request with this wire id (before it is POSTed). */
  setOutcome(wireId: string, outcome: FakeLbOutcome): void {
    this.outcomes.set(wireId, outcome);
  }

  /** The current state of a request the fake knows. */
  stateOf(wireId: string): LoadBalancerState | undefined {
    return this.tracked.get(wireId)?.state;
  }

  /** Bodies of all POSTed requests, in order. */
  get enqueued(): BaragonRequest[] {
    return this.calls.flatMap((call) => (call.method === 'POST' && call.body ? [call.body] : []));
  }

  async close(): Promise<void> {
    for (const res of this.held.splice(0)) res.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    const path = (req.url ?? '/').split('?')[0];
    const text = await readBody(req);
    if (path === BASE_PATH && method === 'POST') return this.enqueue(path, text, res);
    if (path.startsWith(`${BASE_PATH}/`) && (method === 'GET' || method === 'DELETE')) {
      const id = decodeURIComponent(path.slice(BASE_PATH.length + 1));
      this.calls.push({ method, path, id });
      return this.existing(method, id, res);
    }
    this.calls.push({ method, path });
    send(res, 404, { message: `no route ${method} ${path}` });
  }

  private enqueue(path: string, text: string, res: ServerResponse): void {
    let body: BaragonRequest;
    try {
      body = JSON.parse(text) as BaragonRequest;
    } catch {
      this.calls.push({ method: 'POST', path });
      return send(res, 400, { message: 'body is not JSON' });
    }
    const id = body.loadBalancerRequestId;
    this.calls.push({ method: 'POST', path, id, body });
    const outcome = this.outcomes.get(id) ?? this.defaultOutcome;
    if (this.misbehave(outcome, res)) return;
    const previous = this.tracked.get(id);
    if (previous) return this.answer(res, id, previous.state); // Baragon: re-POSTing an id returns its state.
    const state: LoadBalancerState = outcome.kind === 'WAITING' ? 'WAITING' : (outcome.kind as LoadBalancerState);
    this.tracked.set(id, { outcome, state, pollsLeft: outcome.kind === 'WAITING' ? outcome.polls : 0, body });
    this.answer(res, id, state);
  }

  private existing(method: string, id: string, res: ServerResponse): void {
    const entry = this.tracked.get(id);
    const outcome = entry?.outcome ?? this.outcomes.get(id);
    if (outcome && this.misbehave(outcome, res)) return;
    if (!entry) return send(res, 404, { message: `no request ${id}` });
    if (method === 'DELETE') {
      if (entry.state === 'WAITING') entry.state = 'CANCELED';
      return this.answer(res, id, entry.state);
    }
    if (entry.state === 'WAITING' && entry.outcome.kind === 'WAITING') {
      if (entry.pollsLeft > 0) entry.pollsLeft--;
      else entry.state = entry.outcome.then;
    }
    this.answer(res, id, entry.state);
  }

  private misbehave(outcome: FakeLbOutcome, res: ServerResponse): boolean {
    if (outcome.kind === 'HTTP_ERROR') {
      res.statusCode = outcome.status;
      res.setHeader('content-type', 'text/plain');
      res.end('fake load balancer error');
      return true;
    }
    if (outcome.kind === 'SLOW') {
      this.held.push(res);
      return true;
    }
    return false;
  }

  private answer(res: ServerResponse, id: string, state: LoadBalancerState): void {
    const message = state === 'INVALID_REQUEST_NOOP' ? 'nothing to change' : state === 'FAILED' ? 'agent apply failed' : undefined;
    const answer: BaragonResponse = { loadBalancerRequestId: id, loadBalancerState: state, ...(message ? { message } : {}) };
    send(res, 200, answer);
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.statusCode = status;
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify(body));
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
