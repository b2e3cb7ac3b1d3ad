import type {
  EmbeddedArtifact,
  ExecutorData,
  ExternalArtifact,
  HealthcheckOptions,
  Resources,
  S3Artifact,
  S3ArtifactSignature,
  SingularityDeploy,
  SingularityDeployRequest,
} from '../deploy';
import { CANARY_ACCEPTANCE_MODES, HEALTHCHECK_PROTOCOLS, LOGROTATE_FREQUENCIES } from '../enums';
import type { CanaryDeploySettings } from '../deploy';
import type { SingularityRequest } from '../request';
import { readRunNowRequest } from './action-bodies.validator';
import { checkPositiveResources, readEnv, readMesosArtifact, readResources } from './common-fields';
import {
  FieldReader,
  asInteger,
  asString,
  childPath,
  compact,
  describeValue,
  invalidField,
  type JsonObject,
} from './field-reader';
import { checkRequestChange, readRequest, type ValidatedRequest } from './request.validator';
import { DEFAULT_VALIDATION_LIMITS, type ValidationLimits } from './validation-limits';

/** spec §1: deploy ids use `[A-Za-z0-9_.]` (no `-`: task ids are split on it). */
export const DEPLOY_ID_PATTERN = /^[A-Za-z0-9_.]+$/;

export const CONTAINER_TYPES = ['MESOS', 'DOCKER'] as const;
export const DOCKER_NETWORK_TYPES = ['BRIDGE', 'HOST', 'NONE'] as const;
export const DOCKER_PORT_MAPPING_TYPES = ['LITERAL', 'FROM_OFFER'] as const;
export const HEALTHCHECK_METHODS = ['GET', 'POST'] as const;
export const DEFAULT_CANARY_DEPLOY_SETTINGS: Readonly<CanaryDeploySettings> = Object.freeze({
  enableCanaryDeploy: false,
  instanceGroupSize: 1,
  acceptanceMode: 'NONE',
  waitMillisBetweenGroups: 0,
  allowedTasksFailuresPerGroup: 0,
  canaryCycleCount: 3,
});

/** A validated deploy: resources filled in, a health check folded from legacy fields, canary settings present. */
export type ValidatedDeploy = SingularityDeploy & { resources: Resources; canaryDeploySettings: CanaryDeploySettings };

export interface DeployValidationOptions {
  /** Where the deploy sits in the body, for error fields (`deploy` inside a deploy request). */
  path?: string;
  /** Generates a deploy id when `limits.createDeployIds` is on and none was sent. */
  generateDeployId?: () => string;
}

/**
 * Validates and normalizes a deploy for `request` (spec §1 SingularityDeploy):
 * ids, exactly one way to run (command, custom executor or container),
 * resources with defaults and limits, environment maps, the health check
 * (legacy flat fields folded into `healthcheck`), load-balancer fields and
 * step settings. Unknown fields are dropped; validating the output again for
 * the same request yields the same value.
 */
export function validateDeploy(
  input: unknown,
  request: SingularityRequest,
  limits: ValidationLimits = DEFAULT_VALIDATION_LIMITS,
  options: DeployValidationOptions = {},
): ValidatedDeploy {
  return readDeploy(FieldReader.of(input, options.path ?? ''), request, limits, options);
}

/**
 * Per-request totals of spec §5: instances × per-instance resources must stay
 * within `maxNum{Cpus,MemoryMb,DiskMb}PerRequest`. Also used when a request is
 * scaled against its active deploy.
 */
export function checkRequestResources(
  request: Pick<SingularityRequest, 'instances'>,
  resources: Resources,
  limits: ValidationLimits = DEFAULT_VALIDATION_LIMITS,
  field = 'resources',
): void {
  const instances = request.instances ?? 1;
  const totals: Array<[keyof Resources, number, string]> = [
    ['cpus', limits.maxNumCpusPerRequest, 'maxNumCpusPerRequest'],
    ['memoryMb', limits.maxMemoryMbPerRequest, 'maxMemoryMbPerRequest'],
    ['diskMb', limits.maxDiskMbPerRequest, 'maxDiskMbPerRequest'],
  ];
  for (const [key, max, name] of totals) {
    const total = resources[key] * instances;
    if (total > max) {
      throw invalidField(
        childPath(field, key),
        `${instances} instances × ${resources[key]} = ${total} exceeds ${name} ${max}`,
      );
    }
  }
}

