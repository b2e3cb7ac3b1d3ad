import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Where each tailed file's offset is kept between runs (spec slave §5):
 * `<storeDirectory>/<sha256(filename)><storeSuffix>`, holding the byte offset
 * after the last line sent. Written to a temporary file and renamed, so a
 * crash leaves the old offset or the new one, never half of one.
 */
export class OffsetStore {
  constructor(
    private readonly directory: string,
    private readonly suffix: string,
  ) {}

  pathOf(filename: string): string {
    return join(this.directory, `${createHash('sha256').update(filename).digest('hex')}${this.suffix}`);
  }

  async init(): Promise<void> {
    await mkdir(this.directory, { recursive: true });
  }

  /** The saved offset; 0 when there is none or it is unreadable. */
  async load(filename: string): Promise<number> {
    try {
      const value = Number((await readFile(this.pathOf(filename), 'utf8')).trim());
      return Number.isSafeInteger(value) && value >= 0 ? value : 0;
    } catch {
      return 0;
    }
  }

  async save(filename: string, offset: number): Promise<void> {
    const path = this.pathOf(filename);
    const tmp = `${path}.tmp`;
    await writeFile(tmp, `${offset}\n`);
    await rename(tmp, path);
  }

  async remove(filename: string): Promise<void> {
    await rm(this.pathOf(filename), { force: true });
  }
}
