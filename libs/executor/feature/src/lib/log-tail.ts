import { open, rename, rm } from 'node:fs/promises';

/** Bytes read per step while looking for line starts from the end. */
const CHUNK = 64 * 1024;

export interface TailResult {
  /** Lines written (at most the number asked for). */
  lines: number;
  /** Bytes of the source read, looking back and copying: the tail's size plus at most one chunk. */
  bytesRead: number;
}

/**
 * Offset in `source` where its last `lines` lines start, found by reading
 * backwards in chunks, so a short tail of a huge log costs a few reads. A
 * final line without a newline counts as a line; a trailing newline does not
 * start one.
 */
async function tailStart(fd: import('node:fs/promises').FileHandle, size: number, lines: number): Promise<{ start: number; found: number; bytesRead: number }> {
  const buffer = Buffer.alloc(CHUNK);
  let end = size;
  let bytesRead = 0;
  let newlines = 0;
  // A newline as the very last byte ends the last line rather than starting an empty one.
  let skipLast = size > 0;
  while (end > 0) {
    const start = Math.max(0, end - CHUNK);
    const length = end - start;
    const { bytesRead: n } = await fd.read(buffer, 0, length, start);
    bytesRead += n;
    for (let i = n - 1; i >= 0; i--) {
      if (buffer[i] !== 0x0a) {
        skipLast = false;
        continue;
      }
      if (skipLast) {
        skipLast = false;
        continue;
      }
      newlines++;
      if (newlines === lines) return { start: start + i + 1, found: lines, bytesRead };
    }
    end = start;
  }
  const endsWithNewlineOnly = size > 0;
  return { start: 0, found: endsWithNewlineOnly ? newlines + 1 : 0, bytesRead };
}

/**
 * Writes the last `lines` lines of `source` to `target` (spec slave §1.8,
 * `tail -n`), in-process: reads `source` from its end, then copies from the
 * tail's start. `target` appears complete or not at all (temp file + rename).
 */
export async function writeTail(source: string, target: string, lines: number): Promise<TailResult> {
  const input = await open(source, 'r');
  const temp = `${target}.${process.pid}.tmp`;
  try {
    const { size } = await input.stat();
    const { start, found, bytesRead: scanned } = lines > 0 ? await tailStart(input, size, lines) : { start: size, found: 0, bytesRead: 0 };
    const output = await open(temp, 'w', 0o644);
    let copied = 0;
    try {
      const buffer = Buffer.alloc(CHUNK);
      let position = start;
      while (position < size) {
        const { bytesRead: n } = await input.read(buffer, 0, Math.min(CHUNK, size - position), position);
        if (n === 0) break;
        await output.write(buffer, 0, n);
        position += n;
        copied += n;
      }
    } finally {
      await output.close();
    }
    await rename(temp, target);
    return { lines: found, bytesRead: scanned + copied };
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  } finally {
    await input.close();
  }
}
