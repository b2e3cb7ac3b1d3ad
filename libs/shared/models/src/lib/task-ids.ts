import { PENDING_TYPES, type PendingType } from './enums';
import type { SingularityPendingTaskId, SingularityTaskId } from './task-id';

/** Host and rack parts of ids use `_` for `-`, because `-` separates the parts. */
export function sanitizeIdPart(value: string): string {
  return value.replace(/-/g, '_');
}

export function buildTaskId(parts: {
  requestId: string;
  deployId: string;
  startedAt: number;
  instanceNo: number;
  host: string;
  rackId: string;
}): SingularityTaskId {
  const sanitizedHost = sanitizeIdPart(parts.host);
  const sanitizedRackId = sanitizeIdPart(parts.rackId);
  return {
    requestId: parts.requestId,
    deployId: parts.deployId,
    startedAt: parts.startedAt,
    instanceNo: parts.instanceNo,
    host: parts.host,
    sanitizedHost,
    rackId: parts.rackId,
    sanitizedRackId,
    id: `${parts.requestId}-${parts.deployId}-${parts.startedAt}-${parts.instanceNo}-${sanitizedHost}-${sanitizedRackId}`,
  };
}

export class InvalidIdError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidIdError';
  }
}

function parseIntPart(value: string, what: string, id: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidIdError(`${what} '${value}' of id '${id}' is not a number`);
  return Number(value);
}

/**
 * Parses a task id string. Parsing runs from the right: host and rack never hold
 * `-`, and deploy ids never do (`[A-Za-z0-9_.]`), so everything left of the
 * deploy id is the request id, which may hold `-`. The host and rack come back
 * in their sanitized form, as the original does.
 */
export function parseTaskId(id: string): SingularityTaskId {
  const parts = id.split('-');
  if (parts.length < 6) throw new InvalidIdError(`'${id}' is not a task id (want requestId-deployId-startedAt-instanceNo-host-rackId)`);
  const sanitizedRackId = parts[parts.length - 1];
  const sanitizedHost = parts[parts.length - 2];
  const instanceNo = parseIntPart(parts[parts.length - 3], 'instanceNo', id);
  const startedAt = parseIntPart(parts[parts.length - 4], 'startedAt', id);
  const deployId = parts[parts.length - 5];
  const requestId = parts.slice(0, parts.length - 5).join('-');
  if (!requestId || !deployId || !sanitizedHost || !sanitizedRackId) throw new InvalidIdError(`'${id}' is not a task id: an empty part`);
  return {
    requestId,
    deployId,
    startedAt,
    instanceNo,
    host: sanitizedHost,
    sanitizedHost,
    rackId: sanitizedRackId,
    sanitizedRackId,
    id,
  };
}

export function buildPendingTaskId(parts: Omit<SingularityPendingTaskId, 'id'>): SingularityPendingTaskId {
  return {
    ...parts,
    id: `${parts.requestId}-${parts.deployId}-${parts.nextRunAt}-${parts.instanceNo}-${parts.pendingType}-${parts.createdAt}`,
  };
}

export function parsePendingTaskId(id: string): SingularityPendingTaskId {
  const parts = id.split('-');
  if (parts.length < 6) throw new InvalidIdError(`'${id}' is not a pending task id`);
  const createdAt = parseIntPart(parts[parts.length - 1], 'createdAt', id);
  const pendingType = parts[parts.length - 2] as PendingType;
  if (!PENDING_TYPES.includes(pendingType)) throw new InvalidIdError(`'${pendingType}' in '${id}' is not a pending type`);
  const instanceNo = parseIntPart(parts[parts.length - 3], 'instanceNo', id);
  const nextRunAt = parseIntPart(parts[parts.length - 4], 'nextRunAt', id);
  const deployId = parts[parts.length - 5];
  const requestId = parts.slice(0, parts.length - 5).join('-');
  if (!requestId || !deployId) throw new InvalidIdError(`'${id}' is not a pending task id: an empty part`);
  return { requestId, deployId, nextRunAt, instanceNo, pendingType, createdAt, id };
}

/** Directory-safe form of a task id (spec slave §1.3: `:` → `_`). */
export function safeTaskId(taskId: string): string {
  return taskId.replace(/[:/\\]/g, '_');
}
