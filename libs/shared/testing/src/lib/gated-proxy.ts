import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A proxy that holds the requests `hold` picks until `open()`. */
export interface GatedProxy {
  /** `http://127.0.0.1:<port>`: point the client here instead of at the target. */
  readonly endpoint: string;
  readonly server: Server;
  /** Lets every held request (and later ones) through. */
  open(): void;
  /** How many requests were held so far. */
  held(): number;
  close(): Promise<void>;
}

/**
 * An HTTP proxy in front of a local server (e.g. s3rver) that holds the
 * requests `hold` picks until `open()`, so a test can prove that work is in
 * flight, or that several requests overlap, without relying on timing.
 */
export async function startGatedProxy(targetPort: number, hold: (method: string, url: string) => boolean): Promise<GatedProxy> {
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  let held = 0;
  const server = createServer((req, res) => {
    const forward = () => {
      const upstream = httpRequest({ host: '127.0.0.1', port: targetPort, method: req.method, path: req.url, headers: req.headers }, (answer) => {
        res.writeHead(answer.statusCode ?? 500, answer.headers);
        answer.pipe(res);
      });
      // The client may have given up on a held request before the gate opens.
      upstream.on('error', () => res.destroy());
      req.pipe(upstream);
    };
    if (hold(req.method ?? 'GET', req.url ?? '/')) {
      held++;
      void gate.then(forward);
    } else forward();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    server,
    open,
    held: () => held,
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
