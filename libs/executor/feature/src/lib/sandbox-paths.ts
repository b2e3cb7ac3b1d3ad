import { realpath } from 'node:fs/promises';
import { dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import { SandboxEscapeError } from './executor-errors';

/** True when `path` is `root` or below it (both absolute and normalised). */
export function isWithin(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel));
}

/** The real path of `path`, or of its deepest existing ancestor joined with the rest. */
async function realpathOfExistingPrefix(path: string): Promise<string> {
  let existing = path;
  const rest: string[] = [];
  for (;;) {
    try {
      const real = await realpath(existing);
      return rest.length ? resolve(real, ...rest.reverse()) : real;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' && (err as NodeJS.ErrnoException).code !== 'ENOTDIR') throw err;
      const parent = dirname(existing);
      if (parent === existing) throw err;
      rest.push(existing.slice(parent.length + (parent.endsWith(sep) ? 0 : 1)));
      existing = parent;
    }
  }
}

/**
 * Resolves `relativePath` against the sandbox and makes sure the result stays
 * inside it, after `..` and symlink normalisation (spec slave §1.3). Absolute
 * paths are refused outright (orig: ignored). `what` names the offender in the
 * task's failure message, e.g. `Artifact "app.tgz"`.
 */
export async function resolveInsideSandbox(sandboxDirectory: string, relativePath: string, what: string): Promise<string> {
  if (isAbsolute(relativePath)) {
    throw new SandboxEscapeError(`${what}: ${JSON.stringify(relativePath)} is an absolute path, not one inside the task sandbox`);
  }
  if (relativePath.includes('\0')) {
    throw new SandboxEscapeError(`${what}: path holds a NUL byte`);
  }
  const root = resolve(sandboxDirectory);
  const target = resolve(root, relativePath);
  if (!isWithin(root, target)) {
    throw new SandboxEscapeError(`${what}: ${JSON.stringify(relativePath)} is outside the task sandbox`);
  }
  const realRoot = await realpath(root);
  const realTarget = await realpathOfExistingPrefix(target);
  if (!isWithin(realRoot, realTarget)) {
    throw new SandboxEscapeError(`${what}: ${JSON.stringify(relativePath)} leads outside the task sandbox through a symlink`);
  }
  return target;
}
