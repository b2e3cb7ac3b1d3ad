import { constants } from 'node:fs';
import { access, chmod, mkdir, open, rename, rm } from 'node:fs/promises';
import { basename, delimiter, dirname, join } from 'node:path';

/**
 * Writes `path` so that a reader (the S3 uploader or log watcher watching the
 * directory, host cron, logrotate) sees the old content or the new, never a
 * torn file: a hidden temp file in the same directory, fsync, chmod, rename.
 * The temp name ends in `.tmp`, so it never matches a metadata suffix.
 */
export async function writeFileAtomic(path: string, content: string, mode = 0o644): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true });
  const temp = join(dir, `.${basename(path)}.${process.pid}.tmp`);
  try {
    const handle = await open(temp, 'w', mode);
    try {
      await handle.writeFile(content);
      await handle.sync();
    } finally {
      await handle.close();
    }
    // The umask may have narrowed the mode given to open().
    await chmod(temp, mode);
    await rename(temp, path);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
}

export async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  await writeFileAtomic(path, `${JSON.stringify(value, null, 2)}\n`);
}

/** Where system programs live on Debian-like systems even when PATH (e.g. a non-root user's) leaves them out. */
const SYSTEM_DIRECTORIES = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

/**
 * The absolute path of `program` (PATH, then the usual system directories), so
 * it can be written into cron lines and run without a shell; `program` as
 * given when it has a slash or is found nowhere.
 */
export async function resolveProgram(program: string, path = process.env.PATH ?? ''): Promise<string> {
  if (program.includes('/')) return program;
  for (const dir of [...path.split(delimiter).filter(Boolean), ...SYSTEM_DIRECTORIES]) {
    const candidate = join(dir, program);
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not here.
    }
  }
  return program;
}
