import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { DEFAULT_VALIDATION_LIMITS } from '@singularity/models';
import { configFileFromEnv, loadConfig } from '@singularity/node-util';
import { DEFAULT_WEBHOOK_SETTINGS } from '@singularity/scheduler-feature';
import { HISTORY_PURGING_DEFAULTS } from '@singularity/scheduler-history';
import { DEFAULT_COOLDOWN_SETTINGS, DEFAULT_CRASH_LOOP_SETTINGS, DEFAULT_HEALTHCHECK_SETTINGS, DEFAULT_LOG_UPLOAD_SETTINGS, DEFAULT_SCHEDULER_SETTINGS } from '@singularity/scheduler-core';
import { z } from 'zod';

const positive = z.number().positive();

/** The scheduler's configuration file (YAML) and `SINGULARITY_*` environment overrides. */
export const schedulerConfigSchema = z
  .object({
    host: z.string().default('0.0.0.0'),
    httpPort: z.number().int().min(0).max(65535).default(7099),
    hostname: z.string().default(hostname()),
    /**
     * Host name or address the other schedulers (and agents through them) reach this one at: the
     * advertised URL is `http://<advertisedHost>:<httpPort>`. Default: `hostname`.
     */
    advertisedHost: z.string().min(1).optional(),
    /**
     * High availability (docs/high-availability.md): with `quorum` set, live state lives in ZooKeeper and
     * the process starts as a standby that leads once elected. Without it: the embedded store, one instance.
     */
    zookeeper: z
      .object({
        /** ZooKeeper connect string, `host:port,host:port,…`. */
        quorum: z.string().min(1).optional(),
        /** Root znode of this cluster's state, election and host registry (`/singularity`). */
        zkNamespace: z.string().min(1).default('singularity'),
        /** ZooKeeper session timeout: how long a dead leader holds the leadership (failover time). */
        sessionTimeoutMillis: z.number().int().positive().default(15000),
        /** How long one attempt to connect waits before it is retried. */
        connectTimeoutMillis: z.number().int().positive().default(5000),
        /** Back-off of ZooKeeper calls cut by a connection loss: the first wait, doubled per try. */
        retryBaseSleepTimeMilliseconds: z.number().int().positive().default(1000),
        retryMaxTries: z.number().int().positive().default(3),
      })
      .strict()
      .default({ zkNamespace: 'singularity', sessionTimeoutMillis: 15000, connectTimeoutMillis: 5000, retryBaseSleepTimeMilliseconds: 1000, retryMaxTries: 3 }),
    /** Where the embedded live state lives. */
    dataDir: z.string().default('.data/scheduler'),
    /** PostgreSQL for the history (`postgres://user:pass@host:5432/db`); without it an embedded PostgreSQL runs under dataDir. */
    databaseUrl: z.string().url().optional(),
    persistHistoryEverySeconds: positive.default(120),
    /** The load balancer API (Baragon-style); load balancing is off when unset (spec §3.5, §5). */
    loadBalancerUri: z.string().url().optional(),
    loadBalancerRequestTimeoutMillis: positive.default(2000),
    loadBalancerRemovalGracePeriodMillis: z.number().min(0).default(0),
    /**
     * Where executors upload finished tasks' logs (spec slave §2): handed to every task in its
     * executorData. Without `s3Bucket` nothing is uploaded.
     */
    s3: z
      .object({
        s3Bucket: z.string().min(3).optional(),
        s3KeyFormat: z.string().min(1).default(DEFAULT_LOG_UPLOAD_SETTINGS.s3KeyFormat),
        s3StorageClass: z.string().min(1).optional(),
        applyS3StorageClassAfterBytes: z.number().int().min(0).optional(),
        s3UploaderAdditionalFiles: z
          .array(
            z.union([
              z.string().min(1),
              z
                .object({
                  filename: z.string().min(1),
                  s3UploaderBucket: z.string().min(3).optional(),
                  s3UploaderKeyPattern: z.string().min(1).optional(),
                  s3UploaderFilenameHint: z.string().min(1).optional(),
                  directory: z.string().min(1).optional(),
                  s3StorageClass: z.string().min(1).optional(),
                  applyS3StorageClassAfterBytes: z.number().int().min(0).optional(),
                  checkSubdirectories: z.boolean().optional(),
                  compressBeforeUpload: z.boolean().optional(),
                  checkIfOpen: z.boolean().optional(),
                })
                .strict(),
            ]),
          )
          .default([]),
      })
      .strict()
      .default({ s3KeyFormat: DEFAULT_LOG_UPLOAD_SETTINGS.s3KeyFormat, s3UploaderAdditionalFiles: [] }),
    /** Spec §5 `historyPurging`; off unless `enabled`. */
    historyPurging: z
      .object({
        enabled: z.boolean().default(HISTORY_PURGING_DEFAULTS.enabled),
        deleteTaskHistoryAfterDays: z.number().min(0).default(HISTORY_PURGING_DEFAULTS.deleteTaskHistoryAfterDays),
        deleteTaskHistoryAfterTasksPerRequest: z.number().int().min(0).default(HISTORY_PURGING_DEFAULTS.deleteTaskHistoryAfterTasksPerRequest),
        deleteTaskHistoryBytesAfterDays: z.number().min(0).default(HISTORY_PURGING_DEFAULTS.deleteTaskHistoryBytesAfterDays),
        deleteTaskHistoryBytesAfterTasksPerRequest: z.number().int().min(0).default(HISTORY_PURGING_DEFAULTS.deleteTaskHistoryBytesAfterTasksPerRequest),
        checkTaskHistoryEveryHours: positive.default(HISTORY_PURGING_DEFAULTS.checkTaskHistoryEveryHours),
        purgeLimitPerQuery: z.number().int().positive().default(HISTORY_PURGING_DEFAULTS.purgeLimitPerQuery),
        purgeRequestHistoryAfterDays: z.number().min(0).default(HISTORY_PURGING_DEFAULTS.purgeRequestHistoryAfterDays),
        purgeDeployHistoryAfterDays: z.number().min(0).default(HISTORY_PURGING_DEFAULTS.purgeDeployHistoryAfterDays),
      })
      .strict()
      .default({ ...HISTORY_PURGING_DEFAULTS }),
    checkSchedulerEverySeconds: positive.default(DEFAULT_SCHEDULER_SETTINGS.checkSchedulerEverySeconds),
    considerTaskHealthyAfterRunningForSeconds: z.number().min(0).default(DEFAULT_SCHEDULER_SETTINGS.considerTaskHealthyAfterRunningForSeconds),
    deployHealthyBySeconds: positive.default(DEFAULT_SCHEDULER_SETTINGS.deployHealthyBySeconds),
    askDriverToKillTasksAgainAfterMillis: positive.default(DEFAULT_SCHEDULER_SETTINGS.askDriverToKillTasksAgainAfterMillis),
    reconcileLaunchAfterMillis: positive.default(DEFAULT_SCHEDULER_SETTINGS.reconcileLaunchAfterMillis),
    killNonLongRunningTasksInCleanupAfterSeconds: positive.default(DEFAULT_SCHEDULER_SETTINGS.killNonLongRunningTasksInCleanupAfterSeconds),
    maxScaleDownWithoutAcknowledgement: z.number().int().min(0).default(DEFAULT_SCHEDULER_SETTINGS.maxScaleDownWithoutAcknowledgement),
    deltaAfterWhichTasksAreLateMillis: positive.default(DEFAULT_SCHEDULER_SETTINGS.deltaAfterWhichTasksAreLateMillis),
    defaultSigKillProcessesAfterMillis: positive.default(DEFAULT_SCHEDULER_SETTINGS.defaultSigKillProcessesAfterMillis),
    defaultBounceExpirationMinutes: positive.default(DEFAULT_SCHEDULER_SETTINGS.defaultBounceExpirationMinutes),
    heartbeatIntervalMillis: positive.default(5000),
    agentHeartbeatTimeoutSeconds: positive.default(60),
    startNewReconcileEverySeconds: positive.default(600),
    deleteDeadAgentsAfterHours: positive.default(168),
    agentReregisterTimeoutSeconds: positive.default(600),
    healthcheckIntervalSeconds: positive.default(DEFAULT_HEALTHCHECK_SETTINGS.healthcheckIntervalSeconds),
    healthcheckTimeoutSeconds: positive.default(DEFAULT_HEALTHCHECK_SETTINGS.healthcheckTimeoutSeconds),
    startupTimeoutSeconds: positive.default(DEFAULT_HEALTHCHECK_SETTINGS.startupTimeoutSeconds),
    startupIntervalSeconds: positive.default(DEFAULT_HEALTHCHECK_SETTINGS.startupIntervalSeconds),
    startupDelaySeconds: z.number().min(0).optional(),
    healthcheckMaxRetries: z.number().int().min(0).optional(),
    healthcheckFailureStatusCodes: z.array(z.number().int()).default([]),
    maxHealthcheckResponseBodyBytes: z.number().int().positive().default(DEFAULT_HEALTHCHECK_SETTINGS.maxHealthcheckResponseBodyBytes),
    checkWebhooksEveryMillis: positive.default(DEFAULT_WEBHOOK_SETTINGS.checkWebhooksEveryMillis),
    maxConcurrentWebhooks: z.number().int().positive().default(DEFAULT_WEBHOOK_SETTINGS.maxConcurrentWebhooks),
    maxQueuedUpdatesPerWebhook: z.number().int().positive().default(DEFAULT_WEBHOOK_SETTINGS.maxQueuedUpdatesPerWebhook),
    deleteUndeliverableWebhooksAfterHours: positive.default(DEFAULT_WEBHOOK_SETTINGS.deleteUndeliverableWebhooksAfterHours),
    cooldownFailureThreshold: z.number().int().positive().default(DEFAULT_COOLDOWN_SETTINGS.cooldownFailureThreshold),
    evaluateCooldownOverMinutes: positive.default(DEFAULT_COOLDOWN_SETTINGS.evaluateCooldownOverMinutes),
    cooldownMinScheduleSeconds: z.number().min(0).default(DEFAULT_COOLDOWN_SETTINGS.cooldownMinScheduleSeconds),
    // Crash-loop rules (spec §5 crashLoopConfiguration; top level here, next to the cool-down keys they share).
    evaluateStartupLoopOverMinutes: positive.default(DEFAULT_CRASH_LOOP_SETTINGS.evaluateStartupLoopOverMinutes),
    startupFailureThreshold: z.number().int().positive().default(DEFAULT_CRASH_LOOP_SETTINGS.startupFailureThreshold),
    evaluateOomsOverMinutes: positive.default(DEFAULT_CRASH_LOOP_SETTINGS.evaluateOomsOverMinutes),
    oomFailureThreshold: z.number().int().positive().default(DEFAULT_CRASH_LOOP_SETTINGS.oomFailureThreshold),
    singleInstanceFailureBucketSizeMinutes: positive.default(DEFAULT_CRASH_LOOP_SETTINGS.singleInstanceFailureBucketSizeMinutes),
    singleInstanceFailureBuckets: z.number().int().positive().default(DEFAULT_CRASH_LOOP_SETTINGS.singleInstanceFailureBuckets),
    singleInstanceFailureThreshold: z.number().min(0).max(1).default(DEFAULT_CRASH_LOOP_SETTINGS.singleInstanceFailureThreshold),
    multiInstanceFailureBucketSizeMinutes: positive.default(DEFAULT_CRASH_LOOP_SETTINGS.multiInstanceFailureBucketSizeMinutes),
    multiInstanceFailureBuckets: z.number().int().positive().default(DEFAULT_CRASH_LOOP_SETTINGS.multiInstanceFailureBuckets),
    multiInstanceFailureThreshold: z.number().min(0).max(1).default(DEFAULT_CRASH_LOOP_SETTINGS.multiInstanceFailureThreshold),
    slowFailureBucketSizeMinutes: positive.default(DEFAULT_CRASH_LOOP_SETTINGS.slowFailureBucketSizeMinutes),
    slowFailureBuckets: z.number().int().positive().default(DEFAULT_CRASH_LOOP_SETTINGS.slowFailureBuckets),
    slowFailureThreshold: z.number().min(0).max(1).default(DEFAULT_CRASH_LOOP_SETTINGS.slowFailureThreshold),
    tickDebounceMillis: z.number().min(0).default(100),
    cacheStateForMillis: z.number().min(0).default(60000),
    maxRequestIdSize: z.number().int().positive().default(DEFAULT_VALIDATION_LIMITS.maxRequestIdSize),
    maxDeployIdSize: z.number().int().positive().default(DEFAULT_VALIDATION_LIMITS.maxDeployIdSize),
    maxNumInstancesPerRequest: z.number().int().positive().default(DEFAULT_VALIDATION_LIMITS.maxNumInstancesPerRequest),
  })
  .strict();

export type SchedulerConfig = z.infer<typeof schedulerConfigSchema>;

/** `--config FILE` or `SINGULARITY_SCHEDULER_CONFIG`, then `SINGULARITY_SCHEDULER_<KEY>` variables (e.g. SINGULARITY_SCHEDULER_HTTP_PORT). */
export function loadSchedulerConfig(argv: string[] = process.argv.slice(2), env = process.env): SchedulerConfig {
  const i = argv.indexOf('--config');
  const file = i >= 0 ? argv[i + 1] : configFileFromEnv('SINGULARITY_SCHEDULER', env);
  const config = loadConfig(schedulerConfigSchema, { file, envPrefix: 'SINGULARITY_SCHEDULER', env });
  return { ...config, dataDir: resolve(config.dataDir) };
}
