import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HttpCallError, postJson } from './http-json';

/** What the server saw of one request. */
interface Received {
  method?: string;
  url?: string;
  contentType?: string;
  body: string;
}

// A real HTTP server on port 0; each test sets how it answers.
let server: Server;
let baseUrl: string;
let received: Received[];
let answer: (req: IncomingMessage, res: ServerResponse) => void;

beforeEach(async () => {
  received = [];
  answer = (_req, res) => res.end();
  server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      received.push({ method: req.method, url: req.url, contentType: req.headers['content-type'], body });
      answer(req, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterEach(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const reply =
  (status: number, body = '', contentType = 'application/json') =>
  (_req: IncomingMessage, res: ServerResponse) => {
    res.writeHead(status, { 'content-type': contentType });
    res.end(body);
  };

async function failure(promise: Promise<unknown>): Promise<HttpCallError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(HttpCallError);
  return err as HttpCallError;
}

describe('postJson', () => {
  it('POSTs the body as JSON and returns status, text and the parsed answer', async () => {
    answer = reply(200, '{"acknowledged":[1,2]}');
    const response = await postJson<{ acknowledged: number[] }>(`${baseUrl}/api/agents/a1/status`, { seqs: [1, 2] }, { timeoutMillis: 5000 });
    expect(response).toEqual({ status: 200, text: '{"acknowledged":[1,2]}', json: { acknowledged: [1, 2] } });
    expect(received).toEqual([{ method: 'POST', url: '/api/agents/a1/status', contentType: 'application/json', body: '{"seqs":[1,2]}' }]);
  });

  it('leaves json undefined for an empty body or one that is not JSON', async () => {
    answer = reply(202);
    await expect(postJson(`${baseUrl}/x`, {}, { timeoutMillis: 5000 })).resolves.toEqual({ status: 202, text: '', json: undefined });
    answer = reply(200, 'plain words', 'text/plain');
    await expect(postJson(`${baseUrl}/x`, {}, { timeoutMillis: 5000 })).resolves.toEqual({ status: 200, text: 'plain words', json: undefined });
  });

  it('throws an HttpCallError naming method, URL, status and body for a status that is not 2xx', async () => {
    answer = reply(503, 'draining; come back later', 'text/plain');
    const err = await failure(postJson(`${baseUrl}/tasks`, {}, { timeoutMillis: 5000 }));
    expect(err).toMatchObject({ name: 'HttpCallError', method: 'POST', url: `${baseUrl}/tasks`, status: 503, reason: 'draining; come back later', unreachable: false });
    expect(err.message).toBe(`POST ${baseUrl}/tasks answered 503: draining; come back later`);
  });

  it('shortens a long error body in the message', async () => {
    answer = reply(500, 'x'.repeat(5000), 'text/plain');
    const err = await failure(postJson(`${baseUrl}/tasks`, {}, { timeoutMillis: 5000 }));
    expect(err.reason).toBe('x'.repeat(300));
  });

  it('returns a tolerated status as an answer', async () => {
    answer = reply(404, '{"error":"no such task"}');
    await expect(postJson(`${baseUrl}/tasks/t1/kill`, {}, { timeoutMillis: 5000, tolerateStatuses: [404] })).resolves.toEqual({
      status: 404,
      text: '{"error":"no such task"}',
      json: { error: 'no such task' },
    });
    answer = reply(409);
    expect((await failure(postJson(`${baseUrl}/tasks/t1/kill`, {}, { timeoutMillis: 5000, tolerateStatuses: [404] }))).status).toBe(409);
  });

  it('reports an unreachable peer with status 0 and the network error code', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(closed.address() as AddressInfo).port}/api/agents`;
    await new Promise<void>((resolve) => closed.close(() => resolve()));

    const err = await failure(postJson(url, {}, { timeoutMillis: 5000 }));
    expect(err).toMatchObject({ method: 'POST', url, status: 0, reason: 'ECONNREFUSED', unreachable: true });
    expect(err.message).toBe(`POST ${url} failed: ECONNREFUSED`);
    expect(err.cause).toBeDefined(); // fetch's own error, kept for the stack
  });

  it('gives up on a peer that does not answer within timeoutMillis', async () => {
    answer = () => undefined; // holds the request open; afterEach drops the connection
    const err = await failure(postJson(`${baseUrl}/slow`, {}, { timeoutMillis: 200 }));
    expect(err).toMatchObject({ status: 0, reason: 'no answer within 200 ms' });
    expect(err.message).toBe(`POST ${baseUrl}/slow failed: no answer within 200 ms`);
  });
});
