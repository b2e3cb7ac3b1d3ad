import { bucketCredentialsSchema, ConfigError, configFileFromEnv, loadConfig, parseConfig, runnerBaseSectionSchema, s3SectionSchema } from '@singularity/node-util';
import { z } from 'zod';

/**
 * The S3 uploader's configuration (spec slave "Config", §2): the consolidated
 * node YAML file with the shared sections `base` (where the executor leaves
 * `*.s3.json`) and `s3` (how to reach S3), plus the uploader's own section
 * `s3uploader`. Unknown keys are ignored, so the executor's file serves as is;
 * a bad value stops start-up with a message naming the key. Every key of
 * `s3uploader` is described in docs/s3-uploader.md (a test holds them to it).
 */
const MIB = 1024 * 1024;
const nonBlank = z.string().trim().min(1);
const positiveInt = z.number().int().positive();
const millis = z.number().int().min(0);

const contentHeadersRule = z.looseObject({
  /** The rule applies to files whose name ends with this. */
  filenameEndsWith: nonBlank,
  contentType: nonBlank.optional(),
  contentEncoding: nonBlank.optional(),
});

export const s3UploaderSectionSchema = z
  .looseObject({
    /** Full rescan of the metadata directory; the watcher covers the time between (spec: at least 60). */
    recheckFilesEverySeconds: z.number().int().min(60).default(600),
    checkUploadsEverySeconds: positiveInt.default(600),
    /** How often a stopping uploader looks whether the upload in flight is done. */
    pollForShutDownMillis: positiveInt.default(1000),
    /** Ours: the longest a stopping uploader waits for the upload in flight. */
    shutdownTimeoutMillis: millis.default(60000),
    /** How many uploaders upload at the same time within a cycle. */
    executorMaxUploadThreads: positiveInt.default(25),
    s3AccessKey: nonBlank.optional(),
    s3SecretKey: nonBlank.optional(),
    s3BucketCredentials: z.record(z.string(), bucketCredentialsSchema).default({}),
    /**
     * Ours: when no access key is configured anywhere, use the AWS SDK's
     * default chain (environment, profile, instance role) instead of refusing
     * to start as the spec's default does.
     */
    useDefaultCredentialsChain: z.boolean().default(false),
    /** Files above this go up in parts (S3 allows 5 MiB to 5 GiB in one PUT). */
    maxSingleUploadSizeBytes: z
      .number()
      .int()
      .min(5 * MIB)
      .max(5 * 1024 * MIB)
      .default(5 * 1024 * MIB),
    /** Part size of multipart uploads (S3's minimum is 5 MiB). */
    uploadPartSize: z
      .number()
      .int()
      .min(5 * MIB)
      .default(20 * MIB),
    /** Attempts per file and cycle. */
    retryCount: positiveInt.default(2),
    retryWaitMs: millis.default(1000),
    s3ContentHeaders: z.array(contentHeadersRule).default([]),
    checkForOpenFiles: z.boolean().default(true),
    checkOpenFilesViaFuser: z.boolean().default(false),
    /** Ours: the programs that tell whether another process holds a file open (run without a shell). */
    lsofCommand: nonBlank.default('lsof'),
    fuserCommand: nonBlank.default('fuser'),
    stopCheckingAfterMillisWithoutNewFile: millis.default(168 * 60 * 60 * 1000),
    metricsFilePath: nonBlank.optional(),
    /** How often the metrics file is rewritten. */
    metricsWriteEveryMillis: positiveInt.default(30000),
    /** Ours: health and metrics over HTTP (0 picks a free port). */
    httpPort: z.number().int().min(0).max(65535).default(7073),
    httpHost: nonBlank.default('127.0.0.1'),
  })
  .refine((s) => (s.s3AccessKey === undefined) === (s.s3SecretKey === undefined), {
    message: 's3AccessKey and s3SecretKey go together',
    path: ['s3SecretKey'],
  });

export const s3UploaderConfigSchema = z
  .looseObject({
    base: runnerBaseSectionSchema.default(runnerBaseSectionSchema.parse({})),
    s3: s3SectionSchema.default(s3SectionSchema.parse({})),
    s3uploader: s3UploaderSectionSchema.default(s3UploaderSectionSchema.parse({})),
  })
  .superRefine((config, ctx) => {
    if (!config.base.s3UploaderMetadataDirectory) {
      ctx.addIssue({ code: 'custom', path: ['base', 's3UploaderMetadataDirectory'], message: 'the S3 uploader needs the directory it watches' });
    }
    const { s3uploader, s3 } = config;
    const hasDefaultKeys = Boolean((s3uploader.s3AccessKey && s3uploader.s3SecretKey) || (s3.s3AccessKey && s3.s3SecretKey));
    if (!hasDefaultKeys && !s3uploader.useDefaultCredentialsChain) {
      // Spec slave §2 "Creds": with no keys at all start-up fails (metadata may still name its own per task).
      ctx.addIssue({
        code: 'custom',
        path: ['s3uploader', 's3AccessKey'],
        message: 'no S3 access key: set s3uploader.s3AccessKey/s3SecretKey or s3.s3AccessKey/s3SecretKey (or s3uploader.useDefaultCredentialsChain: true)',
      });
    }
  });

export type S3UploaderConfig = z.infer<typeof s3UploaderConfigSchema>;
export type S3UploaderConfigInput = z.input<typeof s3UploaderConfigSchema>;
export type S3UploaderSection = z.infer<typeof s3UploaderSectionSchema>;
export type ContentHeadersRule = z.infer<typeof contentHeadersRule>;

/** Environment prefix of overrides: `SINGULARITY_S3_UPLOADER_S3UPLOADER__HTTP_PORT=0`. */
export const S3_UPLOADER_CONFIG_ENV_PREFIX = 'SINGULARITY_S3_UPLOADER';

/** `--config FILE` (or `$SINGULARITY_S3_UPLOADER_CONFIG`), then environment overrides; throws a ConfigError naming the key. */
export function loadS3UploaderConfig(argv: string[] = process.argv.slice(2), env: NodeJS.ProcessEnv = process.env): S3UploaderConfig {
  const i = argv.indexOf('--config');
  if (i >= 0 && !argv[i + 1]) throw new ConfigError('--config needs a file name');
  const file = i >= 0 ? argv[i + 1] : configFileFromEnv(S3_UPLOADER_CONFIG_ENV_PREFIX, env);
  return loadConfig(s3UploaderConfigSchema, { file, envPrefix: S3_UPLOADER_CONFIG_ENV_PREFIX, env });
}

/** Parses `input` with every default applied; for tests and embedding. */
export function s3UploaderConfig(input: S3UploaderConfigInput = {}): S3UploaderConfig {
  return parseConfig(s3UploaderConfigSchema, input);
}
