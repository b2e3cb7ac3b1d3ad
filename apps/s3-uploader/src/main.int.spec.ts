import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { eventually, spawnTs, startS3rver, tempDir, type S3rverHandle, type SpawnedProcess, type TempDir } from '@singularity/testing';

jest.setTimeout(60_000);

const env = { LOG_FILE: undefined, SINGULARITY_S3_UPLOADER_CONFIG: undefined };

/** main.ts wiring: `--config FILE`, the start-up line, a real upload through the real timers, SIGTERM, a bad config. */
describe('apps/s3-uploader main', () => {
  let s3: S3rverHandle;
  let dir: TempDir;
  let program: SpawnedProcess | undefined;

  beforeAll(async () => {
    s3 = await startS3rver({ buckets: ['logs'] });
  });
  afterAll(async () => {
    await s3.stop();
  });
  beforeEach(async () => {
    dir = await tempDir('s3-uploader-main-');
  });
  afterEach(async () => {
    await program?.stop('SIGKILL');
    program = undefined;
    await dir.cleanup();
  });

  it('ships a file named by metadata, deletes it and the metadata, serves health, and exits 0 on SIGTERM', async () => {
    const metaDir = join(dir.path, 'meta');
    const logs = join(dir.path, 'logs');
    await mkdir(logs, { recursive: true });
    const config = join(dir.path, 'singularity.yaml');
    await writeFile(
      config,
      [
        'base:',
        `  s3UploaderMetadataDirectory: ${metaDir}`,
        's3:',
        `  s3Endpoint: ${s3.endpoint}`,
        `  s3AccessKey: ${s3.accessKey}`,
        `  s3SecretKey: ${s3.secretKey}`,
        's3uploader:',
        '  checkUploadsEverySeconds: 1',
        '  httpPort: 0',
        'executor: {ignored: true}',
      ].join('\n'),
    );
    program = spawnTs('apps/s3-uploader/src/main.ts', ['--config', config], { env });
    const [, port] = await program.waitForOutput(new RegExp(`s3 uploader watching ${metaDir} for \\*\\.s3\\.json; S3 at ${s3.endpoint}; http on 127\\.0\\.0\\.1:(\\d+)`), {
      timeoutMs: 30000,
    });
    expect(await (await fetch(`http://127.0.0.1:${port}/health`)).json()).toMatchObject({ ok: true, metadataDirectory: metaDir });

    const file = join(logs, 'service.log-1.gz');
    await writeFile(file, 'shipped by the program');
    const metadata = join(metaDir, 'task-default.s3.json');
    await writeFile(metadata, JSON.stringify({ directory: logs, fileGlob: 'service.log*.gz', s3Bucket: 'logs', s3KeyFormat: 'req/%filename', finished: true }));

    await eventually(() => !existsSync(metadata) && !existsSync(file), { timeoutMs: 20000, description: 'file and metadata gone' });
    const object = await s3.client().send(new GetObjectCommand({ Bucket: 'logs', Key: 'req/service.log-1.gz' }));
    expect(await object.Body?.transformToString()).toBe('shipped by the program');

    process.kill(program.pid, 'SIGTERM');
    expect(await program.exited).toEqual({ code: 0, signal: null });
    expect(program.stdout()).toMatch(/"msg":"stopped"/);
  });

  it('refuses a bad configuration, naming the key', async () => {
    const config = join(dir.path, 'bad.yaml');
    await writeFile(config, ['base:', `  s3UploaderMetadataDirectory: ${dir.path}`, 's3: {s3AccessKey: a, s3SecretKey: b}', 's3uploader:', '  recheckFilesEverySeconds: 5'].join('\n'));
    program = spawnTs('apps/s3-uploader/src/main.ts', ['--config', config], { env });
    expect(await program.exited).toEqual({ code: 1, signal: null });
    expect(program.stderr()).toMatch(/s3-uploader failed to start: invalid configuration key 's3uploader\.recheckFilesEverySeconds'/);
  });
});
