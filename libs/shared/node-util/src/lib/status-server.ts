import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * The small JSON HTTP endpoint of a node daemon (`GET /health`, `GET
 * /metrics`, …): each route answers with what its function returns. Anything
 * but GET/HEAD gets a 405, an unknown path a 404 that lists the known ones.
 */
export interface StatusServer {
  /** The port it listens on (the chosen one when 0 was asked for). */
  readonly port: number;
  /** Stops listening and drops kept-alive connections, so a stop is never held up by an idle client. */
  close(): Promise<void>;
}

export interface StatusServerOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  routes: Record<string, () => unknown>;
}

export async function startStatusServer(options: StatusServerOptions): Promise<StatusServer> {
  const known = Object.keys(options.routes).join(', ');
  const server: Server = createServer((req, res) => {
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(req.method === 'HEAD' ? undefined : JSON.stringify(body));
    };
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, { error: 'only GET' });
    const route = Object.hasOwn(options.routes, path) ? options.routes[path] : undefined;
    if (!route) return send(404, { error: `no ${path} here; try ${known}` });
    try {
      send(200, route());
    } catch (err) {
      send(500, { error: (err as Error).message });
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}
