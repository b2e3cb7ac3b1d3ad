import {
  buildTaskId,
  type S3UploaderFile,
  type ExecutorData,
  type ExecutorLaunchSpec,
  type Resources,
  type SingularityDeploy,
  type SingularityPendingTask,
  type SingularityRequest,
  type SingularityTask,
} from '@singularity/models';
import { shellQuoteAll } from '@singularity/util';

export const DEFAULT_RESOURCES: Resources = { cpus: 1, memoryMb: 64, numPorts: 0, diskMb: 0 };

/**
 * Where finished tasks' logs are uploaded (the scheduler's `s3` settings): the
 * scheduler hands them to every executor in `executorData`, which writes the
 * S3 uploader's metadata from them (spec slave §1.2 "Scheduler-filled", §2).
 */
export interface LogUploadSettings {
  /** Without a bucket nothing is uploaded (the executor writes no upload metadata). */
  s3Bucket?: string;
  /** Key pattern of uploaded logs (`s3UploaderKeyPattern`). */
  s3KeyFormat: string;
  s3StorageClass?: string;
  applyS3StorageClassAfterBytes?: number;
  /** Files besides service.log to upload from every task. */
  s3UploaderAdditionalFiles: S3UploaderFile[];
}

export const DEFAULT_LOG_UPLOAD_SETTINGS: LogUploadSettings = {
  s3KeyFormat: '%requestId/%Y/%m/%taskId_%index-%s-%filename',
  s3UploaderAdditionalFiles: [],
};

/** The scheduler-filled upload fields of a task's executorData. */
export function uploadFieldsFor(request: Pick<SingularityRequest, 'group'>, upload: LogUploadSettings = DEFAULT_LOG_UPLOAD_SETTINGS): Partial<ExecutorData> {
  const fields: Partial<ExecutorData> = {
    s3UploaderKeyPattern: upload.s3KeyFormat,
    s3UploaderAdditionalFiles: upload.s3UploaderAdditionalFiles,
    serviceLog: 'service.log',
    serviceFinishedTailLog: 'tail_of_finished_service.log',
  };
  if (upload.s3Bucket) fields.defaultS3Bucket = upload.s3Bucket;
  if (request.group) fields.requestGroup = request.group;
  if (upload.s3StorageClass) fields.s3StorageClass = upload.s3StorageClass;
  if (upload.applyS3StorageClassAfterBytes !== undefined) fields.applyS3StorageClassAfterBytes = upload.applyS3StorageClassAfterBytes;
  return fields;
}

/** Resources of a task: a run's override, else the deploy's, else the defaults (spec §1). */
export function effectiveResources(deploy: SingularityDeploy, pendingTask: SingularityPendingTask): Resources {
  return { ...DEFAULT_RESOURCES, ...(deploy.resources ?? {}), ...(pendingTask.resources ?? {}) };
}

/**
 * The command our executor runs. A deploy's `executorData.cmd` is used as is;
 * a plain `command` runs through the shell when it has no `arguments` (or
 * `shell: true`), otherwise command and arguments are quoted word by word so
 * nothing in them is interpreted.
 */
export function executorDataFor(deploy: SingularityDeploy, pendingTask: SingularityPendingTask): ExecutorData {
  const base: ExecutorData = deploy.executorData
    ? { ...deploy.executorData }
    : {
        cmd:
          deploy.arguments && deploy.arguments.length > 0 && deploy.shell !== true
            ? shellQuoteAll([deploy.command ?? '', ...deploy.arguments])
            : [deploy.command ?? '', ...(deploy.arguments ?? [])].join(' '),
      };
  if (deploy.user && !base.user) base.user = deploy.user;
  if (pendingTask.runAsUserOverride) base.user = pendingTask.runAsUserOverride;
  const extra = [...(base.extraCmdLineArgs ?? []), ...(pendingTask.cmdLineArgsList ?? [])];
  if (extra.length > 0) base.extraCmdLineArgs = extra;
  return base;
}

