import { ManualClock } from '@singularity/util';
import { T0 } from '../core.fixtures';
import {
  DEPLOY_BUDGET_EXCEEDED,
  evaluateHealth,
  FAILURE_STATUS_CODE,
  HealthcheckTracker,
  HEALTHY_RESPONSE,
  MAX_RETRIES_EXCEEDED,
  REFUSED_PAST_STARTUP_TIMEOUT,
  type HealthVerdict,
} from './health-tracker';
import { resolveHealthcheck, type ResolvedHealthcheck } from './healthcheck-options';
import type { HealthcheckResultFacts } from './healthcheck-result';

const options = (overrides: Partial<ResolvedHealthcheck> = {}): ResolvedHealthcheck => {
  const resolved = resolveHealthcheck({ healthcheck: { uri: '/health' } });
  if (!resolved) throw new Error('no check');
  return { ...resolved, ...overrides };
};

/** Seconds after RUNNING (T0). */
const at = (seconds: number) => T0 + seconds * 1000;

// Results, `s` seconds after RUNNING, taking `ms` milliseconds.
const ok = (s: number, statusCode = 200, ms = 0): HealthcheckResultFacts => ({ timestamp: at(s), statusCode, durationMillis: ms, startup: false });
const bad = (s: number, statusCode = 500, ms = 0): HealthcheckResultFacts => ({ timestamp: at(s), statusCode, durationMillis: ms, startup: false });
const timedOut = (s: number, ms = 5000): HealthcheckResultFacts => ({ timestamp: at(s), durationMillis: ms, errorMessage: 'timed out', startup: false });
const refused = (s: number, ms = 0): HealthcheckResultFacts => ({ timestamp: at(s), durationMillis: ms, errorMessage: 'ECONNREFUSED', startup: true });

const evaluate = (results: HealthcheckResultFacts[], nowSeconds: number, more: Partial<ResolvedHealthcheck> = {}, duringDeploy = false) =>
  evaluateHealth({ options: options(more), runningSince: T0, now: at(nowSeconds), results, duringDeploy });

const pending = (nextCheckAtSeconds: number) => expect.objectContaining({ status: 'PENDING', nextCheckAt: at(nextCheckAtSeconds) });
const final = (status: 'HEALTHY' | 'UNHEALTHY', reason: string) => expect.objectContaining({ status, reason, message: expect.any(String) });

