import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { eventually, freePort, spawnTs, startGatedProxy, startS3rver, tempDir, type S3rverHandle, type SpawnedProcess, type TempDir } from '@singularity/testing';

jest.setTimeout(60_000);

const BUCKET = 'artifacts';
const MAIN = 'apps/artifact-download-service/src/main.ts';

/** s3rver behind a proxy that holds every HEAD until `open()`. */
const gatedS3 = (target: S3rverHandle) => startGatedProxy(target.port, (method) => method === 'HEAD');

/** main.ts wiring: `--config FILE`, the start-up line, a download, SIGTERM with a download in flight, and a bad key. */
describe('apps/artifact-download-service main', () => {
  let dir: TempDir;
  let s3: S3rverHandle;
  let program: SpawnedProcess | undefined;
  const env = { LOG_FILE: undefined, SINGULARITY_ARTIFACT_DOWNLOAD_SERVICE_CONFIG: undefined };

  beforeAll(async () => {
    s3 = await startS3rver({ buckets: [BUCKET] });
  });
  afterAll(() => s3.stop());
  beforeEach(async () => {
    dir = await tempDir('artifact-download-service-main-');
  });
  afterEach(async () => {
    await program?.stop('SIGKILL');
    program = undefined;
    await dir.cleanup();
  });

  it('says where it listens and where the cache is, places a download, and on SIGTERM finishes the one in flight before exiting 0', async () => {
    const bytes = Buffer.from('artifact bytes\n');
    await s3.putObject(BUCKET, 'main/tool.txt', bytes);
    const gated = await gatedS3(s3);
    try {
      const port = await freePort();
      const cache = join(dir.path, 'cache');
      const config = join(dir.path, 'node.json');
      writeFileSync(
        config,
        JSON.stringify({
          s3: { artifactCacheDirectory: cache, s3Endpoint: gated.endpoint, s3AccessKey: s3.accessKey, s3SecretKey: s3.secretKey, localDownloadHttpPort: port },
          downloadService: { shutdownGraceMillis: 30000 },
        }),
      );
      program = spawnTs(MAIN, ['--config', config], { env });
      await program.waitForOutput(/"msg":"artifact download service listening"/, { timeoutMs: 30000 });
      expect(program.stdout()).toContain(`"url":"http://127.0.0.1:${port}/download"`);
      expect(program.stdout()).toContain(`"cacheDirectory":${JSON.stringify(cache)}`);

      const target = join(dir.path, 'task', 'app');
      const s3Artifact = { filename: 'tool.txt', s3Bucket: BUCKET, s3ObjectKey: 'main/tool.txt', md5sum: createHash('md5').update(bytes).digest('hex') };
      const answer = fetch(`http://127.0.0.1:${port}/download`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ targetDirectory: target, s3Artifact, timeoutMillis: 30000 }),
      });
      await eventually(() => expect(gated.held()).toBe(1));
      process.kill(program.pid, 'SIGTERM');
      await program.waitForOutput(/"msg":"waiting for requests in flight"/);
      // Stopped accepting: a new connection is refused while the held download is still under way.
      await eventually(async () => expect(await fetch(`http://127.0.0.1:${port}/health`).then(() => 'answered', () => 'refused')).toBe('refused'));
      gated.open();

      const response = await answer;
      expect(response.status).toBe(200);
      expect(readFileSync(join(target, 'tool.txt')).equals(bytes)).toBe(true);
      expect(await program.exited).toEqual({ code: 0, signal: null });
    } finally {
      await gated.close();
    }
  });

  it('stops at start with exit 78 naming the bad key', async () => {
    const config = join(dir.path, 'node.yaml');
    writeFileSync(config, ['s3:', `  artifactCacheDirectory: ${join(dir.path, 'cache')}`, 'downloadService:', '  numDownloaderThreads: 0'].join('\n'));
    program = spawnTs(MAIN, ['--config', config], { env });
    expect(await program.exited).toEqual({ code: 78, signal: null });
    expect(program.stderr()).toMatch(/artifact-download-service: invalid configuration key 'downloadService\.numDownloaderThreads'/);
  });

  it('stops at start with exit 78 when it has no S3 keys', async () => {
    const config = join(dir.path, 'node.yaml');
    writeFileSync(config, ['s3:', `  artifactCacheDirectory: ${join(dir.path, 'cache')}`].join('\n'));
    program = spawnTs(MAIN, ['--config', config], { env });
    expect(await program.exited).toEqual({ code: 78, signal: null });
    expect(program.stderr()).toMatch(/invalid configuration key 's3\.s3AccessKey': the artifact download service needs S3 keys/);
  });
});
