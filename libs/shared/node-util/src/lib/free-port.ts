import { createServer } from 'node:net';

/**
 * A TCP port that was free a moment ago on 127.0.0.1. Prefer port 0 where a
 * server can report the port it got; use this for processes that must be told
 * a port up front (an embedded database, a child in a test).
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.unref();
    probe.once('error', reject);
    probe.listen({ port: 0, host: '127.0.0.1' }, () => {
      const address = probe.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      probe.close(() => (port ? resolve(port) : reject(new Error('could not read the port of a probe server'))));
    });
  });
}
