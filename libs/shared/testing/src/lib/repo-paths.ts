import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

let cachedRoot: string | undefined;

/** The monorepo root: the nearest directory above this file that holds `nx.json`. */
export function repoRoot(): string {
  if (cachedRoot) return cachedRoot;
  let dir = __dirname;
  for (;;) {
    if (existsSync(join(dir, 'nx.json'))) return (cachedRoot = dir);
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`cannot find the repository root (no nx.json above ${__dirname})`);
    dir = parent;
  }
}

/**
 * Directory of the reference material (`singularity-openapi.json`):
 * `$SINGULARITY_REFERENCE_DIR`, else `<repo>/../shared/reference`.
 */
export function referenceDir(): string {
  const fromEnv = process.env['SINGULARITY_REFERENCE_DIR'];
  return fromEnv ? resolve(fromEnv) : resolve(repoRoot(), '..', 'shared', 'reference');
}

/** `tools/register.js`: lets `node -r` run TypeScript sources with the workspace path aliases. */
export function tsRegisterPath(): string {
  return join(repoRoot(), 'tools', 'register.js');
}
