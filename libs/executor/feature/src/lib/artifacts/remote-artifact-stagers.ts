import type { ExecutorData, ExternalArtifact, S3Artifact, S3ArtifactSignature } from '@singularity/models';
import type { ArtifactStager, StagingContext } from '../artifact-stager';
import { artifactLabel, assertPlainFilename } from '../embedded-artifacts';
import type { ExecutorConfig } from '../executor-config';
import { resolveInsideSandbox } from '../sandbox-paths';
import { ArtifactCache, type FetchedArtifactFile } from './artifact-cache';
import { readArtifactList, type ArtifactList } from './artifact-list';
import { artifactTargetDirectory, placeArtifact } from './artifact-placement';
import { verifySignatures, type FetchedPath } from './artifact-signatures';
import { downloadHttp } from './http-download';
import type { LocalDownloadClient } from './local-download-client';
import { S3Downloader } from './s3-download';

/** Stages the artifacts an artifact list names (embedded, S3 + signatures, external), in the task's sandbox. */
export type StageArtifactList = (list: ArtifactList, context: StagingContext, label: string) => Promise<void>;

/** Fetches remote artifacts through the cache (one per executor, so its pins are this task's). */
export class ArtifactFetcher {
  constructor(
    readonly cache: ArtifactCache,
    readonly s3: S3Downloader,
  ) {}

  static fromConfig(config: ExecutorConfig): ArtifactFetcher {
    return new ArtifactFetcher(
      new ArtifactCache({ directory: config.s3.artifactCacheDirectory, maxBytes: config.s3.artifactCacheMaxBytes }),
      new S3Downloader(config.s3),
    );
  }

  fetchS3(artifact: S3Artifact, { signal, logger }: StagingContext): Promise<FetchedArtifactFile> {
    const label = artifactLabel(artifact);
    assertPlainFilename(artifact.filename, label);
    return this.cache.fetch(artifact, label, (destination, s) => this.s3.download(artifact, destination, label, s, logger), signal, logger);
  }

  fetchExternal(artifact: ExternalArtifact, { signal, logger }: StagingContext): Promise<FetchedArtifactFile> {
    const label = artifactLabel(artifact);
    assertPlainFilename(artifact.filename, label);
    return this.cache.fetch(artifact, label, (destination, s) => downloadHttp(artifact.url, destination, label, s, logger), signal, logger);
  }
}

/**
 * Checks every artifact's file name and target folder before anything is
 * downloaded: a target outside `T` fails the task without a download.
 * Placement checks again (the sandbox may change meanwhile).
 */
async function checkTargets(artifacts: ReadonlyArray<S3Artifact | ExternalArtifact>, { sandboxDirectory }: StagingContext): Promise<void> {
  for (const artifact of artifacts) {
    const label = artifactLabel(artifact);
    assertPlainFilename(artifact.filename, label);
    if (!artifact.isArtifactList) await resolveInsideSandbox(sandboxDirectory, artifact.targetFolderRelativeToTask ?? '', label);
  }
}

async function releaseAll(files: readonly FetchedArtifactFile[]): Promise<void> {
  await Promise.all(files.map((file) => file.release()));
}

async function stageLists(
  lists: Array<{ artifact: S3Artifact | ExternalArtifact; file: FetchedArtifactFile }>,
  context: StagingContext,
  stageList: StageArtifactList,
): Promise<void> {
  for (const { artifact, file } of lists) {
    context.signal.throwIfAborted();
    const label = artifactLabel(artifact);
    const list = await readArtifactList(file.path, label);
    context.logger.info(
      {
        artifact: label,
        embedded: list.embeddedArtifacts.length,
        s3: list.s3Artifacts.length,
        signatures: list.s3ArtifactSignatures.length,
        external: list.externalArtifacts.length,
      },
      'staging the artifacts of an artifact list',
    );
    await stageList(list, context, label);
  }
}

/**
 * S3 artifacts and their signatures (spec slave §1.5): every artifact and
 * signature is fetched (cache, else S3) and checked, the signatures are
 * verified against the cache paths, and only then is anything placed in `T`,
 * so a bad signature leaves the sandbox as it was. Artifact lists among them
 * are expanded last.
 *
 * With a local download service (`useLocalDownloadService`, spec slave §3)
 * each plain artifact is first asked of the service, which fetches it into
 * the shared cache and places it itself; whatever the service does not
 * deliver (an error, a non-200, a timeout, no service) is downloaded
 * in-process as above. Two kinds always stay in-process: artifact lists (the
 * executor reads them, the service only places files) and the artifacts of a
 * task with signatures (the service would place them before the signatures
 * are checked).
 */
export class S3ArtifactStager implements ArtifactStager {
  readonly name = 's3-artifacts';

  constructor(
    private readonly fetcher: ArtifactFetcher,
    private readonly config: ExecutorConfig,
    private readonly stageList: StageArtifactList,
    private readonly localService?: LocalDownloadClient,
  ) {}

