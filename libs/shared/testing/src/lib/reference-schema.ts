import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { referenceDir } from './repo-paths';

/**
 * Checks JSON against the schemas of the reference OpenAPI document
 * (`components.schemas` of `singularity-openapi.json`), the way existing
 * Singularity clients will read it: the value is serialized to JSON first, so
 * `undefined` fields vanish exactly as they do on the wire.
 *
 * OpenAPI 3.0 details: `nullable` is honoured (Ajv supports it natively),
 * `$ref: '#/components/schemas/X'` resolves inside the document, and
 * `readOnly`/`writeOnly` are annotations only. Where the reference is wrong for
 * JSON, or older than the spec, it is patched in `patchReference` below.
 */

type Schema = Record<string, unknown>;
type Schemas = Record<string, Schema>;

const DOCUMENT_ID = 'singularity-reference';

interface Compiled {
  ajv: Ajv;
  names: ReadonlySet<string>;
  validators: Map<string, ValidateFunction>;
}

let compiled: Compiled | undefined;

/** The names of all reference schemas (e.g. `SingularityRequestParent`). */
export function referenceSchemaNames(): string[] {
  return [...load().names].sort();
}

/** Errors of `value` against reference schema `name`; empty when it matches. */
export function schemaErrors(value: unknown, name: string): string[] {
  const validate = validatorFor(name);
  const wire: unknown = value === undefined ? undefined : JSON.parse(JSON.stringify(value));
  if (validate(wire)) return [];
  return formatErrors(validate.errors ?? [], wire);
}

/** Throws (failing the test) with every mismatch listed when `value` does not match schema `name`. */
export function expectMatchesSchema(value: unknown, name: string): void {
  const errors = schemaErrors(value, name);
  if (errors.length === 0) return;
  const json = JSON.stringify(value) ?? 'undefined';
  const shown = json.length > 2000 ? `${json.slice(0, 2000)}…` : json;
  throw new Error(`value does not match reference schema ${name}:\n  - ${errors.join('\n  - ')}\nvalue: ${shown}`);
}

function validatorFor(name: string): ValidateFunction {
  const state = load();
  const cached = state.validators.get(name);
  if (cached) return cached;
  if (!state.names.has(name)) {
    throw new Error(`unknown reference schema '${name}' (known: ${[...state.names].sort().join(', ')})`);
  }
  const validate = state.ajv.compile({ $ref: `${DOCUMENT_ID}#/components/schemas/${name}` });
  state.validators.set(name, validate);
  return validate;
}

function load(): Compiled {
  if (compiled) return compiled;
  const file = join(referenceDir(), 'singularity-openapi.json');
  let document: { components?: { schemas?: Schemas } };
  try {
    document = JSON.parse(readFileSync(file, 'utf8')) as typeof document;
  } catch (err) {
    throw new Error(`cannot read the reference ${file} (set SINGULARITY_REFERENCE_DIR?): ${(err as Error).message}`);
  }
  const schemas = structuredClone(document.components?.schemas ?? {});
  patchReference(schemas);

  const ajv = new Ajv({ strict: false, allErrors: true });
  // OpenAPI formats; numbers arrive as JS numbers, so int64 is "any safe-ish integer".
  ajv.addFormat('int32', { type: 'number', validate: (n: number) => Number.isInteger(n) && n >= -(2 ** 31) && n < 2 ** 31 });
  ajv.addFormat('int64', { type: 'number', validate: (n: number) => Number.isInteger(n) });
  ajv.addFormat('double', { type: 'number', validate: () => true });
  ajv.addFormat('float', { type: 'number', validate: () => true });
  ajv.addFormat('byte', { type: 'string', validate: (s: string) => BASE64.test(s) });
  ajv.addSchema({ $id: DOCUMENT_ID, components: { schemas } });
  compiled = { ajv, names: new Set(Object.keys(schemas)), validators: new Map() };
  return compiled;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}(?:==)?|[A-Za-z0-9+/]{3}=?)?$/;

// ---------------------------------------------------------------------------
// Patches to the reference. Everything that deviates from the file is here.
// ---------------------------------------------------------------------------

