import { buildTaskId, type SingularityDeploy, type SingularityRequest, type SingularityTask, type SingularityTaskHistoryUpdate } from '@singularity/models';
import type { PendingDeployRecord } from './deploy-check';
import type { TaskRecord } from './task-record';

/** Valid defaults for the pure-logic specs; a test overrides only what it is about. */
export const T0 = 1_700_000_000_000;

export function aRequest(overrides: Partial<SingularityRequest> = {}): SingularityRequest {
  return { id: 'web', requestType: 'SERVICE', instances: 1, ...overrides };
}

export function aDeploy(overrides: Partial<SingularityDeploy> = {}): SingularityDeploy {
  return { requestId: 'web', id: 'd1', command: 'sleep 1000', resources: { cpus: 1, memoryMb: 64, numPorts: 1, diskMb: 0 }, ...overrides };
}

export function aTaskRecord(options: {
  request?: SingularityRequest;
  deploy?: SingularityDeploy;
  instanceNo?: number;
  startedAt?: number;
  states?: Array<[SingularityTaskHistoryUpdate['taskState'], number]>;
}): TaskRecord {
  const request = options.request ?? aRequest();
  const deploy = options.deploy ?? aDeploy({ requestId: request.id });
  const taskId = buildTaskId({
    requestId: request.id,
    deployId: deploy.id,
    startedAt: options.startedAt ?? T0,
    instanceNo: options.instanceNo ?? 1,
    host: 'host1',
    rackId: 'DEFAULT',
  });
  const task: SingularityTask = {
    taskId,
    taskRequest: {
      request,
      deploy,
      pendingTask: {
        pendingTaskId: {
          requestId: request.id,
          deployId: deploy.id,
          nextRunAt: T0,
          instanceNo: taskId.instanceNo,
          pendingType: 'NEW_DEPLOY',
          createdAt: T0,
          id: 'x',
        },
      },
    },
    mesosTask: { taskId: { value: taskId.id }, agentId: { value: 'a1' }, slaveId: { value: 'a1' }, name: request.id, resources: [] },
    offers: [],
    rackId: 'DEFAULT',
  };
  const updates = (options.states ?? [['TASK_LAUNCHED', T0]]).map(([taskState, timestamp]) => ({ taskId, taskState, timestamp }));
  return { task, updates };
}

export function aPendingDeploy(overrides: Partial<PendingDeployRecord> & { deployId?: string; target?: number } = {}): PendingDeployRecord {
  const { deployId = 'd2', target = 2, ...rest } = overrides;
  return {
    deployMarker: { requestId: 'web', deployId, timestamp: T0 },
    currentDeployState: 'WAITING',
    deployProgress: {
      targetActiveInstances: target,
      currentActiveInstances: 0,
      deployInstanceCountPerStep: 0,
      deployStepWaitTimeMs: 0,
      stepComplete: false,
      autoAdvanceDeploySteps: true,
      failedDeployTasks: [],
      timestamp: T0,
    },
    ...rest,
  };
}
