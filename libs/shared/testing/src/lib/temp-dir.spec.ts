import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cleanupTempDirs, tempDir } from './temp-dir';

describe('tempDir', () => {
  it('makes a fresh directory and removes it with its contents', async () => {
    const a = await tempDir('tdtest-');
    const b = await tempDir('tdtest-');
    expect(a.path).not.toBe(b.path);
    expect(a.path).toMatch(/tdtest-/);
    await writeFile(join(a.path, 'f.txt'), 'x');
    await a.cleanup();
    await a.cleanup();
    expect(existsSync(a.path)).toBe(false);
    await cleanupTempDirs();
    expect(existsSync(b.path)).toBe(false);
  });
});
