import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, openSync, closeSync } from 'node:fs';
import { mkdir, readFile, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import type { S3UploadMetadata } from '@singularity/models';
import { createLogger } from '@singularity/node-util';
import { eventually, startS3rver, tempDir, type S3rverHandle, type TempDir } from '@singularity/testing';
import { S3Uploader } from './s3-uploader';
import { s3UploaderConfig, type S3UploaderConfigInput } from './s3-uploader-config';
import { startSwitchableProxy, type SwitchableProxy } from './testing/switchable-proxy';

jest.setTimeout(60_000);

const BUCKET = 'task-logs';
const MIB = 1024 * 1024;

/** Spec slave §7 scenarios 19–24 against a real s3rver, real files, real lsof and real child processes. */
describe('S3Uploader against s3rver', () => {
  let s3: S3rverHandle;
  let dir: TempDir;
  let metaDir: string;
  let logsDir: string;
  const started: S3Uploader[] = [];
  const children: ChildProcess[] = [];
  let clock: number | undefined;

  beforeAll(async () => {
    s3 = await startS3rver({ buckets: [BUCKET] });
  });
  afterAll(async () => {
    await s3.stop();
  });
  beforeEach(async () => {
    dir = await tempDir('s3-uploader-');
    metaDir = join(dir.path, 'meta');
    logsDir = join(dir.path, 'task', 'logs');
    await mkdir(logsDir, { recursive: true });
    clock = undefined;
  });
  afterEach(async () => {
    for (const child of children.splice(0)) child.kill('SIGKILL');
    await Promise.all(started.splice(0).map((u) => u.stop()));
    await dir.cleanup();
  });

  /** An uploader whose timers never fire during a test (600 s): the test runs cycles itself. */
  async function startUploader(overrides: { s3Endpoint?: string; s3uploader?: Record<string, unknown> } = {}): Promise<S3Uploader> {
    const input: S3UploaderConfigInput = {
      base: { s3UploaderMetadataDirectory: metaDir, hostname: 'node-7' },
      s3: { s3Endpoint: overrides.s3Endpoint ?? s3.endpoint, s3AccessKey: s3.accessKey, s3SecretKey: s3.secretKey },
      s3uploader: { httpPort: 0, retryWaitMs: 10, shutdownTimeoutMillis: 10000, pollForShutDownMillis: 20, ...overrides.s3uploader },
    };
    const uploader = new S3Uploader(s3UploaderConfig(input), {
      logger: createLogger('s3-uploader-test', {}, 'silent'),
      ...(clock !== undefined ? { now: () => clock ?? 0 } : {}),
    });
    started.push(uploader);
    await uploader.start();
    return uploader;
  }

  async function writeMetadata(name: string, metadata: Partial<S3UploadMetadata> & Pick<S3UploadMetadata, 'fileGlob'>): Promise<string> {
    await mkdir(metaDir, { recursive: true });
    const path = join(metaDir, `${name}.s3.json`);
    const full = { directory: logsDir, s3Bucket: BUCKET, s3KeyFormat: 'r1/%filename', finished: false, ...metadata };
    await writeFile(path, JSON.stringify(full));
    return path;
  }

  async function writeLog(name: string, content: string | Buffer, mtime?: Date): Promise<string> {
    const path = join(logsDir, name);
    await writeFile(path, content);
    if (mtime) await utimes(path, mtime, mtime);
    return path;
  }

  async function objectText(key: string): Promise<string> {
    const out = await s3.client().send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
    if (!out.Body) throw new Error(`no body for ${key}`);
    return Buffer.from(await out.Body.transformToByteArray()).toString('latin1');
  }

  async function keys(prefix: string): Promise<string[]> {
    const out = await s3.client().send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix }));
    return (out.Contents ?? []).map((o) => o.Key ?? '').sort();
  }

  /** A real process holding `path` open for writing (its stdout), as a task writing its log does. */
  function holdOpen(path: string): ChildProcess {
    const fd = openSync(path, 'a');
    const child = spawn('sleep', ['60'], { stdio: ['ignore', fd, 'ignore'] });
    closeSync(fd); // only the child holds it now
    children.push(child);
    return child;
  }

  async function kill(child: ChildProcess): Promise<void> {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }

  it('scenario 19: ships finished logs under the expanded key, deletes them, then the metadata', async () => {
    const mtime = new Date(2024, 1, 3, 4, 5, 6);
    await writeLog('service.log-1.gz', 'first');
    await writeLog('service.log-2.gz', 'second', mtime);
    await writeLog('service.log', 'still written'); // does not match the glob
    const metadata = await writeMetadata('task1-default', {
      fileGlob: 'service.log*.[gb]z*',
      s3KeyFormat: 'req1/%Y/%m/task1_%index-%s-%filename-%host',
      finished: true,
      uploadImmediately: true,
    });

    await startUploader();

    await eventually(() => !existsSync(metadata), { timeoutMs: 15000, description: 'metadata removed' });
    const key = `req1/2024/02/task1_1-${mtime.getTime()}-service.log-2.gz-node-7`;
    expect(await objectText(key)).toBe('second');
    expect((await keys('req1/')).length).toBe(2);
    expect(existsSync(join(logsDir, 'service.log-1.gz'))).toBe(false);
    expect(existsSync(join(logsDir, 'service.log-2.gz'))).toBe(false);
    expect(existsSync(join(logsDir, 'service.log'))).toBe(true);
  });

  it('scenario 20: a file open in another process waits until it is closed; immediate uploads skip the check', async () => {
    const log = await writeLog('app.log.1', 'being written');
    const writer = holdOpen(log);
    await writeMetadata('task2-app', { fileGlob: 'app.log*', s3KeyFormat: 'r2/%filename' });
    const uploader = await startUploader();

    expect(await uploader.runCycle()).toMatchObject({ uploaded: 0, failed: 0 });
    expect(s3.requestsFor(BUCKET, 'r2/app.log.1', 'PUT')).toEqual([]);
    expect(existsSync(log)).toBe(true);

    await kill(writer);
    expect(await uploader.runCycle()).toMatchObject({ uploaded: 1 });
    expect(await objectText('r2/app.log.1')).toBe('being written');
    expect(existsSync(log)).toBe(false);

    // uploadImmediately: sent at once although still open.
    const open = await writeLog('tail.log', 'tail');
    holdOpen(open);
    const immediate = await writeMetadata('task2-tail', { fileGlob: 'tail.log', s3KeyFormat: 'r2/%filename', finished: true, uploadImmediately: true });
    await eventually(() => !existsSync(immediate), { timeoutMs: 15000, description: 'immediate metadata retired' });
    expect(await objectText('r2/tail.log')).toBe('tail');
  });

  it('scenario 20: checkIfOpen false and checkForOpenFiles off skip the check; fuser works like lsof', async () => {
    const a = await writeLog('a.log', 'a');
    holdOpen(a);
    await writeMetadata('task3-a', { fileGlob: 'a.log', s3KeyFormat: 'r3/%filename', checkIfOpen: false });
    const uploader = await startUploader();
    expect(await uploader.runCycle()).toMatchObject({ uploaded: 1 });
    await uploader.stop();

    const b = await writeLog('b.log', 'b');
    const writer = holdOpen(b);
    await writeMetadata('task3-b', { fileGlob: 'b.log', s3KeyFormat: 'r3/%filename' });
    const viaFuser = await startUploader({ s3uploader: { checkOpenFilesViaFuser: true } });
    expect(await viaFuser.runCycle()).toMatchObject({ uploaded: 0 });
    await kill(writer);
    expect(await viaFuser.runCycle()).toMatchObject({ uploaded: 1 });
    await viaFuser.stop();

    const c = await writeLog('c.log', 'c');
    holdOpen(c);
    await writeMetadata('task3-c', { fileGlob: 'c.log', s3KeyFormat: 'r3/%filename' });
    const unchecked = await startUploader({ s3uploader: { checkForOpenFiles: false } });
    expect(await unchecked.runCycle()).toMatchObject({ uploaded: 1 });
    expect(await keys('r3/')).toEqual(['r3/a.log', 'r3/b.log', 'r3/c.log']);
  });

  describe('scenario 21: S3 down', () => {
    let proxy: SwitchableProxy;
    beforeEach(async () => {
      proxy = await startSwitchableProxy(s3.port);
    });
    afterEach(async () => {
      await proxy.close();
    });

    it('counts errors and keeps the files, then sends them once S3 is back', async () => {
      const log = await writeLog('out.log.1', 'kept while S3 is down');
      await writeMetadata('task4-out', { fileGlob: 'out.log*', s3KeyFormat: 'r4/%filename', checkIfOpen: false });
      const uploader = await startUploader({ s3Endpoint: `http://127.0.0.1:${proxy.port}`, s3uploader: { retryCount: 2 } });

      proxy.setUp(false);
      expect(await uploader.runCycle()).toMatchObject({ uploaded: 0, failed: 1 });
      expect(uploader.metrics()['uploads.errors']).toBe(1);
      expect(existsSync(log)).toBe(true);
      expect(await uploader.runCycle()).toMatchObject({ failed: 1 });
      expect(uploader.metrics()['uploads.millissincelast']).toBe(-1);

      proxy.setUp(true);
      expect(await uploader.runCycle()).toMatchObject({ uploaded: 1, failed: 0 });
      expect(uploader.metrics()).toMatchObject({ 'uploads.errors': 0, 'uploads.success': 1 });
      expect(await objectText('r4/out.log.1')).toBe('kept while S3 is down');
      expect(existsSync(log)).toBe(false);
    });
  });

  it('scenario 22: a dead pid finishes the upload: onFinishGlob files go too, then the metadata', async () => {
    const task = spawn('sleep', ['60'], { stdio: 'ignore' });
    children.push(task);
    await writeLog('svc.log.1', 'rotated');
    await writeLog('svc.current', 'last words');
    const metadata = await writeMetadata('task5-svc', {
      fileGlob: 'svc.log.*',
      onFinishGlob: 'svc.current',
      s3KeyFormat: 'r5/%filename',
      pid: task.pid,
      checkIfOpen: false,
    });
    const uploader = await startUploader();

    expect(await uploader.runCycle()).toMatchObject({ uploaded: 1, retired: 0 });
    expect(await keys('r5/')).toEqual(['r5/svc.log.1']);
    expect(uploader.identities()).toMatchObject([{ finished: false }]);

    await kill(task);
    expect(await uploader.runCycle()).toMatchObject({ uploaded: 1, retired: 0 });
    expect(await keys('r5/')).toEqual(['r5/svc.current', 'r5/svc.log.1']);
    expect(await uploader.runCycle()).toMatchObject({ retired: 1 });
    expect(existsSync(metadata)).toBe(false);
    expect(uploader.identities()).toEqual([]);
  });

  it('scenario 22: finishedAfterMillisWithoutNewFile -1 never expires; a positive one does once idle', async () => {
    clock = 1_000_000;
    const never = await writeMetadata('task6-never', { fileGlob: 'never.log', finishedAfterMillisWithoutNewFile: -1 });
    const soon = await writeMetadata('task6-soon', { fileGlob: 'soon.log', finishedAfterMillisWithoutNewFile: 5000 });
    const fallback = await writeMetadata('task6-default', { fileGlob: 'default.log' });
    const uploader = await startUploader({ s3uploader: { stopCheckingAfterMillisWithoutNewFile: 60000 } });

    expect(await uploader.runCycle()).toMatchObject({ retired: 0 });
    clock += 10_000; // past 5000, not past 60000
    expect(await uploader.runCycle()).toMatchObject({ retired: 1 });
    expect(existsSync(soon)).toBe(false);
    clock += 1_000_000_000; // past stopCheckingAfterMillisWithoutNewFile
    expect(await uploader.runCycle()).toMatchObject({ retired: 1 });
    expect(existsSync(fallback)).toBe(false);
    expect(existsSync(never)).toBe(true);
    expect(uploader.identities()).toMatchObject([{ fileGlob: 'never.log' }]);
  });

  it('scenario 23: a restarted uploader resumes by scan; metadata sharing (directory, fileGlob) gets one uploader', async () => {
    const first = await writeMetadata('task7-a', { fileGlob: 'dup.log*', s3KeyFormat: 'r7/%filename', checkIfOpen: false });
    const second = await writeMetadata('task7-b', { fileGlob: 'dup.log*', s3KeyFormat: 'r7/%filename', checkIfOpen: false });
    const before = await startUploader();
    expect(before.identities()).toEqual([{ directory: logsDir, fileGlob: 'dup.log*', finished: false, metadataFiles: [first, second] }]);
    await before.stop();

    await writeLog('dup.log.1', 'once');
    const after = await startUploader();
    expect(after.identities()).toHaveLength(1);
    expect(await after.runCycle()).toMatchObject({ uploaded: 1 });
    expect(s3.requestsFor(BUCKET, 'r7/dup.log.1', 'PUT')).toHaveLength(1);

    // Finishing through either file finishes the one upload; retiring removes both files.
    await writeFile(second, JSON.stringify({ directory: logsDir, fileGlob: 'dup.log*', s3Bucket: BUCKET, s3KeyFormat: 'r7/%filename', finished: true }));
    await eventually(() => after.identities()[0]?.finished === true, { description: 'the watcher saw finished' });
    expect(await after.runCycle()).toMatchObject({ retired: 1 });
    expect(existsSync(first)).toBe(false);
    expect(existsSync(second)).toBe(false);
  });

  it('scenario 24: content headers by file name ending; %Y/%m/%d/%H/%s follow mtime; %guid is unique', async () => {
    const mtime = new Date(2021, 10, 9, 8, 7, 6);
    await writeLog('x.log.gz', 'gz-bytes', mtime);
    await writeLog('x.log.txt', 'plain', mtime);
    await writeMetadata('task8-x', { fileGlob: 'x.log.*', s3KeyFormat: 'r8/%Y-%m-%d-%H/%s/%guid/%filename', checkIfOpen: false });
    const uploader = await startUploader({
      s3uploader: {
        s3ContentHeaders: [
          { filenameEndsWith: '.gz', contentType: 'text/plain', contentEncoding: 'gzip' },
          { filenameEndsWith: '.log.gz', contentType: 'application/never-reached' },
        ],
      },
    });
    expect(await uploader.runCycle()).toMatchObject({ uploaded: 2 });

    const uploaded = await keys('r8/');
    const pattern = new RegExp(`^r8/2021-11-09-08/${mtime.getTime()}/([0-9a-f-]{36})/(x\\.log\\.gz|x\\.log\\.txt)$`);
    const guids = uploaded.map((key) => key.match(pattern)?.[1]);
    expect(guids.every(Boolean)).toBe(true);
    expect(new Set(guids).size).toBe(2);
    const gzKey = uploaded.find((key) => key.endsWith('x.log.gz'));
    const head = await s3.client().send(new HeadObjectCommand({ Bucket: BUCKET, Key: gzKey }));
    expect(head).toMatchObject({ ContentType: 'text/plain', ContentEncoding: 'gzip' });
  });

  it('sends files above maxSingleUploadSizeBytes in parts', async () => {
    const content = Buffer.alloc(6 * MIB + 123, 7);
    content.write('start');
    content.write('end', content.length - 3);
    await writeLog('big.log', content);
    await writeMetadata('task9-big', { fileGlob: 'big.log', s3KeyFormat: 'r9/%filename', checkIfOpen: false });
    const uploader = await startUploader({ s3uploader: { maxSingleUploadSizeBytes: 5 * MIB, uploadPartSize: 5 * MIB } });

    expect(await uploader.runCycle()).toMatchObject({ uploaded: 1 });
    const requests = s3.requestsFor(BUCKET, 'r9/big.log');
    expect(requests.filter((r) => r.method === 'POST' && r.url.includes('uploads'))).toHaveLength(1);
    expect(requests.filter((r) => r.method === 'PUT' && r.url.includes('partNumber='))).toHaveLength(2);
    expect(requests.filter((r) => r.method === 'POST' && r.url.includes('uploadId='))).toHaveLength(1);
    expect(Buffer.from(await objectText('r9/big.log'), 'latin1').equals(content)).toBe(true);
  });

  it('compresses before upload when asked, keeping the mtime for the key', async () => {
    const mtime = new Date(2020, 4, 6, 7, 8, 9);
    await writeLog('raw.log', 'compress me', mtime);
    await writeLog('done.log.gz', 'already', mtime);
    await writeMetadata('task10-raw', { fileGlob: '*.log*', s3KeyFormat: 'r10/%s-%filename', checkIfOpen: false, compressBeforeUpload: true });
    const uploader = await startUploader();
    expect(await uploader.runCycle()).toMatchObject({ uploaded: 2 });
    expect(await keys('r10/')).toEqual([`r10/${mtime.getTime()}-done.log.gz`, `r10/${mtime.getTime()}-raw.log.gz`]);
    const body = await s3.client().send(new GetObjectCommand({ Bucket: BUCKET, Key: `r10/${mtime.getTime()}-raw.log.gz` }));
    expect(gunzipSync(Buffer.from((await body.Body?.transformToByteArray()) ?? [])).toString()).toBe('compress me');
    expect(await objectText(`r10/${mtime.getTime()}-done.log.gz`)).toBe('already');
    expect(existsSync(join(logsDir, 'raw.log'))).toBe(false);
  });

  it('skips empty files, looks into subdirectories only when asked, ignores bad JSON and GCS metadata', async () => {
    await writeLog('empty.log', '');
    await mkdir(join(logsDir, 'sub'));
    await writeFile(join(logsDir, 'sub', 'deep.log'), 'deep');
    await writeLog('top.log', 'top');
    await mkdir(metaDir, { recursive: true });
    const broken = join(metaDir, 'task11-broken.s3.json');
    await writeFile(broken, '{"directory": ');
    const gcs = await writeMetadata('task11-gcs', { fileGlob: 'top.log', uploaderType: 'GCS' });
    const uploader = await startUploader();
    expect(uploader.identities()).toEqual([]);

    // A broken file fixed later is picked up by the watcher.
    await writeFile(broken, JSON.stringify({ directory: logsDir, fileGlob: '*.log', s3Bucket: BUCKET, s3KeyFormat: 'r11/%filename', checkIfOpen: false, checkSubdirectories: true }));
    await eventually(() => uploader.identities().length === 1, { description: 'the fixed metadata is served' });
    expect(await uploader.runCycle()).toMatchObject({ uploaded: 2 });
    expect(await keys('r11/')).toEqual(['r11/deep.log', 'r11/top.log']);
    expect(existsSync(join(logsDir, 'empty.log'))).toBe(true);
    expect(existsSync(gcs)).toBe(true);
    expect(uploader.metrics()['filesystem.events']).toBeGreaterThan(0);
  });

  it('serves health and metrics over HTTP and writes the metrics file', async () => {
    const metricsFile = join(dir.path, 'metrics', 's3-uploader.json');
    await writeMetadata('task12-m', { fileGlob: 'm.log', finished: true, uploadImmediately: true });
    const uploader = await startUploader({ s3uploader: { metricsFilePath: metricsFile } });
    const health = await (await fetch(`http://127.0.0.1:${uploader.httpPort}/health`)).json();
    expect(health).toMatchObject({ ok: true, metadataDirectory: metaDir });
    const metrics = (await (await fetch(`http://127.0.0.1:${uploader.httpPort}/metrics`)).json()) as Record<string, unknown>;
    expect(Object.keys(metrics).sort()).toEqual(
      [
        'filesystem.events',
        'uploaders.expiring',
        'uploaders.immediate',
        'uploaders.total',
        'uploads.errors',
        'uploads.lastdurationmillis',
        'uploads.millissincelast',
        'uploads.success',
        'uploads.timer',
      ].sort(),
    );
    expect((await fetch(`http://127.0.0.1:${uploader.httpPort}/nope`)).status).toBe(404);
    expect(JSON.parse(await readFile(metricsFile, 'utf8'))).toHaveProperty(['uploads.millissincelast']);
  });
});
