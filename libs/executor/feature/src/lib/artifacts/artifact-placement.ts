import { constants } from 'node:fs';
import { chmod, copyFile, lstat, mkdir } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type { StagingContext } from '../artifact-stager';
import { ARTIFACT_FILE_MODE, artifactLabel, assertPlainFilename } from '../embedded-artifacts';
import { TaskFailureError } from '../executor-errors';
import { resolveInsideSandbox } from '../sandbox-paths';
import { archiveKind, extractArchive } from './archive-extract';
import { fileMd5 } from './artifact-files';

/** What placement needs of an artifact. */
export interface PlaceableArtifact {
  name?: string;
  filename: string;
  targetFolderRelativeToTask?: string;
}

/**
 * The target directory of an artifact, `T` or `T/<targetFolderRelativeToTask>`,
 * created, and checked to resolve inside `T` before and after it is created
 * (spec slave §1.3): `/etc` or `../../x` fail the task, and nothing is written
 * outside `T`.
 */
export async function artifactTargetDirectory(artifact: PlaceableArtifact, sandboxDirectory: string): Promise<string> {
  const label = artifactLabel(artifact);
  const folder = artifact.targetFolderRelativeToTask ?? '';
  const directory = await resolveInsideSandbox(sandboxDirectory, folder, label);
  await mkdir(directory, { recursive: true });
  // mkdir may have walked through a symlink created meanwhile: check again now that it all exists.
  await resolveInsideSandbox(sandboxDirectory, folder, label);
  return directory;
}

/**
 * Puts a fetched remote artifact in place (spec slave §1.5): a `.tar.gz`,
 * `.tgz` or `.tar` is extracted into the target directory (see
 * extractArchive), anything else is copied to `<target>/<filename>` with mode
 * 0644. An existing file there is fine when it is identical (same size and
 * md5), else the task fails; the copy never follows a symlink at the target.
 */
export async function placeArtifact(
  file: string,
  artifact: PlaceableArtifact,
  context: StagingContext,
  options: { useCompressProgram?: string } = {},
): Promise<void> {
  const label = artifactLabel(artifact);
  assertPlainFilename(artifact.filename, label);
  const { sandboxDirectory, signal, logger } = context;
  const target = await artifactTargetDirectory(artifact, sandboxDirectory);
  signal.throwIfAborted();
  const kind = archiveKind(artifact.filename);
  if (kind) {
    await extractArchive({
      archive: file,
      kind,
      sandboxDirectory,
      targetDirectory: target,
      label,
      useCompressProgram: options.useCompressProgram,
      signal,
      logger,
    });
    return;
  }
  const destination = join(target, artifact.filename);
  try {
    // COPYFILE_EXCL opens with O_CREAT|O_EXCL: an existing file, or a symlink, is never written through.
    await copyFile(file, destination, constants.COPYFILE_EXCL);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    const existing = await lstat(destination);
    const rel = relative(sandboxDirectory, destination);
    const source = await lstat(file);
    if (!existing.isFile() || existing.size !== source.size || (await fileMd5(destination, signal)) !== (await fileMd5(file, signal))) {
      throw new TaskFailureError(`${label}: ${rel} already exists with other content`);
    }
    logger.info({ artifact: label, destination }, 'identical file already in place');
    return;
  }
  await chmod(destination, ARTIFACT_FILE_MODE);
  logger.info({ artifact: label, destination }, 'copied artifact');
}
