import type { Resources, SingularityMesosArtifact } from '../deploy';
import { FieldReader, asMapOf, childPath, asString, compact, invalidField } from './field-reader';
import type { ValidationLimits } from './validation-limits';

/** Set by the scheduler on user-started runs (spec §1: "`STARTED_BY_USER` is reserved"). */
export const RESERVED_ENV_VARIABLES = ['STARTED_BY_USER'] as const;

/** A command run against a task before it is killed (reference `SingularityShellCommand`). */
export interface SingularityShellCommand {
  name: string;
  options?: string[];
  user?: string;
  logfileName?: string;
}

/**
 * `resources` of a deploy or a run: missing parts take the configured defaults
 * (spec §1 default {1, 64, 0, 0}); each part is checked against the per-instance
 * limits of spec §5.
 */
export function readResources(value: unknown, field: string, limits: ValidationLimits): Resources {
  // cpus/memoryMb > 0 is checked by checkPositiveResources once defaults are in, so a 0 default is caught too.
  const r = FieldReader.of(value, field);
  return {
    cpus: r.number('cpus', { max: limits.maxNumCpusPerInstance }) ?? limits.defaultCpus,
    memoryMb: r.number('memoryMb', { max: limits.maxMemoryMbPerInstance }) ?? limits.defaultMemory,
    numPorts: r.integer('numPorts', { min: 0 }) ?? 0,
    diskMb: r.number('diskMb', { min: 0, max: limits.maxDiskMbPerInstance }) ?? limits.defaultDisk,
  };
}

/** cpus and memory must be positive (a task with none can never be placed sensibly). */
export function checkPositiveResources(resources: Resources, field: string): void {
  if (!(resources.cpus > 0)) throw invalidField(childPath(field, 'cpus'), `must be greater than 0 (got ${resources.cpus})`);
  if (!(resources.memoryMb > 0)) throw invalidField(childPath(field, 'memoryMb'), `must be greater than 0 (got ${resources.memoryMb})`);
}

/**
 * A URI to fetch into the sandbox: a plain string or `{uri, extract, executable,
 * cache, outputFile}`; normalized to the object with the reference's defaults
 * (cache false, executable false, extract true).
 */
export function readMesosArtifact(value: unknown, field: string): SingularityMesosArtifact {
  if (typeof value === 'string') {
    return { uri: asString(value, field, { nonEmpty: true }), cache: false, executable: false, extract: true };
  }
  const r = FieldReader.of(value, field);
  return compact({
    uri: r.requiredString('uri'),
    cache: r.boolean('cache') ?? false,
    executable: r.boolean('executable') ?? false,
    extract: r.boolean('extract') ?? true,
    outputFile: r.string('outputFile'),
  });
}

export function readShellCommand(value: unknown, field: string): SingularityShellCommand {
  const r = FieldReader.of(value, field);
  return compact({
    name: r.requiredString('name'),
    options: r.stringList('options'),
    user: r.string('user'),
    logfileName: r.string('logfileName'),
  });
}

/** A map of environment variables; reserved names are refused. */
export function readEnv(value: unknown, field: string): Record<string, string> {
  return asMapOf(
    value,
    field,
    (item, path) => asString(item, path),
    (key, path) => {
      if ((RESERVED_ENV_VARIABLES as readonly string[]).includes(key)) {
        throw invalidField(path, 'is reserved: the scheduler sets it');
      }
      if (key.length === 0) throw invalidField(path, 'variable names must not be empty');
    },
  );
}
