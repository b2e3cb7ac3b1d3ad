import { startStatusServer } from './status-server';

describe('startStatusServer', () => {
  it('answers each route with its JSON, 404 naming the routes, 405 for writes; close() ends kept-alive connections', async () => {
    let checks = 0;
    const server = await startStatusServer({ host: '127.0.0.1', port: 0, routes: { '/health': () => ({ ok: true, checks: ++checks }), '/boom': () => { throw new Error('broken'); } } });
    const base = `http://127.0.0.1:${server.port}`;
    try {
      const health = await fetch(`${base}/health?x=1`);
      expect(health.status).toBe(200);
      expect(health.headers.get('content-type')).toBe('application/json');
      await expect(health.json()).resolves.toEqual({ ok: true, checks: 1 });
      const missing = await fetch(`${base}/nope`);
      expect(missing.status).toBe(404);
      await expect(missing.json()).resolves.toEqual({ error: 'no /nope here; try /health, /boom' });
      expect((await fetch(`${base}/health`, { method: 'POST' })).status).toBe(405);
      const broken = await fetch(`${base}/boom`);
      expect(broken.status).toBe(500);
      await expect(broken.json()).resolves.toEqual({ error: 'broken' });
    } finally {
      await server.close();
    }
    await expect(fetch(`${base}/health`)).rejects.toThrow();
  });
});