describe('evaluateHealth (spec §3.4)', () => {
  describe('when the first check comes', () => {
    it.each<[string, Partial<ResolvedHealthcheck>, number]>([
      ['startupDelaySeconds unset: after startupIntervalSeconds (2)', {}, 2],
      ['startupDelaySeconds 10', { startupDelaySeconds: 10 }, 10],
      ['startupDelaySeconds 0: at once', { startupDelaySeconds: 0 }, 0],
      ['startupDelaySeconds unset, startupIntervalSeconds 3', { startupIntervalSeconds: 3 }, 3],
    ])('%s', (_name, more, seconds) => {
      expect(evaluate([], 0, more)).toEqual(pending(seconds));
    });
  });

  describe('healthy', () => {
    it.each<[string, HealthcheckResultFacts[]]>([
      ['a 200', [ok(2)]],
      ['a 204', [ok(2, 204)]],
      ['a 299', [ok(2, 299)]],
      ['a 2xx after refusals and counted failures', [refused(2), bad(4), ok(9)]],
    ])('%s', (_name, results) => {
      expect(evaluate(results, 10, { maxRetries: 1 })).toEqual(final('HEALTHY', HEALTHY_RESPONSE));
    });

    it('a final verdict has no next check', () => {
      expect(evaluate([ok(2)], 2)).not.toHaveProperty('nextCheckAt');
      expect(evaluate([bad(2)], 2)).not.toHaveProperty('nextCheckAt');
    });

    it('the first decisive result wins: a 2xx before a failure status code stays healthy', () => {
      expect(evaluate([ok(2), bad(7, 503)], 10, { failureStatusCodes: [503] })).toEqual(final('HEALTHY', HEALTHY_RESPONSE));
    });

    it('a 2xx with an error (body cut off by a timeout) is not healthy', () => {
      expect(evaluate([{ ...ok(2), errorMessage: 'timed out reading the body' }], 2, { maxRetries: 1 })).toEqual(pending(7));
    });
  });

  describe('counted failures: more than maxRetries is unhealthy', () => {
    it.each<[string, number, HealthcheckResultFacts[], HealthVerdict['status']]>([
      ['maxRetries 0: the first 500', 0, [bad(2)], 'UNHEALTHY'],
      ['maxRetries 2: two 503s wait', 2, [bad(2, 503), bad(7, 503)], 'PENDING'],
      ['maxRetries 2: the third 503 fails (scenario 33)', 2, [bad(2, 503), bad(7, 503), bad(12, 503)], 'UNHEALTHY'],
      ['a 3xx counts', 0, [bad(2, 302)], 'UNHEALTHY'],
      ['a 404 counts', 0, [bad(2, 404)], 'UNHEALTHY'],
      ['a timeout counts', 0, [timedOut(2)], 'UNHEALTHY'],
      ['timeouts and statuses add up', 1, [timedOut(2), bad(12)], 'UNHEALTHY'],
      ['refusals do not count (maxRetries 1)', 1, [refused(2), refused(4), bad(6, 503)], 'PENDING'],
    ])('%s', (_name, maxRetries, results, status) => {
      const verdict = evaluate(results, 13, { maxRetries });
      expect(verdict.status).toBe(status);
      if (status === 'UNHEALTHY') expect(verdict).toEqual(final('UNHEALTHY', MAX_RETRIES_EXCEEDED));
    });

    it('counts for the verdict', () => {
      expect(evaluate([refused(2), bad(4), bad(9)], 10, { maxRetries: 5 }).countedFailures).toBe(2);
    });

    it('waits intervalSeconds after the failed check ended', () => {
      expect(evaluate([bad(2, 500, 300)], 3, { maxRetries: 1 })).toEqual(pending(7.3));
      expect(evaluate([timedOut(2, 5000)], 8, { maxRetries: 1 })).toEqual(pending(12));
      expect(evaluate([bad(2)], 3, { maxRetries: 1, intervalSeconds: 10 })).toEqual(pending(12));
    });
  });

  describe('failure status codes', () => {
    it.each<[string, HealthcheckResultFacts[]]>([
      ['fail at once despite maxRetries', [bad(2, 503)]],
      ['fail after counted failures too', [bad(2, 500), bad(7, 503)]],
    ])('%s', (_name, results) => {
      expect(evaluate(results, 8, { maxRetries: 5, failureStatusCodes: [503] })).toEqual(final('UNHEALTHY', FAILURE_STATUS_CODE));
    });

    it('a listed 2xx is still healthy (a 2xx never fails)', () => {
      expect(evaluate([ok(2)], 2, { failureStatusCodes: [200] })).toEqual(final('HEALTHY', HEALTHY_RESPONSE));
    });

    it('other statuses are only counted', () => {
      expect(evaluate([bad(2, 500)], 2, { maxRetries: 5, failureStatusCodes: [503] })).toEqual(pending(7));
    });
  });

  describe('startup: refused connections', () => {
    it('retries every startupIntervalSeconds after the refusal ended', () => {
      expect(evaluate([refused(2)], 2)).toEqual(pending(4));
      expect(evaluate([refused(2, 30)], 2)).toEqual(pending(4.03));
      expect(evaluate([refused(2)], 2, { startupIntervalSeconds: 5 })).toEqual(pending(7));
    });

    it('the last startup check is at the startup timeout, not after it', () => {
      expect(evaluate([refused(44)], 44)).toEqual(pending(45));
    });

    it.each<[string, HealthcheckResultFacts[], number, HealthVerdict['status']]>([
      ['refused at 44 s, now 45 s: still pending', [refused(44)], 45, 'PENDING'],
      ['refused at 44 s, now past 45 s: unhealthy', [refused(44)], 45.001, 'UNHEALTHY'],
      ['refused at the timeout itself: unhealthy', [refused(45)], 45, 'UNHEALTHY'],
      ['refused again after a response, past the timeout: unhealthy', [bad(2), refused(60)], 60, 'UNHEALTHY'],
      ['a counted failure last: the startup timeout no longer applies', [refused(40), bad(46)], 50, 'PENDING'],
      ['a long startupDelaySeconds: the first refusal past the timeout fails', [refused(100)], 100, 'UNHEALTHY'],
    ])('%s', (_name, results, now, status) => {
      const verdict = evaluate(results, now, { maxRetries: 3 });
      expect(verdict.status).toBe(status);
      if (status === 'UNHEALTHY') expect(verdict).toEqual(final('UNHEALTHY', REFUSED_PAST_STARTUP_TIMEOUT));
    });

    it('an hour-old task refused with a 30 min startup timeout is unhealthy (Singularity testStartupTimeout)', () => {
      expect(evaluate([refused(0)], 3600, { startupTimeoutSeconds: 1800, maxRetries: 2 })).toEqual(final('UNHEALTHY', REFUSED_PAST_STARTUP_TIMEOUT));
    });
  });

  describe('the total budget during a deploy', () => {
    // maxRetries 2 → 45 + (5 + 5) × 3 = 75 s.
    it.each<[string, HealthcheckResultFacts[], number, boolean, HealthVerdict['status']]>([
      ['a failed check past the budget fails the deploy task (Singularity testHealthchecksTimeout)', [bad(3600, 503)], 3600, true, 'UNHEALTHY'],
      ['the same outside a deploy waits for retries', [bad(3600, 503)], 3600, false, 'PENDING'],
      ['at the budget: still pending', [bad(70)], 75, true, 'PENDING'],
      ['past the budget', [bad(70)], 75.001, true, 'UNHEALTHY'],
      ['no check yet (long startup delay): pending', [], 3600, true, 'PENDING'],
    ])('%s', (_name, results, now, duringDeploy, status) => {
      const verdict = evaluate(results, now, { maxRetries: 2 }, duringDeploy);
      expect(verdict.status).toBe(status);
      if (status === 'UNHEALTHY') expect(verdict).toEqual(final('UNHEALTHY', DEPLOY_BUDGET_EXCEEDED));
    });
  });
});

