import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parse } from 'yaml';
import type { z } from 'zod';

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/**
 * Loads an app's configuration: schema defaults, then the YAML file (if any),
 * then environment overrides `<PREFIX>_<KEY>` (values parsed as YAML, so
 * `7099`, `true`, `[a, b]` and `{a: 1}` work). A double underscore reaches
 * into a section: `<PREFIX>_ZOOKEEPER__QUORUM=host:2181` sets `zookeeper.quorum`
 * and keeps the section's other keys. Invalid input throws a ConfigError
 * naming the key.
 */
export function loadConfig<S extends z.ZodType>(
  schema: S,
  options: { file?: string; envPrefix: string; env?: NodeJS.ProcessEnv; overrides?: Record<string, unknown> },
): z.infer<S> {
  let fromFile: Record<string, unknown> = {};
  if (options.file) {
    let text: string;
    try {
      text = readFileSync(options.file, 'utf8');
    } catch (err) {
      throw new ConfigError(`cannot read config file ${options.file}: ${(err as Error).message}`);
    }
    const parsed = parse(text) as unknown;
    if (parsed !== null && parsed !== undefined && (typeof parsed !== 'object' || Array.isArray(parsed))) {
      throw new ConfigError(`config file ${options.file} must hold a mapping of keys to values`);
    }
    fromFile = (parsed as Record<string, unknown>) ?? {};
  }
  const merged: Record<string, unknown> = { ...fromFile };
  const env = options.env ?? process.env;
  const prefix = `${options.envPrefix}_`;
  for (const [name, value] of Object.entries(env)) {
    // `<PREFIX>_CONFIG` names the file (see configFileFromEnv); it is never a key.
    if (!name.startsWith(prefix) || value === undefined || name === `${prefix}CONFIG`) continue;
    const path = name.slice(prefix.length).split('__').map(envNameToKey);
    setPath(merged, path, parseEnvValue(value));
  }
  Object.assign(merged, options.overrides ?? {});
  const result = schema.safeParse(merged);
  if (!result.success) {
    const issue = result.error.issues[0];
    const unknown = issue.code === 'unrecognized_keys' ? issue.keys : [];
    const key = [...issue.path, ...unknown.slice(0, 1)].join('.') || '(root)';
    const source = options.file ? ` (file ${options.file}, env ${prefix}*)` : ` (env ${prefix}*)`;
    throw new ConfigError(`invalid configuration key '${key}': ${issue.message}${source}`);
  }
  return result.data;
}

/** The file named by `<PREFIX>_CONFIG`, the fallback of every program's `--config`. */
export function configFileFromEnv(envPrefix: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  return env[`${envPrefix}_CONFIG`] || undefined;
}

/**
 * Parses `input` with the schema's defaults; for tests and embedding. Throws a
 * ConfigError naming the first bad key, as {@link loadConfig} does.
 */
export function parseConfig<S extends z.ZodType>(schema: S, input: unknown): z.infer<S> {
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ConfigError(`invalid configuration key '${issue.path.join('.') || '(root)'}': ${issue.message}`);
  }
  return parsed.data;
}

/**
 * For a `z.preprocess` of a consolidated node file: the spec's name of a
 * section (`logwatcher`) is accepted beside ours (`logWatcher`). When both are
 * given (say one in the file, one from an environment override) they merge,
 * our name's keys winning.
 */
export function mergeSectionAlias(input: unknown, alias: string, name: string): unknown {
  if (!isMapping(input) || input[alias] === undefined) return input;
  const { [alias]: aliased, ...rest } = input;
  const own = rest[name];
  return { ...rest, [name]: own === undefined ? aliased : isMapping(aliased) && isMapping(own) ? { ...aliased, ...own } : own };
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function parseEnvValue(value: string): unknown {
  try {
    return parse(value) ?? value;
  } catch {
    return value; // not YAML (e.g. `a: b: c`): the text itself
  }
}

/** Sets `path` in `target`, copying the sections on the way so the file's objects are not changed. */
function setPath(target: Record<string, unknown>, path: string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    const section = next !== null && typeof next === 'object' && !Array.isArray(next) ? { ...(next as Record<string, unknown>) } : {};
    node[key] = section;
    node = section;
  }
  node[path[path.length - 1]] = value;
}

/** `HTTP_PORT` → `httpPort`. */
function envNameToKey(name: string): string {
  return name.toLowerCase().replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
}

/** Exit codes of a program that cannot start (sysexits.h). */
export const EXIT_USAGE = 64;
export const EXIT_CONFIG = 78;

/**
 * A program's configuration from `--config FILE` (else `<PREFIX>_CONFIG`):
 * `load` reads it. When the arguments or the configuration are wrong it says
 * so on stderr, prefixed with `program`, and answers the exit code instead
 * ({@link EXIT_USAGE}, {@link EXIT_CONFIG}; 0 after `--help`).
 */
export function readProgramConfig<T>(
  program: string,
  envPrefix: string,
  load: (file: string | undefined) => T,
  argv: string[] = process.argv.slice(2),
): { config: T; configFile?: string } | { exitCode: number } {
  const usage = `usage: ${program} [--config <file>]`;
  let configFile: string | undefined;
  try {
    const { values } = parseArgs({ args: argv, options: { config: { type: 'string' }, help: { type: 'boolean' } }, strict: true });
    if (values.help) {
      process.stdout.write(`${usage}\n`);
      return { exitCode: 0 };
    }
    configFile = values.config ?? configFileFromEnv(envPrefix);
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${usage}\n`);
    return { exitCode: EXIT_USAGE };
  }
  try {
    return { config: load(configFile), configFile };
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`${program}: ${err.message}\n`);
    return { exitCode: EXIT_CONFIG };
  }
}
