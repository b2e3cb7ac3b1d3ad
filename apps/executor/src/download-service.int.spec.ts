import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, spawnTs, startS3rver, tarGz, type S3rverHandle, type SpawnedProcess } from '@singularity/testing';
import { useExecutorRuns, type ExecutorRun } from './testing/executor-harness';

/**
 * The real executor with `useLocalDownloadService` (spec slave §1.5) against
 * the real artifact download service program (spec slave §3) and a real
 * S3-compatible server (s3rver): scenario 28's executor half. The service
 * fetches and places; when it is down or too slow the executor downloads
 * in-process and the task still runs.
 */
const BUCKET = 'artifacts';
const SERVICE_MAIN = 'apps/artifact-download-service/src/main.ts';
const md5 = (bytes: Buffer) => createHash('md5').update(bytes).digest('hex');


const PLACED_BY_SERVICE = 'artifact placed by the local download service';
const FELL_BACK = 'local download service did not deliver the artifact: downloading it in-process';

describe('executor: the local artifact download service', () => {
  const { start } = useExecutorRuns();
  let s3: S3rverHandle;
  let service: SpawnedProcess;
  let servicePort: number;
  let root: string;

  const app = tarGz({ 'bin/hello.sh': '#!/bin/sh\necho "hello via $1"\n' });
  const appArtifact = { name: 'app', filename: 'app.tar.gz', s3Bucket: BUCKET, s3ObjectKey: 'download-service/app.tar.gz', md5sum: md5(app), targetFolderRelativeToTask: 'app' };

  beforeAll(async () => {
    s3 = await startS3rver({ buckets: [BUCKET] });
    await s3.putObject(BUCKET, appArtifact.s3ObjectKey, app);
    root = mkdtempSync(join(tmpdir(), 'download-service-executor-'));
    servicePort = await freePort();
    const config = join(root, 'node.json');
    writeFileSync(
      config,
      JSON.stringify({
        s3: { artifactCacheDirectory: join(root, 'service-cache'), s3Endpoint: s3.endpoint, s3AccessKey: s3.accessKey, s3SecretKey: s3.secretKey, localDownloadHttpPort: servicePort },
        downloadService: { shutdownGraceMillis: 0 },
      }),
    );
    service = spawnTs(SERVICE_MAIN, ['--config', config], { env: { LOG_FILE: undefined, SINGULARITY_ARTIFACT_DOWNLOAD_SERVICE_CONFIG: undefined } });
    await service.waitForOutput(/"msg":"artifact download service listening"/, { timeoutMs: 30000 });
  });
  afterAll(async () => {
    await service?.stop();
    await s3?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  const serviceMetrics = async (): Promise<Record<string, unknown>> => (await fetch(`http://127.0.0.1:${servicePort}/metrics`)).json() as Promise<Record<string, unknown>>;

  const cmd = './bin/hello.sh';

  async function expectFinished(run: ExecutorRun, how: string): Promise<void> {
    const finished = await run.waitForState('TASK_FINISHED');
    expect(finished.message).toBe('Process exited normally with code 0');
    expect(readFileSync(join(run.sandbox, 'app', 'bin', 'hello.sh'), 'utf8')).toContain('hello via');
    expect(await run.serviceOutput()).toContain(`hello via ${how}`);
  }

  it('28: stages the S3 artifact through the service; the executor itself makes no S3 request', async () => {
    // Delivered downloads (server.requests would also count the /metrics calls themselves).
    const delivered = async () => ((await serviceMetrics())['downloads.timer'] as { count: number }).count;
    const before = await delivered();
    const run = start({
      executorData: { cmd, extraCmdLineArgs: ['service'], s3Artifacts: [appArtifact] },
      // The executor's own S3 endpoint leads nowhere: an in-process download would fail the task.
      config: { s3: { s3Endpoint: 'http://127.0.0.1:9', s3ChunkRetries: 0, localDownloadHttpPort: servicePort }, executor: { useLocalDownloadService: true } },
    });
    await expectFinished(run, 'service');
    expect(run.logCount(PLACED_BY_SERVICE)).toBe(1);
    expect(run.logCount(FELL_BACK)).toBe(0);
    expect(await delivered()).toBe(before + 1);
  });

  it('28: falls back to downloading in-process when the service is down', async () => {
    const run = start({
      executorData: { cmd, extraCmdLineArgs: ['fallback'], s3Artifacts: [appArtifact] },
      config: { s3: { s3Endpoint: s3.endpoint, s3AccessKey: s3.accessKey, s3SecretKey: s3.secretKey, localDownloadHttpPort: await freePort() }, executor: { useLocalDownloadService: true } },
    });
    await expectFinished(run, 'fallback');
    expect(run.logCount(FELL_BACK)).toBe(1);
    expect(run.logCount(PLACED_BY_SERVICE)).toBe(0);
  });

  it('28: falls back when the service does not deliver within a tiny timeout', async () => {
    const run = start({
      executorData: { cmd, extraCmdLineArgs: ['timeout'], s3Artifacts: [{ ...appArtifact, filename: 'other.tar.gz' }] },
      config: {
        s3: { s3Endpoint: s3.endpoint, s3AccessKey: s3.accessKey, s3SecretKey: s3.secretKey, localDownloadHttpPort: servicePort },
        executor: { useLocalDownloadService: true, localDownloadServiceTimeoutMillis: 1 },
      },
    });
    await expectFinished(run, 'timeout');
    expect(run.logCount(FELL_BACK)).toBe(1);
  });
});
