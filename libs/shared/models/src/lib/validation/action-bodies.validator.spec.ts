import { InvalidRequestError } from '@singularity/util';
import {
  validateBounceRequest,
  validateDeleteRequestRequest,
  validateExitCooldownRequest,
  validateKillTaskRequest,
  validatePauseRequest,
  validateRunNowRequest,
  validateScaleRequest,
  validateUnpauseRequest,
} from './action-bodies.validator';
import { DEFAULT_VALIDATION_LIMITS } from './validation-limits';

function expectInvalid(fn: () => unknown, field: string, message?: string | RegExp): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(InvalidRequestError);
  const err = caught as InvalidRequestError;
  expect(err.field).toBe(field);
  expect(err.message.startsWith(`${field}: `)).toBe(true);
  if (typeof message === 'string') expect(err.message).toBe(message);
  else if (message) expect(err.message).toMatch(message);
}

const optionalBodies = {
  validateRunNowRequest: (input: unknown) => validateRunNowRequest(input),
  validatePauseRequest,
  validateUnpauseRequest,
  validateBounceRequest,
  validateKillTaskRequest,
  validateDeleteRequestRequest,
  validateExitCooldownRequest,
};

describe.each(Object.entries(optionalBodies))('%s', (_name, validate) => {
  it.each([undefined, null, {}])('reads %j as an empty body', (body) => {
    expect(validate(body)).toEqual({});
  });

  it('refuses a body that is not an object', () => {
    expectInvalid(() => validate('x'), 'body');
    expectInvalid(() => validate([1]), 'body');
  });

  it('drops unknown fields and checks message and actionId', () => {
    expect(validate({ whatever: 1 })).toEqual({});
    if (validate !== optionalBodies.validateRunNowRequest) expectInvalid(() => validate({ actionId: 3 }), 'actionId');
    expectInvalid(() => validate({ message: ['m'] }), 'message');
  });
});

describe('validateRunNowRequest', () => {
  it('keeps every field and emits attribute overrides under both names', () => {
    const body = validateRunNowRequest({
      message: 'go',
      skipHealthchecks: true,
      runId: 'run-1',
      commandLineArgs: ['--a', 'b'],
      resources: { cpus: 2, memoryMb: 128 },
      runAsUserOverride: 'other',
      envOverrides: { X: '1' },
      requiredSlaveAttributeOverrides: { rack: 'r1' },
      allowedAgentAttributeOverrides: { tier: 'batch' },
      extraArtifacts: ['http://x/y.tgz'],
      runAt: 1_700_000_000_000,
    });
    expect(body).toEqual({
      message: 'go',
      skipHealthchecks: true,
      runId: 'run-1',
      commandLineArgs: ['--a', 'b'],
      resources: { cpus: 2, memoryMb: 128, numPorts: 0, diskMb: 0 },
      runAsUserOverride: 'other',
      envOverrides: { X: '1' },
      requiredAgentAttributeOverrides: { rack: 'r1' },
      requiredSlaveAttributeOverrides: { rack: 'r1' },
      allowedAgentAttributeOverrides: { tier: 'batch' },
      allowedSlaveAttributeOverrides: { tier: 'batch' },
      extraArtifacts: [{ uri: 'http://x/y.tgz', cache: false, executable: false, extract: true }],
      runAt: 1_700_000_000_000,
    });
  });

  it('accepts a runId of 100 characters, not 101', () => {
    expect(validateRunNowRequest({ runId: 'r'.repeat(100) }).runId).toHaveLength(100);
    expectInvalid(() => validateRunNowRequest({ runId: 'r'.repeat(101) }), 'runId', 'runId: must be at most 100 characters (got 101)');
  });

  it.each<[Record<string, unknown>, string]>([
    [{ runId: 5 }, 'runId'],
    [{ runId: '' }, 'runId'],
    [{ commandLineArgs: '--a' }, 'commandLineArgs'],
    [{ commandLineArgs: ['--a', 1] }, 'commandLineArgs[1]'],
    [{ runAt: 'tomorrow' }, 'runAt'],
    [{ runAt: 1.5 }, 'runAt'],
    [{ resources: { cpus: 0 } }, 'resources.cpus'],
    [{ envOverrides: { STARTED_BY_USER: 'me' } }, 'envOverrides.STARTED_BY_USER'],
    [{ requiredAgentAttributeOverrides: { a: 1 } }, 'requiredAgentAttributeOverrides.a'],
    [{ skipHealthchecks: 'true' }, 'skipHealthchecks'],
  ])('%j → 400 on %s', (body, field) => {
    expectInvalid(() => validateRunNowRequest(body), field);
  });

  it('bounds runAt by maxRunNowTaskLaunchDelayDays when now is known', () => {
    const now = 1_000_000;
    const day = 24 * 60 * 60 * 1000;
    expect(validateRunNowRequest({ runAt: now + 30 * day }, { now }).runAt).toBe(now + 30 * day);
    expectInvalid(() => validateRunNowRequest({ runAt: now + 30 * day + 1 }, { now }), 'runAt', /^runAt: must be at most 30 days from now/);
    const limits = { ...DEFAULT_VALIDATION_LIMITS, maxRunNowTaskLaunchDelayDays: 1 };
    expectInvalid(() => validateRunNowRequest({ runAt: now + 2 * day }, { now, limits }), 'runAt');
  });
});

