import { InvalidRequestError } from '@singularity/util';

/**
 * Small typed readers over untrusted JSON. Every failure is an
 * InvalidRequestError whose `field` is the dotted path of the offending value
 * and whose message starts with that path, e.g.
 * `resources.cpus: must be at most 50 (got 64)`; the HTTP layer returns that
 * message as the 400 body (conventions §13).
 *
 * `null` counts as absent everywhere (spec §0: absent optionals may be omitted
 * or null). Keys a reader is never asked about are simply not copied, which is
 * how unknown fields get dropped.
 */

export type JsonObject = Record<string, unknown>;

const ROOT_NAME = 'body';

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Renders a value for the "(got …)" part of a message: strings quoted, long values cut. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return `'${cut(value, 80)}'`;
  if (value === undefined) return 'nothing';
  if (value === null || typeof value === 'number' || typeof value === 'boolean') return String(value);
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch {
    json = undefined;
  }
  return cut(json ?? String(value), 80);
}

function cut(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** The error for a bad field: message `${field}: ${problem}`, `field` set. */
export function invalidField(field: string, problem: string): InvalidRequestError {
  const name = field || ROOT_NAME;
  return new InvalidRequestError(`${name}: ${problem}`, name);
}

/** `a` + `b` → `a.b`, `a` + 2 → `a[2]`, '' + `b` → `b`. */
export function childPath(parent: string, key: string | number): string {
  if (typeof key === 'number') return `${parent || ROOT_NAME}[${key}]`;
  return parent ? `${parent}.${key}` : key;
}

export interface StringRules {
  /** Reject '' (as `required`). */
  nonEmpty?: boolean;
  maxLength?: number;
  /** Whole-value pattern and the sentence that explains it, e.g. "may contain only letters". */
  pattern?: { regex: RegExp; explain: string };
}

export interface NumberRules {
  min?: number;
  max?: number;
  /** Bound the value from above strictly (`must be less than`). */
  lessThan?: number;
}

// ---- single values --------------------------------------------------------

export function asString(value: unknown, field: string, rules: StringRules = {}): string {
  if (typeof value !== 'string') throw invalidField(field, `must be a string (got ${describeValue(value)})`);
  if (rules.nonEmpty && value.length === 0) throw invalidField(field, 'required (got an empty string)');
  if (rules.maxLength !== undefined && value.length > rules.maxLength) {
    throw invalidField(field, `must be at most ${rules.maxLength} characters (got ${value.length})`);
  }
  if (rules.pattern && !rules.pattern.regex.test(value)) {
    throw invalidField(field, `${rules.pattern.explain} (got ${describeValue(value)})`);
  }
  return value;
}

export function asBoolean(value: unknown, field: string): boolean {
  if (typeof value !== 'boolean') throw invalidField(field, `must be true or false (got ${describeValue(value)})`);
  return value;
}

export function asNumber(value: unknown, field: string, rules: NumberRules = {}): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw invalidField(field, `must be a number (got ${describeValue(value)})`);
  }
  return checkBounds(value, field, rules);
}

/** A whole number that JavaScript represents exactly (int32 and int64 fields alike). */
export function asInteger(value: unknown, field: string, rules: NumberRules = {}): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
    throw invalidField(field, `must be an integer (got ${describeValue(value)})`);
  }
  return checkBounds(value, field, rules);
}

function checkBounds(value: number, field: string, rules: NumberRules): number {
  if (rules.min !== undefined && value < rules.min) throw invalidField(field, `must be at least ${rules.min} (got ${value})`);
  if (rules.max !== undefined && value > rules.max) throw invalidField(field, `must be at most ${rules.max} (got ${value})`);
  if (rules.lessThan !== undefined && value >= rules.lessThan) {
    throw invalidField(field, `must be less than ${rules.lessThan} (got ${value})`);
  }
  return value;
}

export function asOneOf<T extends string>(value: unknown, field: string, allowed: readonly T[]): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw invalidField(field, `must be one of ${allowed.join(', ')} (got ${describeValue(value)})`);
  }
  return value as T;
}

export function asArray(value: unknown, field: string): unknown[] {
  if (!Array.isArray(value)) throw invalidField(field, `must be an array (got ${describeValue(value)})`);
  return value;
}

export function asObject(value: unknown, field: string): JsonObject {
  if (!isJsonObject(value)) throw invalidField(field, `must be an object (got ${describeValue(value)})`);
  return value;
}

/** Maps each element; a null element is an error (lists never hold "absent"). */
export function asListOf<T>(value: unknown, field: string, each: (item: unknown, path: string) => T): T[] {
  return asArray(value, field).map((item, i) => {
    const path = childPath(field, i);
    if (item === null || item === undefined) throw invalidField(path, 'must not be null');
    return each(item, path);
  });
}

