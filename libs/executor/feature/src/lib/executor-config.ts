import { LOGROTATE_FREQUENCIES } from '@singularity/models';
import { loadConfig, parseConfig, runnerBaseSectionSchema, s3SectionSchema } from '@singularity/node-util';
import { z } from 'zod';

/**
 * The executor's configuration (spec slave "Config", §1.10): one YAML file
 * with the sections `base`, `s3` (shared with the node daemons, in
 * node-util's node-config.ts) and `executor`, as Singularity's consolidated
 * slave configuration has them. Unknown keys are ignored (the same file also
 * holds the other daemons' sections); a bad value stops with a message naming
 * the key. The agent writes the file it hands to its executors
 * (`<agent dataDir>/executor.yaml`), filling in directories under its data
 * directory, and checks it once at start (`executor --check-config`).
 *
 * Every key is described in docs/configuration.md.
 */
const millis = z.number().int().min(0);
const positiveInt = z.number().int().positive();
const nonBlank = z.string().trim().min(1);

const logrotateFrequency = z.enum(LOGROTATE_FREQUENCIES);

const additionalLogFile = z.union([
  nonBlank.transform((filename) => ({ filename })),
  z.looseObject({
    filename: nonBlank,
    extension: z.string().optional(),
    dateformat: z.string().optional(),
    logrotateFrequencyOverride: logrotateFrequency.optional(),
    logrotateSizeOverride: nonBlank.optional(),
    deleteInExecutorCleanup: z.boolean().default(false),
  }),
]);

const compressionSettings = z.looseObject({
  compressCmd: nonBlank.optional(),
  uncompressCmd: nonBlank.optional(),
  compressOptions: z.string().optional(),
  compressExt: nonBlank.optional(),
});

const shellCommand = z.looseObject({
  /** Name the API asks for (`POST /tasks/task/{taskId}/command` `name`). */
  name: nonBlank,
  /** Program and arguments; `{PID}` is replaced with the task's pid, `{USER}` with its user. */
  command: z.array(nonBlank).min(1),
  /** Options the caller may pass; anything else is refused. */
  options: z.array(nonBlank).default([]),
  /** Run as the task's user (default) or as the executor's. */
  runAsTaskUser: z.boolean().default(true),
  timeoutMillis: positiveInt.default(60000),
});

