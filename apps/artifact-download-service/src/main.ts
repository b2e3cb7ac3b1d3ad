import { ArtifactDownloadService, DOWNLOAD_SERVICE_CONFIG_ENV_PREFIX, loadDownloadServiceConfig } from '@singularity/executor-feature';
import { createLogger, onShutdown, readProgramConfig } from '@singularity/node-util';

/**
 * The local artifact download service (spec slave §3): one per machine,
 * fetching S3 artifacts for the executors into the shared artifact cache and
 * placing them where they ask.
 *
 *   node -r ./tools/register.js apps/artifact-download-service/src/main.ts --config /etc/singularity/node.yaml
 *
 * The file is the consolidated node configuration (sections base, s3,
 * executor, downloadService). It listens on 127.0.0.1 only, and on
 * `s3.localDownloadSocket` when set. SIGTERM stops accepting requests, lets
 * those in flight finish (up to `downloadService.shutdownGraceMillis`) and
 * exits 0. Exit codes: 1 on a crash or a failed start (port in use), 64 for
 * bad arguments, 78 for an invalid configuration.
 */
async function main(): Promise<number | undefined> {
  const read = readProgramConfig('artifact-download-service', DOWNLOAD_SERVICE_CONFIG_ENV_PREFIX, loadDownloadServiceConfig);
  if ('exitCode' in read) return read.exitCode;
  const { config, configFile } = read;
  const logger = createLogger('artifact-download-service');
  const service = new ArtifactDownloadService({ config, logger });
  const address = await service.start();
  logger.info(
    {
      configFile,
      url: `${address.url}${config.s3.localDownloadPath}`,
      socketPath: address.socketPath,
      cacheDirectory: config.s3.artifactCacheDirectory,
      maxConcurrentDownloads: config.downloadService.numDownloaderThreads,
    },
    'artifact download service listening',
  );
  onShutdown(logger, () => service.stop());
  return undefined;
}

main().then(
  (code) => {
    // undefined: the service runs until a signal (onShutdown exits).
    if (code !== undefined) process.exit(code);
  },
  (err: unknown) => {
    process.stderr.write(`artifact-download-service failed: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
