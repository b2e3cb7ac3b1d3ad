import { readFileSync } from 'node:fs';
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
 * then environment overrides `<PREFIX>_<KEY>` for top-level keys (values parsed
 * as YAML scalars, so `7099`, `true` and `[a, b]` work). Invalid input throws a
 * ConfigError naming the key.
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
  const fromEnv: Record<string, unknown> = {};
  const env = options.env ?? process.env;
  const prefix = `${options.envPrefix}_`;
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith(prefix) || value === undefined) continue;
    const key = envNameToKey(name.slice(prefix.length));
    fromEnv[key] = parse(value) ?? value;
  }
  const merged = { ...fromFile, ...fromEnv, ...(options.overrides ?? {}) };
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

/** `HTTP_PORT` → `httpPort`. */
function envNameToKey(name: string): string {
  return name.toLowerCase().replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
}
