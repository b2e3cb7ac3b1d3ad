import { ConfigError, loadConfig } from '@singularity/node-util';
import { z } from 'zod';
import { executorConfigSchema } from '../executor-config';

/**
 * Executor cleanup's configuration (spec slave §4): the executor's sections
 * (it reruns the executor's teardown, so it needs the same directories and
 * logrotate settings) plus its own `executorCleanup` section, in the same
 * consolidated file. Every key is described in docs/configuration.md.
 */
const nonBlank = z.string().trim().min(1);

const executorCleanupSchema = z.looseObject({
  /** Where each run writes `<ms><executorCleanupResultsSuffix>` with its counts. */
  executorCleanupResultsDirectory: nonBlank.optional(),
  executorCleanupResultsSuffix: nonBlank.default('.cleanup.json'),
  /** The schedulers to ask, tried in order: `host:port`. */
  singularityHosts: z.array(nonBlank).min(1).default(['localhost:7099']),
  singularityContextPath: z.string().default('singularity'),
  singularityUseSsl: z.boolean().default(false),
  /** This machine's agent id; asked from the local agent (`agentUrl`) when unset. Ours: the original asked Mesos. */
  agentId: nonBlank.optional(),
  agentUrl: z.url().default('http://127.0.0.1:5051'),
  safeModeWontRunWithNoTasks: z.boolean().default(true),
  cleanTasksWhenDecommissioned: z.boolean().default(true),
  /** Not supported here (no Docker); a warning says so when set. */
  runDockerCleanup: z.boolean().default(false),
  /** How the rotated logs that logrotate left uncompressed are compressed. */
  compressionType: z.enum(['GZIP', 'BZIP2', 'BGZIP']).default('GZIP'),
  cleanupAppDirectoryOfFailedTasksAfterMillis: z.number().int().min(0).default(86400000),
  /** A task's logs are handed over only when its last update is terminal and at least this old. */
  cleanupLogsAfterTaskEndMillis: z.number().int().min(0).default(15 * 60 * 1000),
  /** Budget of each scheduler call. */
  requestTimeoutMillis: z.number().int().positive().default(30000),
});

export const executorCleanupConfigSchema = executorConfigSchema.extend({
  executorCleanup: executorCleanupSchema.default(executorCleanupSchema.parse({})),
});

export type ExecutorCleanupConfig = z.infer<typeof executorCleanupConfigSchema>;

export const EXECUTOR_CLEANUP_CONFIG_ENV_PREFIX = 'SINGULARITY_EXECUTOR_CLEANUP';

/** Reads `file` (YAML) and `SINGULARITY_EXECUTOR_CLEANUP_<SECTION>__<KEY>` overrides; throws a ConfigError naming the key. */
export function loadExecutorCleanupConfig(file: string | undefined, env: NodeJS.ProcessEnv = process.env): ExecutorCleanupConfig {
  const config = loadConfig(executorCleanupConfigSchema, { file, envPrefix: EXECUTOR_CLEANUP_CONFIG_ENV_PREFIX, env });
  if (!config.executor.globalTaskDefinitionDirectory) {
    throw new ConfigError("invalid configuration key 'executor.globalTaskDefinitionDirectory': executor cleanup needs the directory the executors write their task definitions to");
  }
  return config;
}