/**
 * Runs the rules the way the checker does: wait for `nextCheckAt` on a manual
 * clock, "check" the scripted app, record, repeat until a final verdict.
 */
function simulate(app: (secondsSinceRunning: number) => Omit<HealthcheckResultFacts, 'timestamp'>, more: Partial<ResolvedHealthcheck> = {}) {
  const clock = new ManualClock(T0);
  const tracker = new HealthcheckTracker(options(more), clock.now());
  const checks: number[] = [];
  let verdict = tracker.verdict(clock.now());
  while (verdict.status === 'PENDING') {
    if (checks.length > 100) throw new Error('runaway simulation');
    clock.set(verdict.nextCheckAt);
    const started = clock.now();
    checks.push((started - T0) / 1000);
    const result = app((started - T0) / 1000);
    clock.advance(result.durationMillis ?? 0);
    tracker.record({ ...result, timestamp: started });
    verdict = tracker.verdict(clock.now());
  }
  return { checks, verdict, endedAt: (clock.now() - T0) / 1000, results: tracker.results };
}

const respond = (statusCode: number, durationMillis = 0) => ({ statusCode, durationMillis, startup: false });
const refuse = () => ({ errorMessage: 'ECONNREFUSED', durationMillis: 0, startup: true });
const timeout = () => ({ errorMessage: 'timed out', durationMillis: 5000, startup: false });

describe('check timelines on a manual clock', () => {
  it('refused until 7 s, then 200: startup checks every 2 s, healthy at 8 s', () => {
    const run = simulate((s) => (s < 7 ? refuse() : respond(200)));
    expect(run.checks).toEqual([2, 4, 6, 8]);
    expect(run.verdict).toEqual(final('HEALTHY', HEALTHY_RESPONSE));
  });

  it('refused forever: every 2 s up to the 45 s timeout, then unhealthy', () => {
    const run = simulate(refuse);
    expect(run.checks).toEqual([...Array.from({ length: 22 }, (_, i) => 2 * (i + 1)), 45]);
    expect(run.verdict).toEqual(final('UNHEALTHY', REFUSED_PAST_STARTUP_TIMEOUT));
  });

  it('scenario 33: maxRetries 2, refusals do not count, the 3rd bad status fails', () => {
    const script = [refuse(), refuse(), respond(500), respond(500), respond(500)];
    let i = 0;
    const run = simulate(() => script[i++], { maxRetries: 2 });
    expect(run.checks).toEqual([2, 4, 6, 11, 16]);
    expect(run.verdict).toEqual(expect.objectContaining({ status: 'UNHEALTHY', reason: MAX_RETRIES_EXCEEDED, countedFailures: 3 }));
  });

  it('scenario 33: a failure status code fails at once', () => {
    const run = simulate((s) => (s < 3 ? refuse() : respond(503)), { maxRetries: 2, failureStatusCodes: [503] });
    expect(run.checks).toEqual([2, 4]);
    expect(run.verdict).toEqual(final('UNHEALTHY', FAILURE_STATUS_CODE));
  });

  it('timeouts: interval + timeout per attempt, within the deploy budget', () => {
    const run = simulate(timeout, { maxRetries: 2, startupDelaySeconds: 0 });
    expect(run.checks).toEqual([0, 10, 20]);
    expect(run.endedAt).toBe(25);
    expect(run.endedAt).toBeLessThanOrEqual(75);
    expect(run.verdict).toEqual(final('UNHEALTHY', MAX_RETRIES_EXCEEDED));
  });

  it('startupDelaySeconds, then intervalSeconds between counted failures, then healthy', () => {
    const run = simulate((s) => (s < 20 ? respond(500, 100) : respond(200, 100)), { startupDelaySeconds: 10, maxRetries: 3 });
    expect(run.checks).toEqual([10, 15.1, 20.2]);
    expect(run.verdict.status).toBe('HEALTHY');
  });

  it('the tracker can resume from stored results (e.g. after a leader change)', () => {
    const tracker = new HealthcheckTracker(options({ maxRetries: 1 }), T0, [refused(2), bad(4)]);
    expect(tracker.verdict(at(5))).toEqual(pending(9));
    tracker.record(bad(9));
    expect(tracker.verdict(at(9)).status).toBe('UNHEALTHY');
    expect(tracker.results).toHaveLength(3);
  });
});
