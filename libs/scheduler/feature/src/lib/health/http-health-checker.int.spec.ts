import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { join } from 'node:path';
import {
  DEPLOY_BUDGET_EXCEEDED,
  FAILURE_STATUS_CODE,
  HEALTHY_RESPONSE,
  MAX_RETRIES_EXCEEDED,
  REFUSED_PAST_STARTUP_TIMEOUT,
  resolveHealthcheck,
  type HealthVerdict,
  type ResolvedHealthcheck,
  type SingularityTaskHealthcheckResult,
} from '@singularity/scheduler-core';
import { aTaskId, expectMatchesSchema, freePort, tempDir, type TempDir } from '@singularity/testing';
import { ManualClock } from '@singularity/util';
import { HttpHealthChecker, type HttpHealthCheckerOptions } from './http-health-checker';
import { ManualTimers } from './manual-timers';

const T0 = 1_700_000_000_000;
const HOST = '127.0.0.1';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * The checked app: a real HTTP server on port 0 whose answers the test sets.
 * `hold` keeps requests open until `releaseAll`; it records every request.
 */
class TestApp {
  readonly requests: Array<{ method?: string; url?: string }> = [];
  handler: Handler = (_req, res) => res.end('ok');
  maxOpen = 0;
  private open = 0;
  private held: ServerResponse[] = [];
  private waiters: Array<{ count: number; resolve: () => void }> = [];
  readonly server: Server;