export function readDeploy(
  r: FieldReader,
  request: SingularityRequest,
  limits: ValidationLimits,
  options: DeployValidationOptions = {},
): ValidatedDeploy {
  const requestId = r.requiredString('requestId');
  if (requestId !== request.id) {
    throw invalidField(r.field('requestId'), `must equal the request's id ${describeValue(request.id)} (got ${describeValue(requestId)})`);
  }
  const id = readDeployId(r, limits, options);

  // Exactly one way to run (spec §1): command without executorData | executorData + customExecutorCmd without
  // command | containerInfo (which may carry a command of its own).
  const hasCommand = r.has('command');
  const hasExecutorData = r.has('executorData');
  const hasContainer = r.has('containerInfo');
  if (!hasContainer) {
    if (!hasCommand && !hasExecutorData) {
      throw invalidField(r.field('command'), 'required: a deploy needs a command, executorData with customExecutorCmd, or containerInfo');
    }
    if (hasCommand && hasExecutorData) {
      throw invalidField(r.field('executorData'), 'cannot be combined with command (a custom-executor deploy runs executorData.cmd)');
    }
    if (hasExecutorData && !r.has('customExecutorCmd')) {
      throw invalidField(r.field('customExecutorCmd'), 'required with executorData');
    }
  }

  const resources = r.read('resources', (value, field) => readResources(value, field, limits)) ?? {
    cpus: limits.defaultCpus,
    memoryMb: limits.defaultMemory,
    numPorts: 0,
    diskMb: limits.defaultDisk,
  };
  checkPositiveResources(resources, r.field('resources'));
  checkRequestResources(request, resources, limits, r.field('resources'));

  const containerInfo = r.read('containerInfo', (value, field) => readContainerInfo(value, field, resources));

  // Legacy flat health-check fields (spec §1): type-checked under their own names and kept, and folded into
  // `healthcheck` when that is not sent. `healthCheckProtocol` is write-only in the reference.
  const legacy = {
    healthcheckUri: r.string('healthcheckUri', { nonEmpty: true }),
    healthcheckIntervalSeconds: r.integer('healthcheckIntervalSeconds', { min: 0 }),
    healthcheckTimeoutSeconds: r.integer('healthcheckTimeoutSeconds', { min: 0 }),
    healthcheckPortIndex: r.integer('healthcheckPortIndex', { min: 0 }),
    healthcheckMaxRetries: r.integer('healthcheckMaxRetries', { min: 0 }),
    healthcheckMaxTotalTimeoutSeconds: r.integer('healthcheckMaxTotalTimeoutSeconds', { min: 0 }),
    healthcheckProtocol: r.oneOf('healthcheckProtocol', HEALTHCHECK_PROTOCOLS) ?? r.oneOf('healthCheckProtocol', HEALTHCHECK_PROTOCOLS),
  };
  const healthcheck = readHealthcheck(r, legacy, resources, limits);

  const loadBalancerPortIndex = r.integer('loadBalancerPortIndex', { min: 0 });
  if (loadBalancerPortIndex !== undefined && loadBalancerPortIndex >= resources.numPorts) {
    throw invalidField(
      r.field('loadBalancerPortIndex'),
      `needs resources.numPorts > ${loadBalancerPortIndex} (got numPorts ${resources.numPorts})`,
    );
  }
  const serviceBasePath = r.string('serviceBasePath', { nonEmpty: true });
  const loadBalancerGroups = r.stringList('loadBalancerGroups', { nonEmpty: true });
  if (request.loadBalanced) {
    if (serviceBasePath === undefined) throw invalidField(r.field('serviceBasePath'), 'required for a deploy of a load-balanced request');
    if (!loadBalancerGroups || loadBalancerGroups.length === 0) {
      throw invalidField(r.field('loadBalancerGroups'), 'required for a deploy of a load-balanced request: name at least one group');
    }
  }

  const runImmediately = r.read('runImmediately', (value, field) => {
    if (request.requestType !== 'SCHEDULED' && request.requestType !== 'ON_DEMAND') {
      throw invalidField(field, `only deploys of SCHEDULED or ON_DEMAND requests may run immediately (requestType is ${request.requestType})`);
    }
    return readRunNowRequest(FieldReader.of(value, field), { limits });
  });

  // Legacy step fields are echoed as sent and, without canaryDeploySettings, translated into it.
  const deployInstanceCountPerStep = r.integer('deployInstanceCountPerStep', { min: 1 });
  const deployStepWaitTimeMs = r.integer('deployStepWaitTimeMs', { min: 0 });
  const maxTaskRetries = r.integer('maxTaskRetries', { min: 0 });
  const canaryDeploySettings =
    r.read('canaryDeploySettings', readCanarySettings) ??
    compact({
      ...DEFAULT_CANARY_DEPLOY_SETTINGS,
      ...(deployInstanceCountPerStep !== undefined ? { enableCanaryDeploy: true, instanceGroupSize: deployInstanceCountPerStep } : {}),
      ...(deployStepWaitTimeMs !== undefined ? { acceptanceMode: 'TIMED' as const, waitMillisBetweenGroups: deployStepWaitTimeMs } : {}),
      ...(maxTaskRetries !== undefined ? { allowedTasksFailuresPerGroup: maxTaskRetries } : {}),
    });

  const deploy: ValidatedDeploy = {
    requestId,
    id,
    command: r.string('command', { nonEmpty: true }),
    arguments: r.stringList('arguments'),
    shell: r.boolean('shell'),
    user: r.string('user', { nonEmpty: true }),
    containerInfo,
    customExecutorCmd: r.string('customExecutorCmd', { nonEmpty: true }),
    customExecutorId: r.string('customExecutorId'),
    customExecutorSource: r.string('customExecutorSource'),
    customExecutorResources: r.read('customExecutorResources', readPlainResources),
    resources,
    env: r.read('env', readEnv),
    taskEnv: r.map('taskEnv', readEnv, (key, path) => {
      if (!/^\d+$/.test(key)) throw invalidField(path, `keys must be instance numbers (got ${describeValue(key)})`);
    }),
    runImmediately,
    uris: r.list('uris', readMesosArtifact),
    metadata: r.stringMap('metadata'),
    executorData: r.read('executorData', readExecutorData),
    version: r.string('version'),
    timestamp: r.integer('timestamp', { min: 0 }),
    labels: r.stringMap('labels'),
    deployHealthTimeoutSeconds: r.integer('deployHealthTimeoutSeconds', { min: 0 }),
    ...legacy,
    healthcheck,
    skipHealthchecksOnDeploy: r.boolean('skipHealthchecksOnDeploy'),
    considerHealthyAfterRunningForSeconds: r.integer('considerHealthyAfterRunningForSeconds', { min: 0 }),
    serviceBasePath,
    loadBalancerGroups,
    loadBalancerPortIndex,
    loadBalancerOptions: r.read('loadBalancerOptions', (value, field) => FieldReader.of(value, field).source),
    loadBalancerDomains: r.stringList('loadBalancerDomains'),
    loadBalancerAdditionalRoutes: r.stringList('loadBalancerAdditionalRoutes'),
    loadBalancerTemplate: r.string('loadBalancerTemplate'),
    loadBalancerServiceIdOverride: r.string('loadBalancerServiceIdOverride'),
    loadBalancerUpstreamGroup: r.string('loadBalancerUpstreamGroup'),
    deployInstanceCountPerStep,
    deployStepWaitTimeMs,
    autoAdvanceDeploySteps: r.boolean('autoAdvanceDeploySteps'),
    maxTaskRetries,
    canaryDeploySettings,
  };
  return compact(deploy);
}

