import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { delimiter, join } from 'node:path';

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
