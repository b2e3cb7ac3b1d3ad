import { readFileSync } from 'node:fs';
import type { z } from 'zod';

type Def = { type: string; innerType?: z.ZodType; in?: z.ZodType; out?: z.ZodType; shape?: Record<string, z.ZodType>; options?: z.ZodType[] };

const defOf = (schema: z.ZodType): Def => (schema as unknown as { _zod: { def: Def } })._zod.def;

/** The object schema under wrappers (default, optional, nullable, pipe/transform input), if there is one. */
function objectShape(schema: z.ZodType): Record<string, z.ZodType> | undefined {
  const def = defOf(schema);
  switch (def.type) {
    case 'object':
      return (schema as unknown as { shape: Record<string, z.ZodType> }).shape;
    case 'default':
    case 'optional':
    case 'nullable':
    case 'prefault':
    case 'readonly':
      return def.innerType ? objectShape(def.innerType) : undefined;
    case 'pipe':
      return def.in ? objectShape(def.in) : undefined;
    default:
      return undefined;
  }
}

/**
 * Every key of a configuration schema as a dotted path (`zookeeper.quorum`);
 * sections (object-valued keys) are listed themselves and descended into.
 * Records, unions and arrays are leaves: their contents are the operator's.
 */
export function configKeyPaths(schema: z.ZodType, prefix = ''): string[] {
  const shape = objectShape(schema);
  if (!shape) return [];
  const paths: string[] = [];
  for (const [key, value] of Object.entries(shape)) {
    const path = prefix ? `${prefix}.${key}` : key;
    paths.push(path);
    paths.push(...configKeyPaths(value, path));
  }
  return paths;
}

/**
 * The keys of `schema` that the section `## <title>` of a markdown file does
 * not mention as `` `key` `` (the last part of the dotted path, in backticks).
 * Used by each app's tests so docs/configuration.md cannot fall behind.
 */
export function undocumentedConfigKeys(schema: z.ZodType, markdownFile: string, title: string): string[] {
  const text = readFileSync(markdownFile, 'utf8');
  const start = text.indexOf(`\n## ${title}\n`);
  if (start < 0) throw new Error(`${markdownFile} has no section "## ${title}"`);
  const next = text.indexOf('\n## ', start + 4);
  const section = text.slice(start, next < 0 ? undefined : next);
  return configKeyPaths(schema).filter((path) => !section.includes(`\`${path.split('.').at(-1)}\``));
}