function readDeployId(r: FieldReader, limits: ValidationLimits, options: DeployValidationOptions): string {
  if (!r.has('id') && limits.createDeployIds) {
    const generate = options.generateDeployId ?? (() => globalThis.crypto.randomUUID().replace(/-/g, ''));
    return generate().slice(0, limits.maxDeployIdSize);
  }
  const id = r.requiredString('id', {
    pattern: { regex: DEPLOY_ID_PATTERN, explain: "may contain only letters, digits, '_' and '.'" },
  });
  if (id.length > limits.maxDeployIdSize) {
    throw invalidField(r.field('id'), `must be at most ${limits.maxDeployIdSize} characters (got ${id.length})`);
  }
  return id;
}

type LegacyHealthcheckFields = {
  healthcheckUri?: string;
  healthcheckIntervalSeconds?: number;
  healthcheckTimeoutSeconds?: number;
  healthcheckPortIndex?: number;
  healthcheckMaxRetries?: number;
  healthcheckProtocol?: HealthcheckOptions['protocol'];
};

/**
 * `healthcheck`, or one folded from the legacy flat fields (spec §1). A uri
 * check needs a port: `portNumber`, or a requested port at `portIndex` (0).
 */
function readHealthcheck(
  r: FieldReader,
  legacy: LegacyHealthcheckFields,
  resources: Resources,
  limits: ValidationLimits,
): HealthcheckOptions | undefined {
  let healthcheck: HealthcheckOptions | undefined;
  let portIndexField: string;
  const nested = r.nested('healthcheck');
  if (nested) {
    healthcheck = compact({
      uri: nested.string('uri', { nonEmpty: true }),
      portIndex: nested.integer('portIndex', { min: 0 }),
      portNumber: nested.integer('portNumber', { min: 1, max: 65535 }),
      protocol: nested.oneOf('protocol', HEALTHCHECK_PROTOCOLS),
      method: nested.oneOf('method', HEALTHCHECK_METHODS),
      startupTimeoutSeconds: nested.integer('startupTimeoutSeconds', { min: 0 }),
      startupDelaySeconds: nested.integer('startupDelaySeconds', { min: 0, lessThan: limits.killTaskIfNotHealthyAfterSeconds }),
      startupIntervalSeconds: nested.integer('startupIntervalSeconds', { min: 0 }),
      intervalSeconds: nested.integer('intervalSeconds', { min: 0 }),
      responseTimeoutSeconds: nested.integer('responseTimeoutSeconds', { min: 0 }),
      maxRetries: nested.integer('maxRetries', { min: 0 }),
      failureStatusCodes: nested.integerList('failureStatusCodes', { min: 100, max: 599 }),
      healthcheckResultFilePath: nested.string('healthcheckResultFilePath', { nonEmpty: true }),
    });
    if (healthcheck.uri === undefined && healthcheck.healthcheckResultFilePath === undefined) {
      throw invalidField(nested.field('uri'), 'required (or healthcheckResultFilePath)');
    }
    if (healthcheck.portIndex !== undefined && healthcheck.portNumber !== undefined) {
      throw invalidField(nested.field('portNumber'), 'cannot be combined with portIndex');
    }
    portIndexField = nested.field('portIndex');
  } else if (legacy.healthcheckUri !== undefined) {
    healthcheck = compact({
      uri: legacy.healthcheckUri,
      portIndex: legacy.healthcheckPortIndex,
      protocol: legacy.healthcheckProtocol,
      intervalSeconds: legacy.healthcheckIntervalSeconds,
      responseTimeoutSeconds: legacy.healthcheckTimeoutSeconds,
      maxRetries: legacy.healthcheckMaxRetries,
    });
    portIndexField = r.field('healthcheckPortIndex');
  } else {
    return undefined;
  }
  if (healthcheck.uri !== undefined && healthcheck.portNumber === undefined) {
    const portIndex = healthcheck.portIndex ?? 0;
    if (resources.numPorts <= portIndex) {
      throw invalidField(
        portIndexField,
        `a uri health check on port index ${portIndex} needs resources.numPorts > ${portIndex} (got numPorts ${resources.numPorts}); request ports or set a portNumber`,
      );
    }
  }
  return healthcheck;
}