function patchReference(schemas: Schemas): void {
  const props = (name: string): Record<string, Schema> => {
    const schema = schemas[name];
    if (!schema) throw new Error(`reference patch: schema ${name} is missing`);
    return (schema['properties'] ??= {}) as Record<string, Schema>;
  };

  // 1. `pattern: "a-zA-Z0-9_-"` is a description, not a regex (as a regex it matches only that literal text).
  //    The rule it means is spec §1's `[A-Za-z0-9_-]`.
  props('SingularityRequest')['id']['pattern'] = '^[A-Za-z0-9_-]+$';
  props('SingularityRequestGroup')['id']['pattern'] = '^[A-Za-z0-9_-]+$';

  // 2. EmbeddedArtifact.content is a Java byte[]: declared as an array of base64 strings, but Jackson writes a
  //    byte[] as one base64 string.
  props('EmbeddedArtifact')['content'] = { type: 'string', format: 'byte', description: 'Raw content for the file (base64)' };

  // 2b. loadBalancerOptions is a Java Map<String, Object>: any JSON value, not only objects, may be a value.
  props('SingularityDeploy')['loadBalancerOptions'] = { type: 'object', additionalProperties: true, nullable: true };

  // 3. Enums the 2020 reference predates: SPREAD_ALL_AGENTS (spec §1 AgentPlacement) and the two short logrotate
  //    frequencies (spec slave §1.2: "OpenAPI lists only the last four").
  (props('SingularityRequest')['slavePlacement']['enum'] as string[]).push('SPREAD_ALL_AGENTS');
  (props('ExecutorData')['logrotateFrequency']['enum'] as string[]).push('EVERY_MINUTE', 'EVERY_FIVE_MINUTES');

  // 4. spec §1: a health check needs `uri` *or* `healthcheckResultFilePath` (the reference requires uri).
  const healthcheck = schemas['HealthcheckOptions'];
  delete healthcheck['required'];
  healthcheck['anyOf'] = [{ required: ['uri'] }, { required: ['healthcheckResultFilePath'] }];

  // 5. Spec fields the reference does not have yet, so their types are checked too.
  schemas['CanaryDeploySettings'] = {
    type: 'object',
    required: ['enableCanaryDeploy', 'instanceGroupSize', 'acceptanceMode', 'waitMillisBetweenGroups', 'allowedTasksFailuresPerGroup', 'canaryCycleCount'],
    properties: {
      enableCanaryDeploy: { type: 'boolean' },
      instanceGroupSize: { type: 'integer', format: 'int32', minimum: 1 },
      acceptanceMode: { type: 'string', enum: ['NONE', 'TIMED', 'CHECKS'] },
      waitMillisBetweenGroups: { type: 'integer', format: 'int64', minimum: 0 },
      allowedTasksFailuresPerGroup: { type: 'integer', format: 'int32', minimum: 0 },
      canaryCycleCount: { type: 'integer', format: 'int32', minimum: 1 },
    },
  };
  props('SingularityDeploy')['canaryDeploySettings'] = { $ref: '#/components/schemas/CanaryDeploySettings' };
  props('SingularityRequest')['maxScale'] = { type: 'integer', format: 'int32', minimum: 1 };
  props('SingularityDeployProgress')['stepLaunchComplete'] = { type: 'boolean' };

  // 6. spec §0 `a|b`: we emit the new `agent…` name beside every legacy `slave…` one; give each twin the same
  //    schema so both are checked (`slaveId`→`agentId`, `requiredSlaveAttributes`→`requiredAgentAttributes`, …).
  for (const schema of Object.values(schemas)) {
    const properties = schema['properties'] as Record<string, Schema> | undefined;
    if (!properties) continue;
    for (const [key, value] of Object.entries(properties)) {
      const twin = key.replace(/slave/g, 'agent').replace(/Slave/g, 'Agent');
      if (twin !== key && !(twin in properties)) properties[twin] = structuredClone(value);
    }
  }

  // 7. spec §0: "absent optionals may be omitted or null". Every property that is not required accepts null.
  for (const schema of Object.values(schemas)) {
    const required = new Set((schema['required'] as string[] | undefined) ?? []);
    const properties = (schema['properties'] ?? {}) as Record<string, Schema>;
    for (const [key, value] of Object.entries(properties)) {
      if (!required.has(key)) properties[key] = nullable(value);
    }
  }
  // Ajv applies `enum` after `nullable`, so a nullable enum must list null itself.
  walk(schemas, (node) => {
    if (node['nullable'] === true && Array.isArray(node['enum']) && !node['enum'].includes(null)) node['enum'].push(null);
  });
}

function nullable(schema: Schema): Schema {
  if (typeof schema['type'] === 'string') return { ...schema, nullable: true };
  return { anyOf: [schema, { type: 'null' }] };
}

function walk(node: unknown, visit: (node: Schema) => void): void {
  if (Array.isArray(node)) node.forEach((item) => walk(item, visit));
  else if (node && typeof node === 'object') {
    visit(node as Schema);
    Object.values(node).forEach((item) => walk(item, visit));
  }
}

// ---------------------------------------------------------------------------

function formatErrors(errors: ErrorObject[], data: unknown): string[] {
  // The null branches added by patch 7 only add noise ("must be null", "must match a schema in anyOf").
  const useful = errors.filter((e) => !/\/anyOf\/1\/type$/.test(e.schemaPath) && e.keyword !== 'anyOf');
  const shown = useful.length > 0 ? useful : errors;
  const lines = shown.map((e) => {
    const where = e.instancePath || '(root)';
    let detail = e.message ?? e.keyword;
    if (e.keyword === 'enum') detail += `: ${(e.params as { allowedValues: unknown[] }).allowedValues.filter((v) => v !== null).join(', ')}`;
    if (e.keyword === 'additionalProperties') detail += ` '${(e.params as { additionalProperty: string }).additionalProperty}'`;
    const got = e.keyword === 'required' ? '' : ` (got ${describe(valueAt(data, e.instancePath))})`;
    return `${where} ${detail}${got}`;
  });
  return [...new Set(lines)];
}

function valueAt(data: unknown, pointer: string): unknown {
  if (!pointer) return data;
  let current: unknown = data;
  for (const raw of pointer.split('/').slice(1)) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    current = current && typeof current === 'object' ? (current as Record<string, unknown>)[key] : undefined;
  }
  return current;
}

function describe(value: unknown): string {
  const text = typeof value === 'string' ? `'${value}'` : JSON.stringify(value) ?? 'undefined';
  return text.length > 80 ? `${text.slice(0, 79)}…` : text;
}
