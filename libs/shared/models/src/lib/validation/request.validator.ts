import { AGENT_PLACEMENTS, REQUEST_TYPES, SCHEDULE_TYPES, isLongRunning, type AgentPlacement, type RequestType } from '../enums';
import type { SingularityRequest } from '../request';
import { FieldReader, asInteger, asListOf, asMapOf, asOneOf, compact, describeValue, invalidField } from './field-reader';
import { isValidTimeZone, resolveQuartzSchedule } from './schedule';
import { DEFAULT_VALIDATION_LIMITS, type ValidationLimits } from './validation-limits';

// The schedule helpers are public through this module (the validation barrel exports it): the scheduler
// core evaluates the schedules this validator accepts.
export * from './schedule';

/** spec §1: request ids use `[A-Za-z0-9_-]` (task ids are parsed from the right, so `-` is fine here). */
export const REQUEST_ID_PATTERN = /^[A-Za-z0-9_-]+$/;

export const EMAIL_DESTINATIONS = ['OWNERS', 'ACTION_TAKER', 'ADMINS'] as const;

/**
 * A validated request. `maxScale` is a spec §1 field the 2020 reference (and so
 * `SingularityRequest`) does not have yet; it bounds `instances`.
 */
export type ValidatedRequest = SingularityRequest & { maxScale?: number };

/**
 * Validates and normalizes the body of `POST /requests` (spec §1 SingularityRequest).
 *
 * Normalization: `requestType` is inferred when absent; placement and
 * attribute fields are accepted under their new (`agent…`) or legacy
 * (`slave…`) name and emitted under both; `daemon` and
 * `hideEvenNumberAcrossRacks` are input-only and dropped; unknown fields are
 * dropped. Validating the output again yields the same value.
 */
export function validateRequest(input: unknown, limits: ValidationLimits = DEFAULT_VALIDATION_LIMITS): ValidatedRequest {
  return readRequest(FieldReader.of(input), limits);
}

/**
 * Validates an update of an existing request: everything `validateRequest`
 * checks, plus the change rules of spec §1 (the type may change only between
 * SERVICE without load balancing and WORKER; `loadBalanced` is immutable).
 */
export function validateRequestUpdate(
  existing: SingularityRequest,
  input: unknown,
  limits: ValidationLimits = DEFAULT_VALIDATION_LIMITS,
): ValidatedRequest {
  const next = validateRequest(input, limits);
  checkRequestChange(existing, next);
  return next;
}

/** The spec §1 change rules alone, for callers that already hold a validated request. */
export function checkRequestChange(existing: SingularityRequest, next: SingularityRequest, path = ''): void {
  const field = (key: string) => (path ? `${path}.${key}` : key);
  if (next.id !== existing.id) {
    throw invalidField(field('id'), `must equal the existing request's id ${describeValue(existing.id)} (got ${describeValue(next.id)})`);
  }
  if (next.requestType !== existing.requestType) {
    const serviceToWorker = existing.requestType === 'SERVICE' && !existing.loadBalanced && next.requestType === 'WORKER';
    const workerToService = existing.requestType === 'WORKER' && next.requestType === 'SERVICE' && !next.loadBalanced;
    if (!serviceToWorker && !workerToService) {
      throw invalidField(
        field('requestType'),
        `cannot change from ${existing.requestType} to ${next.requestType} (only SERVICE without loadBalanced and WORKER may change into each other)`,
      );
    }
  }
  if (Boolean(next.loadBalanced) !== Boolean(existing.loadBalanced)) {
    throw invalidField(field('loadBalanced'), `cannot change (was ${Boolean(existing.loadBalanced)}, got ${Boolean(next.loadBalanced)})`);
  }
}

/** The placement that applies to a request: its own, else the configured default (spec §5). */
export function effectiveAgentPlacement(request: SingularityRequest, limits: ValidationLimits = DEFAULT_VALIDATION_LIMITS): AgentPlacement {
  return request.agentPlacement ?? request.slavePlacement ?? limits.defaultAgentPlacement;
}