/** Maps each value of a JSON object, keeping the keys; `checkKey` may reject a key. */
export function asMapOf<T>(
  value: unknown,
  field: string,
  each: (item: unknown, path: string, key: string) => T,
  checkKey?: (key: string, path: string) => void,
): Record<string, T> {
  const object = asObject(value, field);
  const out: Record<string, T> = {};
  for (const [key, item] of Object.entries(object)) {
    const path = childPath(field, key);
    checkKey?.(key, path);
    if (item === null || item === undefined) throw invalidField(path, 'must not be null');
    // defineProperty, not assignment: a JSON key `__proto__` must stay a plain key.
    Object.defineProperty(out, key, { value: each(item, path, key), enumerable: true, writable: true, configurable: true });
  }
  return out;
}

// ---- objects ----------------------------------------------------------------

/**
 * Reads the fields of one JSON object. `path` is where the object sits in the
 * body ('' for the body itself) and prefixes every field named in errors.
 */
export class FieldReader {
  private constructor(
    readonly path: string,
    readonly source: JsonObject,
  ) {}

  /** The value must be a JSON object. */
  static of(input: unknown, path = ''): FieldReader {
    if (!isJsonObject(input)) throw invalidField(path, `must be a JSON object (got ${describeValue(input)})`);
    return new FieldReader(path, input);
  }

  /** For optional bodies: `undefined` and `null` read as `{}`. */
  static ofOptional(input: unknown, path = ''): FieldReader {
    return FieldReader.of(input === undefined || input === null ? {} : input, path);
  }

  field(key: string): string {
    return childPath(this.path, key);
  }

  /** The raw value, `undefined` when absent or null. */
  raw(key: string): unknown {
    const value = Object.prototype.hasOwnProperty.call(this.source, key) ? this.source[key] : undefined;
    return value === null ? undefined : value;
  }

  has(key: string): boolean {
    return this.raw(key) !== undefined;
  }

  /** The first of `keys` that is present (new name first, then legacy names), or undefined. */
  firstPresent(...keys: string[]): string | undefined {
    return keys.find((key) => this.has(key));
  }

  required(key: string, why?: string): unknown {
    const value = this.raw(key);
    if (value === undefined) throw invalidField(this.field(key), why ? `required ${why}` : 'required');
    return value;
  }

  string(key: string, rules?: StringRules): string | undefined {
    return this.read(key, (v, f) => asString(v, f, rules));
  }

  requiredString(key: string, rules: StringRules = {}): string {
    return asString(this.required(key), this.field(key), { nonEmpty: true, ...rules });
  }

  boolean(key: string): boolean | undefined {
    return this.read(key, asBoolean);
  }

  integer(key: string, rules?: NumberRules): number | undefined {
    return this.read(key, (v, f) => asInteger(v, f, rules));
  }

  requiredInteger(key: string, rules?: NumberRules): number {
    return asInteger(this.required(key), this.field(key), rules);
  }

  number(key: string, rules?: NumberRules): number | undefined {
    return this.read(key, (v, f) => asNumber(v, f, rules));
  }

  oneOf<T extends string>(key: string, allowed: readonly T[]): T | undefined {
    return this.read(key, (v, f) => asOneOf(v, f, allowed));
  }

  requiredOneOf<T extends string>(key: string, allowed: readonly T[]): T {
    return asOneOf(this.required(key, `(one of ${allowed.join(', ')})`), this.field(key), allowed);
  }

  stringList(key: string, rules?: StringRules): string[] | undefined {
    return this.read(key, (v, f) => asListOf(v, f, (item, p) => asString(item, p, rules)));
  }

  integerList(key: string, rules?: NumberRules): number[] | undefined {
    return this.read(key, (v, f) => asListOf(v, f, (item, p) => asInteger(item, p, rules)));
  }

  /** A JSON object whose values are all strings (env, attributes, metadata…). */
  stringMap(key: string): Record<string, string> | undefined {
    return this.read(key, (v, f) => asMapOf(v, f, (item, p) => asString(item, p)));
  }

  /** A nested object as a reader of its own, or undefined when absent. */
  nested(key: string): FieldReader | undefined {
    return this.read(key, (v, f) => FieldReader.of(v, f));
  }

  list<T>(key: string, each: (item: unknown, path: string) => T): T[] | undefined {
    return this.read(key, (v, f) => asListOf(v, f, each));
  }

  map<T>(key: string, each: (item: unknown, path: string, mapKey: string) => T, checkKey?: (mapKey: string, path: string) => void): Record<string, T> | undefined {
    return this.read(key, (v, f) => asMapOf(v, f, each, checkKey));
  }

  /** Reads `key` with `parse` when present. */
  read<T>(key: string, parse: (value: unknown, field: string) => T): T | undefined {
    const value = this.raw(key);
    return value === undefined ? undefined : parse(value, this.field(key));
  }
}

/** Copies `value` without its `undefined` properties, keeping key order. */
export function compact<T extends object>(value: T): T {
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    if (item !== undefined) out[key] = item;
  }
  return out as T;
}
