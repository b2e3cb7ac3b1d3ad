import { configFileFromEnv, loadConfig, mergeSectionAlias, parseConfig, runnerBaseSectionSchema } from '@singularity/node-util';
import { z } from 'zod';

/**
 * The OOM killer's configuration (spec slave "Config", §6): the consolidated
 * per-node YAML file, of which it reads `base` and its own section
 * `oomKiller` (the spec's all-lowercase `oomkiller` is accepted too). Unknown
 * keys are ignored, so the file the executor and the other daemons read can
 * serve this one as well; a bad value stops start-up naming the key.
 *
 * Every key of the section is described in docs/oom-killer.md.
 */
const positiveInt = z.number().int().positive();
const nonBlank = z.string().trim().min(1);
const ratio = z.number().min(1, 'must be at least 1 (a ratio of resident memory to the memory limit)');

/**
 * One scheduler URL, or several (a YAML list or a comma-separated string), as
 * the agent's `schedulerUrl`: a kill request goes to the first that answers.
 */
const schedulerUrls = z
  .union([z.array(z.url()).min(1), z.string().transform((text) => text.split(',').map((url) => url.trim()).filter(Boolean)).pipe(z.array(z.url()).min(1))])
  .transform((urls) => urls.map((url) => url.replace(/\/+$/, '')));

export const oomKillerSectionSchema = z
  .looseObject({
    checkForOOMEveryMillis: positiveInt.default(100),
    /** Above this ratio the task's processes are SIGKILLed here, without the scheduler. */
    killProcessDirectlyThresholdRatio: ratio.default(1.2),
    /** Above this ratio (up to the direct one) the scheduler is asked to kill the task. */
    requestKillThresholdRatio: ratio.default(1.0),
    /** This node's name in logs and in the kill message (orig: the Mesos slave to ask for statistics). */
    slaveHostname: nonBlank.default('localhost'),
    schedulerUrl: schedulerUrls.default(['http://localhost:7099/singularity']),
    /** A kill request that has no answer within this long counts as failed (and is tried again). */
    schedulerTimeoutMillis: positiveInt.default(10000),
    /** Root of the cgroup file systems; the same as the executor's `cgroupRoot`. */
    cgroupRoot: nonBlank.default('/sys/fs/cgroup'),
    /** Parent cgroup of the task cgroups; the same as the executor's `cgroupParent`. */
    cgroupParent: nonBlank.default('singularity'),
    listenHost: nonBlank.default('127.0.0.1'),
    /** `GET /health` and `GET /metrics`; 0 picks a free port. */
    httpPort: z.number().int().min(0).max(65535).default(7075),
  })
  .refine((s) => s.requestKillThresholdRatio <= s.killProcessDirectlyThresholdRatio, {
    path: ['requestKillThresholdRatio'],
    message: 'must not be above killProcessDirectlyThresholdRatio',
  });

export const oomKillerConfigSchema = z.preprocess(
  // The spec names the section `oomkiller`; ours is camelCase like `executor`'s neighbours. Either works.
  (input) => mergeSectionAlias(input, 'oomkiller', 'oomKiller'),
  z.looseObject({
    base: runnerBaseSectionSchema.default(runnerBaseSectionSchema.parse({})),
    oomKiller: oomKillerSectionSchema.default(oomKillerSectionSchema.parse({})),
  }),
);

export type OomKillerConfig = z.infer<typeof oomKillerConfigSchema>;
export type OomKillerSettings = OomKillerConfig['oomKiller'];
export type OomKillerConfigInput = z.input<typeof oomKillerConfigSchema>;

/** Environment prefix of overrides: `SINGULARITY_OOM_KILLER_OOM_KILLER__HTTP_PORT=0` sets `oomKiller.httpPort`. */
export const OOM_KILLER_CONFIG_ENV_PREFIX = 'SINGULARITY_OOM_KILLER';

/** `--config FILE` or `SINGULARITY_OOM_KILLER_CONFIG`, then `SINGULARITY_OOM_KILLER_<SECTION>` overrides; throws a ConfigError naming the key. */
export function loadOomKillerConfig(file: string | undefined, env: NodeJS.ProcessEnv = process.env): OomKillerConfig {
  return loadConfig(oomKillerConfigSchema, { file: file ?? configFileFromEnv(OOM_KILLER_CONFIG_ENV_PREFIX, env), envPrefix: OOM_KILLER_CONFIG_ENV_PREFIX, env });
}

/** Parses `input` with every default applied; for tests and embedding. */
export function oomKillerConfig(input: OomKillerConfigInput = {}): OomKillerConfig {
  return parseConfig(oomKillerConfigSchema, input);
}
