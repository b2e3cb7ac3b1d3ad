import type { ExecutorData } from '@singularity/models';
import type { ArtifactStager } from '../artifact-stager';
import { EmbeddedArtifactStager } from '../embedded-artifacts';
import type { ExecutorConfig } from '../executor-config';
import { LocalDownloadClient, localDownloadClientSettings } from './local-download-client';
import { ArtifactFetcher, ExternalArtifactStager, S3ArtifactStager, type StageArtifactList } from './remote-artifact-stagers';

export { ArtifactCache, type ArtifactCacheOptions, type ArtifactDownload, type FetchedArtifactFile } from './artifact-cache';
export { archiveKind, checkArchiveEntries, extractArchive, listArchive, type ArchiveEntry, type ArchiveKind } from './archive-extract';
export { readArtifactList, type ArtifactList } from './artifact-list';
export { artifactTargetDirectory, placeArtifact } from './artifact-placement';
export { pairSignatures, signatureCommand, verifySignatures, SIGNATURE_OUTPUT_FILE } from './artifact-signatures';
export { displayUrl, downloadHttp, MAX_REDIRECTS } from './http-download';
export { chunkRanges, S3Downloader, S3_PARALLEL_CHUNKS } from './s3-download';
export { ArtifactFetcher, ExternalArtifactStager, S3ArtifactStager } from './remote-artifact-stagers';
export { ConcurrencyLimit } from './concurrency-limit';
export {
  LocalDownloadClient,
  localDownloadClientSettings,
  LocalDownloadServiceError,
  type ArtifactDownloadRequest,
  type LocalDownloadClientSettings,
} from './local-download-client';

/**
 * The executor's artifact stagers, in the spec's order (slave §1.4 step 3):
 * embedded, then S3 (with signatures), then external. They share one
 * artifact cache (`s3.artifactCacheDirectory`), whose entries this task uses
 * are never evicted while it stages. An artifact list (step 4) found by the
 * S3 or external stager is staged by the same three, one level deep. With
 * `useLocalDownloadService` the S3 stager asks the local download service
 * first (spec slave §3), through one client per executor.
 */
export function artifactStagers(config: ExecutorConfig): ArtifactStager[] {
  const fetcher = ArtifactFetcher.fromConfig(config);
  const localService = config.executor.useLocalDownloadService ? new LocalDownloadClient(localDownloadClientSettings(config)) : undefined;
  const stagers: ArtifactStager[] = [];
  const stageList: StageArtifactList = async (list, context) => {
    const data: ExecutorData = { cmd: '', ...list };
    for (const stager of stagers) {
      context.signal.throwIfAborted();
      await stager.stage(data, context);
    }
  };
  stagers.push(new EmbeddedArtifactStager(), new S3ArtifactStager(fetcher, config, stageList, localService), new ExternalArtifactStager(fetcher, config, stageList));
  return stagers;
}
