import type {
  CanaryAcceptanceMode,
  DeployFailureReason,
  DeployState,
  HealthcheckProtocol,
  LogrotateFrequency,
} from './enums';
import type { SingularityDeployMarker, SingularityRequest } from './request';
import type { SingularityTaskId } from './task-id';

export interface Resources {
  cpus: number;
  memoryMb: number;
  numPorts: number;
  diskMb: number;
}

export interface EmbeddedArtifact {
  name?: string;
  filename: string;
  md5sum?: string;
  /** Base64 of the file's bytes. */
  content: string;
  targetFolderRelativeToTask?: string;
}

export interface ExternalArtifact {
  name?: string;
  filename: string;
  md5sum?: string;
  url: string;
  filesize?: number;
  targetFolderRelativeToTask?: string;
  isArtifactList?: boolean;
}

export interface S3Artifact {
  name?: string;
  filename: string;
  md5sum?: string;
  filesize?: number;
  s3Bucket: string;
  s3ObjectKey: string;
  targetFolderRelativeToTask?: string;
  isArtifactList?: boolean;
}

export interface S3ArtifactSignature extends S3Artifact {
  artifactFilename: string;
}

/** What the custom executor receives (`SingularityTaskExecutorData` without the scheduler-filled parts). */
export interface ExecutorData {
  cmd: string;
  embeddedArtifacts?: EmbeddedArtifact[];
  externalArtifacts?: ExternalArtifact[];
  s3Artifacts?: S3Artifact[];
  s3ArtifactSignatures?: S3ArtifactSignature[];
  successfulExitCodes?: number[];
  user?: string;
  runningSentinel?: string;
  extraCmdLineArgs?: string[];
  loggingTag?: string;
  loggingExtraFields?: Record<string, string>;
  sigKillProcessesAfterMillis?: number;
  maxTaskThreads?: number;
  preserveTaskSandboxAfterFinish?: boolean;
  maxOpenFiles?: number;
  skipLogrotateAndCompress?: boolean;
  logrotateFrequency?: LogrotateFrequency;
  // Scheduler-filled (spec slave §1.2): where the S3 uploader ships the task's logs.
  /** Extra files to upload (spec slave §2 "From the executor"). */
  s3UploaderAdditionalFiles?: S3UploaderFile[];
  /** Bucket of the upload metadata; without one no metadata is written. */
  defaultS3Bucket?: string;
  /** Key pattern; the executor expands `%requestId %group %tag %deployId %host %taskId`, the uploader the rest. */
  s3UploaderKeyPattern?: string;
  /** Name of the task's output file in T (the runner's `service.log`). */
  serviceLog?: string;
  /** Name of the tail kept when the task finishes (`tail_of_finished_service.log`). */
  serviceFinishedTailLog?: string;
  /** The request's `group`, for `%group` (default `default`). */
  requestGroup?: string;
  s3StorageClass?: string;
  applyS3StorageClassAfterBytes?: number;
}

/** `SingularityS3UploaderFile`: a file name, or one with its own upload settings. */
export type S3UploaderFile = string | S3UploaderFileSettings;

export interface S3UploaderFileSettings {
  filename: string;
  s3UploaderBucket?: string;
  s3UploaderKeyPattern?: string;
  s3UploaderFilenameHint?: string;
  /** Directory relative to T (default T; `logs/` for the service log). */
  directory?: string;
  s3StorageClass?: string;
  applyS3StorageClassAfterBytes?: number;
  checkSubdirectories?: boolean;
  compressBeforeUpload?: boolean;
  checkIfOpen?: boolean;
}

export interface HealthcheckOptions {
  uri?: string;
  portIndex?: number;
  portNumber?: number;
  protocol?: HealthcheckProtocol;
  method?: 'GET' | 'POST';
  startupTimeoutSeconds?: number;
  startupDelaySeconds?: number;
  startupIntervalSeconds?: number;
  intervalSeconds?: number;
  responseTimeoutSeconds?: number;
  maxRetries?: number;
  failureStatusCodes?: number[];
  healthcheckResultFilePath?: string;
}

export interface SingularityMesosArtifact {
  uri: string;
  cache?: boolean;
  executable?: boolean;
  extract?: boolean;
  outputFile?: string;
}

