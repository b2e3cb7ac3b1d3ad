/**
 * The small bodies of the request and task actions (spec §2.4, §2.6, §4). Each
 * validator takes the parsed JSON body (undefined or null when the client sent
 * none, which is allowed wherever the spec marks the body optional `?`) and
 * returns the normalized body with unknown fields dropped.
 */
import type { SingularityRunNowRequest } from '../deploy';
import type { SingularityKillTaskRequest } from '../task';
import { readEnv, readMesosArtifact, readResources, checkPositiveResources, readShellCommand, type SingularityShellCommand } from './common-fields';
import { FieldReader, compact, invalidField } from './field-reader';
import { DEFAULT_VALIDATION_LIMITS, type ValidationLimits } from './validation-limits';

export const MAX_RUN_ID_LENGTH = 100;
const DAY_MILLIS = 24 * 60 * 60 * 1000;

export interface SingularityScaleRequest {
  instances: number;
  durationMillis?: number;
  skipHealthchecks?: boolean;
  actionId?: string;
  message?: string;
  bounce?: boolean;
  incremental?: boolean;
  skipEmailNotification?: boolean;
}

export interface SingularityPauseRequest {
  killTasks?: boolean;
  durationMillis?: number;
  actionId?: string;
  message?: string;
  runShellCommandBeforeKill?: SingularityShellCommand;
}

export interface SingularityUnpauseRequest {
  message?: string;
  actionId?: string;
  skipHealthchecks?: boolean;
}

export interface SingularityBounceRequest {
  incremental?: boolean;
  skipHealthchecks?: boolean;
  durationMillis?: number;
  actionId?: string;
  message?: string;
  runShellCommandBeforeKill?: SingularityShellCommand;
}

export interface SingularityDeleteRequestRequest {
  message?: string;
  actionId?: string;
  deleteFromLoadBalancer?: boolean;
}

export interface SingularityExitCooldownRequest {
  message?: string;
  actionId?: string;
  skipHealthchecks?: boolean;
}

/** The kill body of the model plus the reference's `runShellCommandBeforeKill`. */
export type ValidatedKillTaskRequest = SingularityKillTaskRequest & { runShellCommandBeforeKill?: SingularityShellCommand };

export interface RunNowValidationOptions {
  limits?: ValidationLimits;
  /** When given, `runAt` may lie at most `maxRunNowTaskLaunchDelayDays` after it (spec §2.4). */
  now?: number;
}

/**
 * `POST /requests/request/{id}/run` body, also a deploy's `runImmediately`.
 * `runId` stays absent when not sent: the caller assigns a UUID (it owns the
 * Random port). Attribute overrides are accepted under either name and emitted
 * under both.
 */
export function validateRunNowRequest(input: unknown, options: RunNowValidationOptions = {}): SingularityRunNowRequest {
  return readRunNowRequest(FieldReader.ofOptional(input), options);
}

export function readRunNowRequest(r: FieldReader, options: RunNowValidationOptions = {}): SingularityRunNowRequest {
  const limits = options.limits ?? DEFAULT_VALIDATION_LIMITS;
  const runAt = r.integer('runAt', { min: 0 });
  if (runAt !== undefined && options.now !== undefined) {
    const latest = options.now + limits.maxRunNowTaskLaunchDelayDays * DAY_MILLIS;
    if (runAt > latest) {
      throw invalidField(r.field('runAt'), `must be at most ${limits.maxRunNowTaskLaunchDelayDays} days from now (got ${runAt}, latest ${latest})`);
    }
  }
  const resources = r.read('resources', (value, field) => {
    const parsed = readResources(value, field, limits);
    checkPositiveResources(parsed, field);
    return parsed;
  });
  const requiredKey = r.firstPresent('requiredAgentAttributeOverrides', 'requiredSlaveAttributeOverrides');
  const required = requiredKey ? r.stringMap(requiredKey) : undefined;
  const allowedKey = r.firstPresent('allowedAgentAttributeOverrides', 'allowedSlaveAttributeOverrides');
  const allowed = allowedKey ? r.stringMap(allowedKey) : undefined;
  return compact({
    message: r.string('message'),
    skipHealthchecks: r.boolean('skipHealthchecks'),
    runId: r.string('runId', { nonEmpty: true, maxLength: MAX_RUN_ID_LENGTH }),
    commandLineArgs: r.stringList('commandLineArgs'),
    resources,
    runAsUserOverride: r.string('runAsUserOverride', { nonEmpty: true }),
    envOverrides: r.read('envOverrides', readEnv),
    requiredAgentAttributeOverrides: required,
    requiredSlaveAttributeOverrides: required,
    allowedAgentAttributeOverrides: allowed,
    allowedSlaveAttributeOverrides: allowed,
    extraArtifacts: r.list('extraArtifacts', readMesosArtifact),
    runAt,
  });
}