function readCanarySettings(value: unknown, field: string): CanaryDeploySettings {
  const r = FieldReader.of(value, field);
  const d = DEFAULT_CANARY_DEPLOY_SETTINGS;
  return {
    enableCanaryDeploy: r.boolean('enableCanaryDeploy') ?? d.enableCanaryDeploy,
    instanceGroupSize: r.integer('instanceGroupSize', { min: 1 }) ?? d.instanceGroupSize,
    acceptanceMode: r.oneOf('acceptanceMode', CANARY_ACCEPTANCE_MODES) ?? d.acceptanceMode,
    waitMillisBetweenGroups: r.integer('waitMillisBetweenGroups', { min: 0 }) ?? d.waitMillisBetweenGroups,
    allowedTasksFailuresPerGroup: r.integer('allowedTasksFailuresPerGroup', { min: 0 }) ?? d.allowedTasksFailuresPerGroup,
    canaryCycleCount: r.integer('canaryCycleCount', { min: 1 }) ?? d.canaryCycleCount,
  };
}

/** `customExecutorResources`: no defaults or limits, missing parts are 0 (as the original's primitives). */
function readPlainResources(value: unknown, field: string): Resources {
  const r = FieldReader.of(value, field);
  return {
    cpus: r.number('cpus', { min: 0 }) ?? 0,
    memoryMb: r.number('memoryMb', { min: 0 }) ?? 0,
    numPorts: r.integer('numPorts', { min: 0 }) ?? 0,
    diskMb: r.number('diskMb', { min: 0 }) ?? 0,
  };
}

