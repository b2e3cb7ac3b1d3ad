import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import type { ExecutorData, S3Artifact } from '@singularity/models';
import { eventually, freePort, startGatedProxy, startS3rver, tarGz, type GatedProxy, type S3rverHandle } from '@singularity/testing';
import type { StagingContext } from '../artifact-stager';
import { executorConfig } from '../executor-config';
import { artifactStagers } from '../artifacts';
import { ArtifactDownloadService } from './artifact-download-service';
import { downloadServiceConfig, type DownloadServiceConfigInput } from './download-service-config';

/**
 * The download service in-process against a real S3-compatible server
 * (s3rver) and the real file system (spec slave §3, scenario 28), and the
 * executor's S3 stager talking to it (spec slave §1.5 `useLocalDownloadService`).
 */
const BUCKET = 'artifacts';
const md5 = (bytes: Buffer) => createHash('md5').update(bytes).digest('hex');
const silent = pino({ level: 'silent' });



/** s3rver behind a proxy that holds every HEAD until `open()`. */
const gatedS3 = (target: S3rverHandle) => startGatedProxy(target.port, (method) => method === 'HEAD');

interface Answer {
  status: number;
  body: string;
}

/** One HTTP request to the service (TCP, or its unix socket). */
function call(target: { port: number } | { socketPath: string }, method: string, path: string, body?: unknown, raw?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const payload = raw ?? (body === undefined ? undefined : JSON.stringify(body));
    const req = httpRequest(
      { ...('port' in target ? { host: '127.0.0.1', port: target.port } : { socketPath: target.socketPath }), method, path, agent: false, headers: { 'content-type': 'application/json' } },
      (res: IncomingMessage) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

let s3: S3rverHandle;
beforeAll(async () => {
  s3 = await startS3rver({ buckets: [BUCKET] });
});
afterAll(() => s3.stop());

let root: string;
let cacheDir: string;
const services: ArtifactDownloadService[] = [];
const proxies: GatedProxy[] = [];
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'download-service-'));
  cacheDir = join(root, 'cache');
});
afterEach(async () => {
  await Promise.all(services.splice(0).map((service) => service.stop()));
  await Promise.all(proxies.splice(0).map((proxy) => proxy.close()));
  rmSync(root, { recursive: true, force: true });
});

function serviceConfig(over: DownloadServiceConfigInput = {}) {
  return downloadServiceConfig({
    ...over,
    s3: { artifactCacheDirectory: cacheDir, s3Endpoint: s3.endpoint, s3AccessKey: s3.accessKey, s3SecretKey: s3.secretKey, ...over.s3 },
    downloadService: { shutdownGraceMillis: 0, ...over.downloadService },
  });
}

async function startService(over: DownloadServiceConfigInput = {}, httpPort = 0): Promise<ArtifactDownloadService> {
  const service = new ArtifactDownloadService({ config: serviceConfig(over), logger: silent, httpPort });
  services.push(service);
  await service.start();
  return service;
}

const cacheEntries = () => (existsSync(cacheDir) ? readdirSync(cacheDir) : []);