/** The ports allocated to a task, in order over all its `ports` ranges (PORT0 first). */
export function taskPorts(task: Pick<SingularityTask, 'mesosTask'>): number[] {
  const ports: number[] = [];
  for (const resource of task.mesosTask.resources) {
    if (resource.name !== 'ports') continue;
    for (const { begin, end } of resource.ranges.range) for (let port = begin; port <= end; port++) ports.push(port);
  }
  return ports;
}

export interface LaunchPlacement {
  agentId: string;
  host: string;
  rackId: string;
  ports: number[];
}

/**
 * Builds the task record and what the executor receives. Environment order
 * follows spec §3.1: scheduler variables, PORTs, deploy env, instance env,
 * DEPLOY_CPUS/DEPLOY_MEM, overrides, then STARTED_BY_USER.
 */
export function buildLaunch(args: {
  request: SingularityRequest;
  deploy: SingularityDeploy;
  pendingTask: SingularityPendingTask;
  placement: LaunchPlacement;
  startedAt: number;
  estimatedInstanceCount: number;
  /** Log upload settings; the defaults (no bucket) when absent. */
  upload?: LogUploadSettings;
}): { task: SingularityTask; spec: ExecutorLaunchSpec } {
  const { request, deploy, pendingTask, placement, startedAt } = args;
  const instanceNo = pendingTask.pendingTaskId.instanceNo;
  const taskId = buildTaskId({
    requestId: request.id,
    deployId: deploy.id,
    startedAt,
    instanceNo,
    host: placement.host,
    rackId: placement.rackId,
  });
  const resources = effectiveResources(deploy, pendingTask);

  const env: Record<string, string> = {
    INSTANCE_NO: String(instanceNo),
    TASK_HOST: placement.host,
    TASK_RACK_ID: placement.rackId,
    AVAILABILITY_ZONE: placement.rackId,
    TASK_REQUEST_ID: request.id,
    TASK_DEPLOY_ID: deploy.id,
    TASK_ID: taskId.id,
    ESTIMATED_INSTANCE_COUNT: String(args.estimatedInstanceCount),
  };
  if (placement.ports.length > 0) env.PORT = String(placement.ports[0]);
  placement.ports.forEach((port, i) => (env[`PORT${i}`] = String(port)));
  Object.assign(env, deploy.env ?? {});
  Object.assign(env, deploy.taskEnv?.[String(instanceNo)] ?? {});
  env.DEPLOY_CPUS = String(resources.cpus);
  env.DEPLOY_MEM = String(resources.memoryMb);
  Object.assign(env, pendingTask.envOverrides ?? {});
  if (pendingTask.user) env.STARTED_BY_USER = pendingTask.user;

  const mesosResources: SingularityTask['mesosTask']['resources'] = [
    { name: 'cpus', type: 'SCALAR', scalar: { value: resources.cpus } },
    { name: 'mem', type: 'SCALAR', scalar: { value: resources.memoryMb } },
    { name: 'disk', type: 'SCALAR', scalar: { value: resources.diskMb } },
  ];
  if (placement.ports.length > 0) {
    mesosResources.push({ name: 'ports', type: 'RANGES', ranges: { range: placement.ports.map((p) => ({ begin: p, end: p })) } });
  }

  const task: SingularityTask = {
    taskId,
    taskRequest: { request, deploy, pendingTask },
    mesosTask: {
      taskId: { value: taskId.id },
      agentId: { value: placement.agentId },
      slaveId: { value: placement.agentId },
      name: request.id,
      resources: mesosResources,
    },
    offers: [
      {
        id: { value: `${placement.agentId}-${startedAt}` },
        agentId: { value: placement.agentId },
        slaveId: { value: placement.agentId },
        hostname: placement.host,
      },
    ],
    rackId: placement.rackId,
  };
  const spec: ExecutorLaunchSpec = {
    taskId: taskId.id,
    requestId: request.id,
    deployId: deploy.id,
    executorData: { ...executorDataFor(deploy, pendingTask), ...uploadFieldsFor(request, args.upload) },
    env,
    resources: { cpus: resources.cpus, memoryMb: resources.memoryMb, diskMb: resources.diskMb, ports: placement.ports },
  };
  return { task, spec };
}