// ---- executorData ---------------------------------------------------------

function readExecutorData(value: unknown, field: string): ExecutorData {
  const r = FieldReader.of(value, field);
  return compact({
    cmd: r.requiredString('cmd'),
    embeddedArtifacts: r.list('embeddedArtifacts', readEmbeddedArtifact),
    externalArtifacts: r.list('externalArtifacts', readExternalArtifact),
    s3Artifacts: r.list('s3Artifacts', readS3Artifact),
    s3ArtifactSignatures: r.list('s3ArtifactSignatures', readS3ArtifactSignature),
    successfulExitCodes: r.integerList('successfulExitCodes', { min: 0, max: 255 }),
    user: r.string('user', { nonEmpty: true }),
    runningSentinel: r.string('runningSentinel'),
    extraCmdLineArgs: r.stringList('extraCmdLineArgs'),
    loggingTag: r.string('loggingTag'),
    loggingExtraFields: r.stringMap('loggingExtraFields'),
    sigKillProcessesAfterMillis: r.integer('sigKillProcessesAfterMillis', { min: 0 }),
    maxTaskThreads: r.integer('maxTaskThreads', { min: 1 }),
    preserveTaskSandboxAfterFinish: r.boolean('preserveTaskSandboxAfterFinish'),
    maxOpenFiles: r.integer('maxOpenFiles', { min: 1 }),
    skipLogrotateAndCompress: r.boolean('skipLogrotateAndCompress'),
    logrotateFrequency: r.oneOf('logrotateFrequency', LOGROTATE_FREQUENCIES),
  });
}

/** Artifacts land in the task sandbox; a `..` segment would let one escape it. */
function sandboxRelative(value: unknown, field: string): string {
  const path = asString(value, field, { nonEmpty: true });
  if (path.split(/[\\/]/).includes('..')) throw invalidField(field, `must stay inside the task sandbox (got ${describeValue(path)})`);
  return path;
}

function readArtifactBase(r: FieldReader) {
  return {
    name: r.string('name'),
    filename: sandboxRelative(r.required('filename'), r.field('filename')),
    md5sum: r.string('md5sum'),
  };
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}(?:==)?|[A-Za-z0-9+/]{3}=?)?$/;

/**
 * `content` is a Java byte[] in the original, which Jackson writes as a base64
 * string; a JSON array of byte values is accepted too and normalized to base64.
 */
function readEmbeddedContent(value: unknown, field: string): string {
  if (Array.isArray(value)) {
    const bytes = value.map((item, i) => asInteger(item, childPath(field, i), { min: -128, max: 255 }) & 0xff);
    return Buffer.from(bytes).toString('base64');
  }
  if (typeof value !== 'string' || !BASE64.test(value)) {
    throw invalidField(field, `must be base64 (got ${describeValue(value)})`);
  }
  return value;
}

function readEmbeddedArtifact(value: unknown, field: string): EmbeddedArtifact {
  const r = FieldReader.of(value, field);
  return compact({
    ...readArtifactBase(r),
    content: readEmbeddedContent(r.required('content'), r.field('content')),
    targetFolderRelativeToTask: r.read('targetFolderRelativeToTask', sandboxRelative),
  });
}

function readExternalArtifact(value: unknown, field: string): ExternalArtifact {
  const r = FieldReader.of(value, field);
  return compact({
    ...readArtifactBase(r),
    url: r.requiredString('url'),
    filesize: r.integer('filesize', { min: 0 }),
    targetFolderRelativeToTask: r.read('targetFolderRelativeToTask', sandboxRelative),
    isArtifactList: r.boolean('isArtifactList'),
  });
}