const executorSchema = z.looseObject({
  /** User tasks run as when their deploy names none; the executor's own user when unset. */
  defaultRunAsUser: nonBlank.optional(),
  /** How runner.sh switches to another user; `%s` is the (quoted) user name. */
  switchUserCommandFormat: nonBlank.default('sudo -E -u %s'),
  globalTaskDefinitionDirectory: nonBlank.optional(),
  globalTaskDefinitionSuffix: nonBlank.default('.task.json'),
  taskAppDirectory: nonBlank.default('app'),
  /** TERM→KILL grace when neither the deploy nor the kill sets one. */
  hardKillAfterMillis: millis.default(180000),
  /** Ours is short: the terminal update is durable on disk once written (the original waited 10000 ms for Mesos to deliver it). */
  idleExecutorShutdownWaitMillis: millis.default(500),
  maxTaskMessageLength: positiveInt.default(80),
  tailLogLinesToSave: z.number().int().min(0).default(2500),
  serviceLog: nonBlank.default('service.log'),
  serviceFinishedTailLog: nonBlank.default('tail_of_finished_service.log'),
  logrotateCommand: nonBlank.default('logrotate'),
  logrotateStateFile: nonBlank.default('logrotate.status'),
  logrotateConfDirectory: nonBlank.default('/etc/logrotate.d'),
  logrotateHourlyConfDirectory: nonBlank.default('/etc/logrotate.d/hourly'),
  cronDirectory: nonBlank.default('/etc/cron.d'),
  logrotateToDirectory: nonBlank.default('logs'),
  logrotateMaxageDays: positiveInt.default(7),
  logrotateCount: positiveInt.default(20),
  logrotateDateformat: nonBlank.default('%Y%m%d%s'),
  logrotateExtrasDateformat: nonBlank.default('%Y%m%d'),
  logrotateFrequency: logrotateFrequency.default('DAILY'),
  logrotateAdditionalFiles: z.array(additionalLogFile).default([]),
  logrotateCompressionSettings: compressionSettings.default({}),
  ignoreLogrotateOutput: z.boolean().default(false),
  /** Forces a rotation when service.log grows past this (checked every 5 minutes). */
  maxServiceLogSizeMb: positiveInt.optional(),
  useFileAttributes: z.boolean().default(false),
  useLocalDownloadService: z.boolean().default(false),
  localDownloadServiceTimeoutMillis: positiveInt.default(180000),
  localDownloadServiceMaxConnections: positiveInt.default(25),
  artifactSignatureVerificationCommand: z.array(nonBlank).min(1).default(['/usr/bin/gpg', '--verify', '{artifactSignaturePath}']),
  failTaskOnInvalidArtifactSignature: z.boolean().default(true),
  failOnSignatureWithNoMatchingArtifact: z.boolean().default(false),
  failOnArtifactWithNoMatchingSignature: z.boolean().default(false),
  defaultCfsPeriod: positiveInt.default(100000),
  extraScriptContent: z.string().default(''),
  verifyAssignedPorts: z.boolean().default(false),
  defaultHealthcheckMaxRetries: z.number().int().min(0).default(6),
  defaultHealthcheckBaseTimeoutSeconds: z.number().int().min(0).default(30),
  defaultHealthcheckInternvalSeconds: positiveInt.default(5),
  checkThreadsEveryMillis: positiveInt.default(5000),
  threadCheckerType: z.enum(['PS', 'PROC_STATUS', 'CGROUP']).default('PROC_STATUS'),
  runShellCommandBeforeKillDueToThreads: z.looseObject({ name: nonBlank, options: z.array(z.string()).default([]) }).optional(),
  shellCommands: z.array(shellCommand).default([]),
  /**
   * Task cgroups (ours; the original left them to Mesos): `auto` uses them
   * where the hierarchy is writable and says once when it is not, `off`
   * never, `required` fails the task without them.
   */
  cgroups: z.enum(['auto', 'off', 'required']).default('auto'),
  /** Root of the cgroup file systems (v1 controllers below it, or a v2 hierarchy; `unified/` on hybrid machines). */
  cgroupRoot: nonBlank.default('/sys/fs/cgroup'),
  /** Parent cgroup of the tasks' cgroups, created when missing. */
  cgroupParent: nonBlank.default('singularity'),
});

export const executorConfigSchema = z.looseObject({
  base: runnerBaseSectionSchema.default(runnerBaseSectionSchema.parse({})),
  s3: s3SectionSchema.default(s3SectionSchema.parse({})),
  executor: executorSchema.default(executorSchema.parse({})),
});

export type ExecutorConfig = z.infer<typeof executorConfigSchema>;
export type ExecutorConfigInput = z.input<typeof executorConfigSchema>;
export type ShellCommandConfig = z.infer<typeof shellCommand>;
export type AdditionalLogFileConfig = z.infer<typeof additionalLogFile>;

/** Environment prefix of overrides: `SINGULARITY_EXECUTOR_S3='{s3Endpoint: http://…}'` replaces a section. */
export const EXECUTOR_CONFIG_ENV_PREFIX = 'SINGULARITY_EXECUTOR';

/** Reads `file` (YAML) and `SINGULARITY_EXECUTOR_<SECTION>` overrides; throws a ConfigError naming the key. */
export function loadExecutorConfig(file: string | undefined, env: NodeJS.ProcessEnv = process.env): ExecutorConfig {
  return loadConfig(executorConfigSchema, { file, envPrefix: EXECUTOR_CONFIG_ENV_PREFIX, env });
}

/** Parses `input` with every default applied; for tests and embedding. */
export function executorConfig(input: ExecutorConfigInput = {}): ExecutorConfig {
  return parseConfig(executorConfigSchema, input);
}
