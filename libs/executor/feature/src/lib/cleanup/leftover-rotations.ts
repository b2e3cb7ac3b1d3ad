import { createReadStream, createWriteStream } from 'node:fs';
import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import execa from 'execa';
import type { Logger } from '@singularity/node-util';

export type CompressionType = 'GZIP' | 'BZIP2' | 'BGZIP';

/** Rotated service logs that logrotate compresses. */
const COMPRESSED_ROTATION = /^service\.log-.+\.(gz|bz2)$/;

/**
 * Mends what a logrotate run that died while compressing leaves in `logs/`
 * (spec slave §4 step 5): an empty `service.log-….gz` (or `.bz2`) next to
 * the uncompressed rotation it was made from. The empty file goes and its
 * twin is compressed with `compressionType`, so the S3 uploader's
 * `service.log*.[gb]z*` glob picks it up. Returns the files it compressed.
 */
export async function compressLeftoverRotations(logsDirectory: string, compressionType: CompressionType, logger: Logger): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(logsDirectory);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const compressed: string[] = [];
  for (const name of names) {
    const match = COMPRESSED_ROTATION.exec(name);
    if (!match) continue;
    const path = join(logsDirectory, name);
    const info = await stat(path).catch(() => undefined);
    if (!info?.isFile() || info.size > 0) continue;
    await rm(path, { force: true });
    const twin = path.slice(0, -(match[1].length + 1));
    const twinInfo = await stat(twin).catch(() => undefined);
    if (!twinInfo?.isFile()) {
      logger.info({ removed: path }, 'removed an empty rotated log');
      continue;
    }
    await compressFile(twin, compressionType);
    compressed.push(twin);
    logger.info({ removed: path, compressed: twin, compressionType }, 'removed an empty rotated log and compressed its uncompressed twin');
  }
  return compressed;
}

/** Compresses `path` in place (`path.gz` or `path.bz2`), removing the original, as gzip/bzip2/bgzip do. */
async function compressFile(path: string, type: CompressionType): Promise<void> {
  if (type === 'GZIP') {
    const target = `${path}.gz`;
    await pipeline(createReadStream(path), createGzip(), createWriteStream(target, { mode: 0o644 }));
    await rm(path);
    return;
  }
  // Arguments as an array: no shell sees the file name.
  await execa(type === 'BZIP2' ? 'bzip2' : 'bgzip', ['-f', path]);
}
