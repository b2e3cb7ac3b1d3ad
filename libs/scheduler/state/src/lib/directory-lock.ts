import { link, readFile, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isProcessAlive, processStartTime } from '@singularity/node-util';
import { LOCK_FILE } from './state-files';
import { StateStoreLockedError } from './state-store.errors';

export interface LockLogger {
  warn(obj: object, msg: string): void;
}

interface LockOwner {
  pid: number;
  /** The owner's start time in clock ticks since boot (/proc/<pid>/stat field 22), to tell a reused pid apart. */
  started?: string;
}

/** Directories locked by stores of this process: a second store here must fail too, though the pid is alive. */
const heldHere = new Set<string>();

/**
 * The `LOCK` file of a state directory: it names the owning process. Created
 * with `link(2)` from a private temporary file, so it appears atomically and
 * whole. A lock whose process is gone (or whose pid now belongs to a process
 * started later) is stale and taken over, with a warning.
 *
 * Limit: two processes that find the same stale lock at the same instant can
 * both take it over (the unlink/link window). The LOCK guards against a second
 * scheduler started by mistake, not against a race at the same millisecond.
 */
export class DirectoryLock {
  private released = false;

  private constructor(
    readonly directory: string,
    private readonly path: string,
  ) {}

  /** `directory` must be absolute and exist. */
  static async acquire(directory: string, logger?: LockLogger): Promise<DirectoryLock> {
    if (heldHere.has(directory)) {
      throw new StateStoreLockedError(
        directory,
        process.pid,
        `state directory ${directory} is already open in this process (pid ${process.pid}); close the other store first`,
      );
    }
    heldHere.add(directory); // reserved at once, so a concurrent open() in this process fails above
    try {
      return await DirectoryLock.take(directory, logger);
    } catch (err) {
      heldHere.delete(directory);
      throw err;
    }
  }

  private static async take(directory: string, logger?: LockLogger): Promise<DirectoryLock> {
    const path = join(directory, LOCK_FILE);
    const me: LockOwner = { pid: process.pid, started: processStartTicks(process.pid) };
    const tmp = `${path}.${process.pid}.tmp`;
    await writeFile(tmp, `${JSON.stringify(me)}\n`, { flush: true });
    try {
      for (let attempt = 0; ; attempt++) {
        try {
          await link(tmp, path);
          return new DirectoryLock(directory, path);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt >= 3) throw err;
        }
        const owner = await readOwner(path);
        if (owner === undefined) continue; // removed meanwhile: try again
        if (owner !== 'unreadable' && ownerAlive(owner)) {
          throw new StateStoreLockedError(
            directory,
            owner.pid,
            `state directory ${directory} is locked by process ${owner.pid} (see ${path}). ` +
              'Is another scheduler running on it? Stop that process first; if it is not a scheduler, remove the LOCK file.',
          );
        }
        logger?.warn(
          { directory, stalePid: owner === 'unreadable' ? undefined : owner.pid },
          owner === 'unreadable' ? `taking over unreadable lock file ${path}` : `taking over stale lock of process ${owner.pid}, which is gone`,
        );
        await unlink(path).catch(ignoreMissing);
      }
    } finally {
      await unlink(tmp).catch(ignoreMissing);
    }
  }

  /** Removes the LOCK file if it is still ours. Safe to call twice. */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    heldHere.delete(this.directory);
    const owner = await readOwner(this.path).catch(() => undefined);
    if (owner !== undefined && owner !== 'unreadable' && owner.pid === process.pid) await unlink(this.path).catch(ignoreMissing);
  }
}

async function readOwner(path: string): Promise<LockOwner | 'unreadable' | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  return parseOwner(text) ?? 'unreadable';
}

/** `{"pid":123,"started":"456"}`, or a bare pid as written by hand or by older tools. */
export function parseOwner(text: string): LockOwner | undefined {
  const trimmed = text.trim();
  if (/^[1-9][0-9]*$/.test(trimmed)) return { pid: Number(trimmed) };
  try {
    const parsed = JSON.parse(trimmed) as { pid?: unknown; started?: unknown };
    if (!Number.isSafeInteger(parsed.pid) || (parsed.pid as number) < 1) return undefined;
    return { pid: parsed.pid as number, started: typeof parsed.started === 'string' ? parsed.started : undefined };
  } catch {
    return undefined;
  }
}

function ownerAlive(owner: LockOwner): boolean {
  // Our own pid, but the directory is not in `heldHere`: a lock left by an earlier process that had
  // the same pid (common in containers, where the scheduler is often pid 1).
  if (owner.pid === process.pid) return false;
  // A zombie does not count; a start time other than the recorded one means the pid was reused.
  return isProcessAlive(owner.pid, owner.started === undefined ? undefined : Number(owner.started));
}

/** Kept as a string in the LOCK file, as earlier versions wrote it. */
function processStartTicks(pid: number): string | undefined {
  const ticks = processStartTime(pid);
  return ticks === undefined ? undefined : String(ticks);
}

function ignoreMissing(err: NodeJS.ErrnoException): void {
  if (err.code !== 'ENOENT') throw err;
}
