import { createLogger, onShutdown } from '@singularity/node-util';
import { S3Uploader, loadS3UploaderConfig } from '@singularity/s3-uploader-feature';

/** The S3 uploader daemon: `node -r ./tools/register.js apps/s3-uploader/src/main.ts --config singularity.yaml`. */
async function main(): Promise<void> {
  const config = loadS3UploaderConfig();
  const logger = createLogger('s3-uploader');
  const uploader = new S3Uploader(config, { logger });
  await uploader.start();
  onShutdown(logger, () => uploader.stop());
}

main().catch((err) => {
  // Start-up failures (bad config, port in use) end the process naming the cause.
  process.stderr.write(`s3-uploader failed to start: ${(err as Error).message}\n`);
  process.exit(1);
});