function readS3Artifact(value: unknown, field: string): S3Artifact {
  const r = FieldReader.of(value, field);
  return compact({
    ...readArtifactBase(r),
    filesize: r.integer('filesize', { min: 0 }),
    s3Bucket: r.requiredString('s3Bucket'),
    s3ObjectKey: r.requiredString('s3ObjectKey'),
    targetFolderRelativeToTask: r.read('targetFolderRelativeToTask', sandboxRelative),
    isArtifactList: r.boolean('isArtifactList'),
  });
}

function readS3ArtifactSignature(value: unknown, field: string): S3ArtifactSignature {
  const r = FieldReader.of(value, field);
  return compact({ ...readS3Artifact(value, field), artifactFilename: r.requiredString('artifactFilename') });
}

// ---- containerInfo --------------------------------------------------------

type ContainerInfo = NonNullable<SingularityDeploy['containerInfo']>;

function readContainerInfo(value: unknown, field: string, resources: Resources): ContainerInfo {
  const r = FieldReader.of(value, field);
  const type = r.requiredOneOf('type', CONTAINER_TYPES);
  const docker = r.read('docker', (v, f) => readDockerInfo(v, f, resources));
  const mesos = r.read('mesos', readMesosInfo);
  if (type === 'DOCKER' && !docker) throw invalidField(r.field('docker'), 'required for a DOCKER container (with an image)');
  if (type === 'MESOS' && !docker && !mesos?.['image']) {
    throw invalidField(r.field('docker'), 'required: a MESOS container needs docker.image or mesos.image');
  }
  return compact({
    type,
    volumes: r.list('volumes', readVolume),
    docker,
    mesos,
    networkInfos: r.list('networkInfos', readNetworkInfo),
  });
}

function readDockerInfo(value: unknown, field: string, resources: Resources): { image: string } & JsonObject {
  const r = FieldReader.of(value, field);
  return compact({
    image: r.requiredString('image'),
    // A primitive boolean in the original, so it is always present on the wire (and required by the reference).
    privileged: r.boolean('privileged') ?? false,
    network: r.oneOf('network', DOCKER_NETWORK_TYPES),
    portMappings: r.list('portMappings', (v, f) => readDockerPortMapping(v, f, resources)),
    forcePullImage: r.boolean('forcePullImage'),
    parameters: r.stringMap('parameters'),
    dockerParameters: r.list('dockerParameters', (v, f) => {
      const p = FieldReader.of(v, f);
      return compact({ key: p.requiredString('key'), value: p.string('value') });
    }),
  });
}

/** `FROM_OFFER` ports are indexes into the task's allocated ports, so they must be below `numPorts`. */
function readDockerPortMapping(value: unknown, field: string, resources: Resources): JsonObject {
  const r = FieldReader.of(value, field);
  const readPort = (typeKey: string, portKey: string) => {
    const type = r.oneOf(typeKey, DOCKER_PORT_MAPPING_TYPES) ?? 'LITERAL';
    const port =
      type === 'FROM_OFFER'
        ? asInteger(r.required(portKey), r.field(portKey), { min: 0 })
        : asInteger(r.required(portKey), r.field(portKey), { min: 0, max: 65535 });
    if (type === 'FROM_OFFER' && port >= resources.numPorts) {
      throw invalidField(r.field(portKey), `port index ${port} needs resources.numPorts > ${port} (got numPorts ${resources.numPorts})`);
    }
    return [type, port] as const;
  };
  const [containerPortType, containerPort] = readPort('containerPortType', 'containerPort');
  const [hostPortType, hostPort] = readPort('hostPortType', 'hostPort');
  return { containerPortType, containerPort, hostPortType, hostPort, protocol: r.string('protocol', { nonEmpty: true }) ?? 'tcp' };
}

function readMesosInfo(value: unknown, field: string): JsonObject {
  const r = FieldReader.of(value, field);
  return compact({
    image: r.read('image', (v, f) => {
      const image = FieldReader.of(v, f);
      return compact({
        type: image.requiredOneOf('type', ['APPC', 'DOCKER'] as const),
        appc: image.read('appc', (a, af) => {
          const appc = FieldReader.of(a, af);
          return compact({ name: appc.requiredString('name'), id: appc.string('id') });
        }),
        docker: image.read('docker', (d, df) => ({ name: FieldReader.of(d, df).requiredString('name') })),
        cached: image.boolean('cached'),
      });
    }),
  });
}