/** spec §1: `schedule`→SCHEDULED, `daemon:false`→ON_DEMAND, `loadBalanced:true`→SERVICE, else WORKER. */
function inferRequestType(r: FieldReader): RequestType {
  if (r.has('schedule') || r.has('quartzSchedule')) return 'SCHEDULED';
  if (r.boolean('daemon') === false) return 'ON_DEMAND';
  if (r.boolean('loadBalanced') === true) return 'SERVICE';
  return 'WORKER';
}

/** Shared by `validateRequest` and the `updatedRequest` of a deploy request. */
export function readRequest(r: FieldReader, limits: ValidationLimits): ValidatedRequest {
  const id = r.requiredString('id', {
    pattern: { regex: REQUEST_ID_PATTERN, explain: "may contain only letters, digits, '_' and '-'" },
  });
  if (id.length > limits.maxRequestIdSize) {
    throw invalidField(r.field('id'), `must be at most ${limits.maxRequestIdSize} characters (got ${id.length})`);
  }

  const requestType = r.oneOf('requestType', REQUEST_TYPES) ?? inferRequestType(r);
  const longRunning = isLongRunning(requestType);
  const scheduled = requestType === 'SCHEDULED';

  const owners = r.stringList('owners');
  if (!limits.allowRequestsWithoutOwners && (!owners || owners.length === 0)) {
    throw invalidField(r.field('owners'), 'required: name at least one owner (allowRequestsWithoutOwners is off)');
  }

  const maxScale = r.integer('maxScale', { min: 1 });
  const instances = r.integer('instances', { min: 1, max: limits.maxNumInstancesPerRequest });
  if (instances !== undefined && maxScale !== undefined && instances > maxScale) {
    throw invalidField(r.field('instances'), `must be at most maxScale ${maxScale} (got ${instances})`);
  }
  if (scheduled && instances !== undefined && instances !== 1) {
    throw invalidField(r.field('instances'), `must be 1 for SCHEDULED requests (got ${instances})`);
  }

  // Schedule fields belong to SCHEDULED requests only (spec §1). `schedule` is kept as given; the Quartz form
  // the scheduler fires on is derived into `quartzSchedule` (spec §2.4).
  const schedule = r.string('schedule', { nonEmpty: true });
  const quartzScheduleInput = r.string('quartzSchedule', { nonEmpty: true });
  const scheduleType = r.oneOf('scheduleType', SCHEDULE_TYPES);
  let quartzSchedule: string | undefined;
  if (scheduled) {
    quartzSchedule = resolveQuartzSchedule({ schedule, quartzSchedule: quartzScheduleInput, scheduleType }, (key) => r.field(key));
  } else {
    for (const key of ['schedule', 'quartzSchedule', 'scheduleType']) {
      if (r.has(key)) throw invalidField(r.field(key), `only SCHEDULED requests may have one (requestType is ${requestType})`);
    }
  }
  const scheduleTimeZone = r.read('scheduleTimeZone', (value, field) => {
    if (!isValidTimeZone(value)) {
      throw invalidField(field, `must be a known time zone such as 'America/New_York' or 'UTC' (got ${describeValue(value)})`);
    }
    return value;
  });

  const loadBalanced = r.boolean('loadBalanced');
  if (loadBalanced && !longRunning) {
    throw invalidField(r.field('loadBalanced'), `only long-running (SERVICE, WORKER) requests may be load balanced (requestType is ${requestType})`);
  }
  const taskExecutionTimeLimitMillis = r.integer('taskExecutionTimeLimitMillis', { min: 1 });
  if (taskExecutionTimeLimitMillis !== undefined && longRunning) {
    throw invalidField(
      r.field('taskExecutionTimeLimitMillis'),
      `only non-long-running requests may have one (requestType is ${requestType})`,
    );
  }

  // New name wins over the legacy one when both are sent; both are emitted.
  const placementKey = r.firstPresent('agentPlacement', 'slavePlacement');
  const placement = placementKey ? asOneOf(r.raw(placementKey), r.field(placementKey), AGENT_PLACEMENTS) : undefined;
  const requiredAttributes = readAliasedStringMap(r, 'requiredAgentAttributes', 'requiredSlaveAttributes');
  const allowedAttributes = readAliasedStringMap(r, 'allowedAgentAttributes', 'allowedSlaveAttributes');
  const minimumsKey = r.firstPresent('agentAttributeMinimums', 'slaveAttributeMinimums');
  const attributeMinimums = minimumsKey ? r.map(minimumsKey, readAttributeMinimum) : undefined;

  const hideHintKey = r.firstPresent('hideEvenNumberAcrossRacksHint', 'hideEvenNumberAcrossRacks');

  const request: ValidatedRequest = {
    id,
    requestType,
    owners,
    numRetriesOnFailure: r.integer('numRetriesOnFailure', { min: 0 }),
    schedule,
    quartzSchedule,
    scheduleType,
    scheduleTimeZone,
    instances,
    maxScale,
    rackSensitive: r.boolean('rackSensitive'),
    loadBalanced,
    killOldNonLongRunningTasksAfterMillis: r.integer('killOldNonLongRunningTasksAfterMillis', { min: 0 }),
    taskExecutionTimeLimitMillis,
    waitAtLeastMillisAfterTaskFinishesForReschedule: r.integer('waitAtLeastMillisAfterTaskFinishesForReschedule', { min: 0 }),
    rackAffinity: r.stringList('rackAffinity'),
    agentPlacement: placement,
    slavePlacement: placement,
    requiredAgentAttributes: requiredAttributes,
    requiredSlaveAttributes: requiredAttributes,
    allowedAgentAttributes: allowedAttributes,
    allowedSlaveAttributes: allowedAttributes,
    agentAttributeMinimums: attributeMinimums,
    slaveAttributeMinimums: attributeMinimums,
    scheduledExpectedRuntimeMillis: r.integer('scheduledExpectedRuntimeMillis', { min: 0 }),
    group: r.string('group'),
    readWriteGroups: r.stringList('readWriteGroups'),
    readOnlyGroups: r.stringList('readOnlyGroups'),
    bounceAfterScale: r.boolean('bounceAfterScale'),
    skipHealthchecks: r.boolean('skipHealthchecks'),
    taskPriorityLevel: r.read('taskPriorityLevel', (value, field) => {
      if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > 1) {
        throw invalidField(field, `must be a number between 0 and 1 (got ${describeValue(value)})`);
      }
      return value;
    }),
    maxTasksPerOffer: r.integer('maxTasksPerOffer', { min: 0 }),
    allowBounceToSameHost: r.boolean('allowBounceToSameHost'),
    requiredRole: r.string('requiredRole'),
    dataCenter: r.string('dataCenter'),
    taskLogErrorRegex: r.string('taskLogErrorRegex'),
    taskLogErrorRegexCaseSensitive: r.boolean('taskLogErrorRegexCaseSensitive'),
    hideEvenNumberAcrossRacksHint: hideHintKey ? r.boolean(hideHintKey) : undefined,
    emailConfigurationOverrides: r.map('emailConfigurationOverrides', (value, field) =>
      asListOf(value, field, (item, path) => asOneOf(item, path, EMAIL_DESTINATIONS)),
    ),
  };
  return compact(request);
}

function readAliasedStringMap(r: FieldReader, name: string, legacyName: string): Record<string, string> | undefined {
  const key = r.firstPresent(name, legacyName);
  return key ? r.stringMap(key) : undefined;
}

/** attribute → value → minimum percentage of agents (spec §1). */
function readAttributeMinimum(value: unknown, field: string): Record<string, number> {
  return asMapOf(value, field, (item, path) => asInteger(item, path, { min: 0, max: 100 }));
}
