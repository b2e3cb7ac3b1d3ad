import { isAbsolute } from 'node:path';
import { ConfigError, configFileFromEnv, loadConfig, mergeSectionAlias, parseConfig } from '@singularity/node-util';
import { z } from 'zod';
import { executorConfigSchema } from '../executor-config';

/**
 * The artifact download service's configuration (spec slave §3): the
 * executor's sections of the consolidated node file (it fetches with the
 * executor's `s3` settings into the executor's `s3.artifactCacheDirectory`,
 * and extracts with `base.useCompressProgram`; where it listens is `s3`'s
 * `localDownloadHttpPort`, `localDownloadPath` and `localDownloadSocket`),
 * plus its own `downloadService` section. Every key is described in
 * docs/configuration.md.
 */
const positiveInt = z.number().int().positive();

export const downloadServiceSectionSchema = z.looseObject({
  /** Longest a request is held open, whatever `timeoutMillis` it asks for; also the server's request timeout. */
  httpServerTimeout: positiveInt.default(1800000),
  /** Requests worked on at once (waiting for a download, or placing); more wait in line within their own timeout. */
  numEnqueueThreads: positiveInt.default(10),
  /** S3 downloads at once (different artifacts; requests for an equal artifact share one). */
  numDownloaderThreads: positiveInt.default(5),
  /** Listen backlog of the unix socket. */
  unixAcceptQueueSize: positiveInt.default(128),
  /**
   * Accepted for compatibility: the original re-checked a request that joined
   * another's download this often. Ours is woken the moment that download ends.
   */
  millisToWaitForReEnqueue: positiveInt.default(5000),
  /** Used when a request gives no `timeoutMillis`. Ours (the original waited without a limit). */
  defaultTimeoutMillis: positiveInt.default(180000),
  /** On SIGTERM, how long requests in flight get to finish before the service exits anyway. Ours. */
  shutdownGraceMillis: z.number().int().min(0).default(60000),
  /**
   * Ours: absolute directories a `targetDirectory` must lie in (after
   * symlinks), e.g. the agent's sandbox root. Empty: anywhere, as the original.
   */
  allowedTargetRoots: z.array(z.string().refine((p) => isAbsolute(p), 'must be an absolute path')).default([]),
});

/** The sections without the alias handling (for the docs check, which walks object schemas). */
export const downloadServiceSectionsSchema = executorConfigSchema.extend({
  downloadService: downloadServiceSectionSchema.default(downloadServiceSectionSchema.parse({})),
});

export const downloadServiceConfigSchema = z.preprocess(
  // The spec's consolidated file names the section `s3downloader`; ours is `downloadService`. Either works.
  (input) => mergeSectionAlias(input, 's3downloader', 'downloadService'),
  downloadServiceSectionsSchema,
);

export type DownloadServiceConfig = z.infer<typeof downloadServiceConfigSchema>;
export type DownloadServiceConfigInput = z.input<typeof downloadServiceSectionsSchema>;
export type DownloadServiceSettings = DownloadServiceConfig['downloadService'];

/** `SINGULARITY_ARTIFACT_DOWNLOAD_SERVICE_CONFIG` names the file; `SINGULARITY_ARTIFACT_DOWNLOAD_SERVICE_<SECTION>__<KEY>` overrides a key. */
export const DOWNLOAD_SERVICE_CONFIG_ENV_PREFIX = 'SINGULARITY_ARTIFACT_DOWNLOAD_SERVICE';

/**
 * Checks what the schema cannot: the service needs a cache to share (that is
 * its point) and S3 keys (spec slave §3: "needs S3 keys"; bucket credentials
 * alone do, too). Throws a ConfigError naming the key.
 */
function checkDownloadServiceConfig(config: DownloadServiceConfig): DownloadServiceConfig {
  if (!config.s3.artifactCacheDirectory) {
    throw new ConfigError("invalid configuration key 's3.artifactCacheDirectory': the artifact download service needs the cache directory it shares with the executors");
  }
  const hasKeys = Boolean(config.s3.s3AccessKey && config.s3.s3SecretKey);
  if (!hasKeys && Object.keys(config.s3.s3BucketCredentials).length === 0) {
    const missing = config.s3.s3AccessKey ? 's3.s3SecretKey' : 's3.s3AccessKey';
    throw new ConfigError(`invalid configuration key '${missing}': the artifact download service needs S3 keys (s3AccessKey and s3SecretKey, or s3BucketCredentials)`);
  }
  return config;
}

/** `file` (or the one `SINGULARITY_ARTIFACT_DOWNLOAD_SERVICE_CONFIG` names), then environment overrides; throws a ConfigError naming the key. */
export function loadDownloadServiceConfig(file: string | undefined, env: NodeJS.ProcessEnv = process.env): DownloadServiceConfig {
  const config = loadConfig(downloadServiceConfigSchema, {
    file: file ?? configFileFromEnv(DOWNLOAD_SERVICE_CONFIG_ENV_PREFIX, env),
    envPrefix: DOWNLOAD_SERVICE_CONFIG_ENV_PREFIX,
    env,
  });
  return checkDownloadServiceConfig(config);
}

/** Parses `input` with every default applied and the same checks; for tests and embedding. */
export function downloadServiceConfig(input: DownloadServiceConfigInput = {}): DownloadServiceConfig {
  return checkDownloadServiceConfig(parseConfig(downloadServiceConfigSchema, input));
}