function readVolume(value: unknown, field: string): JsonObject {
  const r = FieldReader.of(value, field);
  return compact({
    containerPath: r.requiredString('containerPath'),
    hostPath: r.string('hostPath'),
    mode: r.oneOf('mode', ['RO', 'RW'] as const),
    source: r.read('source', (v, f) => {
      const source = FieldReader.of(v, f);
      return compact({
        type: source.oneOf('type', ['UNKNOWN', 'DOCKER_VOLUME'] as const),
        dockerVolume: source.read('dockerVolume', (d, df) => {
          const volume = FieldReader.of(d, df);
          return compact({ driver: volume.string('driver'), name: volume.string('name'), driverOptions: volume.stringMap('driverOptions') });
        }),
      });
    }),
  });
}

function readNetworkInfo(value: unknown, field: string): JsonObject {
  const r = FieldReader.of(value, field);
  return compact({
    name: r.string('name'),
    groups: r.stringList('groups'),
    portMappings: r.list('portMappings', (v, f) => {
      const m = FieldReader.of(v, f);
      return compact({
        hostPort: m.requiredInteger('hostPort', { min: 0, max: 65535 }),
        containerPort: m.requiredInteger('containerPort', { min: 0, max: 65535 }),
        protocol: m.string('protocol'),
      });
    }),
  });
}

// ---- POST /deploys --------------------------------------------------------

/** A deploy request whose deploy is only known to be an object naming its request (see validateDeployRequest). */
export interface DeployRequestEnvelope {
  deploy: JsonObject & { requestId: string };
  unpauseOnSuccessfulDeploy?: boolean;
  message?: string;
  updatedRequest?: ValidatedRequest;
}

export interface ValidatedDeployRequest extends SingularityDeployRequest {
  deploy: ValidatedDeploy;
  updatedRequest?: ValidatedRequest;
}

export interface DeployRequestValidationOptions extends DeployValidationOptions {
  limits?: ValidationLimits;
}

/**
 * The body of `POST /deploys` (spec §4): `{deploy*, unpauseOnSuccessfulDeploy,
 * message, updatedRequest}`.
 *
 * Without `request` it checks the envelope only: `deploy` is an object with a
 * `requestId` (so the caller can load the request) and `updatedRequest`, if
 * any, is a valid request for that id. With `request` (the stored request) it
 * also applies the change rules to `updatedRequest` and validates the deploy
 * against `updatedRequest ?? request`. Errors name fields as `deploy.id` etc.
 */
export function validateDeployRequest(
  input: unknown,
  options: DeployRequestValidationOptions & { request: SingularityRequest },
): ValidatedDeployRequest;
export function validateDeployRequest(input: unknown, options?: DeployRequestValidationOptions): DeployRequestEnvelope;
export function validateDeployRequest(
  input: unknown,
  options: DeployRequestValidationOptions & { request?: SingularityRequest } = {},
): DeployRequestEnvelope | ValidatedDeployRequest {
  const limits = options.limits ?? DEFAULT_VALIDATION_LIMITS;
  const r = FieldReader.of(input);
  const deployReader = FieldReader.of(r.required('deploy'), r.field('deploy'));
  const requestId = deployReader.requiredString('requestId');
  const updatedRequest = r.read('updatedRequest', (value, field) => readRequest(FieldReader.of(value, field), limits));
  if (updatedRequest && updatedRequest.id !== requestId) {
    throw invalidField(r.field('updatedRequest.id'), `must equal deploy.requestId ${describeValue(requestId)} (got ${describeValue(updatedRequest.id)})`);
  }
  const envelope = compact({
    deploy: { ...deployReader.source, requestId },
    unpauseOnSuccessfulDeploy: r.boolean('unpauseOnSuccessfulDeploy'),
    message: r.string('message'),
    updatedRequest,
  });
  if (!options.request) return envelope;
  if (updatedRequest) checkRequestChange(options.request, updatedRequest, r.field('updatedRequest'));
  const deploy = readDeploy(deployReader, updatedRequest ?? options.request, limits, options);
  return { ...envelope, deploy };
}
