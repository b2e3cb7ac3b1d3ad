import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TempDir {
  readonly path: string;
  /** Removes the directory and everything in it; safe to call twice. */
  cleanup(): Promise<void>;
}

const live = new Set<TempDir>();

/**
 * A fresh directory under the OS temp dir. Call `cleanup()` in `afterEach`/
 * `afterAll`, or `cleanupTempDirs()` to remove every one still around.
 */
export async function tempDir(prefix = 'singularity-test-'): Promise<TempDir> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  const dir: TempDir = {
    path,
    async cleanup() {
      live.delete(dir);
      await rm(path, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
    },
  };
  live.add(dir);
  return dir;
}

/** Removes every directory made by `tempDir` that was not cleaned up yet. */
export async function cleanupTempDirs(): Promise<void> {
  await Promise.all([...live].map((dir) => dir.cleanup()));
}