describe('validateScaleRequest', () => {
  it('requires instances', () => {
    expectInvalid(() => validateScaleRequest(undefined), 'instances', 'instances: required');
    expectInvalid(() => validateScaleRequest({}), 'instances', 'instances: required');
  });

  it.each<[unknown, string]>([
    [0, 'instances: must be at least 1 (got 0)'],
    [26, 'instances: must be at most 25 (got 26)'],
    [2.5, 'instances: must be an integer (got 2.5)'],
    ['3', "instances: must be an integer (got '3')"],
  ])('instances %j → 400', (instances, message) => {
    expectInvalid(() => validateScaleRequest({ instances }), 'instances', message);
  });

  it('keeps the optional fields', () => {
    const body = {
      instances: 3,
      durationMillis: 60000,
      skipHealthchecks: true,
      actionId: 'a1',
      message: 'm',
      bounce: true,
      incremental: false,
      skipEmailNotification: true,
    };
    expect(validateScaleRequest({ ...body, extra: 1 })).toEqual(body);
    expectInvalid(() => validateScaleRequest({ instances: 2, durationMillis: -5 }), 'durationMillis');
    expectInvalid(() => validateScaleRequest({ instances: 2, bounce: 'y' }), 'bounce');
  });
});

describe('validatePauseRequest / validateBounceRequest / validateKillTaskRequest', () => {
  const shell = { name: 'graceful-stop', options: ['--fast'] };

  it('keep their fields', () => {
    expect(validatePauseRequest({ killTasks: false, durationMillis: 10, actionId: 'a', message: 'm', runShellCommandBeforeKill: shell })).toEqual({
      killTasks: false,
      durationMillis: 10,
      actionId: 'a',
      message: 'm',
      runShellCommandBeforeKill: shell,
    });
    expect(validateBounceRequest({ incremental: true, skipHealthchecks: false, durationMillis: 5 })).toEqual({
      incremental: true,
      skipHealthchecks: false,
      durationMillis: 5,
    });
    expect(validateKillTaskRequest({ override: true, waitForReplacementTask: false, message: 'm', actionId: 'a' })).toEqual({
      override: true,
      waitForReplacementTask: false,
      message: 'm',
      actionId: 'a',
    });
    expect(validateDeleteRequestRequest({ deleteFromLoadBalancer: true })).toEqual({ deleteFromLoadBalancer: true });
    expect(validateUnpauseRequest({ skipHealthchecks: true })).toEqual({ skipHealthchecks: true });
    expect(validateExitCooldownRequest({ skipHealthchecks: false })).toEqual({ skipHealthchecks: false });
  });

  it.each<[string, () => unknown, string]>([
    ['pause killTasks', () => validatePauseRequest({ killTasks: 'no' }), 'killTasks'],
    ['pause shell command name', () => validatePauseRequest({ runShellCommandBeforeKill: {} }), 'runShellCommandBeforeKill.name'],
    ['bounce incremental', () => validateBounceRequest({ incremental: 1 }), 'incremental'],
    ['bounce durationMillis', () => validateBounceRequest({ durationMillis: 'soon' }), 'durationMillis'],
    ['kill override', () => validateKillTaskRequest({ override: 'true' }), 'override'],
    ['kill waitForReplacementTask', () => validateKillTaskRequest({ waitForReplacementTask: null, override: [] }), 'override'],
    ['delete deleteFromLoadBalancer', () => validateDeleteRequestRequest({ deleteFromLoadBalancer: 'y' }), 'deleteFromLoadBalancer'],
    ['exit-cooldown skipHealthchecks', () => validateExitCooldownRequest({ skipHealthchecks: 0 }), 'skipHealthchecks'],
  ])('%s → 400', (_name, run, field) => {
    expectInvalid(run, field);
  });
});
