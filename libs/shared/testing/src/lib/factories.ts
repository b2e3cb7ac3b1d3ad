/**
 * Factories with valid defaults (conventions §11): each returns a complete,
 * valid object, and a test overrides only what it is about —
 * `aRequest({ instances: 3 })`, `aDeploy({ command: 'false' })`.
 *
 * Defaults fit together: `aDeploy()` belongs to `aRequest()`, and task ids name
 * that request and deploy. Times are fixed (`FIXED_TIME`) so results are
 * reproducible; nothing here reads the clock or a random source.
 */
import {
  buildPendingTaskId,
  buildTaskId,
  type AgentRegistration,
  type SingularityDeploy,
  type SingularityPendingTask,
  type SingularityPendingTaskId,
  type SingularityRequest,
  type SingularityRequestParent,
  type SingularityTask,
  type SingularityTaskId,
} from '@singularity/models';

export const DEFAULT_REQUEST_ID = 'test-request';
export const DEFAULT_DEPLOY_ID = 'd1';
export const DEFAULT_AGENT_ID = 'agent-1';
export const DEFAULT_HOST = 'host1.example.com';
export const DEFAULT_RACK_ID = 'DEFAULT';
/** 2023-11-14T22:13:20Z: the time every factory stamps. */
export const FIXED_TIME = 1_700_000_000_000;

/**
 * A valid request (WORKER, one instance, one owner). A SCHEDULED override gets
 * a schedule unless it brings one.
 */
export function aRequest(overrides: Partial<SingularityRequest> = {}): SingularityRequest {
  const scheduled = overrides.requestType === 'SCHEDULED' && overrides.schedule === undefined && overrides.quartzSchedule === undefined;
  return {
    id: DEFAULT_REQUEST_ID,
    requestType: 'WORKER',
    owners: ['owner@example.com'],
    instances: 1,
    ...(scheduled ? { schedule: '*/5 * * * *' } : {}),
    ...overrides,
  };
}

/**
 * A valid command deploy of `aRequest()` with the default resources
 * {1 cpu, 64 MB, 0 ports, 0 disk}. When the override brings `executorData` or
 * `containerInfo` the default command is left out, so the execution mode stays
 * unambiguous (spec §1).
 */
export function aDeploy(overrides: Partial<SingularityDeploy> = {}): SingularityDeploy {
  const otherMode = overrides.executorData !== undefined || overrides.containerInfo !== undefined;
  return {
    requestId: DEFAULT_REQUEST_ID,
    id: DEFAULT_DEPLOY_ID,
    ...(otherMode ? {} : { command: 'sleep 1000' }),
    resources: { cpus: 1, memoryMb: 64, numPorts: 0, diskMb: 0 },
    ...overrides,
  };
}

/** What an agent sends to register: 8 cpus, 16 GB, 100 GB disk, ports 31000–32000, no tasks. */
export function anAgentRegistration(overrides: Partial<AgentRegistration> = {}): AgentRegistration {
  return {
    agentId: DEFAULT_AGENT_ID,
    hostname: DEFAULT_HOST,
    address: '127.0.0.1',
    port: 5051,
    rackId: DEFAULT_RACK_ID,
    attributes: {},
    resources: { cpus: 8, memoryMb: 16384, diskMb: 100000 },
    portRange: { begin: 31000, end: 32000 },
    version: '0.1.0',
    tasks: [],
    ...overrides,
  };
}

export type TaskIdParts = Pick<SingularityTaskId, 'requestId' | 'deployId' | 'startedAt' | 'instanceNo' | 'host' | 'rackId'>;

/** A task id built from its parts (id string and sanitized parts derived, never overridden directly). */
export function aTaskId(overrides: Partial<TaskIdParts> = {}): SingularityTaskId {
  return buildTaskId({
    requestId: DEFAULT_REQUEST_ID,
    deployId: DEFAULT_DEPLOY_ID,
    startedAt: FIXED_TIME,
    instanceNo: 1,
    host: DEFAULT_HOST,
    rackId: DEFAULT_RACK_ID,
    ...overrides,
  });
}

export type PendingTaskIdParts = Omit<SingularityPendingTaskId, 'id'>;

export function aPendingTaskId(overrides: Partial<PendingTaskIdParts> = {}): SingularityPendingTaskId {
  return buildPendingTaskId({
    requestId: DEFAULT_REQUEST_ID,
    deployId: DEFAULT_DEPLOY_ID,
    nextRunAt: FIXED_TIME,
    instanceNo: 1,
    pendingType: 'NEW_DEPLOY',
    createdAt: FIXED_TIME,
    ...overrides,
  });
}

export type PendingTaskOverrides = Partial<Omit<SingularityPendingTask, 'pendingTaskId'>> & {
  /** Parts of the pending task id; the id string is derived from them. */
  pendingTaskId?: Partial<PendingTaskIdParts>;
};

/** A pending task of `aRequest()`/`aDeploy()`, instance 1, NEW_DEPLOY, due at FIXED_TIME, no overrides. */
export function aPendingTask(overrides: PendingTaskOverrides = {}): SingularityPendingTask {
  const { pendingTaskId, ...rest } = overrides;
  return { pendingTaskId: aPendingTaskId(pendingTaskId), ...rest };
}

/** The read model of an ACTIVE `aRequest()` (spec §1 Read models). */
export function aRequestParent(overrides: Partial<SingularityRequestParent> = {}): SingularityRequestParent {
  const request = overrides.request ?? aRequest();
  return {
    request,
    state: 'ACTIVE',
    requestDeployState: { requestId: request.id },
    taskIds: { healthy: [], notYetHealthy: [], pending: [], cleaning: [], loadBalanced: [], killed: [] },
    ...overrides,
  };
}

/**
 * A launched task of `aRequest()`/`aDeploy()` on `DEFAULT_AGENT_ID`, with its
 * launch record in the reference's MesosTaskObject shape (spec §1 Tasks).
 * `taskId` parts may be overridden; the rest follows from them.
 */
export function aTask(overrides: { taskId?: Partial<TaskIdParts>; request?: SingularityRequest; deploy?: SingularityDeploy } = {}): SingularityTask {
  const request = overrides.request ?? aRequest();
  const deploy = overrides.deploy ?? aDeploy({ requestId: request.id });
  const taskId = aTaskId({ requestId: request.id, deployId: deploy.id, ...overrides.taskId });
  const resources = deploy.resources ?? { cpus: 1, memoryMb: 64, numPorts: 0, diskMb: 0 };
  const agent = { value: DEFAULT_AGENT_ID };
  return {
    taskId,
    taskRequest: {
      request,
      deploy,
      pendingTask: aPendingTask({
        pendingTaskId: { requestId: request.id, deployId: deploy.id, instanceNo: taskId.instanceNo },
      }),
    },
    mesosTask: {
      taskId: { value: taskId.id },
      agentId: agent,
      slaveId: agent,
      name: request.id,
      resources: [
        { name: 'cpus', type: 'SCALAR', scalar: { value: resources.cpus } },
        { name: 'mem', type: 'SCALAR', scalar: { value: resources.memoryMb } },
        { name: 'disk', type: 'SCALAR', scalar: { value: resources.diskMb } },
      ],
    },
    offers: [{ id: { value: `offer-${taskId.startedAt}` }, agentId: agent, slaveId: agent, hostname: taskId.host }],
    rackId: taskId.rackId,
  };
}
