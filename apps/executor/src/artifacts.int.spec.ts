import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startS3rver, tarGz, type S3rverHandle, type TarMember } from '@singularity/testing';
import { eventually, useExecutorRuns, type ExecutorRun } from './testing/executor-harness';

/**
 * Artifacts through the real executor program (spec slave §1.5; e2e
 * scenarios 1–8 and 12), against a real S3-compatible server (s3rver) and
 * real HTTP servers.
 */
const BUCKET = 'artifacts';
const md5 = (bytes: Buffer | string) => createHash('md5').update(bytes).digest('hex');



const cut = (message: string) => message.slice(0, 80);
const executorLog = (run: ExecutorRun) => (existsSync(run.sandboxFile('executor.log')) ? readFileSync(run.sandboxFile('executor.log'), 'utf8') : '');
/** Cache entries (temp files and private links start with a dot). */
const cacheEntries = (dir: string) => (existsSync(dir) ? readdirSync(dir) : []);

/** The task never ran: no runner.sh, no marker. */
function expectNeverRan(run: ExecutorRun): void {
  expect(existsSync(run.sandboxFile('runner.sh'))).toBe(false);
  expect(existsSync(run.sandboxFile('ran'))).toBe(false);
}

describe('executor: artifacts', () => {
  const { start } = useExecutorRuns();
  let s3: S3rverHandle;
  let web: Server;
  let webUrl: (path: string) => string;
  const routes = new Map<string, (req: IncomingMessage, res: ServerResponse) => void>();
  const webHits: string[] = [];

  beforeAll(async () => {
    s3 = await startS3rver({ buckets: [BUCKET] });
    web = createServer((req, res) => {
      webHits.push(req.url ?? '');
      const route = routes.get(req.url ?? '');
      if (route) route(req, res);
      else res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => web.listen(0, '127.0.0.1', resolve));
    webUrl = (path) => `http://127.0.0.1:${(web.address() as AddressInfo).port}${path}`;
  });
  afterAll(async () => {
    web.closeAllConnections();
    await Promise.all([s3.stop(), new Promise((resolve) => web.close(resolve))]);
  });

  /** Executor configuration reaching s3rver; the cache is the run's own unless given. */
  const s3Config = (s3Over: Record<string, unknown> = {}, rest: Record<string, Record<string, unknown>> = {}) => ({
    ...rest,
    s3: { s3Endpoint: s3.endpoint, s3AccessKey: s3.accessKey, s3SecretKey: s3.secretKey, ...s3Over },
  });

  const app = tarGz([
    { path: 'bin/', type: 'Directory', mode: 0o755 },
    { path: 'bin/hello.sh', body: '#!/bin/sh\necho "hello from $(basename "$PWD")"\necho "to stderr" >&2\ncat conf/greeting.txt\n', mode: 0o755 },
    { path: 'conf/greeting.txt', body: 'greetings\n' },
  ]);
  const appArtifact = { name: 'app', filename: 'app.tar.gz', s3Bucket: BUCKET, s3ObjectKey: 'releases/app.tar.gz', md5sum: md5(app), filesize: app.length, targetFolderRelativeToTask: 'app' };
  beforeAll(async () => s3.putObject(BUCKET, appArtifact.s3ObjectKey, app));

  describe('S3 (scenarios 1–3)', () => {
    it.each([
      ['the tar package', {}],
      ['the tar program (useCompressProgram)', { base: { useCompressProgram: 'gzip' } }],
    ])('1: extracts a .tar.gz with %s, runs the command from it: STARTING, RUNNING, FINISHED, output in service.log', async (_how, rest) => {
      const run = start({ executorData: { cmd: './bin/hello.sh', s3Artifacts: [appArtifact] }, config: s3Config({}, rest) });
      const finished = await run.waitForState('TASK_FINISHED');
      expect(finished.message).toBe('Process exited normally with code 0');
      const states = run.statuses();
      expect(states.map((s) => s.state)).toEqual(['TASK_STAGING', 'TASK_STARTING', 'TASK_RUNNING', 'TASK_FINISHED']);
      expect(states[1].message).toMatch(/^Staging files\.\.\. \(executor pid: \d+\)$/);
      expect(states[2].message).toMatch(/^Task running process bash - \(pid: \d+\)$/);
      expect((await run.serviceOutput()).split('\n').sort()).toEqual(['', 'greetings', 'hello from app', 'to stderr']);
      expect(statSync(run.sandboxFile('app/bin/hello.sh')).mode & 0o111).not.toBe(0);
    });

    it.each([
      ['md5sum', { md5sum: 'f'.repeat(32) }, 'Md5sum'],
      ['filesize', { filesize: app.length + 7 }, 'Filesize'],
    ])('2: a wrong %s fails the task naming the artifact; no cache entry; runner.sh never runs', async (_what, override, word) => {
      const run = start({ executorData: { cmd: 'touch ../ran', s3Artifacts: [{ ...appArtifact, ...override }] }, config: s3Config() });
      const failed = await run.waitForState('TASK_FAILED');
      expect(failed.message).toMatch(new RegExp(`^Artifact "app": ${word} `));
      const full = executorLog(run).match(new RegExp(`Artifact \\\\"app\\\\": ${word} [^"]* does not match expected \\([^)]*\\)`))?.[0] ?? '(not logged)';
      expect(failed.message).toBe(cut(full.replace(/\\"/g, '"')));
      expect(await run.waitForExit()).toBe(0);
      expect(run.statuses().map((s) => s.state)).toEqual(['TASK_STAGING', 'TASK_STARTING', 'TASK_FAILED']);
      expect(cacheEntries(join(run.root, 'artifact-cache'))).toEqual([]);
      expectNeverRan(run);
      expect(existsSync(run.sandboxFile('app/bin'))).toBe(false);
    });

    it('3: a second task gets the artifact from the cache (no S3 request); a corrupted cache file is fetched again', async () => {
      const cache = mkdtempSync(join(tmpdir(), 'shared-artifact-cache-'));
      try {
        const key = 'releases/cached.tar.gz';
        await s3.putObject(BUCKET, key, app);
        const artifact = { ...appArtifact, s3ObjectKey: key };
        const task = () => start({ executorData: { cmd: './bin/hello.sh', s3Artifacts: [artifact] }, config: s3Config({ artifactCacheDirectory: cache }) });

        await task().waitForState('TASK_FINISHED');
        const entry = join(cache, `${md5(app)}-app.tar.gz`);
        expect(readFileSync(entry).equals(app)).toBe(true);
        const requests = s3.requestsFor(BUCKET, key).length;
        expect(requests).toBeGreaterThan(0);

        // The object is gone from S3: only the cache can serve the second task.
        await s3.deleteObject(BUCKET, key);
        const second = task();
        await second.waitForState('TASK_FINISHED');
        expect(await second.serviceOutput()).toContain('greetings');
        expect(s3.requestsFor(BUCKET, key).filter((r) => r.method !== 'DELETE')).toHaveLength(requests);
        expect(executorLog(second)).toContain('"msg":"artifact cache hit"');

        // Same size, other bytes: noticed on the next use, downloaded again.
        const corrupted = Buffer.from(app);
        corrupted[corrupted.length - 1] ^= 0xff;
        writeFileSync(entry, corrupted);
        await s3.putObject(BUCKET, key, app);
        const before = s3.requestsFor(BUCKET, key, 'GET').length;
        const third = task();
        await third.waitForState('TASK_FINISHED');
        expect(await third.serviceOutput()).toContain('greetings');
        expect(s3.requestsFor(BUCKET, key, 'GET').length).toBeGreaterThan(before);
        expect(readFileSync(entry).equals(app)).toBe(true);
        expect(readdirSync(cache)).toEqual([`${md5(app)}-app.tar.gz`]);
      } finally {
        rmSync(cache, { recursive: true, force: true });
      }
    });
  });

  describe('embedded (scenario 4)', () => {
    const bytes = randomBytes(4096);

    it('writes the exact bytes with mode 0644 before the task runs', async () => {
      const run = start({
        executorData: {
          cmd: 'md5sum conf/blob.bin',
          embeddedArtifacts: [
            { name: 'blob', filename: 'blob.bin', content: bytes.toString('base64'), md5sum: md5(bytes), targetFolderRelativeToTask: 'app/conf' },
            { filename: 'top.txt', content: Buffer.from('top level\n').toString('base64') },
          ],
        },
      });
      await run.waitForState('TASK_FINISHED');
      const staged = run.sandboxFile('app/conf/blob.bin');
      expect(readFileSync(staged).equals(bytes)).toBe(true);
      expect(statSync(staged).mode & 0o777).toBe(0o644);
      expect(readFileSync(run.sandboxFile('top.txt'), 'utf8')).toBe('top level\n');
      // The task saw the file: it ran after staging.
      expect(await run.serviceOutput()).toBe(`${md5(bytes)}  conf/blob.bin\n`);
    });

    it('fails the task on a wrong md5 and never runs it', async () => {
      const wrong = 'f'.repeat(32);
      const run = start({
        executorData: { cmd: 'touch ../ran', embeddedArtifacts: [{ name: 'blob', filename: 'blob.bin', content: bytes.toString('base64'), md5sum: wrong }] },
      });
      const failed = await run.waitForState('TASK_FAILED');
      const full = `Artifact "blob": Md5sum ${md5(bytes)} (${run.sandboxFile('blob.bin')}) does not match expected (${wrong})`;
      expect(failed.message).toBe(cut(full));
      expect(executorLog(run)).toContain(JSON.stringify(full).slice(1, -1));
      expect(await run.waitForExit()).toBe(0);
      expect(run.statuses().map((s) => s.state)).toEqual(['TASK_STAGING', 'TASK_STARTING', 'TASK_FAILED']);
      for (const neverWritten of ['ran', 'runner.sh', 'service.log', 'blob.bin']) expect(existsSync(run.sandboxFile(neverWritten))).toBe(false);
    });
  });

  describe('targets outside the sandbox (scenario 5)', () => {
    it.each([
      ['embedded', '../../x', 'is outside the task sandbox'],
      ['embedded', '/etc', 'is an absolute path'],
      ['S3', '../../x', 'is outside the task sandbox'],
      ['S3', '/etc', 'is an absolute path'],
    ])('%s artifact to %j: the task fails and nothing is written outside T', async (kind, folder, reason) => {
      const filename = `escape-${process.pid}-${Date.now()}.txt`;
      const key = `escape/${filename}`;
      await s3.putObject(BUCKET, key, 'x');
      const executorData =
        kind === 'embedded'
          ? { cmd: 'touch ../ran', embeddedArtifacts: [{ name: 'evil', filename, content: Buffer.from('x').toString('base64'), targetFolderRelativeToTask: folder }] }
          : { cmd: 'touch ../ran', s3Artifacts: [{ name: 'evil', filename, s3Bucket: BUCKET, s3ObjectKey: key, targetFolderRelativeToTask: folder }] };
      const run = start({ executorData, config: s3Config() });
      const failed = await run.waitForState('TASK_FAILED');
      expect(failed.message?.startsWith(`Artifact "evil": ${JSON.stringify(folder)} ${reason}`)).toBe(true);
      expect(existsSync(join('/etc', filename))).toBe(false);
      expect(existsSync(join(run.sandbox, '..', '..', 'x'))).toBe(false);
      expect(readdirSync(join(run.root, 'sandbox'))).toEqual([run.definition.taskId]);
      expect(s3.requestsFor(BUCKET, key, 'GET')).toEqual([]);
      expectNeverRan(run);
    });

    it('refuses a crafted tarball (../evil, an absolute path, a symlink to /etc), naming the artifact and the member', async () => {
      const absolute = join(tmpdir(), `crafted-evil-${process.pid}`);
      const cases: Array<[TarMember, string]> = [
        [{ path: '../evil', body: 'x' }, `refusing archive member "../evil": '..' in its path`],
        [{ path: absolute, body: 'x' }, `refusing archive member "${absolute}": absolute path`],
        [{ path: 'etc', type: 'SymbolicLink', linkpath: '/etc' }, 'refusing archive member "etc": symbolic link to "/etc" points outside the task sandbox'],
      ];
      for (const [member, reason] of cases) {
        const archive = tarGz([{ path: 'ok.txt', body: 'fine' }, member]);
        const key = `crafted/${md5(archive)}.tar.gz`;
        await s3.putObject(BUCKET, key, archive);
        const run = start({
          executorData: { cmd: 'touch ../ran', s3Artifacts: [{ name: 'crafted', filename: 'crafted.tar.gz', s3Bucket: BUCKET, s3ObjectKey: key, md5sum: md5(archive) }] },
          config: s3Config(),
        });
        const failed = await run.waitForState('TASK_FAILED');
        expect(failed.message).toBe(cut(`Artifact "crafted": ${reason}`));
        expect(executorLog(run)).toContain(JSON.stringify(`Artifact "crafted": ${reason}`).slice(1, -1));
        expectNeverRan(run);
        expect(existsSync(run.sandboxFile('ok.txt'))).toBe(false);
        expect(existsSync(join(run.sandbox, '..', 'evil'))).toBe(false);
        expect(existsSync(absolute)).toBe(false);
      }
    });
  });

  describe('external (scenario 6)', () => {
    it('a 404 fails the task naming the artifact and the status', async () => {
      const run = start({ executorData: { cmd: 'touch ../ran', externalArtifacts: [{ name: 'gone', filename: 'gone.bin', url: webUrl('/gone.bin') }] } });
      const failed = await run.waitForState('TASK_FAILED');
      expect(failed.message).toBe(`Artifact "gone": GET ${webUrl('/gone.bin')} answered HTTP 404`);
      expectNeverRan(run);
    });

    it('copies a file that is not a tar under its filename', async () => {
      routes.set('/tools/tool.sh', (_req, res) => res.writeHead(200).end('#!/bin/sh\necho tool\n'));
      const run = start({ executorData: { cmd: 'sh ../bin/tool.sh', externalArtifacts: [{ filename: 'tool.sh', url: webUrl('/tools/tool.sh'), targetFolderRelativeToTask: 'bin' }] } });
      await run.waitForState('TASK_FINISHED');
      expect(await run.serviceOutput()).toBe('tool\n');
      expect(statSync(run.sandboxFile('bin/tool.sh')).mode & 0o777).toBe(0o644);
    });
  });

  describe('artifact lists (scenario 7)', () => {
    it('stages every artifact of an isArtifactList artifact', async () => {
      const jar = randomBytes(2048);
      await s3.putObject(BUCKET, 'list/lib.jar', jar);
      routes.set('/list/README', (_req, res) => res.writeHead(200).end('read me\n'));
      const list = {
        embeddedArtifacts: [{ filename: 'embedded.txt', content: Buffer.from('embedded\n').toString('base64'), targetFolderRelativeToTask: 'app' }],
        s3Artifacts: [
          { filename: 'lib.jar', s3Bucket: BUCKET, s3ObjectKey: 'list/lib.jar', md5sum: md5(jar), targetFolderRelativeToTask: 'app/lib' },
          { ...appArtifact, name: 'app-from-list' },
        ],
        externalArtifacts: [{ filename: 'README', url: webUrl('/list/README'), targetFolderRelativeToTask: 'app' }],
      };
      await s3.putObject(BUCKET, 'list/artifacts.json', JSON.stringify(list));
      const run = start({
        executorData: {
          cmd: 'cat embedded.txt README && md5sum lib/lib.jar && ./bin/hello.sh',
          s3Artifacts: [{ name: 'list', filename: 'artifacts.json', s3Bucket: BUCKET, s3ObjectKey: 'list/artifacts.json', isArtifactList: true }],
        },
        config: s3Config(),
      });
      await run.waitForState('TASK_FINISHED');
      const output = await run.serviceOutput();
      expect(output).toContain('embedded\nread me\n');
      expect(output).toContain(`${md5(jar)}  lib/lib.jar`);
      expect(output).toContain('hello from app');
    });
  });

  describe('signatures (scenario 8)', () => {
    const signature = Buffer.from('-----BEGIN PGP SIGNATURE-----\nnot really\n');
    beforeAll(async () => s3.putObject(BUCKET, 'releases/app.tar.gz.asc', signature));
    const signatureArtifact = { filename: 'app.tar.gz.asc', s3Bucket: BUCKET, s3ObjectKey: 'releases/app.tar.gz.asc', md5sum: md5(signature), artifactFilename: 'app.tar.gz' };

    it('a failing verification command fails the task, which never runs', async () => {
      const run = start({
        executorData: { cmd: 'touch ../ran', s3Artifacts: [appArtifact], s3ArtifactSignatures: [signatureArtifact] },
        config: s3Config({}, { executor: { artifactSignatureVerificationCommand: ['/usr/bin/false', '{artifactSignaturePath}', '{artifactPath}'] } }),
      });
      const failed = await run.waitForState('TASK_FAILED');
      const full = `Failed to validate signature for artifact ${join(run.root, 'artifact-cache', `${md5(app)}-app.tar.gz`)}`;
      expect(failed.message).toBe(cut(full));
      expect(executorLog(run)).toContain(full);
      expectNeverRan(run);
      expect(existsSync(run.sandboxFile('app'))).toBe(false);
    });

    it('a passing command gets the cache paths, and the task runs', async () => {
      const script = join(mkdtempSync(join(tmpdir(), 'verify-')), 'verify.sh');
      writeFileSync(script, '#!/bin/sh\n[ "$(md5sum < "$2" | cut -c1-32)" = "$3" ] || exit 1\necho "verified $1"\n');
      chmodSync(script, 0o755);
      try {
        const run = start({
          executorData: { cmd: './bin/hello.sh', s3Artifacts: [appArtifact], s3ArtifactSignatures: [signatureArtifact] },
          config: s3Config({}, { executor: { artifactSignatureVerificationCommand: [script, '{artifactSignaturePath}', '{artifactPath}', md5(app)] } }),
        });
        await run.waitForState('TASK_FINISHED');
        expect(readFileSync(run.sandboxFile('executor.gpg.out'), 'utf8')).toContain(`verified ${join(run.root, 'artifact-cache', `${md5(signature)}-app.tar.gz.asc`)}`);
      } finally {
        rmSync(join(script, '..'), { recursive: true, force: true });
      }
    });
  });

  describe('kill while staging (scenario 12)', () => {
    it('a kill during a slow download aborts it: KILLED, nothing started', async () => {
      let closed = false;
      let timer: NodeJS.Timeout | undefined;
      routes.set('/slow/big.tar.gz', (req, res) => {
        res.writeHead(200, { 'content-length': String(10_000_000) });
        timer = setInterval(() => res.write(Buffer.alloc(100)), 100);
        res.once('close', () => {
          closed = true;
          clearInterval(timer);
        });
      });
      try {
        const run = start({ executorData: { cmd: 'touch ../ran', externalArtifacts: [{ name: 'big', filename: 'big.tar.gz', url: webUrl('/slow/big.tar.gz') }] } });
        await eventually(() => (webHits.includes('/slow/big.tar.gz') ? true : undefined), 'the download to start');
        run.kill();
        const killed = await run.waitForState('TASK_KILLED');
        expect(killed.message).toBe('Task killed before service process started');
        expect(await run.waitForExit()).toBe(0);
        expect(run.statuses().map((s) => s.state)).toEqual(['TASK_STAGING', 'TASK_STARTING', 'TASK_KILLED']);
        await eventually(() => (closed ? true : undefined), 'the download connection to be closed');
        expectNeverRan(run);
        expect(existsSync(run.sandboxFile('service.log'))).toBe(false);
        expect(cacheEntries(join(run.root, 'artifact-cache'))).toEqual([]);
      } finally {
        clearInterval(timer);
      }
    });
  });
});
