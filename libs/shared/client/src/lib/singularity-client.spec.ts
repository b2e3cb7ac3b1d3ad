import { aDeploy, aRequest, aRequestParent, aTask, aTaskId, freePort } from '@singularity/testing';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SingularityClient } from './singularity-client';
import { SingularityClientError } from './singularity-client-error';

interface Recorded {
  method: string;
  url: string;
  contentType: string | undefined;
  accept: string | undefined;
  authorization: string | undefined;
  body: unknown;
}

interface Reply {
  status: number;
  body?: unknown;
  contentType?: string;
}

/** A real HTTP server on port 0 that records each call and answers with `reply`. */
class FakeSingularity {
  readonly calls: Recorded[] = [];
  reply: Reply = { status: 200, body: {} };
  private server?: Server;

  async start(): Promise<string> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    const { port } = this.server.address() as AddressInfo;
    return `http://127.0.0.1:${port}/singularity`;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    this.calls.push({
      method: req.method ?? '',
      url: req.url ?? '',
      contentType: req.headers['content-type'],
      accept: req.headers['accept'],
      authorization: req.headers['authorization'],
      body: text ? (JSON.parse(text) as unknown) : undefined,
    });
    const { status, body, contentType } = this.reply;
    if (body === undefined) {
      res.writeHead(status).end();
    } else if (typeof body === 'string' && !contentType) {
      res.writeHead(status, { 'content-type': 'text/plain' }).end(body);
    } else {
      res.writeHead(status, { 'content-type': contentType ?? 'application/json' }).end(typeof body === 'string' ? body : JSON.stringify(body));
    }
  }
}

