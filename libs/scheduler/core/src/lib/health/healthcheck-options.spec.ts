import type { HealthcheckOptions, SingularityDeploy } from '@singularity/models';
import { aDeploy } from '../core.fixtures';
import { DEFAULT_SCHEDULER_SETTINGS } from '../settings';
import { deployHealthBudgetMillis, healthcheckBudgetSeconds, resolveHealthcheck } from './healthcheck-options';

const withCheck = (healthcheck: HealthcheckOptions, more: Partial<SingularityDeploy> = {}) => aDeploy({ healthcheck, ...more });

describe('resolveHealthcheck', () => {
  it('is undefined without a check uri (none, or a result-file check only)', () => {
    expect(resolveHealthcheck(aDeploy())).toBeUndefined();
    expect(resolveHealthcheck(withCheck({ healthcheckResultFilePath: 'healthy' }))).toBeUndefined();
    expect(resolveHealthcheck(withCheck({ uri: '' }))).toBeUndefined();
  });

  it('fills the defaults of spec §3.4/§5', () => {
    expect(resolveHealthcheck(withCheck({ uri: '/health' }))).toEqual({
      uri: '/health',
      portIndex: 0,
      protocol: 'HTTP',
      method: 'GET',
      startupIntervalSeconds: 2,
      intervalSeconds: 5,
      responseTimeoutSeconds: 5,
      startupTimeoutSeconds: 45,
      maxRetries: 0,
      failureStatusCodes: [],
    });
  });

  it('keeps what the deploy sets', () => {
    const options: HealthcheckOptions = {
      uri: 'status',
      portNumber: 8080,
      protocol: 'HTTPS',
      method: 'POST',
      startupDelaySeconds: 0,
      startupIntervalSeconds: 1,
      intervalSeconds: 7,
      responseTimeoutSeconds: 3,
      startupTimeoutSeconds: 30,
      maxRetries: 2,
      failureStatusCodes: [503],
    };
    expect(resolveHealthcheck(withCheck(options))).toEqual({ ...options, portIndex: 0 });
  });

  it.each<[string, Record<string, unknown>, HealthcheckOptions, Record<string, unknown>]>([
    ['settings replace the defaults', { healthcheckIntervalSeconds: 9, healthcheckTimeoutSeconds: 4, startupTimeoutSeconds: 60, startupIntervalSeconds: 3 }, {}, { intervalSeconds: 9, responseTimeoutSeconds: 4, startupTimeoutSeconds: 60, startupIntervalSeconds: 3 }],
    ['settings startupDelaySeconds', { startupDelaySeconds: 10 }, {}, { startupDelaySeconds: 10 }],
    ['settings healthcheckMaxRetries', { healthcheckMaxRetries: 3 }, {}, { maxRetries: 3 }],
    ['settings failure status codes', { healthcheckFailureStatusCodes: [500, 503] }, {}, { failureStatusCodes: [500, 503] }],
    ['the deploy wins over settings', { healthcheckMaxRetries: 3, healthcheckFailureStatusCodes: [500] }, { maxRetries: 1, failureStatusCodes: [] }, { maxRetries: 1, failureStatusCodes: [] }],
    ['an undefined setting keeps the default', { healthcheckIntervalSeconds: undefined }, {}, { intervalSeconds: 5 }],
  ])('%s', (_name, settings, options, expected) => {
    expect(resolveHealthcheck(withCheck({ uri: '/h', ...options }), settings)).toMatchObject(expected);
  });

  it('accepts the scheduler settings as they are', () => {
    expect(resolveHealthcheck(withCheck({ uri: '/h' }), DEFAULT_SCHEDULER_SETTINGS)?.intervalSeconds).toBe(5);
  });

  it('returns its own copy of the failure status codes', () => {
    const codes = [503];
    const resolved = resolveHealthcheck(withCheck({ uri: '/h', failureStatusCodes: codes }));
    resolved?.failureStatusCodes.push(500);
    expect(codes).toEqual([503]);
    expect(resolveHealthcheck(withCheck({ uri: '/h' }))?.failureStatusCodes).toEqual([]);
  });
});

describe('deployHealthBudgetMillis (spec §2.3 step 5)', () => {
  it.each<[string, Partial<SingularityDeploy>, Record<string, unknown>, number]>([
    ['no check: 120 + considerHealthyAfterRunningForSeconds 5', {}, {}, 125],
    ['default check: 120 + 45 + (5 + 5) × 1', { healthcheck: { uri: '/h' } }, {}, 175],
    ['maxRetries 2: 120 + 45 + 10 × 3', { healthcheck: { uri: '/h', maxRetries: 2 } }, {}, 195],
    ['deploy timings', { deployHealthTimeoutSeconds: 60, healthcheck: { uri: '/h', startupTimeoutSeconds: 30, intervalSeconds: 10, responseTimeoutSeconds: 3, maxRetries: 2 } }, {}, 60 + 30 + 13 * 3],
    ['skipHealthchecksOnDeploy: as without a check', { healthcheck: { uri: '/h' }, skipHealthchecksOnDeploy: true }, {}, 125],
    ['considerHealthyAfterRunningForSeconds 0', { considerHealthyAfterRunningForSeconds: 0 }, {}, 120],
    ['a result-file check is an active check', { healthcheck: { healthcheckResultFilePath: 'ok' } }, {}, 175],
    ['settings: deployHealthyBySeconds and check timings', { healthcheck: { uri: '/h' } }, { deployHealthyBySeconds: 60, startupTimeoutSeconds: 20, healthcheckMaxRetries: 1 }, 60 + 20 + 10 * 2],
    ['settings: considerTaskHealthyAfterRunningForSeconds', {}, { considerTaskHealthyAfterRunningForSeconds: 30 }, 150],
  ])('%s', (_name, deploy, settings, seconds) => {
    expect(deployHealthBudgetMillis(aDeploy(deploy), settings)).toBe(seconds * 1000);
  });

  it('takes the scheduler settings as they are', () => {
    expect(deployHealthBudgetMillis(aDeploy(), { ...DEFAULT_SCHEDULER_SETTINGS, deployHealthyBySeconds: 10 })).toBe(15_000);
  });

  it('healthcheckBudgetSeconds is startup + (interval + timeout) × (maxRetries + 1)', () => {
    expect(healthcheckBudgetSeconds({ startupTimeoutSeconds: 45, intervalSeconds: 5, responseTimeoutSeconds: 5, maxRetries: 0 })).toBe(55);
    expect(healthcheckBudgetSeconds({ startupTimeoutSeconds: 10, intervalSeconds: 2, responseTimeoutSeconds: 1, maxRetries: 4 })).toBe(25);
  });
});