  async stage(data: ExecutorData, context: StagingContext): Promise<void> {
    const artifacts = data.s3Artifacts ?? [];
    const signatures = data.s3ArtifactSignatures ?? [];
    if (artifacts.length === 0 && signatures.length === 0) return;
    await checkTargets(artifacts, context);
    let inProcess = artifacts;
    if (this.localService && signatures.length > 0) {
      context.logger.info(
        { signatures: signatures.length },
        'artifacts with signatures are checked before they are placed, which the local download service cannot do: downloading in-process',
      );
    } else if (this.localService && artifacts.length > 0) {
      inProcess = await this.stageThroughService(this.localService, artifacts, context);
    }
    await this.stageInProcess(inProcess, signatures, context);
  }

  /** Asks the service for every plain artifact at once (its client limits the connections); returns those left to do in-process, in order. */
  private async stageThroughService(service: LocalDownloadClient, artifacts: readonly S3Artifact[], context: StagingContext): Promise<S3Artifact[]> {
    const { signal, logger, sandboxDirectory } = context;
    const delivered = new Set<S3Artifact>();
    const outcomes = await Promise.allSettled(
      artifacts
        .filter((artifact) => !artifact.isArtifactList)
        .map(async (artifact) => {
          const label = artifactLabel(artifact);
          // The same checked, created directory in-process placement would use: the service gets an absolute path inside T.
          const target = await artifactTargetDirectory(artifact, sandboxDirectory);
          const started = Date.now();
          try {
            await service.download(artifact, target, signal);
          } catch (err) {
            if (signal.aborted) throw signal.reason;
            logger.warn(
              { artifact: label, service: service.endpoint, reason: (err as Error).message },
              'local download service did not deliver the artifact: downloading it in-process',
            );
            return;
          }
          delivered.add(artifact);
          logger.info({ artifact: label, target, millis: Date.now() - started }, 'artifact placed by the local download service');
        }),
    );
    signal.throwIfAborted();
    const failure = outcomes.find((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected');
    if (failure) throw failure.reason;
    return artifacts.filter((artifact) => !delivered.has(artifact));
  }

  private async stageInProcess(artifacts: readonly S3Artifact[], signatures: readonly S3ArtifactSignature[], context: StagingContext): Promise<void> {
    if (artifacts.length === 0 && signatures.length === 0) return;
    const held: FetchedArtifactFile[] = [];
    try {
      const files: Array<{ artifact: S3Artifact; file: FetchedArtifactFile }> = [];
      for (const artifact of artifacts) {
        context.signal.throwIfAborted();
        const file = await this.fetcher.fetchS3(artifact, context);
        held.push(file);
        files.push({ artifact, file });
      }
      const signatureFiles: Array<FetchedPath<S3ArtifactSignature>> = [];
      for (const signature of signatures) {
        context.signal.throwIfAborted();
        const file = await this.fetcher.fetchS3(signature, context);
        held.push(file);
        signatureFiles.push({ artifact: signature, path: file.cachePath });
      }
      await verifySignatures({
        artifacts: files.map(({ artifact, file }) => ({ artifact, path: file.cachePath })),
        signatures: signatureFiles,
        settings: this.config.executor,
        sandboxDirectory: context.sandboxDirectory,
        signal: context.signal,
        logger: context.logger,
      });
      for (const { artifact, file } of files) {
        context.signal.throwIfAborted();
        if (!artifact.isArtifactList) await placeArtifact(file.path, artifact, context, { useCompressProgram: this.config.base.useCompressProgram });
      }
      await stageLists(
        files.filter(({ artifact }) => artifact.isArtifactList),
        context,
        this.stageList,
      );
    } finally {
      await releaseAll(held);
    }
  }
}

/** External artifacts (spec slave §1.5): each fetched (cache, else HTTP GET), checked and placed in turn; lists expanded last. */
export class ExternalArtifactStager implements ArtifactStager {
  readonly name = 'external-artifacts';

  constructor(
    private readonly fetcher: ArtifactFetcher,
    private readonly config: ExecutorConfig,
    private readonly stageList: StageArtifactList,
  ) {}

  async stage(data: ExecutorData, context: StagingContext): Promise<void> {
    await checkTargets(data.externalArtifacts ?? [], context);
    const lists: Array<{ artifact: ExternalArtifact; file: FetchedArtifactFile }> = [];
    try {
      for (const artifact of data.externalArtifacts ?? []) {
        context.signal.throwIfAborted();
        const file = await this.fetcher.fetchExternal(artifact, context);
        if (artifact.isArtifactList) {
          lists.push({ artifact, file });
          continue;
        }
        try {
          await placeArtifact(file.path, artifact, context, { useCompressProgram: this.config.base.useCompressProgram });
        } finally {
          await file.release();
        }
      }
      await stageLists(lists, context, this.stageList);
    } finally {
      await releaseAll(lists.map(({ file }) => file));
    }
  }
}