/** `PUT /requests/request/{id}/scale` (spec §2.6): `instances` is required. */
export function validateScaleRequest(input: unknown, limits: ValidationLimits = DEFAULT_VALIDATION_LIMITS): SingularityScaleRequest {
  const r = FieldReader.ofOptional(input);
  return compact({
    instances: r.requiredInteger('instances', { min: 1, max: limits.maxNumInstancesPerRequest }),
    durationMillis: r.integer('durationMillis', { min: 0 }),
    skipHealthchecks: r.boolean('skipHealthchecks'),
    actionId: r.string('actionId'),
    message: r.string('message'),
    bounce: r.boolean('bounce'),
    incremental: r.boolean('incremental'),
    skipEmailNotification: r.boolean('skipEmailNotification'),
  });
}

/** `POST /requests/request/{id}/pause` (optional body). `killTasks` defaults (true) are the caller's. */
export function validatePauseRequest(input: unknown): SingularityPauseRequest {
  const r = FieldReader.ofOptional(input);
  return compact({
    killTasks: r.boolean('killTasks'),
    durationMillis: r.integer('durationMillis', { min: 0 }),
    actionId: r.string('actionId'),
    message: r.string('message'),
    runShellCommandBeforeKill: r.read('runShellCommandBeforeKill', readShellCommand),
  });
}

/** `POST /requests/request/{id}/unpause` (optional body). */
export function validateUnpauseRequest(input: unknown): SingularityUnpauseRequest {
  const r = FieldReader.ofOptional(input);
  return compact({
    message: r.string('message'),
    actionId: r.string('actionId'),
    skipHealthchecks: r.boolean('skipHealthchecks'),
  });
}

/** `POST /requests/request/{id}/bounce` (optional body). */
export function validateBounceRequest(input: unknown): SingularityBounceRequest {
  const r = FieldReader.ofOptional(input);
  return compact({
    incremental: r.boolean('incremental'),
    skipHealthchecks: r.boolean('skipHealthchecks'),
    durationMillis: r.integer('durationMillis', { min: 0 }),
    actionId: r.string('actionId'),
    message: r.string('message'),
    runShellCommandBeforeKill: r.read('runShellCommandBeforeKill', readShellCommand),
  });
}

/** `DELETE /tasks/task/{id}` (optional body). */
export function validateKillTaskRequest(input: unknown): ValidatedKillTaskRequest {
  const r = FieldReader.ofOptional(input);
  return compact({
    override: r.boolean('override'),
    message: r.string('message'),
    actionId: r.string('actionId'),
    waitForReplacementTask: r.boolean('waitForReplacementTask'),
    runShellCommandBeforeKill: r.read('runShellCommandBeforeKill', readShellCommand),
  });
}

/** `DELETE /requests/request/{id}` (optional body). */
export function validateDeleteRequestRequest(input: unknown): SingularityDeleteRequestRequest {
  const r = FieldReader.ofOptional(input);
  return compact({
    message: r.string('message'),
    actionId: r.string('actionId'),
    deleteFromLoadBalancer: r.boolean('deleteFromLoadBalancer'),
  });
}

/** `POST /requests/request/{id}/exit-cooldown` (optional body). */
export function validateExitCooldownRequest(input: unknown): SingularityExitCooldownRequest {
  const r = FieldReader.ofOptional(input);
  return compact({
    message: r.string('message'),
    actionId: r.string('actionId'),
    skipHealthchecks: r.boolean('skipHealthchecks'),
  });
}
