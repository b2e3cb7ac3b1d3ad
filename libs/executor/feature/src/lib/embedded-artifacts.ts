import { createHash } from 'node:crypto';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { basename, join, relative } from 'node:path';
import type { EmbeddedArtifact, ExecutorData } from '@singularity/models';
import type { ArtifactStager, StagingContext } from './artifact-stager';
import { ArtifactVerificationError, SandboxEscapeError, TaskFailureError } from './executor-errors';
import { resolveInsideSandbox } from './sandbox-paths';

/** Mode of staged artifact files (spec slave §1.5). */
export const ARTIFACT_FILE_MODE = 0o644;

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

export function md5Hex(bytes: Uint8Array): string {
  return createHash('md5').update(bytes).digest('hex');
}

/**
 * How an artifact is named in failure messages. It comes first: status
 * messages are cut to `maxTaskMessageLength` (80), and the artifact's name
 * must survive the cut.
 */
export function artifactLabel(artifact: { name?: string; filename: string }): string {
  return `Artifact ${JSON.stringify(artifact.name || artifact.filename)}`;
}

/** An artifact's `filename` is a plain file name: no directory part, not `.`/`..` (it names the file in `T` and in the cache). */
export function assertPlainFilename(filename: string, label: string): void {
  if (!filename || filename !== basename(filename) || filename === '.' || filename === '..' || filename.includes('\\') || filename.includes('\0')) {
    throw new SandboxEscapeError(`${label}: filename ${JSON.stringify(filename)} must be a plain file name`);
  }
}

/**
 * Writes each embedded artifact's decoded `content` to
 * `T/<targetFolderRelativeToTask>/<filename>` (spec slave §1.5): mode 0644,
 * the md5 sum checked before anything is written, an existing file refused,
 * and the target kept inside `T`.
 */
export class EmbeddedArtifactStager implements ArtifactStager {
  readonly name = 'embedded-artifacts';

  async stage(data: ExecutorData, context: StagingContext): Promise<void> {
    for (const artifact of data.embeddedArtifacts ?? []) {
      context.signal.throwIfAborted();
      await this.stageOne(artifact, context);
    }
  }

  private async stageOne(artifact: EmbeddedArtifact, { sandboxDirectory, logger }: StagingContext): Promise<void> {
    const label = artifactLabel(artifact);
    const { filename } = artifact;
    assertPlainFilename(filename, label);
    const folder = artifact.targetFolderRelativeToTask ?? '';
    const directory = await resolveInsideSandbox(sandboxDirectory, folder, label);
    const content = artifact.content.replace(/\s+/g, '');
    if (!BASE64.test(content)) throw new TaskFailureError(`${label}: content is not valid base64`);
    const bytes = Buffer.from(content, 'base64');
    const target = join(directory, filename);
    if (artifact.md5sum) {
      const actual = md5Hex(bytes);
      if (actual.toLowerCase() !== artifact.md5sum.toLowerCase()) {
        throw new ArtifactVerificationError(`${label}: Md5sum ${actual} (${target}) does not match expected (${artifact.md5sum})`);
      }
    }
    await mkdir(directory, { recursive: true });
    // mkdir may have walked through a symlink created meanwhile; check again now that it all exists.
    await resolveInsideSandbox(sandboxDirectory, join(folder, filename), label);
    try {
      // `wx` is O_CREAT|O_EXCL: refuses an existing file and never follows a symlink at the target.
      await writeFile(target, bytes, { flag: 'wx', mode: ARTIFACT_FILE_MODE });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
        throw new TaskFailureError(`${label}: ${relative(sandboxDirectory, target)} already exists`);
      }
      throw err;
    }
    await chmod(target, ARTIFACT_FILE_MODE); // the umask may have narrowed the mode
    logger.info({ artifact: artifact.name, filename, target, bytes: bytes.length }, 'staged embedded artifact');
  }
}
