import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type {
  AgentHeartbeat,
  AgentRegistration,
  AgentReportedTaskState,
  TaskStatusBatch,
  TaskStatusBatchResponse,
  TaskStatusRecord,
} from '@singularity/models';

type Endpoint = 'register' | 'heartbeat' | 'status-updates';

/**
 * FakeScheduler: a real HTTP server (port 0) that speaks the scheduler's side
 * of agent-protocol.ts. It records registrations, heartbeats and status
 * batches, acknowledges every update, and can be told to answer 503.
 */
export class FakeScheduler {
  readonly registrations: AgentRegistration[] = [];
  readonly heartbeats: Array<{ agentId: string; body: AgentHeartbeat }> = [];
  /** Every status batch that was acknowledged, in arrival order (repeats included). */
  readonly batches: Array<{ agentId: string; updates: TaskStatusRecord[] }> = [];
  /** Status batches answered with 503. */
  readonly refusedBatches: TaskStatusRecord[][] = [];
  heartbeatIntervalMillis = 200;
  private failing = new Set<Endpoint>();
  private readonly known = new Set<string>();
  private server?: Server;
  private port = 0;

  async start(): Promise<void> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    const address = this.server.address();
    this.port = typeof address === 'object' && address ? address.port : 0;
  }

  async stop(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
    this.server = undefined;
  }

  /** The scheduler URL agents are configured with (context path /singularity). */
  get url(): string {
    return `http://127.0.0.1:${this.port}/singularity`;
  }

  /** Answers 503 to the given endpoints (default: all) until `recover()`. */
  fail(...endpoints: Endpoint[]): void {
    this.failing = new Set(endpoints.length ? endpoints : ['register', 'heartbeat', 'status-updates']);
  }

  recover(): void {
    this.failing.clear();
  }

  /** Forgets an agent: its next heartbeat is answered `{known:false}`. */
  forget(agentId: string): void {
    this.known.delete(agentId);
  }

  /** Acknowledged updates of one task, in arrival order (repeats included). */
  updatesOf(taskId: string): TaskStatusRecord[] {
    return this.batches.flatMap((b) => b.updates.filter((u) => u.taskId === taskId));
  }

  /** Distinct acknowledged states of one task, by seq. */
  statesOf(taskId: string): AgentReportedTaskState[] {
    const bySeq = new Map<number, AgentReportedTaskState>();
    for (const u of this.updatesOf(taskId)) bySeq.set(u.seq, u.state);
    return [...bySeq.entries()].sort((a, b) => a[0] - b[0]).map(([, state]) => state);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const body = text ? (JSON.parse(text) as unknown) : {};
    const url = req.url ?? '';
    const send = (status: number, value: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(value));
    };
    let match: RegExpMatchArray | null;
    if (req.method === 'POST' && url === '/singularity/internal/agents/register') {
      if (this.failing.has('register')) return send(503, { message: 'fake scheduler: failing' });
      const registration = body as AgentRegistration;
      this.registrations.push(registration);
      this.known.add(registration.agentId);
      return send(200, { agentId: registration.agentId, heartbeatIntervalMillis: this.heartbeatIntervalMillis });
    }
    if (req.method === 'POST' && (match = url.match(/^\/singularity\/internal\/agents\/([^/]+)\/heartbeat$/))) {
      if (this.failing.has('heartbeat')) return send(503, { message: 'fake scheduler: failing' });
      const agentId = decodeURIComponent(match[1]);
      this.heartbeats.push({ agentId, body: body as AgentHeartbeat });
      return send(200, { known: this.known.has(agentId) });
    }
    if (req.method === 'POST' && (match = url.match(/^\/singularity\/internal\/agents\/([^/]+)\/status-updates$/))) {
      const updates = (body as TaskStatusBatch).updates;
      if (this.failing.has('status-updates')) {
        this.refusedBatches.push(updates);
        return send(503, { message: 'fake scheduler: failing' });
      }
      this.batches.push({ agentId: decodeURIComponent(match[1]), updates });
      const response: TaskStatusBatchResponse = { acknowledged: updates.map((u) => ({ taskId: u.taskId, seq: u.seq })) };
      return send(200, response);
    }
    send(404, { message: `fake scheduler: no route ${req.method} ${url}` });
  }
}
