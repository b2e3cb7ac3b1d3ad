import { existsSync, mkdirSync, readFileSync, statfsSync } from 'node:fs';
import { cpus, hostname, networkInterfaces, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { PortRange } from '@singularity/models';
import { ConfigError, configFileFromEnv, loadConfig, parseConfig } from '@singularity/node-util';
import { z } from 'zod';

const millis = z.number().int().positive();

const portRangeSchema = z
  .union([
    z
      .string()
      .regex(/^\s*\d+\s*-\s*\d+\s*$/, 'must look like "31000-32000"')
      .transform((text): PortRange => {
        const [begin, end] = text.split('-').map((part) => Number(part.trim()));
        return { begin, end };
      }),
    z.object({ begin: z.number().int(), end: z.number().int() }).strict(),
  ])
  .refine((range) => range.begin >= 1 && range.end <= 65535 && range.begin <= range.end, 'begin and end must be ports (1-65535) with begin <= end');

const attributeValue = z.union([z.string(), z.number(), z.boolean()]).transform(String);

/**
 * One scheduler URL, or several (a YAML list or a comma-separated string) when schedulers run as leader
 * and standbys (docs/high-availability.md); kept as one comma-separated string, first URL first.
 */
const schedulerUrls = z
  .union([z.array(z.url()).min(1), z.string().transform((text) => text.split(',').map((url) => url.trim()).filter(Boolean)).pipe(z.array(z.url()).min(1))])
  .transform((urls) => urls.join(','));

/**
 * The agent's configuration file (YAML, `--config FILE` or
 * `SINGULARITY_AGENT_CONFIG`) and `SINGULARITY_AGENT_<KEY>` environment
 * overrides (e.g. `SINGULARITY_AGENT_HTTP_PORT=0`). Keys without a default
 * here are derived from the machine by `resolveAgentConfig`. Each key is
 * described in libs/agent/feature/README.md.
 */
export const agentConfigSchema = z
  .object({
    schedulerUrl: schedulerUrls.default('http://localhost:7099/singularity'),
    listenHost: z.string().min(1).default('0.0.0.0'),
    httpPort: z.number().int().min(0).max(65535).default(5051),
    hostname: z.string().min(1).optional(),
    address: z.string().min(1).optional(),
    rackId: z.string().min(1).optional(),
    attributes: z.record(z.string(), attributeValue).default({}),
    cpus: z.number().positive().optional(),
    memoryMb: z.number().positive().optional(),
    diskMb: z.number().positive().optional(),
    portRange: portRangeSchema.default({ begin: 31000, end: 32000 }),
    dataDir: z.string().min(1).default('.data/agent'),
    sandboxRoot: z.string().min(1).optional(),
    executorCommand: z
      .union([z.array(z.string().min(1)).min(1), z.string().min(1).transform((s) => s.trim().split(/\s+/))])
      .optional(),
    /** YAML with the executor's sections (base, s3, executor; docs/configuration.md); merged over the agent's defaults. */
    executorConfigFile: z.string().min(1).optional(),
    /** Run `executor --check-config` at start so a bad executor configuration stops the agent. */
    checkExecutorConfig: z.boolean().default(true),
    defaultSigKillProcessesAfterMillis: z.number().int().min(0).default(120000),
    killTasksOnShutdown: z.boolean().default(false),
    statusPollMillis: millis.default(200),
    statusRetryMillis: millis.default(1000),
    statusBatchSize: z.number().int().positive().default(500),
    registerRetryMillis: millis.default(1000),
    maxRetryMillis: millis.default(30000),
    schedulerTimeoutMillis: millis.default(10000),
    executorCheckMillis: millis.default(1000),
    executorKillMarginMillis: z.number().int().min(0).default(30000),
    shutdownRelayTimeoutMillis: z.number().int().min(0).default(10000),
    /** After a task's end is acknowledged, `T/app` goes after this (spec slave §4 step 8: 15 minutes). */
    sandboxAppCleanupDelayMillis: z.number().int().min(0).default(15 * 60 * 1000),
    /** The same for failed and lost tasks, kept longer for a post-mortem (spec slave §4). */
    cleanupAppDirectoryOfFailedTasksAfterMillis: z.number().int().min(0).default(24 * 60 * 60 * 1000),
    /** After a task's end is acknowledged, its whole sandbox and control directory go after this. */
    sandboxRetentionMillis: z.number().int().min(0).default(7 * 24 * 60 * 60 * 1000),
    /**
     * Run the executors' rotation cron lines and the daily logrotate (spec slave §1.9) in the agent:
     * `auto` when the executors' cronDirectory is under the data directory (where no host cron looks).
     */
    periodicLogrotate: z.enum(['auto', 'on', 'off']).default('auto'),
  })
  .strict();

export type AgentConfigInput = z.input<typeof agentConfigSchema>;

/** The configuration with every machine-derived default filled in and paths made absolute. */
export type AgentConfig = Required<Omit<z.infer<typeof agentConfigSchema>, 'executorCommand' | 'executorConfigFile'>> & {
  /** The operator's executor configuration, when one was given (absolute). */
  executorConfigFile?: string;
  executorCommand: string[];
  /** Version reported at registration (the repository's package.json). */
  version: string;
};

/** `--config FILE` or `SINGULARITY_AGENT_CONFIG`, then `SINGULARITY_AGENT_<KEY>` variables. */
export function loadAgentConfig(argv: string[] = process.argv.slice(2), env: NodeJS.ProcessEnv = process.env): AgentConfig {
  const i = argv.indexOf('--config');
  if (i >= 0 && !argv[i + 1]) throw new ConfigError('--config needs a file name');
  const file = i >= 0 ? argv[i + 1] : configFileFromEnv('SINGULARITY_AGENT', env);
  return resolveAgentConfig(loadConfig(agentConfigSchema, { file, envPrefix: 'SINGULARITY_AGENT', env }));
}

/** Parses `input` (schema defaults apply) and derives the rest; for tests and embedding. */
export function agentConfig(input: AgentConfigInput = {}): AgentConfig {
  return resolveAgentConfig(parseConfig(agentConfigSchema, input));
}

/**
 * Fills in what depends on the machine: host name, the address the scheduler
 * reaches us at, resources detected from the OS, the sandbox root and the
 * executor command. Creates the data directory (its file system sizes the disk).
 */
export function resolveAgentConfig(config: z.infer<typeof agentConfigSchema>): AgentConfig {
  const dataDir = resolve(config.dataDir);
  mkdirSync(dataDir, { recursive: true });
  const repo = findRepoRoot();
  return {
    ...config,
    dataDir,
    sandboxRoot: resolve(config.sandboxRoot ?? join(dataDir, 'sandboxes')),
    executorConfigFile: config.executorConfigFile === undefined ? undefined : resolve(config.executorConfigFile),
    hostname: config.hostname ?? hostname(),
    address: config.address ?? defaultAddress(config.schedulerUrl),
    rackId: config.rackId ?? config.attributes['rackid'] ?? 'DEFAULT',
    cpus: config.cpus ?? cpus().length,
    memoryMb: config.memoryMb ?? Math.floor(totalmem() / (1024 * 1024)),
    diskMb: config.diskMb ?? detectDiskMb(dataDir),
    executorCommand: config.executorCommand ?? [process.execPath, '-r', join(repo, 'tools', 'register.js'), join(repo, 'apps', 'executor', 'src', 'main.ts')],
    version: readVersion(repo),
  };
}

/** 127.0.0.1 when the scheduler runs on this machine's loopback, else the first external IPv4 address. */
export function defaultAddress(schedulerUrl: string): string {
  const host = new URL(schedulerUrl.split(',')[0]).hostname.replace(/^\[|\]$/g, '');
  if (host === 'localhost' || host === '::1' || host.startsWith('127.')) return '127.0.0.1';
  for (const addresses of Object.values(networkInterfaces())) {
    for (const a of addresses ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}

function detectDiskMb(dir: string): number {
  try {
    const stats = statfsSync(dir);
    // Space free for ordinary users now, as Mesos offers it: what tasks may actually use.
    return Math.max(1, Math.floor((stats.bavail * stats.bsize) / (1024 * 1024)));
  } catch {
    return 1;
  }
}

/** The monorepo root (the nearest directory above this file with nx.json). */
function findRepoRoot(): string {
  let dir = __dirname;
  for (;;) {
    if (existsSync(join(dir, 'nx.json'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) return resolve(__dirname, '..', '..', '..', '..', '..');
    dir = parent;
  }
}

function readVersion(repo: string): string {
  try {
    const pkg = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { version?: string };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}
