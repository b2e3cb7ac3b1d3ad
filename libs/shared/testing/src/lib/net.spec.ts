import { createServer, type Server } from 'node:http';
import { freePort, waitForHttp } from './net';

function listen(port: number, status = 200): Promise<Server> {
  return new Promise((resolve) => {
    const server = createServer((_req, res) => res.writeHead(status).end('hello'));
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

const close = (server: Server) => new Promise<void>((resolve) => server.close(() => resolve()));

describe('freePort / waitForHttp', () => {
  it('gives a port a server can listen on', async () => {
    const port = await freePort();
    expect(port).toBeGreaterThan(0);
    const server = await listen(port);
    await close(server);
  });

  it('waits until a server answers', async () => {
    const port = await freePort();
    let server: Server | undefined;
    const starting = new Promise<void>((resolve) =>
      setTimeout(() => {
        void listen(port).then((s) => {
          server = s;
          resolve();
        });
      }, 100),
    );
    try {
      await expect(waitForHttp(`http://127.0.0.1:${port}/`, { intervalMs: 20 })).resolves.toEqual({ status: 200, body: 'hello' });
    } finally {
      await starting;
      if (server) await close(server);
    }
  });

  it('fails with the url when nothing acceptable answers', async () => {
    const port = await freePort();
    const server = await listen(port, 503);
    try {
      await expect(waitForHttp(`http://127.0.0.1:${port}/health`, { timeoutMs: 200, intervalMs: 20 })).rejects.toThrow(
        new RegExp(`GET http://127.0.0.1:${port}/health answers.*answered 503: hello`),
      );
      await expect(waitForHttp(`http://127.0.0.1:${port}/`, { accept: (s) => s === 503 })).resolves.toMatchObject({ status: 503 });
    } finally {
      await close(server);
    }
  });
});
