import { InvalidRequestError } from '@singularity/util';
import fc from 'fast-check';
import { REQUEST_TYPES, type RequestType } from '../enums';
import type { SingularityRequest } from '../request';
import { FieldReader } from './field-reader';
import { effectiveAgentPlacement, readRequest, validateRequest, validateRequestUpdate } from './request.validator';
import { DEFAULT_VALIDATION_LIMITS } from './validation-limits';

/** Runs `fn`, expects an InvalidRequestError and returns it. */
function invalid(fn: () => unknown): InvalidRequestError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidRequestError);
    return err as InvalidRequestError;
  }
  throw new Error('expected an InvalidRequestError, but the input was accepted');
}

function expectInvalid(fn: () => unknown, field: string, message?: string | RegExp): void {
  const err = invalid(fn);
  expect(err.field).toBe(field);
  expect(err.status).toBe(400);
  expect(err.message.startsWith(`${field}: `)).toBe(true);
  if (typeof message === 'string') expect(err.message).toBe(message);
  else if (message) expect(err.message).toMatch(message);
}

describe('validateRequest', () => {
  describe('acceptance examples', () => {
    it('accepts a SERVICE with owners and two instances', () => {
      const request = validateRequest({ id: 'x', owners: ['a@b.c'], requestType: 'SERVICE', instances: 2 });
      expect(request).toEqual({ id: 'x', owners: ['a@b.c'], requestType: 'SERVICE', instances: 2 });
    });

    it('rejects a missing id', () => {
      expectInvalid(() => validateRequest({ owners: ['a@b.c'], requestType: 'SERVICE' }), 'id', 'id: required');
    });

    it('rejects instances -1', () => {
      expectInvalid(
        () => validateRequest({ id: 'x', requestType: 'SERVICE', instances: -1 }),
        'instances',
        'instances: must be at least 1 (got -1)',
      );
    });

    it('rejects an id holding a slash', () => {
      expectInvalid(
        () => validateRequest({ id: 'a/b', requestType: 'SERVICE' }),
        'id',
        "id: may contain only letters, digits, '_' and '-' (got 'a/b')",
      );
    });

    it('rejects an unknown requestType', () => {
      expectInvalid(
        () => validateRequest({ id: 'x', requestType: 'FOO' }),
        'requestType',
        "requestType: must be one of SERVICE, WORKER, SCHEDULED, ON_DEMAND, RUN_ONCE (got 'FOO')",
      );
    });
  });

  it('rejects a body that is not an object', () => {
    for (const body of [null, undefined, 'x', 3, []]) {
      expectInvalid(() => validateRequest(body), 'body', /^body: must be a JSON object/);
    }
  });

  it('drops unknown fields and treats null as absent', () => {
    expect(validateRequest({ id: 'x', requestType: 'WORKER', bogus: 1, owners: null, instances: null })).toEqual({
      id: 'x',
      requestType: 'WORKER',
    });
  });

  describe('id', () => {
    it.each([
      ['my-web_app-2', true],
      ['a', true],
      ['a.b', false],
      ['a b', false],
      ['', false],
    ])('%j valid: %s', (id, ok) => {
      const run = () => validateRequest({ id, requestType: 'WORKER' });
      if (ok) expect(run().id).toBe(id);
      else expectInvalid(run, 'id');
    });

    it('may be as long as maxRequestIdSize, not longer', () => {
      expect(validateRequest({ id: 'a'.repeat(100), requestType: 'WORKER' }).id).toHaveLength(100);
      expectInvalid(() => validateRequest({ id: 'a'.repeat(101), requestType: 'WORKER' }), 'id', 'id: must be at most 100 characters (got 101)');
      expectInvalid(
        () => validateRequest({ id: 'abcdef', requestType: 'WORKER' }, { ...DEFAULT_VALIDATION_LIMITS, maxRequestIdSize: 5 }),
        'id',
      );
    });

    it('must be a string', () => {
      expectInvalid(() => validateRequest({ id: 7 }), 'id', 'id: must be a string (got 7)');
    });
  });

  describe('requestType inference (spec §1)', () => {
    it.each<[Record<string, unknown>, RequestType]>([
      [{ schedule: '0 * * * *' }, 'SCHEDULED'],
      [{ quartzSchedule: '0 0 * * * ?' }, 'SCHEDULED'],
      [{ daemon: false }, 'ON_DEMAND'],
      [{ daemon: true }, 'WORKER'],
      [{ loadBalanced: true }, 'SERVICE'],
      [{ loadBalanced: false }, 'WORKER'],
      [{}, 'WORKER'],
    ])('%j → %s', (fields, type) => {
      const request = validateRequest({ id: 'x', ...fields });
      expect(request.requestType).toBe(type);
      expect(request).not.toHaveProperty('daemon');
    });

    it('keeps an explicit type over the hints', () => {
      expect(validateRequest({ id: 'x', requestType: 'RUN_ONCE', daemon: false }).requestType).toBe('RUN_ONCE');
    });

    it('checks the types of the hints', () => {
      expectInvalid(() => validateRequest({ id: 'x', daemon: 'no' }), 'daemon', "daemon: must be true or false (got 'no')");
    });
  });

  describe('instances', () => {
    it.each([
      [{ instances: 0 }, 'instances: must be at least 1 (got 0)'],
      [{ instances: 26 }, 'instances: must be at most 25 (got 26)'],
      [{ instances: 1.5 }, 'instances: must be an integer (got 1.5)'],
      [{ instances: '2' }, "instances: must be an integer (got '2')"],
      [{ instances: 5, maxScale: 4 }, 'instances: must be at most maxScale 4 (got 5)'],
    ])('%j → 400', (fields, message) => {
      expectInvalid(() => validateRequest({ id: 'x', requestType: 'WORKER', ...fields }), 'instances', message);
    });

    it('follows maxNumInstancesPerRequest', () => {
      const limits = { ...DEFAULT_VALIDATION_LIMITS, maxNumInstancesPerRequest: 3 };
      expect(validateRequest({ id: 'x', requestType: 'WORKER', instances: 3 }, limits).instances).toBe(3);
      expectInvalid(() => validateRequest({ id: 'x', requestType: 'WORKER', instances: 4 }, limits), 'instances');
    });

    it('is exactly 1 for SCHEDULED', () => {
      expectInvalid(
        () => validateRequest({ id: 'x', requestType: 'SCHEDULED', schedule: '* * * * *', instances: 2 }),
        'instances',
        'instances: must be 1 for SCHEDULED requests (got 2)',
      );
      expect(validateRequest({ id: 'x', requestType: 'SCHEDULED', schedule: '* * * * *', instances: 1 }).instances).toBe(1);
    });

    it('stays absent when not sent (ON_DEMAND has no cap then)', () => {
      expect(validateRequest({ id: 'x', requestType: 'ON_DEMAND' })).not.toHaveProperty('instances');
    });
  });

  describe('schedule fields (spec §1, §2.4)', () => {
    const scheduled = (fields: Record<string, unknown>) => validateRequest({ id: 'x', requestType: 'SCHEDULED', ...fields });

    it('are required for SCHEDULED', () => {
      expectInvalid(() => scheduled({}), 'schedule', 'schedule: required for SCHEDULED requests (or quartzSchedule)');
    });

    it('keeps schedule as given and stores its Quartz form (scenario 24)', () => {
      const request = scheduled({ schedule: '*/5 * * * *', scheduleType: 'CRON', scheduleTimeZone: 'America/New_York' });
      expect(request).toMatchObject({
        schedule: '*/5 * * * *',
        quartzSchedule: '0 */5 * * * ?',
        scheduleType: 'CRON',
        scheduleTimeZone: 'America/New_York',
      });
    });

    it.each([
      [{ schedule: '0 12 * * 0-5' }, '0 0 12 ? * SUN-FRI'],
      [{ schedule: '0 12 * * 0-5', scheduleType: 'CRON' }, '0 0 12 ? * SUN-FRI'],
      [{ schedule: '0 0 12 ? * 2-6', scheduleType: 'QUARTZ' }, '0 0 12 ? * 2-6'],
      [{ schedule: '0 0 12 ? * MON' }, '0 0 12 ? * MON'],
      [{ quartzSchedule: '0 0 12 ? * MON' }, '0 0 12 ? * MON'],
      [{ quartzSchedule: '0 0 12 * * mon', scheduleType: 'QUARTZ' }, '0 0 12 ? * MON'],
      // schedule is the source; a quartzSchedule sent with it (e.g. echoed from a GET) is recomputed.
      [{ schedule: '0 * * * *', quartzSchedule: '0 0 0 1 1 ? 2000' }, '0 0 * * * ?'],
    ])('%j → quartzSchedule %j', (fields, quartz) => {
      const request = scheduled(fields);
      expect(request.quartzSchedule).toBe(quartz);
      expect(request.schedule).toBe((fields as { schedule?: string }).schedule);
      expect(request.scheduleType).toBe((fields as { scheduleType?: string }).scheduleType);
    });

    it.each<[Record<string, unknown>, string, string | RegExp]>([
      [{ schedule: '61 * * * *' }, 'schedule', "schedule: minute value 61 is out of range 0-59 (in '61 * * * *')"],
      [{ schedule: '0 12 * * 8' }, 'schedule', /^schedule: day-of-week value 8 is out of range 0-7/],
      [{ schedule: 'every day' }, 'schedule', /^schedule: a schedule has 5 fields .* got 2/],
      [{ schedule: '0 12 * * 1', scheduleType: 'QUARTZ' }, 'schedule', /^schedule: a Quartz schedule has 6 or 7 fields .*use scheduleType CRON/],
      [{ schedule: '0 0 12 1 * MON' }, 'schedule', /^schedule: day-of-month and day-of-week cannot both be set/],
      [{ quartzSchedule: '0 0 25 * * ?' }, 'quartzSchedule', /^quartzSchedule: hour value 25 is out of range 0-23/],
      [{ quartzSchedule: '0 0 * * * ?', scheduleType: 'CRON' }, 'scheduleType', /^scheduleType: must be QUARTZ or absent/],
      [{ schedule: 'FREQ=DAILY', scheduleType: 'RFC5545' }, 'scheduleType', /^scheduleType: RFC5545 \(RRULE\) schedules are not supported yet/],
      [{ schedule: '' }, 'schedule', 'schedule: required (got an empty string)'],
      [{ schedule: 5 }, 'schedule', 'schedule: must be a string (got 5)'],
    ])('%j → 400 on %s', (fields, field, message) => {
      expectInvalid(() => scheduled(fields), field, message);
    });

    it('infers SCHEDULED from schedule and names nested fields by their path', () => {
      expectInvalid(() => validateRequest({ id: 'x', schedule: '0 99 * * *' }), 'schedule', /^schedule: hour value 99/);
      const nested = FieldReader.of({ id: 'x', schedule: '0 99 * * *' }, 'updatedRequest');
      expectInvalid(() => readRequest(nested, DEFAULT_VALIDATION_LIMITS), 'updatedRequest.schedule', /^updatedRequest\.schedule: hour value 99/);
    });

    it.each(['schedule', 'quartzSchedule', 'scheduleType'])('%s is refused outside SCHEDULED', (key) => {
      const value = key === 'scheduleType' ? 'CRON' : '0 * * * *';
      expectInvalid(
        () => validateRequest({ id: 'x', requestType: 'WORKER', [key]: value }),
        key,
        `${key}: only SCHEDULED requests may have one (requestType is WORKER)`,
      );
    });

    it('refuses an unknown scheduleType', () => {
      expectInvalid(() => validateRequest({ id: 'x', schedule: '* * * * *', scheduleType: 'ISO' }), 'scheduleType');
    });

    it.each(['UTC', 'GMT', 'EST', 'America/New_York', 'Europe/Dublin'])('accepts the time zone %s', (zone) => {
      expect(scheduled({ schedule: '* * * * *', scheduleTimeZone: zone }).scheduleTimeZone).toBe(zone);
    });

    it.each(['Mars/Olympus', '', '+05:00', 5])('refuses the time zone %j (scenario 24)', (zone) => {
      expectInvalid(
        () => scheduled({ schedule: '* * * * *', scheduleTimeZone: zone }),
        'scheduleTimeZone',
        /^scheduleTimeZone: must be a known time zone such as 'America\/New_York' or 'UTC' \(got /,
      );
    });
  });

  describe('long-running rules', () => {
    it.each(['SCHEDULED', 'ON_DEMAND', 'RUN_ONCE'])('loadBalanced is refused for %s', (type) => {
      const schedule = type === 'SCHEDULED' ? { schedule: '* * * * *' } : {};
      expectInvalid(() => validateRequest({ id: 'x', requestType: type, loadBalanced: true, ...schedule }), 'loadBalanced');
      expect(validateRequest({ id: 'x', requestType: type, loadBalanced: false, ...schedule }).loadBalanced).toBe(false);
    });

    it.each(['SERVICE', 'WORKER'])('taskExecutionTimeLimitMillis is refused for %s', (type) => {
      expectInvalid(
        () => validateRequest({ id: 'x', requestType: type, taskExecutionTimeLimitMillis: 1000 }),
        'taskExecutionTimeLimitMillis',
        `taskExecutionTimeLimitMillis: only non-long-running requests may have one (requestType is ${type})`,
      );
    });

    it('allows taskExecutionTimeLimitMillis for non-long-running requests', () => {
      expect(validateRequest({ id: 'x', requestType: 'ON_DEMAND', taskExecutionTimeLimitMillis: 1000 }).taskExecutionTimeLimitMillis).toBe(1000);
    });
  });

  describe('agent / slave aliases (emit both, accept either)', () => {
    it.each([
      ['agentPlacement', 'slavePlacement', 'SEPARATE_BY_REQUEST'],
      ['requiredAgentAttributes', 'requiredSlaveAttributes', { rackid: 'r1' }],
      ['allowedAgentAttributes', 'allowedSlaveAttributes', { tier: 'web' }],
      ['agentAttributeMinimums', 'slaveAttributeMinimums', { zone: { a: 30, b: 30 } }],
    ])('%s | %s', (name, legacy, value) => {
      for (const key of [name, legacy]) {
        const request = validateRequest({ id: 'x', requestType: 'WORKER', [key]: value }) as unknown as Record<string, unknown>;
        expect(request[name]).toEqual(value);
        expect(request[legacy]).toEqual(value);
      }
    });

    it('prefers the new name when both are sent', () => {
      const request = validateRequest({ id: 'x', agentPlacement: 'SEPARATE', slavePlacement: 'GREEDY' });
      expect(request.agentPlacement).toBe('SEPARATE');
      expect(request.slavePlacement).toBe('SEPARATE');
    });

    it('names the key that was sent in errors', () => {
      expectInvalid(() => validateRequest({ id: 'x', slavePlacement: 'EVERYWHERE' }), 'slavePlacement', /^slavePlacement: must be one of SEPARATE, /);
      expectInvalid(() => validateRequest({ id: 'x', requiredSlaveAttributes: { rack: 1 } }), 'requiredSlaveAttributes.rack');
      expectInvalid(
        () => validateRequest({ id: 'x', agentAttributeMinimums: { zone: { a: 'half' } } }),
        'agentAttributeMinimums.zone.a',
        "agentAttributeMinimums.zone.a: must be an integer (got 'half')",
      );
    });

    it('gives the configured default placement when none is set', () => {
      expect(effectiveAgentPlacement(validateRequest({ id: 'x' }))).toBe('GREEDY');
      expect(effectiveAgentPlacement(validateRequest({ id: 'x', slavePlacement: 'OPTIMISTIC' }))).toBe('OPTIMISTIC');
      expect(effectiveAgentPlacement(validateRequest({ id: 'x' }), { ...DEFAULT_VALIDATION_LIMITS, defaultAgentPlacement: 'SEPARATE' })).toBe('SEPARATE');
    });

    it('emits hideEvenNumberAcrossRacksHint for either input name', () => {
      expect(validateRequest({ id: 'x', hideEvenNumberAcrossRacks: true })).toMatchObject({ hideEvenNumberAcrossRacksHint: true });
      expect(validateRequest({ id: 'x', hideEvenNumberAcrossRacks: true })).not.toHaveProperty('hideEvenNumberAcrossRacks');
    });
  });

  describe('field types', () => {
    it.each<[Record<string, unknown>, string]>([
      [{ owners: 'a@b.c' }, 'owners'],
      [{ owners: ['a@b.c', 3] }, 'owners[1]'],
      [{ owners: ['a@b.c', null] }, 'owners[1]'],
      [{ numRetriesOnFailure: -1, requestType: 'ON_DEMAND' }, 'numRetriesOnFailure'],
      [{ rackSensitive: 'yes' }, 'rackSensitive'],
      [{ rackAffinity: [1] }, 'rackAffinity[0]'],
      [{ killOldNonLongRunningTasksAfterMillis: 1.5 }, 'killOldNonLongRunningTasksAfterMillis'],
      [{ waitAtLeastMillisAfterTaskFinishesForReschedule: '10' }, 'waitAtLeastMillisAfterTaskFinishesForReschedule'],
      [{ requiredAgentAttributes: ['a'] }, 'requiredAgentAttributes'],
      [{ taskPriorityLevel: 1.5 }, 'taskPriorityLevel'],
      [{ taskPriorityLevel: -0.1 }, 'taskPriorityLevel'],
      [{ taskPriorityLevel: 'high' }, 'taskPriorityLevel'],
      [{ maxTasksPerOffer: 0.5 }, 'maxTasksPerOffer'],
      [{ group: 5 }, 'group'],
      [{ readOnlyGroups: 'g' }, 'readOnlyGroups'],
      [{ emailConfigurationOverrides: { TASK_LOST: ['NOBODY'] } }, 'emailConfigurationOverrides.TASK_LOST[0]'],
      [{ scheduledExpectedRuntimeMillis: true }, 'scheduledExpectedRuntimeMillis'],
      [{ skipHealthchecks: 0 }, 'skipHealthchecks'],
    ])('%j → 400 on %s', (fields, field) => {
      expectInvalid(() => validateRequest({ id: 'x', ...fields }), field);
    });

    it('keeps valid values of every field', () => {
      const input: SingularityRequest & { maxScale: number } = {
        id: 'full',
        requestType: 'ON_DEMAND',
        owners: ['a@b.c'],
        numRetriesOnFailure: 2,
        instances: 3,
        maxScale: 10,
        rackSensitive: true,
        killOldNonLongRunningTasksAfterMillis: 1000,
        taskExecutionTimeLimitMillis: 5000,
        waitAtLeastMillisAfterTaskFinishesForReschedule: 10,
        rackAffinity: ['r1'],
        agentPlacement: 'SEPARATE',
        slavePlacement: 'SEPARATE',
        requiredAgentAttributes: { a: 'b' },
        requiredSlaveAttributes: { a: 'b' },
        allowedAgentAttributes: { c: 'd' },
        allowedSlaveAttributes: { c: 'd' },
        agentAttributeMinimums: { z: { a: 50 } },
        slaveAttributeMinimums: { z: { a: 50 } },
        scheduledExpectedRuntimeMillis: 20,
        group: 'g',
        readWriteGroups: ['rw'],
        readOnlyGroups: ['ro'],
        bounceAfterScale: true,
        skipHealthchecks: false,
        taskPriorityLevel: 0.5,
        maxTasksPerOffer: 2,
        allowBounceToSameHost: true,
        requiredRole: 'role',
        dataCenter: 'dc1',
        taskLogErrorRegex: 'ERROR',
        taskLogErrorRegexCaseSensitive: false,
        hideEvenNumberAcrossRacksHint: true,
        emailConfigurationOverrides: { TASK_FAILED: ['OWNERS', 'ADMINS'] },
      };
      expect(validateRequest(input)).toEqual(input);
    });
  });

  describe('owners policy', () => {
    const strict = { ...DEFAULT_VALIDATION_LIMITS, allowRequestsWithoutOwners: false };

    it('requires an owner when allowRequestsWithoutOwners is off', () => {
      expectInvalid(() => validateRequest({ id: 'x' }, strict), 'owners', /^owners: required/);
      expectInvalid(() => validateRequest({ id: 'x', owners: [] }, strict), 'owners');
      expect(validateRequest({ id: 'x', owners: ['a@b.c'] }, strict).owners).toEqual(['a@b.c']);
    });

    it('does not by default', () => {
      expect(validateRequest({ id: 'x' })).not.toHaveProperty('owners');
    });
  });

  describe('normalization is idempotent (property)', () => {
    const id = fc.stringMatching(/^[A-Za-z0-9_-]{1,100}$/);
    const text = fc.string({ maxLength: 12 });
    const stringMap = fc.dictionary(text, text, { maxKeys: 3 });
    const placement = fc.constantFrom('SEPARATE', 'OPTIMISTIC', 'GREEDY', 'SEPARATE_BY_DEPLOY', 'SEPARATE_BY_REQUEST', 'SPREAD_ALL_SLAVES', 'SPREAD_ALL_AGENTS');
    const common = {
      id,
      owners: fc.array(text, { maxLength: 3 }),
      rackAffinity: fc.array(text, { maxLength: 2 }),
      requiredSlaveAttributes: stringMap,
      allowedAgentAttributes: stringMap,
      slaveAttributeMinimums: fc.dictionary(text, fc.dictionary(text, fc.integer({ min: 0, max: 100 }), { maxKeys: 2 }), { maxKeys: 2 }),
      taskPriorityLevel: fc.double({ min: 0, max: 1, noNaN: true }),
      skipHealthchecks: fc.boolean(),
      maxTasksPerOffer: fc.integer({ min: 0, max: 10 }),
      scheduleTimeZone: fc.constantFrom('UTC', 'America/New_York', 'Europe/Dublin'),
      emailConfigurationOverrides: fc.dictionary(text, fc.array(fc.constantFrom('OWNERS', 'ACTION_TAKER', 'ADMINS'), { maxLength: 3 }), { maxKeys: 2 }),
      hideEvenNumberAcrossRacks: fc.boolean(),
      junk: fc.anything(),
    };
    const longRunning = fc.record(
      {
        ...common,
        requestType: fc.constantFrom('SERVICE', 'WORKER'),
        instances: fc.integer({ min: 1, max: 25 }),
        agentPlacement: placement,
        loadBalanced: fc.boolean(),
      },
      { requiredKeys: ['id'] },
    );
    const nonLongRunning = fc.record(
      {
        ...common,
        requestType: fc.constantFrom('ON_DEMAND', 'RUN_ONCE'),
        daemon: fc.constant(false),
        instances: fc.integer({ min: 1, max: 25 }),
        slavePlacement: placement,
        taskExecutionTimeLimitMillis: fc.integer({ min: 1, max: 10 ** 9 }),
        numRetriesOnFailure: fc.integer({ min: 0, max: 5 }),
      },
      { requiredKeys: ['id', 'requestType'] },
    );
    const scheduled = fc.record(
      {
        ...common,
        requestType: fc.constant('SCHEDULED'),
        schedule: fc.constantFrom('*/5 * * * *', '0 12 * * 0-5', '0 0 12 L * ?'),
        scheduleType: fc.constant('CRON'),
        instances: fc.constant(1),
      },
      { requiredKeys: ['id', 'schedule'] },
    );
    const quartzScheduled = fc.record(
      {
        ...common,
        requestType: fc.constant('SCHEDULED'),
        schedule: fc.constantFrom('0 */5 * * * ?', '0 0 12 ? * 1-6', '0 15 10 ? * 6L 2030-2040'),
        scheduleType: fc.constant('QUARTZ'),
      },
      { requiredKeys: ['id', 'schedule', 'scheduleType'] },
    );

    it('a valid request round-trips through JSON and validates to the same value', () => {
      fc.assert(
        fc.property(fc.oneof(longRunning, nonLongRunning, scheduled, quartzScheduled), (input) => {
          const once = validateRequest(input);
          expect(REQUEST_TYPES).toContain(once.requestType);
          const twice = validateRequest(JSON.parse(JSON.stringify(once)));
          expect(twice).toEqual(once);
          // Aliases stay in step.
          expect(twice.agentPlacement).toEqual(twice.slavePlacement);
          expect(twice.requiredAgentAttributes).toEqual(twice.requiredSlaveAttributes);
          expect(twice.allowedAgentAttributes).toEqual(twice.allowedSlaveAttributes);
          expect(twice.agentAttributeMinimums).toEqual(twice.slaveAttributeMinimums);
          // Every SCHEDULED request carries the Quartz form the scheduler fires on.
          if (twice.requestType === 'SCHEDULED') expect(twice.quartzSchedule).toEqual(expect.any(String));
        }),
        { numRuns: 300 },
      );
    });
  });
});

describe('validateRequestUpdate', () => {
  const existing = (requestType: RequestType, loadBalanced?: boolean): SingularityRequest => ({
    id: 'x',
    requestType,
    ...(loadBalanced === undefined ? {} : { loadBalanced }),
    ...(requestType === 'SCHEDULED' ? { schedule: '* * * * *' } : {}),
  });

  it.each<[RequestType, boolean | undefined, RequestType, boolean | undefined, boolean]>([
    ['SERVICE', undefined, 'WORKER', undefined, true],
    ['SERVICE', false, 'WORKER', false, true],
    ['WORKER', undefined, 'SERVICE', undefined, true],
    ['SERVICE', true, 'WORKER', true, false],
    ['WORKER', undefined, 'SERVICE', true, false],
    ['SERVICE', undefined, 'SCHEDULED', undefined, false],
    ['ON_DEMAND', undefined, 'RUN_ONCE', undefined, false],
    ['SCHEDULED', undefined, 'ON_DEMAND', undefined, false],
    ['WORKER', undefined, 'WORKER', undefined, true],
  ])('%s (lb %s) → %s (lb %s): allowed %s', (fromType, fromLb, toType, toLb, allowed) => {
    const next = { ...existing(toType, toLb) };
    const run = () => validateRequestUpdate(existing(fromType, fromLb), next);
    if (allowed) expect(run().requestType).toBe(toType);
    else {
      const err = invalid(run);
      expect(err.field).toBe('requestType');
      expect(err.message).toMatch(new RegExp(`^requestType: cannot change from ${fromType} to ${toType}`));
    }
  });

  it('keeps loadBalanced immutable', () => {
    expectInvalid(
      () => validateRequestUpdate(existing('SERVICE', true), { id: 'x', requestType: 'SERVICE', loadBalanced: false }),
      'loadBalanced',
      'loadBalanced: cannot change (was true, got false)',
    );
    expectInvalid(() => validateRequestUpdate(existing('SERVICE'), { id: 'x', requestType: 'SERVICE', loadBalanced: true }), 'loadBalanced');
    // Absent and false are the same thing.
    expect(validateRequestUpdate(existing('SERVICE', false), { id: 'x', requestType: 'SERVICE' }).requestType).toBe('SERVICE');
  });

  it('refuses a different id', () => {
    expectInvalid(() => validateRequestUpdate(existing('WORKER'), { id: 'y', requestType: 'WORKER' }), 'id');
  });

  it('still applies the request rules', () => {
    expectInvalid(() => validateRequestUpdate(existing('WORKER'), { id: 'x', requestType: 'WORKER', instances: 0 }), 'instances');
  });
});