  constructor(server?: Server) {
    this.server = server ?? createHttpServer();
    this.server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      this.requests.push({ method: req.method, url: req.url });
      this.open++;
      this.maxOpen = Math.max(this.maxOpen, this.open);
      res.on('close', () => this.open--);
      this.handler(req, res);
      this.waiters = this.waiters.filter((w) => (this.requests.length >= w.count ? (w.resolve(), false) : true));
    });
  }

  static async start(): Promise<TestApp> {
    const app = new TestApp();
    await app.listen(0);
    return app;
  }

  async listen(port: number): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(port, HOST, resolve));
  }

  get port(): number {
    const address = this.server.address();
    if (!address || typeof address === 'string') throw new Error('not listening');
    return address.port;
  }

  respond(status: number, body = ''): void {
    this.handler = (_req, res) => {
      res.statusCode = status;
      res.end(body);
    };
  }

  hold(): void {
    this.handler = (_req, res) => this.held.push(res);
  }

  releaseAll(status = 200): void {
    for (const res of this.held.splice(0)) {
      res.statusCode = status;
      res.end('released');
    }
  }

  /** Resolves once `count` requests in total have arrived. */
  requestsSeen(count: number): Promise<void> {
    if (this.requests.length >= count) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ count, resolve }));
  }

  async close(): Promise<void> {
    if (!this.server.listening) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

type Reported = [SingularityTaskHealthcheckResult, HealthVerdict];

/** Collects what the checker reports; `next()` waits for the next report. */
class Reports {
  readonly all: Reported[] = [];
  private taken = 0;
  private waiter?: () => void;

  readonly listener = (result: SingularityTaskHealthcheckResult, verdict: HealthVerdict): void => {
    this.all.push([result, verdict]);
    this.waiter?.();
  };

  async next(): Promise<Reported> {
    while (this.all.length <= this.taken) await new Promise<void>((resolve) => (this.waiter = resolve));
    return this.all[this.taken++];
  }
}

const options = (overrides: Partial<ResolvedHealthcheck> = {}): ResolvedHealthcheck => {
  const resolved = resolveHealthcheck({ healthcheck: { uri: '/health' } });
  if (!resolved) throw new Error('no check');
  return { ...resolved, ...overrides };
};

function setup(checkerOptions: Omit<HttpHealthCheckerOptions, 'clock' | 'timers'> = {}) {
  const clock = new ManualClock(T0);
  const timers = new ManualTimers(clock);
  const checker = new HttpHealthChecker({ clock, timers, ...checkerOptions });
  const reports = new Reports();
  const task = { taskId: aTaskId({ startedAt: T0 }) };
  return { clock, timers, checker, reports, task };
}

/** Millis until the next timer is due (fails when none is). */
function untilNextTimer(env: ReturnType<typeof setup>): number {
  const due = env.timers.nextDueAt();
  if (due === undefined) throw new Error('no timer pending');
  return due - env.clock.now();
}

const since = (result: SingularityTaskHealthcheckResult) => (result.timestamp - T0) / 1000;

describe('HttpHealthChecker', () => {
  let app: TestApp;
  let env: ReturnType<typeof setup>;

  beforeEach(async () => {
    app = await TestApp.start();
    env = setup();
  });

  afterEach(async () => {
    await env.checker.stopAll();
    app.releaseAll();
    await app.close();
  });

  const start = (more: Partial<ResolvedHealthcheck> = {}, port = app.port) =>
    env.checker.start(env.task, { host: HOST, port }, options(more), env.reports.listener, { runningSince: T0 });

  it('a 200 is healthy: one GET of the uri, a result in the reference shape, checking stops', async () => {
    app.respond(200, 'all good');
    expect(start()).toEqual({ status: 'PENDING', nextCheckAt: T0 + 2000, countedFailures: 0 });

    env.timers.advance(1999);
    expect(app.requests).toHaveLength(0);
    env.timers.advance(1);
    const [result, verdict] = await env.reports.next();

    expect(app.requests).toEqual([{ method: 'GET', url: '/health' }]);
    expect(result).toEqual({ taskId: env.task.taskId, timestamp: T0 + 2000, durationMillis: 0, statusCode: 200, responseBody: 'all good', startup: false });
    expectMatchesSchema(result, 'SingularityTaskHealthcheckResult');
    expect(verdict).toMatchObject({ status: 'HEALTHY', reason: HEALTHY_RESPONSE });
    expect(env.checker.isChecking(env.task.taskId.id)).toBe(false);
    expect(env.timers.pending).toBe(0);
  });

  it('500s are counted: maxRetries 2 fails on the 3rd, checks intervalSeconds apart (scenario 33)', async () => {
    app.respond(500, 'boom');
    start({ maxRetries: 2 });

    const seen: Reported[] = [];
    for (let i = 0; i < 3; i++) {
      env.timers.advance(untilNextTimer(env));
      seen.push(await env.reports.next());
    }

    expect(seen.map(([r]) => since(r))).toEqual([2, 7, 12]);
    expect(seen.map(([r]) => r.statusCode)).toEqual([500, 500, 500]);
    expect(seen.map(([, v]) => v.status)).toEqual(['PENDING', 'PENDING', 'UNHEALTHY']);
    expect(seen[2][1]).toMatchObject({ reason: MAX_RETRIES_EXCEEDED, countedFailures: 3 });
    seen.forEach(([r]) => expectMatchesSchema(r, 'SingularityTaskHealthcheckResult'));

    env.timers.advance(60_000);
    await env.checker.idle();
    expect(app.requests).toHaveLength(3);
  });

  it('a status in failureStatusCodes is unhealthy at once', async () => {
    app.respond(503, 'maintenance');
    start({ maxRetries: 5, failureStatusCodes: [503] });
    env.timers.advance(2000);
    const [result, verdict] = await env.reports.next();

    expect(result).toMatchObject({ statusCode: 503, responseBody: 'maintenance', startup: false });
    expect(result.errorMessage).toBeUndefined();
    expect(verdict).toMatchObject({ status: 'UNHEALTHY', reason: FAILURE_STATUS_CODE });
    expect(env.timers.pending).toBe(0);
  });

  it('a slow app times out after responseTimeoutSeconds; timeouts count as failures', async () => {
    app.hold();
    start({ maxRetries: 1 });

    env.timers.advance(2000);
    await app.requestsSeen(1);
    env.timers.advance(4999);
    expect(env.reports.all).toHaveLength(0);
    env.timers.advance(1);
    const [first, firstVerdict] = await env.reports.next();

    expect(first).toMatchObject({ timestamp: T0 + 2000, durationMillis: 5000, startup: false });
    expect(first.statusCode).toBeUndefined();
    expect(first.errorMessage).toBe(`Healthcheck (http://${HOST}:${app.port}/health) failed due to exception: no response within 5 s`);
    expectMatchesSchema(first, 'SingularityTaskHealthcheckResult');
    // interval after the timed-out check ended: 2 + 5 + 5.
    expect(firstVerdict).toEqual({ status: 'PENDING', nextCheckAt: T0 + 12_000, countedFailures: 1 });

    env.timers.advance(5000);
    await app.requestsSeen(2);
    env.timers.advance(5000);
    const [second, secondVerdict] = await env.reports.next();
    expect(since(second)).toBe(12);
    expect(secondVerdict).toMatchObject({ status: 'UNHEALTHY', reason: MAX_RETRIES_EXCEEDED });
  });

  it('refused while the app starts (startup results, not counted), then healthy once it listens', async () => {
    const port = await freePort();
    const late = new TestApp();
    try {
      env.checker.start(env.task, { host: HOST, port }, options({ maxRetries: 0 }), env.reports.listener, { runningSince: T0 });

      env.timers.advance(2000);
      const [first, firstVerdict] = await env.reports.next();
      expect(first).toMatchObject({ timestamp: T0 + 2000, startup: true });
      expect(first.statusCode).toBeUndefined();
      expect(first.errorMessage).toMatch(/^Healthcheck \(http:\/\/127\.0\.0\.1:\d+\/health\) failed due to exception: .*ECONNREFUSED/);
      expectMatchesSchema(first, 'SingularityTaskHealthcheckResult');
      expect(firstVerdict).toEqual({ status: 'PENDING', nextCheckAt: T0 + 4000, countedFailures: 0 });

      env.timers.advance(2000);
      const [second, secondVerdict] = await env.reports.next();
      expect(second.startup).toBe(true);
      expect(secondVerdict.status).toBe('PENDING');

      late.respond(200, 'up');
      await late.listen(port);
      env.timers.advance(2000);
      const [third, thirdVerdict] = await env.reports.next();
      expect(third).toMatchObject({ timestamp: T0 + 6000, statusCode: 200, responseBody: 'up', startup: false });
      expect(thirdVerdict).toMatchObject({ status: 'HEALTHY', countedFailures: 0 });
    } finally {
      await late.close();
    }
  });

  it('refused past startupTimeoutSeconds is unhealthy; the last check is at the timeout', async () => {
    const port = await freePort();
    env.checker.start(env.task, { host: HOST, port }, options({ startupTimeoutSeconds: 5 }), env.reports.listener, { runningSince: T0 });

    const seen: Reported[] = [];
    while (env.timers.nextDueAt() !== undefined) {
      env.timers.advance(untilNextTimer(env));
      seen.push(await env.reports.next());
    }
    expect(seen.map(([r]) => since(r))).toEqual([2, 4, 5]);
    expect(seen.every(([r]) => r.startup)).toBe(true);
    expect(seen[2][1]).toMatchObject({ status: 'UNHEALTHY', reason: REFUSED_PAST_STARTUP_TIMEOUT });
  });

  it('keeps at most maxResponseBodyBytes (8192) of the body, whole characters, and none of an empty one', async () => {
    app.respond(500, 'x'.repeat(20_000));
    start({ maxRetries: 5 });
    env.timers.advance(2000);
    const [big] = await env.reports.next();
    expect(big.responseBody).toHaveLength(8192);
    expectMatchesSchema(big, 'SingularityTaskHealthcheckResult');

    app.respond(500, '');
    env.timers.advance(5000);
    const [empty] = await env.reports.next();
    expect(empty.responseBody).toBeUndefined();

    const small = setup({ maxResponseBodyBytes: 5 });
    try {
      app.respond(200, 'ééé'); // 6 bytes: the third é is cut in half and dropped
      small.checker.start(small.task, { host: HOST, port: app.port }, options(), small.reports.listener, { runningSince: T0 });
      small.timers.advance(2000);
      const [cut] = await small.reports.next();
      expect(cut.responseBody).toBe('éé');
    } finally {
      await small.checker.stopAll();
    }
  });

  it('sends the method and uri as configured, follows redirects', async () => {
    app.handler = (req, res) => {
      if (req.url === '/status?deep=1') {
        res.statusCode = 302;
        res.setHeader('location', '/ready');
        res.end();
      } else res.end('ready');
    };
    start({ uri: 'status?deep=1', method: 'POST' });
    env.timers.advance(2000);
    const [result, verdict] = await env.reports.next();
    expect(app.requests[0]).toEqual({ method: 'POST', url: '/status?deep=1' });
    expect(app.requests.map((r) => r.url)).toEqual(['/status?deep=1', '/ready']);
    expect(result).toMatchObject({ statusCode: 200, responseBody: 'ready' });
    expect(verdict.status).toBe('HEALTHY');
  });

  it('never runs two checks of one task at once: the next is scheduled only after the previous ended', async () => {
    app.hold();
    start({ maxRetries: 5, responseTimeoutSeconds: 30 });
    env.timers.advance(2000);
    await app.requestsSeen(1);

    env.timers.advance(20_000); // many intervals, but the check is still in flight
    expect(app.requests).toHaveLength(1);
    expect(env.timers.pending).toBe(1); // only its response timeout

    app.releaseAll(500);
    const [result, verdict] = await env.reports.next();
    expect(result.durationMillis).toBe(20_000);
    expect(verdict).toEqual({ status: 'PENDING', nextCheckAt: T0 + 27_000, countedFailures: 1 });
  });

  it('at most maxConcurrentChecks in flight over all tasks; due checks wait their turn', async () => {
    const limited = setup({ maxConcurrentChecks: 2 });
    try {
      app.hold();
      const ids = [1, 2, 3].map((instanceNo) => aTaskId({ startedAt: T0, instanceNo }));
      for (const taskId of ids) limited.checker.start({ taskId }, { host: HOST, port: app.port }, options(), limited.reports.listener, { runningSince: T0 });

      limited.timers.advance(2000);
      await app.requestsSeen(2);
      expect(limited.checker.inFlightCount).toBe(2);

      app.releaseAll(200);
      await limited.reports.next();
      await limited.reports.next();
      await app.requestsSeen(3);
      app.releaseAll(200);
      await limited.reports.next();

      expect(app.maxOpen).toBe(2);
      expect(limited.reports.all.map(([r]) => r.taskId.instanceNo).sort()).toEqual([1, 2, 3]);
      expect(limited.reports.all.every(([, v]) => v.status === 'HEALTHY')).toBe(true);
      // The third waited for a slot: it started when the first two ended, by the same manual clock.
      expect(limited.reports.all.map(([r]) => r.timestamp)).toEqual([T0 + 2000, T0 + 2000, T0 + 2000]);
    } finally {
      await limited.checker.stopAll();
    }
  });

  it('stop() abandons an in-flight check without a result; start() again replaces the checks', async () => {
    app.hold();
    start();
    env.timers.advance(2000);
    await app.requestsSeen(1);

    expect(env.checker.stop(env.task.taskId.id)).toBe(true);
    expect(env.checker.stop(env.task.taskId.id)).toBe(false);
    await env.checker.idle();
    expect(env.reports.all).toHaveLength(0);
    expect(env.timers.pending).toBe(0);

    app.respond(200);
    start();
    start(); // replaces the first: one timer, one check
    expect(env.timers.pending).toBe(1);
    env.timers.advance(2000);
    await env.reports.next();
    await env.checker.idle();
    expect(env.reports.all).toHaveLength(1);
    expect(app.requests).toHaveLength(2);
  });

  it('stopAll() clears every timer and in-flight check', async () => {
    app.hold();
    start();
    const other = { taskId: aTaskId({ startedAt: T0, instanceNo: 2 }) };
    env.checker.start(other, { host: HOST, port: app.port }, options({ startupDelaySeconds: 100 }), env.reports.listener, { runningSince: T0 });
    env.timers.advance(2000);
    await app.requestsSeen(1);

    await env.checker.stopAll();
    expect(env.checker.checkedTaskIds()).toEqual([]);
    expect(env.checker.inFlightCount).toBe(0);
    expect(env.timers.pending).toBe(0);
    expect(env.reports.all).toHaveLength(0);
  });

  it('applies the total budget while the deploy is pending', async () => {
    app.respond(500);
    let pendingDeploy = true;
    env.checker.start(env.task, { host: HOST, port: app.port }, options({ maxRetries: 2, startupDelaySeconds: 0 }), env.reports.listener, {
      runningSince: T0 - 3_600_000,
      duringDeploy: () => pendingDeploy,
    });
    env.timers.advance(0);
    const [, verdict] = await env.reports.next();
    expect(verdict).toMatchObject({ status: 'UNHEALTHY', reason: DEPLOY_BUDGET_EXCEEDED });

    pendingDeploy = false;
    env.checker.start(env.task, { host: HOST, port: app.port }, options({ maxRetries: 2, startupDelaySeconds: 0 }), env.reports.listener, {
      runningSince: T0 - 3_600_000,
      duringDeploy: () => pendingDeploy,
    });
    env.timers.advance(0);
    expect((await env.reports.next())[1].status).toBe('PENDING');
  });

  it('resumes from stored results, and does not start when they already decide', async () => {
    app.respond(200);
    const verdict = env.checker.start(env.task, { host: HOST, port: app.port }, options(), env.reports.listener, {
      runningSince: T0,
      results: [{ timestamp: T0 + 2000, durationMillis: 1, statusCode: 200, startup: false }],
    });
    expect(verdict).toMatchObject({ status: 'HEALTHY' });
    expect(env.checker.isChecking(env.task.taskId.id)).toBe(false);
    expect(env.timers.pending).toBe(0);

    env.clock.set(T0 + 3000);
    const resumed = env.checker.start(env.task, { host: HOST, port: app.port }, options({ maxRetries: 1 }), env.reports.listener, {
      runningSince: T0,
      results: [{ timestamp: T0 + 2000, durationMillis: 0, statusCode: 500, startup: false }],
    });
    expect(resumed).toEqual({ status: 'PENDING', nextCheckAt: T0 + 7000, countedFailures: 1 });
  });

  it('a throwing listener is logged and does not stop the checks', async () => {
    const warnings: unknown[] = [];
    const noisy = setup({ logger: { warn: (...args: unknown[]) => void warnings.push(args), debug: () => undefined } as never });
    try {
      app.respond(500);
      let calls = 0;
      noisy.checker.start(noisy.task, { host: HOST, port: app.port }, options({ maxRetries: 1 }), () => {
        calls++;
        throw new Error('listener bug');
      }, { runningSince: T0 });
      noisy.timers.advance(2000);
      await app.requestsSeen(1);
      await noisy.checker.idle();
      noisy.timers.advance(5000);
      await app.requestsSeen(2);
      await noisy.checker.idle();
      expect(calls).toBe(2);
      expect(warnings).toHaveLength(2);
    } finally {
      await noisy.checker.stopAll();
    }
  });
});

describe('HttpHealthChecker over HTTPS', () => {
  let dir: TempDir;
  let app: TestApp;

  beforeAll(async () => {
    dir = await tempDir('health-tls-');
    const key = join(dir.path, 'key.pem');
    const cert = join(dir.path, 'cert.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1'], { stdio: 'ignore' });
    app = new TestApp(createHttpsServer({ key: readFileSync(key), cert: readFileSync(cert) }));
    await app.listen(0);
  });

  afterAll(async () => {
    await app.close();
    await dir.cleanup();
  });

  it('checks over https with default TLS verification: a self-signed certificate fails the check', async () => {
    const { checker, timers, reports, task } = setup();
    try {
      checker.start(task, { host: HOST, port: app.port }, options({ protocol: 'HTTPS', maxRetries: 0 }), reports.listener, { runningSince: T0 });
      timers.advance(2000);
      const [result, verdict] = await reports.next();
      expect(result.startup).toBe(false);
      expect(result.statusCode).toBeUndefined();
      expect(result.errorMessage).toMatch(new RegExp(`^Healthcheck \\(https://127\\.0\\.0\\.1:${app.port}/health\\) failed due to exception: .*certificate`, 'i'));
      expect(verdict).toMatchObject({ status: 'UNHEALTHY', reason: MAX_RETRIES_EXCEEDED });
      expect(app.requests).toHaveLength(0);
    } finally {
      await checker.stopAll();
    }
  });
});
