import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { ArtifactVerificationError } from '../executor-errors';

/** What a downloaded artifact is checked against (spec slave §1.5); both optional. */
export interface ExpectedArtifactContent {
  md5sum?: string;
  filesize?: number;
}

/** The md5 sum (lower-case hex) of the file at `path`, read as a stream. */
export async function fileMd5(path: string, signal?: AbortSignal): Promise<string> {
  const hash = createHash('md5');
  await pipeline(createReadStream(path), hash, { signal });
  return hash.digest('hex');
}

/** md5 sums compare case-insensitively (spec slave §1.5). */
export function sameMd5(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

/**
 * Checks a downloaded file (spec slave §1.5): the size first ("Filesize X
 * (path) does not match expected (Y)"), then the md5 sum ("Md5sum X (path)
 * does not match expected (Y)"), each only when the artifact gives one. The
 * message starts with `label` so that the artifact's name survives the cut
 * of status messages to 80 characters.
 */
export async function verifyArtifactFile(path: string, expected: ExpectedArtifactContent, label: string, signal?: AbortSignal): Promise<void> {
  if (expected.filesize !== undefined) {
    const { size } = await stat(path);
    if (size !== expected.filesize) {
      throw new ArtifactVerificationError(`${label}: Filesize ${size} (${path}) does not match expected (${expected.filesize})`);
    }
  }
  if (expected.md5sum) {
    const actual = await fileMd5(path, signal);
    if (!sameMd5(actual, expected.md5sum)) {
      throw new ArtifactVerificationError(`${label}: Md5sum ${actual} (${path}) does not match expected (${expected.md5sum})`);
    }
  }
}