/** Per-run overrides shared by run-now requests, pending requests and pending tasks (spec §1 Pending). */
export interface RunOverrides {
  message?: string;
  skipHealthchecks?: boolean;
  runId?: string;
  resources?: Resources;
  runAsUserOverride?: string;
  envOverrides?: Record<string, string>;
  requiredAgentAttributeOverrides?: Record<string, string>;
  requiredSlaveAttributeOverrides?: Record<string, string>;
  allowedAgentAttributeOverrides?: Record<string, string>;
  allowedSlaveAttributeOverrides?: Record<string, string>;
  extraArtifacts?: SingularityMesosArtifact[];
}

export interface SingularityRunNowRequest extends RunOverrides {
  commandLineArgs?: string[];
  runAt?: number;
}

/**
 * How a deploy proceeds in steps (spec §1 "Steps"). Not in the 2020 reference;
 * validation always fills it, from the legacy step fields when not sent.
 */
export interface CanaryDeploySettings {
  enableCanaryDeploy: boolean;
  instanceGroupSize: number;
  acceptanceMode: CanaryAcceptanceMode;
  waitMillisBetweenGroups: number;
  allowedTasksFailuresPerGroup: number;
  canaryCycleCount: number;
}

/** A deploy: one immutable version of what a request runs (spec §1). */
export interface SingularityDeploy {
  requestId: string;
  id: string;
  command?: string;
  arguments?: string[];
  shell?: boolean;
  user?: string;
  containerInfo?: { type: string; docker?: { image: string } & Record<string, unknown> } & Record<string, unknown>;
  customExecutorCmd?: string;
  customExecutorId?: string;
  customExecutorSource?: string;
  customExecutorResources?: Resources;
  resources?: Resources;
  env?: Record<string, string>;
  taskEnv?: Record<string, Record<string, string>>;
  runImmediately?: SingularityRunNowRequest;
  uris?: SingularityMesosArtifact[];
  metadata?: Record<string, string>;
  executorData?: ExecutorData;
  version?: string;
  timestamp?: number;
  labels?: Record<string, string>;
  deployHealthTimeoutSeconds?: number;
  healthcheck?: HealthcheckOptions;
  /** Legacy flat health-check fields; folded into `healthcheck` on input. */
  healthcheckUri?: string;
  healthcheckIntervalSeconds?: number;
  healthcheckTimeoutSeconds?: number;
  healthcheckPortIndex?: number;
  healthcheckMaxRetries?: number;
  healthcheckMaxTotalTimeoutSeconds?: number;
  healthcheckProtocol?: HealthcheckProtocol;
  healthCheckProtocol?: HealthcheckProtocol;
  skipHealthchecksOnDeploy?: boolean;
  considerHealthyAfterRunningForSeconds?: number;
  serviceBasePath?: string;
  loadBalancerGroups?: string[];
  loadBalancerPortIndex?: number;
  loadBalancerOptions?: Record<string, unknown>;
  loadBalancerDomains?: string[];
  loadBalancerAdditionalRoutes?: string[];
  loadBalancerTemplate?: string;
  loadBalancerServiceIdOverride?: string;
  loadBalancerUpstreamGroup?: string;
  deployInstanceCountPerStep?: number;
  deployStepWaitTimeMs?: number;
  autoAdvanceDeploySteps?: boolean;
  maxTaskRetries?: number;
  canaryDeploySettings?: CanaryDeploySettings;
}

export interface SingularityDeployRequest {
  deploy: SingularityDeploy;
  unpauseOnSuccessfulDeploy?: boolean;
  message?: string;
  updatedRequest?: SingularityRequest;
}

export interface SingularityDeployFailure {
  reason: DeployFailureReason;
  taskId?: SingularityTaskId;
  message?: string;
}

export interface SingularityDeployResult {
  deployState: DeployState;
  message?: string;
  deployFailures: SingularityDeployFailure[];
  timestamp: number;
}

export interface SingularityDeployProgress {
  targetActiveInstances: number;
  currentActiveInstances: number;
  deployInstanceCountPerStep: number;
  deployStepWaitTimeMs: number;
  stepComplete: boolean;
  /** The spec's name for `stepComplete`; both are emitted. */
  stepLaunchComplete?: boolean;
  autoAdvanceDeploySteps: boolean;
  failedDeployTasks: SingularityTaskId[];
  timestamp: number;
}

export interface SingularityPendingDeploy {
  deployMarker: SingularityDeployMarker;
  currentDeployState: DeployState;
  deployProgress: SingularityDeployProgress;
  updatedRequest?: SingularityRequest;
}