describe('artifact download service', () => {
  const app = tarGz([
    { path: 'bin/run.sh', body: '#!/bin/sh\necho run\n' },
    { path: 'conf/app.yaml', body: 'a: 1\n' },
  ]);
  const appArtifact: S3Artifact = { name: 'app', filename: 'app.tar.gz', s3Bucket: BUCKET, s3ObjectKey: 'service/app.tar.gz', md5sum: md5(app), filesize: app.length };
  beforeAll(() => s3.putObject(BUCKET, appArtifact.s3ObjectKey, app));

  it('28: two concurrent requests for one artifact share one S3 fetch; both answer 200 with the archive extracted in each target', async () => {
    const gated = await gatedS3(s3);
    proxies.push(gated);
    const service = await startService({ s3: { s3Endpoint: gated.endpoint } });
    const targets = [join(root, 'task-1', 'app'), join(root, 'task-2', 'app')];
    const before = s3.requestsFor(BUCKET, appArtifact.s3ObjectKey).length;

    const answers = targets.map((targetDirectory) => call(service.address, 'POST', '/download', { targetDirectory, s3Artifact: appArtifact, timeoutMillis: 30000 }));
    // Both requests are in the service while the one HEAD is held: the second cannot be a later cache hit.
    await eventually(() => expect(gated.held()).toBe(1));
    await eventually(async () => expect(JSON.parse((await call(service.address, 'GET', '/health')).body)).toMatchObject({ activeRequests: 2 }));
    gated.open();

    expect(await Promise.all(answers)).toEqual([
      { status: 200, body: '' },
      { status: 200, body: '' },
    ]);
    for (const target of targets) {
      expect(readFileSync(join(target, 'bin', 'run.sh'), 'utf8')).toBe('#!/bin/sh\necho run\n');
      expect(readFileSync(join(target, 'conf', 'app.yaml'), 'utf8')).toBe('a: 1\n');
    }
    expect(gated.held()).toBe(1);
    const requests = s3.requestsFor(BUCKET, appArtifact.s3ObjectKey).slice(before);
    expect(requests.filter((r) => r.method === 'HEAD')).toHaveLength(1);
    expect(requests.filter((r) => r.method === 'GET')).toHaveLength(1);
    expect(cacheEntries()).toEqual([`${appArtifact.md5sum}-app.tar.gz`]);
    expect(service.metrics()).toMatchObject({ 'downloads.timer': { count: 2 }, 'downloads.active': 0, 'server.serverErrors': 0 });
  });

  it('28: a request not done within its tiny timeoutMillis gets a 500 naming the timeout', async () => {
    const gated = await gatedS3(s3);
    proxies.push(gated);
    const service = await startService({ s3: { s3Endpoint: gated.endpoint } });
    const answer = await call(service.address, 'POST', '/download', { targetDirectory: join(root, 'T'), s3Artifact: appArtifact, timeoutMillis: 50 });
    expect(answer.status).toBe(500);
    expect(answer.body.trim()).toBe('Artifact "app": not done within 50 ms');
    expect(service.metrics()['server.serverErrors']).toBe(1);
    expect(existsSync(join(root, 'T', 'bin'))).toBe(false);
    gated.open();
  });

  it('serves from the cache without asking S3 again, and copies a plain file under its filename (0644)', async () => {
    const bytes = randomBytes(50_000);
    await s3.putObject(BUCKET, 'service/tool.bin', bytes);
    const tool: S3Artifact = { filename: 'tool.bin', s3Bucket: BUCKET, s3ObjectKey: 'service/tool.bin', md5sum: md5(bytes) };
    const service = await startService();
    for (const task of ['a', 'b']) {
      const answer = await call(service.address, 'POST', '/download', { targetDirectory: join(root, task), s3Artifact: tool });
      expect(answer).toEqual({ status: 200, body: '' });
      expect(readFileSync(join(root, task, 'tool.bin')).equals(bytes)).toBe(true);
      expect(statSync(join(root, task, 'tool.bin')).mode & 0o777).toBe(0o644);
    }
    expect(s3.requestsFor(BUCKET, 'service/tool.bin', 'HEAD')).toHaveLength(1);
  });

  it('answers 500 with the reason when the md5 sum does not match, and caches nothing', async () => {
    const service = await startService();
    const answer = await call(service.address, 'POST', '/download', {
      targetDirectory: join(root, 'T'),
      s3Artifact: { ...appArtifact, name: 'bad', md5sum: '0'.repeat(32), filesize: undefined },
    });
    expect(answer.status).toBe(500);
    expect(answer.body).toMatch(/^Artifact "bad": Md5sum [0-9a-f]{32} \(.*\) does not match expected \(0{32}\)/);
    expect(cacheEntries()).toEqual([]);
  });

  it('refuses a tarball with a member that would leave the target directory, extracting nothing', async () => {
    const evil = tarGz([
      { path: 'ok.txt', body: 'ok' },
      { path: 'link', type: 'SymbolicLink', linkpath: '../../outside' },
    ]);
    await s3.putObject(BUCKET, 'service/evil.tar.gz', evil);
    const service = await startService();
    const target = join(root, 'T');
    const answer = await call(service.address, 'POST', '/download', {
      targetDirectory: target,
      s3Artifact: { name: 'evil', filename: 'evil.tar.gz', s3Bucket: BUCKET, s3ObjectKey: 'service/evil.tar.gz', md5sum: md5(evil) },
    });
    expect(answer.status).toBe(500);
    expect(answer.body).toContain('Artifact "evil"');
    expect(answer.body).toContain('link');
    expect(existsSync(join(target, 'ok.txt'))).toBe(false);
  });

  it('with allowedTargetRoots, places only inside them (after symlinks) and answers 403 otherwise', async () => {
    const sandboxes = join(root, 'sandboxes');
    mkdirSync(sandboxes);
    symlinkSync(root, join(sandboxes, 'escape'));
    const service = await startService({ downloadService: { allowedTargetRoots: [sandboxes] } });
    const ask = (targetDirectory: string) => call(service.address, 'POST', '/download', { targetDirectory, s3Artifact: appArtifact });
    const outside = await ask(join(root, 'elsewhere'));
    expect(outside).toEqual({ status: 403, body: expect.stringContaining('is outside downloadService.allowedTargetRoots') });
    expect((await ask(join(sandboxes, 'escape', 'T'))).status).toBe(403);
    expect((await ask(join(sandboxes, '..', 'T'))).status).toBe(403);
    expect(existsSync(join(root, 'elsewhere'))).toBe(false);
    expect(existsSync(join(root, 'T'))).toBe(false);
    expect((await ask(join(sandboxes, 'task-1', 'app'))).status).toBe(200);
    expect(readFileSync(join(sandboxes, 'task-1', 'app', 'conf', 'app.yaml'), 'utf8')).toBe('a: 1\n');
  });

  it.each([
    ['a wrong path', 'POST', '/elsewhere', undefined, 404, /no \/elsewhere here: POST \/download/],
    ['a wrong method', 'GET', '/download', undefined, 405, /\/download takes POST only/],
    ['a body that is not JSON', 'POST', '/download', '{nope', 400, /the body must be JSON/],
    ['a relative targetDirectory', 'POST', '/download', JSON.stringify({ targetDirectory: 'rel/dir', s3Artifact: { filename: 'a', s3Bucket: 'b', s3ObjectKey: 'k' } }), 400, /invalid request field 'targetDirectory': must be an absolute path/],
    ['no s3Artifact', 'POST', '/download', JSON.stringify({ targetDirectory: '/tmp/x' }), 400, /invalid request field 's3Artifact'/],
    ['a filename with a directory', 'POST', '/download', JSON.stringify({ targetDirectory: '/tmp/x', s3Artifact: { filename: '../a', s3Bucket: 'b', s3ObjectKey: 'k' } }), 400, /invalid request field 's3Artifact.filename'/],
  ])('answers %s (%s %s) with a 4xx naming the fault', async (_what, method, path, raw, status, message) => {
    const service = await startService();
    const answer = await call(service.address, method, path, undefined, raw);
    expect(answer.status).toBe(status);
    expect(answer.body).toMatch(message);
    expect(service.metrics()).toMatchObject({ 'server.requests': 1, 'server.clientErrors': 1, 'server.serverErrors': 0 });
  });

  it('listens on the unix socket too, serves /metrics, and writes the metrics file', async () => {
    const socketPath = join(root, 'sock', 'download.sock');
    const metricsFilePath = join(root, 'metrics', 'download-service.json');
    const service = await startService({ s3: { localDownloadSocket: socketPath, metricsFilePath } });
    const answer = await call({ socketPath }, 'POST', '/download', { targetDirectory: join(root, 'T'), s3Artifact: appArtifact });
    expect(answer).toEqual({ status: 200, body: '' });
    expect(existsSync(join(root, 'T', 'bin', 'run.sh'))).toBe(true);
    const metrics = JSON.parse((await call(service.address, 'GET', '/metrics')).body);
    expect(metrics).toEqual({
      'downloads.timer': expect.objectContaining({ count: 1 }),
      'downloads.active': 0,
      'server.requests': 2,
      'server.clientErrors': 0,
      'server.serverErrors': 0,
    });
    expect(JSON.parse(readFileSync(metricsFilePath, 'utf8'))).toHaveProperty(['server.requests']);
    await service.stop();
    expect(existsSync(socketPath)).toBe(false);
  });

  describe('the executor with useLocalDownloadService', () => {
    async function stage(
      data: Partial<ExecutorData>,
      executorOver: Record<string, unknown>,
      s3Over: Record<string, unknown> = {},
      signal = new AbortController().signal,
    ): Promise<string> {
      const sandbox = join(root, `T-${randomBytes(4).toString('hex')}`);
      mkdirSync(sandbox);
      const config = executorConfig({
        s3: { artifactCacheDirectory: cacheDir, s3Endpoint: s3.endpoint, s3AccessKey: s3.accessKey, s3SecretKey: s3.secretKey, ...s3Over },
        executor: { useLocalDownloadService: true, ...executorOver },
      });
      const context: StagingContext = { sandboxDirectory: sandbox, signal, logger: silent };
      for (const stager of artifactStagers(config)) await stager.stage({ cmd: 'true', ...data }, context);
      return sandbox;
    }

    it('stages S3 artifacts through the service: the service fetches, the executor makes no S3 request', async () => {
      const bytes = randomBytes(10_000);
      await s3.putObject(BUCKET, 'service/via.bin', bytes);
      const via: S3Artifact = { filename: 'via.bin', s3Bucket: BUCKET, s3ObjectKey: 'service/via.bin', md5sum: md5(bytes), targetFolderRelativeToTask: 'lib' };
      // The executor's own S3 endpoint leads nowhere: any in-process download would fail the staging.
      const service = await startService();
      const sandbox = await stage(
        { s3Artifacts: [{ ...appArtifact, targetFolderRelativeToTask: 'app' }, via] },
        {},
        { localDownloadHttpPort: service.address.port, s3Endpoint: 'http://127.0.0.1:9' },
      );
      expect(readFileSync(join(sandbox, 'app', 'bin', 'run.sh'), 'utf8')).toContain('echo run');
      expect(readFileSync(join(sandbox, 'lib', 'via.bin')).equals(bytes)).toBe(true);
      expect(service.metrics()).toMatchObject({ 'server.requests': 2, 'downloads.timer': { count: 2 } });
    });

    it('falls back to downloading in-process when the service is down, or answers 500', async () => {
      const bytes = randomBytes(10_000);
      await s3.putObject(BUCKET, 'service/fallback.bin', bytes);
      const artifact: S3Artifact = { filename: 'fallback.bin', s3Bucket: BUCKET, s3ObjectKey: 'service/fallback.bin', md5sum: md5(bytes) };
      const down = await stage({ s3Artifacts: [artifact] }, { localDownloadServiceTimeoutMillis: 5000 }, { localDownloadHttpPort: await freePort() });
      expect(readFileSync(join(down, 'fallback.bin')).equals(bytes)).toBe(true);

      // A service whose S3 is unreachable answers 500; the executor's own S3 works.
      const broken = await startService({ s3: { s3Endpoint: 'http://127.0.0.1:9', s3ChunkRetries: 0, artifactCacheDirectory: join(root, 'other-cache') } });
      const other = await stage({ s3Artifacts: [{ ...artifact, filename: 'again.bin' }] }, {}, { localDownloadHttpPort: broken.address.port });
      expect(readFileSync(join(other, 'again.bin')).equals(bytes)).toBe(true);
      expect(broken.metrics()['server.serverErrors']).toBe(1);
    });

    it('a kill while the service works aborts the request (no fallback), and the service drops the download', async () => {
      const gated = await gatedS3(s3);
      proxies.push(gated);
      const service = await startService({ s3: { s3Endpoint: gated.endpoint } });
      const kill = new AbortController();
      const staging = stage({ s3Artifacts: [{ ...appArtifact, filename: 'killed.tar.gz' }] }, {}, { localDownloadHttpPort: service.address.port }, kill.signal);
      await eventually(() => expect(gated.held()).toBe(1));
      kill.abort(new Error('killed while staging'));
      await expect(staging).rejects.toThrow('killed while staging');
      // The service notices its client left: the request ends with an error, the shared fetch is aborted.
      await eventually(() => expect(service.metrics()).toMatchObject({ 'server.serverErrors': 1, 'downloads.active': 0 }));
      expect(cacheEntries().filter((name) => !name.startsWith('.'))).toEqual([]);
      gated.open();
    });

    it('keeps artifacts with signatures in-process (they are checked before anything is placed)', async () => {
      const service = await startService();
      const signature = { filename: 'app.tar.gz.asc', s3Bucket: BUCKET, s3ObjectKey: 'service/app.tar.gz.asc', artifactFilename: 'app.tar.gz' };
      await s3.putObject(BUCKET, signature.s3ObjectKey, 'sig');
      const sandbox = await stage(
        { s3Artifacts: [{ ...appArtifact, targetFolderRelativeToTask: 'app' }], s3ArtifactSignatures: [signature] },
        { artifactSignatureVerificationCommand: ['true'] },
        { localDownloadHttpPort: service.address.port },
      );
      expect(existsSync(join(sandbox, 'app', 'bin', 'run.sh'))).toBe(true);
      expect(service.metrics()['server.requests']).toBe(0);
    });
  });
});
