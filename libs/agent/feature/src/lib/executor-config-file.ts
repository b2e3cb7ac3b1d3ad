import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '@singularity/node-util';
import { parse, stringify } from 'yaml';
import { writeFileAtomic } from './control-files';

/** The sections of the consolidated slave configuration the executor reads (spec slave "Config"). */
const SECTIONS = ['base', 's3', 'executor'] as const;

type Sections = Record<string, Record<string, unknown>>;

/**
 * Directories the executor needs, under the agent's data directory unless the
 * operator's file says otherwise: a dev machine then needs no /etc paths, and
 * everything a task leaves behind is in one place.
 */
export function executorDefaults(dataDir: string): Sections {
  return {
    base: {
      s3UploaderMetadataDirectory: join(dataDir, 's3-uploader-metadata'),
      logWatcherMetadataDirectory: join(dataDir, 'log-watcher-metadata'),
    },
    s3: { artifactCacheDirectory: join(dataDir, 'artifact-cache') },
    executor: {
      globalTaskDefinitionDirectory: join(dataDir, 'task-definitions'),
      logrotateConfDirectory: join(dataDir, 'logrotate.d'),
      logrotateHourlyConfDirectory: join(dataDir, 'logrotate.d', 'hourly'),
      cronDirectory: join(dataDir, 'cron.d'),
    },
  };
}

/** The operator's file over the defaults, section by section (their keys win; other sections are kept as they are). */
export function mergeExecutorConfig(defaults: Sections, operator: Record<string, unknown>): Record<string, unknown> {
  const merged: Record<string, unknown> = { ...operator };
  for (const section of SECTIONS) {
    const given = operator[section];
    if (given !== undefined && given !== null && (typeof given !== 'object' || Array.isArray(given))) {
      throw new ConfigError(`invalid configuration key '${section}' in the executor configuration: must be a mapping`);
    }
    merged[section] = { ...defaults[section], ...((given as Record<string, unknown> | undefined) ?? {}) };
  }
  return merged;
}

function readOperatorFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read executor configuration ${file}: ${(err as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = parse(text);
  } catch (err) {
    throw new ConfigError(`executor configuration ${file} is not valid YAML: ${(err as Error).message}`);
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) throw new ConfigError(`executor configuration ${file} must hold a mapping of sections`);
  return parsed as Record<string, unknown>;
}

/**
 * Writes `<dataDir>/executor.yaml`, the configuration every executor of this
 * agent gets (`--config`): the defaults above under the operator's
 * `executorConfigFile`. Returns its path.
 */
export function writeExecutorConfig(dataDir: string, operatorFile: string | undefined): string {
  const operator = operatorFile ? readOperatorFile(operatorFile) : {};
  const file = join(dataDir, 'executor.yaml');
  const header = `# Written by the agent at start from ${operatorFile ?? 'its defaults'}; edit that instead.\n`;
  writeFileAtomic(file, header + stringify(mergeExecutorConfig(executorDefaults(dataDir), operator)));
  return file;
}

/**
 * Runs `<executorCommand> --check-config --config <file>` so that a bad value
 * stops the agent at start, naming the key, instead of failing every task.
 */
export function checkExecutorConfig(executorCommand: readonly string[], file: string): void {
  const [command, ...args] = executorCommand;
  const result = spawnSync(command, [...args, '--check-config', '--config', file], { encoding: 'utf8', timeout: 60_000 });
  if (result.error) throw new ConfigError(`could not run the executor to check ${file}: ${result.error.message}`);
  if (result.status !== 0) {
    const said = `${result.stderr ?? ''}`.trim() || `exit code ${result.status ?? result.signal}`;
    throw new ConfigError(`the executor refused its configuration ${file}: ${said}`);
  }
}
