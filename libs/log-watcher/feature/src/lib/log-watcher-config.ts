import { configFileFromEnv, loadConfig, mergeSectionAlias, parseConfig, runnerBaseSectionSchema } from '@singularity/node-util';
import { z } from 'zod';

/**
 * The log watcher's configuration (spec slave "Config", §5): the consolidated
 * per-node YAML file, of which it reads `base` (where the executor writes
 * `*.tail.json`) and its own section `logWatcher` (the spec's all-lowercase
 * `logwatcher` is accepted too). Unknown keys are ignored; a bad value stops
 * start-up naming the key. Every key of the section is described in
 * docs/log-watcher.md.
 */
const positiveInt = z.number().int().positive();
const nonBlank = z.string().trim().min(1);

export interface FluentdHost {
  host: string;
  port: number;
}

const hostPort = z.string().transform((text, ctx): FluentdHost => {
  const match = /^\s*(\[[^\]]+\]|[^:\s]+)(?::(\d+))?\s*$/.exec(text);
  const port = match?.[2] === undefined ? 24224 : Number(match[2]);
  if (!match || port < 1 || port > 65535) {
    ctx.addIssue({ code: 'custom', message: `'${text}' is not host:port` });
    return z.NEVER;
  }
  return { host: match[1].replace(/^\[|\]$/g, ''), port };
});

/** `host:port` entries, a comma-separated string (the original's form) or a YAML list. */
const fluentdHosts = z
  .union([z.array(z.string()), z.string().transform((text) => text.split(',').filter((part) => part.trim() !== ''))])
  .pipe(z.array(hostPort).min(1, 'needs at least one host:port'));

export const logWatcherSectionSchema = z.looseObject({
  fluentdHosts: fluentdHosts.default([{ host: 'localhost', port: 24224 }]),
  fluentdTagPrefix: nonBlank.default('forward'),
  /** After every host failed, the file is tried again (from its saved offset) this much later. Fractions allowed. */
  retryDelaySeconds: z.number().positive().default(60),
  pollMillis: positiveInt.default(1000),
  byteBufferCapacity: positiveInt.default(8192),
  storeDirectory: nonBlank,
  storeSuffix: nonBlank.default('.store'),
  /** Ours: how long fluentd gets to acknowledge a batch before the host counts as down. */
  fluentdTimeoutMillis: positiveInt.default(10000),
  listenHost: nonBlank.default('127.0.0.1'),
  /** `GET /health`; 0 picks a free port. */
  httpPort: z.number().int().min(0).max(65535).default(7074),
});

export const logWatcherConfigSchema = z.preprocess(
  // The spec names the section `logwatcher`; ours is camelCase. Either works.
  (input) => mergeSectionAlias(input, 'logwatcher', 'logWatcher'),
  z
    .looseObject({
      base: runnerBaseSectionSchema.default(runnerBaseSectionSchema.parse({})),
      // prefault: a missing section is parsed as {}, so the error names `logWatcher.storeDirectory`.
      logWatcher: logWatcherSectionSchema.prefault({} as z.input<typeof logWatcherSectionSchema>),
    })
    .superRefine((config, ctx) => {
      if (!config.base.logWatcherMetadataDirectory) {
        ctx.addIssue({ code: 'custom', path: ['base', 'logWatcherMetadataDirectory'], message: 'is required: the directory the executor writes *.tail.json to' });
      }
    }),
);

export type LogWatcherConfig = z.infer<typeof logWatcherConfigSchema>;
export type LogWatcherSettings = LogWatcherConfig['logWatcher'];

/** Environment prefix of overrides: `SINGULARITY_LOG_WATCHER_LOG_WATCHER__HTTP_PORT=0` sets `logWatcher.httpPort`. */
export const LOG_WATCHER_CONFIG_ENV_PREFIX = 'SINGULARITY_LOG_WATCHER';

/** `file` (or `SINGULARITY_LOG_WATCHER_CONFIG`), then `SINGULARITY_LOG_WATCHER_<SECTION>` overrides; throws a ConfigError naming the key. */
export function loadLogWatcherConfig(file: string | undefined, env: NodeJS.ProcessEnv = process.env): LogWatcherConfig {
  return loadConfig(logWatcherConfigSchema, { file: file ?? configFileFromEnv(LOG_WATCHER_CONFIG_ENV_PREFIX, env), envPrefix: LOG_WATCHER_CONFIG_ENV_PREFIX, env });
}

/** Parses `input` with every default applied; for tests and embedding. */
export function logWatcherConfig(input: unknown): LogWatcherConfig {
  return parseConfig(logWatcherConfigSchema, input);
}