describe('SingularityClient', () => {
  const server = new FakeSingularity();
  let baseUrl: string;
  let client: SingularityClient;

  beforeAll(async () => {
    baseUrl = await server.start();
    client = new SingularityClient({ baseUrl });
  });
  afterAll(() => server.stop());
  beforeEach(() => {
    server.calls.length = 0;
    server.reply = { status: 200, body: { ok: true } };
  });

  const request = aRequest({ id: 'my-app', requestType: 'SERVICE', instances: 2 });
  const taskId = aTaskId({ requestId: 'my-app' }).id;

  it.each<[string, (c: SingularityClient) => Promise<unknown>, string, string, unknown]>([
    ['createOrUpdateRequest', (c) => c.createOrUpdateRequest(request), 'POST', '/singularity/api/requests', request],
    [
      'createOrUpdateRequest (acknowledged)',
      (c) => c.createOrUpdateRequest(request, { largeScaleDownAcknowledged: true }),
      'POST',
      '/singularity/api/requests?largeScaleDownAcknowledged=true',
      request,
    ],
    ['getRequests', (c) => c.getRequests(), 'GET', '/singularity/api/requests', undefined],
    [
      'getRequests (filters)',
      (c) => c.getRequests({ requestType: 'SERVICE', limit: 5, useWebCache: false }),
      'GET',
      '/singularity/api/requests?requestType=SERVICE&limit=5&useWebCache=false',
      undefined,
    ],
    ['getActiveRequests', (c) => c.getActiveRequests(), 'GET', '/singularity/api/requests/active', undefined],
    ['getPausedRequests', (c) => c.getPausedRequests(), 'GET', '/singularity/api/requests/paused', undefined],
    ['getCooldownRequests', (c) => c.getCooldownRequests(), 'GET', '/singularity/api/requests/cooldown', undefined],
    ['getRequest', (c) => c.getRequest('my-app'), 'GET', '/singularity/api/requests/request/my-app', undefined],
    ['deleteRequest', (c) => c.deleteRequest('my-app'), 'DELETE', '/singularity/api/requests/request/my-app', undefined],
    [
      'deleteRequest (body)',
      (c) => c.deleteRequest('my-app', { message: 'bye', deleteFromLoadBalancer: true }),
      'DELETE',
      '/singularity/api/requests/request/my-app',
      { message: 'bye', deleteFromLoadBalancer: true },
    ],
    ['pause', (c) => c.pause('my-app', { killTasks: false }), 'POST', '/singularity/api/requests/request/my-app/pause', { killTasks: false }],
    ['pause (no body)', (c) => c.pause('my-app'), 'POST', '/singularity/api/requests/request/my-app/pause', undefined],
    ['unpause', (c) => c.unpause('my-app'), 'POST', '/singularity/api/requests/request/my-app/unpause', undefined],
    ['bounce', (c) => c.bounce('my-app', { incremental: true }), 'POST', '/singularity/api/requests/request/my-app/bounce', { incremental: true }],
    ['exitCooldown', (c) => c.exitCooldown('my-app'), 'POST', '/singularity/api/requests/request/my-app/exit-cooldown', undefined],
    ['getCrashLoops', (c) => c.getCrashLoops(), 'GET', '/singularity/api/requests/crashloops', undefined],
    ['getCrashLoopsForRequest', (c) => c.getCrashLoopsForRequest('my app'), 'GET', '/singularity/api/requests/request/my%20app/crashloops', undefined],
    ['run', (c) => c.run('my-app', { runId: 'r1', commandLineArgs: ['--x'] }), 'POST', '/singularity/api/requests/request/my-app/run', { runId: 'r1', commandLineArgs: ['--x'] }],
    ['scale', (c) => c.scale('my-app', { instances: 5 }), 'PUT', '/singularity/api/requests/request/my-app/scale', { instances: 5 }],
    [
      'scale (acknowledged)',
      (c) => c.scale('my-app', { instances: 1 }, { largeScaleDownAcknowledged: true }),
      'PUT',
      '/singularity/api/requests/request/my-app/scale?largeScaleDownAcknowledged=true',
      { instances: 1 },
    ],
    [
      'deploy',
      (c) => c.deploy({ deploy: aDeploy({ requestId: 'my-app' }), unpauseOnSuccessfulDeploy: true }),
      'POST',
      '/singularity/api/deploys',
      { deploy: aDeploy({ requestId: 'my-app' }), unpauseOnSuccessfulDeploy: true },
    ],
    ['cancelDeploy', (c) => c.cancelDeploy('my-app', 'd1'), 'DELETE', '/singularity/api/deploys/deploy/d1/request/my-app', undefined],
    ['getActiveTasks', (c) => c.getActiveTasks(), 'GET', '/singularity/api/tasks/active', undefined],
    ['getScheduledTasks', (c) => c.getScheduledTasks(), 'GET', '/singularity/api/tasks/scheduled', undefined],
    ['getScheduledTasksForRequest', (c) => c.getScheduledTasksForRequest('my-app'), 'GET', '/singularity/api/tasks/scheduled/request/my-app', undefined],
    ['getActiveTasksOnAgent', (c) => c.getActiveTasksOnAgent('agent-1'), 'GET', '/singularity/api/tasks/active/slave/agent-1', undefined],
    ['getActiveTaskIdsOnAgent', (c) => c.getActiveTaskIdsOnAgent('agent-1'), 'GET', '/singularity/api/tasks/active/slave/agent-1/ids', undefined],
    ['getTaskHistory', (c) => c.getTaskHistory(taskId), 'GET', `/singularity/api/history/task/${taskId}`, undefined],
    ['getTask', (c) => c.getTask(taskId), 'GET', `/singularity/api/tasks/task/${taskId}`, undefined],
    ['killTask', (c) => c.killTask(taskId, { override: true }), 'DELETE', `/singularity/api/tasks/task/${taskId}`, { override: true }],
    ['getState', (c) => c.getState(), 'GET', '/singularity/api/state', undefined],
    ['getState (options)', (c) => c.getState({ skipCache: true, includeRequestIds: true }), 'GET', '/singularity/api/state?skipCache=true&includeRequestIds=true', undefined],
    ['getAgent', (c) => c.getAgent('agent-1'), 'GET', '/singularity/api/slaves/slave/agent-1/details', undefined],
    ['getAgents', (c) => c.getAgents(), 'GET', '/singularity/api/slaves', undefined],
    ['getAgents (state)', (c) => c.getAgents({ state: 'DECOMMISSIONING' }), 'GET', '/singularity/api/slaves?state=DECOMMISSIONING', undefined],
  ])('%s', async (_name, invoke, method, url, body) => {
    await expect(invoke(client)).resolves.toEqual({ ok: true });
    expect(server.calls).toHaveLength(1);
    const [call] = server.calls;
    expect(call.method).toBe(method);
    expect(call.url).toBe(url);
    expect(call.body).toEqual(body);
    expect(call.accept).toBe('application/json');
    expect(call.contentType).toBe(body === undefined ? undefined : 'application/json');
  });

  it('returns the parsed answer', async () => {
    const parent = aRequestParent({ request });
    server.reply = { status: 200, body: parent };
    await expect(client.getRequest('my-app')).resolves.toEqual(parent);
    const tasks = [aTask({ request })];
    server.reply = { status: 200, body: tasks };
    await expect(client.getActiveTasks()).resolves.toEqual(tasks);
  });

  it('encodes path segments', async () => {
    await client.getTask('a b/c');
    expect(server.calls[0].url).toBe('/singularity/api/tasks/task/a%20b%2Fc');
  });

  it('resolves with undefined for an empty answer', async () => {
    server.reply = { status: 204 };
    await expect(client.unpause('my-app')).resolves.toBeUndefined();
  });

  describe('errors', () => {
    async function failure(invoke: () => Promise<unknown>): Promise<SingularityClientError> {
      const err = await invoke().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(SingularityClientError);
      return err as SingularityClientError;
    }

    it('maps a plain-text 400 with the server message', async () => {
      server.reply = { status: 400, body: 'instances: must be at least 1 (got -1)' };
      const err = await failure(() => client.createOrUpdateRequest({ ...request, instances: -1 }));
      expect(err.status).toBe(400);
      expect(err.method).toBe('POST');
      expect(err.path).toBe('/api/requests');
      expect(err.body).toBe('instances: must be at least 1 (got -1)');
      expect(err.message).toBe('POST /api/requests failed with 400 Bad Request: instances: must be at least 1 (got -1)');
    });

    it('maps a JSON error body and keeps it parsed', async () => {
      server.reply = { status: 404, body: { message: "Couldn't find request with id nope", status: 404 } };
      const err = await failure(() => client.getRequest('nope', { useWebCache: true }));
      expect(err.status).toBe(404);
      expect(err.body).toEqual({ message: "Couldn't find request with id nope", status: 404 });
      expect(err.serverMessage).toBe("Couldn't find request with id nope");
      expect(err.message).toBe("GET /api/requests/request/nope?useWebCache=true failed with 404 Not Found: Couldn't find request with id nope");
    });

    it('keeps a 409 JSON body that is not an error object (kill vs destroy)', async () => {
      const cleanup = { cleanupType: 'USER_REQUESTED_DESTROY', taskId: aTaskId(), timestamp: 1 };
      server.reply = { status: 409, body: cleanup };
      const err = await failure(() => client.killTask(aTaskId().id));
      expect(err.status).toBe(409);
      expect(err.body).toEqual(cleanup);
      expect(err.message).toMatch(/^DELETE \/api\/tasks\/task\/.* failed with 409 Conflict: \{"cleanupType":"USER_REQUESTED_DESTROY"/);
    });

    it('maps a 429 and a 500 without a body', async () => {
      server.reply = { status: 429, body: 'too many' };
      expect((await failure(() => client.run('my-app'))).status).toBe(429);
      server.reply = { status: 500 };
      const err = await failure(() => client.getState());
      expect(err.status).toBe(500);
      expect(err.body).toBeUndefined();
      expect(err.message).toBe('GET /api/state failed with 500 Internal Server Error');
    });

    it('maps a refused connection to status 0 with the cause', async () => {
      const port = await freePort();
      const offline = new SingularityClient({ baseUrl: `http://127.0.0.1:${port}/singularity/` });
      const err = await failure(() => offline.getState());
      expect(err.status).toBe(0);
      expect(err.cause).toBeDefined();
      expect(err.message).toMatch(/^GET \/api\/state failed: .*ECONNREFUSED/);
    });
  });

  it('uses the injected fetch and headers', async () => {
    const seen: Array<{ url: string; init: RequestInit | undefined }> = [];
    const fakeFetch: typeof fetch = async (input, init) => {
      seen.push({ url: String(input), init });
      return new Response(JSON.stringify([]), { status: 200, headers: { 'content-type': 'application/json' } });
    };
    const custom = new SingularityClient({ baseUrl: 'http://scheduler:7099/singularity', fetch: fakeFetch, headers: { authorization: 'Bearer t' } });
    await expect(custom.getRequests()).resolves.toEqual([]);
    expect(seen[0].url).toBe('http://scheduler:7099/singularity/api/requests');
    expect(seen[0].init?.headers).toMatchObject({ authorization: 'Bearer t' });

    await new SingularityClient({ baseUrl, headers: { authorization: 'Bearer x' } }).getState();
    expect(server.calls.at(-1)?.authorization).toBe('Bearer x');
  });
});
