import { resolveHealthcheck, type HealthVerdict, type ResolvedHealthcheck, type SingularityTaskHealthcheckResult } from '@singularity/scheduler-core';
import { aTaskId } from '@singularity/testing';
import { ManualClock } from '@singularity/util';
import { HttpHealthChecker, type FetchLike } from './http-health-checker';
import { ManualTimers } from './manual-timers';

// How failures are classified, with a fake `fetch` (the real-server tests are in the .int.spec).

const T0 = 1_700_000_000_000;
const options = (overrides: Partial<ResolvedHealthcheck> = {}): ResolvedHealthcheck => {
  const resolved = resolveHealthcheck({ healthcheck: { uri: '/h' } });
  if (!resolved) throw new Error('no check');
  return { ...resolved, ...overrides };
};

async function checkOnce(fetch: FetchLike, more: Partial<ResolvedHealthcheck> = {}): Promise<[SingularityTaskHealthcheckResult, HealthVerdict]> {
  const clock = new ManualClock(T0);
  const timers = new ManualTimers(clock);
  const checker = new HttpHealthChecker({ clock, timers, fetch });
  const reports: Array<[SingularityTaskHealthcheckResult, HealthVerdict]> = [];
  checker.start({ taskId: aTaskId() }, { host: 'agent1', port: 31000 }, options(more), (r, v) => reports.push([r, v]), { runningSince: T0 });
  timers.advance(2000);
  await checker.idle();
  await checker.stopAll();
  expect(reports).toHaveLength(1);
  return reports[0];
}

const fetchFailed = (cause: unknown) => Object.assign(new TypeError('fetch failed'), { cause });
const rejecting = (error: unknown): FetchLike => () => Promise.reject(error);

describe('HttpHealthChecker failure classification', () => {
  it.each<[string, unknown, boolean, string]>([
    ['refused', fetchFailed(Object.assign(new Error('connect ECONNREFUSED 10.0.0.1:31000'), { code: 'ECONNREFUSED' })), true, 'connect ECONNREFUSED 10.0.0.1:31000'],
    [
      'refused on every address (AggregateError)',
      fetchFailed(Object.assign(new AggregateError([Object.assign(new Error('connect ECONNREFUSED ::1:31000'), { code: 'ECONNREFUSED' })], ''), { code: 'ECONNREFUSED' })),
      true,
      'ECONNREFUSED',
    ],
    ['an unknown host is a counted failure', fetchFailed(Object.assign(new Error('getaddrinfo ENOTFOUND agent1'), { code: 'ENOTFOUND' })), false, 'getaddrinfo ENOTFOUND agent1'],
    ['a reset is a counted failure', fetchFailed(Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' })), false, 'other side closed'],
    ['a non-Error rejection', 'weird', false, 'weird'],
  ])('%s', async (_name, error, startup, detail) => {
    const [result, verdict] = await checkOnce(rejecting(error), { maxRetries: 3 });
    expect(result.startup).toBe(startup);
    expect(result.errorMessage).toBe(`Healthcheck (http://agent1:31000/h) failed due to exception: ${detail}`);
    expect(result.statusCode).toBeUndefined();
    expect(verdict.status).toBe('PENDING');
  });

  it('a body that fails mid-read keeps the status and records the error (a failed check, even for a 200)', async () => {
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('partial'));
        controller.error(Object.assign(new Error('terminated'), { code: 'UND_ERR_SOCKET' }));
      },
    });
    const [result, verdict] = await checkOnce(() => Promise.resolve(new Response(body, { status: 200 })), { maxRetries: 3 });
    expect(result).toMatchObject({ statusCode: 200, startup: false, errorMessage: 'Healthcheck (http://agent1:31000/h) failed due to exception: terminated' });
    expect(verdict.status).toBe('PENDING');
  });

  it('passes the method, the url and an abort signal to fetch', async () => {
    const calls: Array<[string, string, boolean]> = [];
    await checkOnce((url, init) => {
      calls.push([url, init.method, typeof init.signal.aborted === 'boolean']);
      return Promise.resolve(new Response('ok'));
    }, { method: 'POST', protocol: 'HTTPS2', uri: 'ready' });
    expect(calls).toEqual([['https://agent1:31000/ready', 'POST', true]]);
  });
});
