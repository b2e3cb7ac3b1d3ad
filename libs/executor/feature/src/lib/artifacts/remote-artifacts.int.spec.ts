import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import type { ExecutorData } from '@singularity/models';
import { startS3rver, tarGz, type S3rverHandle } from '@singularity/testing';
import type { StagingContext } from '../artifact-stager';
import { executorConfig, type ExecutorConfigInput } from '../executor-config';
import { ArtifactDownloadError, ArtifactSignatureError, ArtifactVerificationError, TaskFailureError } from '../executor-errors';
import { artifactStagers } from './index';

/**
 * The remote artifact stagers in-process against a real S3-compatible server
 * (s3rver), real HTTP servers and the real file system: fetch, cache, check,
 * place, lists, signatures, retries, time limits and aborts.
 */
const BUCKET = 'artifacts';
const md5 = (bytes: Buffer) => createHash('md5').update(bytes).digest('hex');


type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** An HTTP server on 127.0.0.1 whose answers the test sets per path. */
async function httpServer(): Promise<{ url: (path: string) => string; routes: Map<string, Handler>; hits: string[]; server: Server }> {
  const routes = new Map<string, Handler>();
  const hits: string[] = [];
  const server = createServer((req, res) => {
    hits.push(req.url ?? '');
    const handler = routes.get((req.url ?? '').split('?')[0]);
    if (handler) handler(req, res);
    else res.writeHead(404).end('not here');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: (path) => `http://127.0.0.1:${port}${path}`, routes, hits, server };
}

/** A proxy in front of s3rver; `fault` may answer a request itself (return true) instead of forwarding it. */
async function s3Proxy(target: S3rverHandle, fault: (req: IncomingMessage, res: ServerResponse) => boolean) {
  const server = createServer((req, res) => {
    if (fault(req, res)) return;
    const upstream = httpRequest({ host: '127.0.0.1', port: target.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 500, answer.headers);
      answer.pipe(res);
    });
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

let s3: S3rverHandle;
let web: Awaited<ReturnType<typeof httpServer>>;
const servers: Server[] = [];
beforeAll(async () => {
  s3 = await startS3rver({ buckets: [BUCKET] });
  web = await httpServer();
});
afterAll(async () => {
  await Promise.all([s3.stop(), closeServer(web.server), ...servers.map(closeServer)]);
});

let root: string;
let sandbox: string;
let cacheDir: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'remote-artifacts-'));
  sandbox = join(root, 'T');
  cacheDir = join(root, 'cache');
  mkdirSync(sandbox);
  web.routes.clear();
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

function config(over: ExecutorConfigInput = {}) {
  return executorConfig({
    ...over,
    s3: { artifactCacheDirectory: cacheDir, s3Endpoint: s3.endpoint, s3AccessKey: s3.accessKey, s3SecretKey: s3.secretKey, ...over.s3 },
  });
}

async function stage(data: Partial<ExecutorData>, over: ExecutorConfigInput = {}, signal = new AbortController().signal): Promise<void> {
  const context: StagingContext = { sandboxDirectory: sandbox, signal, logger: pino({ level: 'silent' }) };
  for (const stager of artifactStagers(config(over))) await stager.stage({ cmd: 'true', ...data }, context);
}

const cacheEntries = () => (existsSync(cacheDir) ? readdirSync(cacheDir) : []);
const gets = (key: string) => s3.requestsFor(BUCKET, key, 'GET').length;

describe('S3 artifacts', () => {
  it('downloads in parallel ranged chunks, copies a plain file under its filename (0644) and caches it', async () => {
    const bytes = randomBytes(1_000_000 + 123);
    await s3.putObject(BUCKET, 'chunked/app.jar', bytes);
    const artifact = { name: 'jar', filename: 'app.jar', s3Bucket: BUCKET, s3ObjectKey: 'chunked/app.jar', md5sum: md5(bytes), filesize: bytes.length };
    await stage({ s3Artifacts: [{ ...artifact, targetFolderRelativeToTask: 'app/lib' }] }, { s3: { s3ChunkSize: 256 * 1024 } });
    const placed = join(sandbox, 'app', 'lib', 'app.jar');
    expect(readFileSync(placed).equals(bytes)).toBe(true);
    expect(statSync(placed).mode & 0o777).toBe(0o644);
    const ranges = s3.requestsFor(BUCKET, 'chunked/app.jar', 'GET').map((r) => r.range);
    expect(ranges.sort()).toEqual(['bytes=0-262143', 'bytes=262144-524287', 'bytes=524288-786431', 'bytes=786432-1000122'].sort());
    expect(s3.requestsFor(BUCKET, 'chunked/app.jar', 'HEAD')).toHaveLength(1);
    expect(cacheEntries()).toEqual([`${md5(bytes)}-app.jar`]);
  });

  it('extracts a .tar.gz into the target folder; a second task gets it from the cache', async () => {
    const archive = tarGz({ 'bin/run.sh': '#!/bin/sh\necho run\n', 'conf/app.yaml': 'a: 1\n' });
    await s3.putObject(BUCKET, 'app.tar.gz', archive);
    const artifact = { filename: 'app.tar.gz', s3Bucket: BUCKET, s3ObjectKey: 'app.tar.gz', md5sum: md5(archive), targetFolderRelativeToTask: 'app' };
    await stage({ s3Artifacts: [artifact] });
    expect(readFileSync(join(sandbox, 'app', 'bin', 'run.sh'), 'utf8')).toContain('echo run');
    expect(gets('app.tar.gz')).toBe(1);

    rmSync(sandbox, { recursive: true });
    mkdirSync(sandbox);
    await stage({ s3Artifacts: [artifact] });
    expect(readFileSync(join(sandbox, 'app', 'conf', 'app.yaml'), 'utf8')).toBe('a: 1\n');
    expect(gets('app.tar.gz')).toBe(1);
  });

  it.each([
    ['md5sum', { md5sum: '0'.repeat(32) }, /^Artifact "bad": Md5sum [0-9a-f]{32} \(.*\) does not match expected \(0{32}\)$/],
    ['filesize', { filesize: 5 }, /^Artifact "bad": Filesize 100 \(.*\) does not match expected \(5\)$/],
  ])('fails on a wrong %s: nothing cached, nothing placed', async (_what, override, message) => {
    await s3.putObject(BUCKET, 'bad.bin', randomBytes(100));
    const promise = stage({ s3Artifacts: [{ name: 'bad', filename: 'bad.bin', s3Bucket: BUCKET, s3ObjectKey: 'bad.bin', ...override }] });
    await expect(promise).rejects.toBeInstanceOf(ArtifactVerificationError);
    await expect(promise).rejects.toThrow(message);
    expect(cacheEntries()).toEqual([]);
    expect(readdirSync(sandbox)).toEqual([]);
  });

  it('fails naming the artifact and the object when the object does not exist', async () => {
    const promise = stage({ s3Artifacts: [{ name: 'ghost', filename: 'ghost.bin', s3Bucket: BUCKET, s3ObjectKey: 'no/such/key' }] });
    await expect(promise).rejects.toBeInstanceOf(ArtifactDownloadError);
    await expect(promise).rejects.toThrow(`Artifact "ghost": HEAD of s3://${BUCKET}/no/such/key failed: NotFound (HTTP 404)`);
  });

  it('retries a failing chunk s3ChunkRetries times', async () => {
    const bytes = randomBytes(300_000);
    await s3.putObject(BUCKET, 'flaky.bin', bytes);
    const failures = new Map<string, number>();
    const proxy = await s3Proxy(s3, (req, res) => {
      if (req.method !== 'GET') return false;
      const range = String(req.headers.range);
      const seen = failures.get(range) ?? 0;
      if (seen >= 2) return false;
      failures.set(range, seen + 1);
      res.writeHead(500, { 'content-type': 'application/xml' }).end('<Error><Code>InternalError</Code><Message>flaky</Message></Error>');
      return true;
    });
    servers.push(proxy.server);
    const artifact = { filename: 'flaky.bin', s3Bucket: BUCKET, s3ObjectKey: 'flaky.bin', md5sum: md5(bytes) };
    await stage({ s3Artifacts: [artifact] }, { s3: { s3Endpoint: proxy.endpoint, s3ChunkSize: 100_000, s3ChunkRetries: 2 } });
    expect(readFileSync(join(sandbox, 'flaky.bin')).equals(bytes)).toBe(true);
    expect([...failures.values()]).toEqual([2, 2, 2]);

    failures.clear();
    rmSync(cacheDir, { recursive: true });
    const promise = stage({ s3Artifacts: [{ ...artifact, filename: 'again.bin' }] }, { s3: { s3Endpoint: proxy.endpoint, s3ChunkSize: 100_000, s3ChunkRetries: 1 } });
    await expect(promise).rejects.toThrow(/^Artifact "again.bin": chunk \d\/3 \(bytes \d+-\d+\) of s3:\/\/artifacts\/flaky.bin failed after 2 attempts: InternalError flaky \(HTTP 500\)$/);
    expect(cacheEntries()).toEqual([]);
  });

  it('gives each chunk attempt s3ChunkDownloadTimeoutMillis and the whole download s3DownloadTimeoutMillis', async () => {
    await s3.putObject(BUCKET, 'stalls.bin', randomBytes(1000));
    const stalled: ServerResponse[] = [];
    const proxy = await s3Proxy(s3, (req, res) => {
      if (req.method !== 'GET') return false;
      stalled.push(res); // never answered
      return true;
    });
    servers.push(proxy.server);
    const artifact = { filename: 'stalls.bin', s3Bucket: BUCKET, s3ObjectKey: 'stalls.bin' };
    await expect(stage({ s3Artifacts: [artifact] }, { s3: { s3Endpoint: proxy.endpoint, s3ChunkDownloadTimeoutMillis: 100, s3ChunkRetries: 1 } })).rejects.toThrow(
      'Artifact "stalls.bin": chunk 1/1 (bytes 0-999) of s3://artifacts/stalls.bin failed after 2 attempts: no answer within 100 ms',
    );
    expect(stalled).toHaveLength(2);
    await expect(
      stage({ s3Artifacts: [artifact] }, { s3: { s3Endpoint: proxy.endpoint, s3ChunkDownloadTimeoutMillis: 60_000, s3DownloadTimeoutMillis: 200 } }),
    ).rejects.toThrow('Artifact "stalls.bin": download of s3://artifacts/stalls.bin timed out after 200 ms');
    expect(cacheEntries()).toEqual([]);
    expect(readdirSync(sandbox)).toEqual([]);
  });

  it('stops every request when staging is aborted (a kill)', async () => {
    await s3.putObject(BUCKET, 'slow.bin', randomBytes(1000));
    const controller = new AbortController();
    const proxy = await s3Proxy(s3, (req) => {
      if (req.method !== 'GET') return false;
      controller.abort(new Error('killed while staging'));
      return true;
    });
    servers.push(proxy.server);
    await expect(
      stage({ s3Artifacts: [{ filename: 'slow.bin', s3Bucket: BUCKET, s3ObjectKey: 'slow.bin' }] }, { s3: { s3Endpoint: proxy.endpoint } }, controller.signal),
    ).rejects.toThrow('killed while staging');
    expect(cacheEntries()).toEqual([]);
    expect(readdirSync(sandbox)).toEqual([]);
  });
});

describe('external artifacts', () => {
  it('copies a file under its filename, following redirects; no md5 → not cached', async () => {
    web.routes.set('/old', (_req, res) => res.writeHead(302, { location: '/files/tool.sh' }).end());
    web.routes.set('/files/tool.sh', (_req, res) => res.writeHead(200).end('#!/bin/sh\necho tool\n'));
    await stage({ externalArtifacts: [{ filename: 'tool.sh', url: web.url('/old'), targetFolderRelativeToTask: 'bin' }] });
    expect(readFileSync(join(sandbox, 'bin', 'tool.sh'), 'utf8')).toBe('#!/bin/sh\necho tool\n');
    expect(cacheEntries()).toEqual([]);
  });

  it('fails on a 404, naming the artifact and the status', async () => {
    const promise = stage({ externalArtifacts: [{ name: 'missing', filename: 'x.bin', url: web.url('/nothing?token=secret') }] });
    await expect(promise).rejects.toBeInstanceOf(ArtifactDownloadError);
    await expect(promise).rejects.toThrow(/^Artifact "missing": GET http:\/\/127\.0\.0\.1:\d+\/nothing\?… answered HTTP 404$/);
    expect(readdirSync(sandbox)).toEqual([]);
  });

  it('verifies TLS certificates: a self-signed server is refused', async () => {
    const key = join(root, 'key.pem');
    const cert = join(root, 'cert.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1'], { stdio: 'ignore' });
    const server = createHttpsServer({ key: readFileSync(key), cert: readFileSync(cert) }, (_req, res) => res.writeHead(200).end('secret'));
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/x.txt`;
    await expect(stage({ externalArtifacts: [{ name: 'tls', filename: 'x.txt', url }] })).rejects.toThrow(`Artifact "tls": GET ${url} failed: DEPTH_ZERO_SELF_SIGNED_CERT`);
    expect(readdirSync(sandbox)).toEqual([]);
  });

  it('gives up after too many redirects', async () => {
    web.routes.set('/loop', (_req, res) => res.writeHead(301, { location: '/loop' }).end());
    await expect(stage({ externalArtifacts: [{ filename: 'x', url: web.url('/loop') }] })).rejects.toThrow(/was redirected more than 10 times/);
  });

  it('caches by md5: a second fetch makes no request', async () => {
    const body = Buffer.from('cached content');
    web.routes.set('/c.txt', (_req, res) => res.writeHead(200).end(body));
    const artifact = { filename: 'c.txt', url: web.url('/c.txt'), md5sum: md5(body), filesize: body.length };
    await stage({ externalArtifacts: [artifact] });
    rmSync(join(sandbox, 'c.txt'));
    await stage({ externalArtifacts: [artifact] });
    expect(web.hits.filter((h) => h === '/c.txt')).toHaveLength(1);
    expect(readFileSync(join(sandbox, 'c.txt'), 'utf8')).toBe('cached content');
  });

  it('accepts an identical file already in place and refuses a different one', async () => {
    web.routes.set('/same.txt', (_req, res) => res.writeHead(200).end('same'));
    writeFileSync(join(sandbox, 'same.txt'), 'same');
    await stage({ externalArtifacts: [{ filename: 'same.txt', url: web.url('/same.txt') }] });
    writeFileSync(join(sandbox, 'same.txt'), 'other');
    await expect(stage({ externalArtifacts: [{ name: 'dup', filename: 'same.txt', url: web.url('/same.txt') }] })).rejects.toThrow(
      new TaskFailureError('Artifact "dup": same.txt already exists with other content'),
    );
    expect(readFileSync(join(sandbox, 'same.txt'), 'utf8')).toBe('other');
  });

  it.each(['/etc', '../../x'])('refuses the target folder %j before downloading', async (folder) => {
    web.routes.set('/f.txt', (_req, res) => res.writeHead(200).end('f'));
    await expect(stage({ externalArtifacts: [{ name: 'esc', filename: 'f.txt', url: web.url('/f.txt'), targetFolderRelativeToTask: folder }] })).rejects.toThrow(
      /^Artifact "esc": /,
    );
    expect(readdirSync(sandbox)).toEqual([]);
    expect(existsSync(join(root, 'x'))).toBe(false);
    expect(web.hits).not.toContain('/f.txt');
  });
});

describe('artifact lists', () => {
  it('stages every artifact a list names (embedded, S3, external), one level', async () => {
    const lib = randomBytes(5000);
    await s3.putObject(BUCKET, 'list/lib.bin', lib);
    web.routes.set('/list/readme.txt', (_req, res) => res.writeHead(200).end('readme'));
    const list = {
      embeddedArtifacts: [{ filename: 'embedded.txt', content: Buffer.from('embedded').toString('base64'), targetFolderRelativeToTask: 'app' }],
      s3Artifacts: [{ filename: 'lib.bin', s3Bucket: BUCKET, s3ObjectKey: 'list/lib.bin', md5sum: md5(lib), targetFolderRelativeToTask: 'app/lib' }],
      externalArtifacts: [{ filename: 'readme.txt', url: web.url('/list/readme.txt'), targetFolderRelativeToTask: 'app' }],
    };
    await s3.putObject(BUCKET, 'list.json', JSON.stringify(list));
    web.routes.set('/list2.json', (_req, res) => res.writeHead(200).end(JSON.stringify({ embeddedArtifacts: [{ filename: 'second.txt', content: 'Mg==' }] })));
    await stage({
      s3Artifacts: [{ filename: 'list.json', s3Bucket: BUCKET, s3ObjectKey: 'list.json', isArtifactList: true }],
      externalArtifacts: [{ filename: 'list2.json', url: web.url('/list2.json'), isArtifactList: true }],
    });
    expect(readFileSync(join(sandbox, 'app', 'embedded.txt'), 'utf8')).toBe('embedded');
    expect(readFileSync(join(sandbox, 'app', 'lib', 'lib.bin')).equals(lib)).toBe(true);
    expect(readFileSync(join(sandbox, 'app', 'readme.txt'), 'utf8')).toBe('readme');
    expect(readFileSync(join(sandbox, 'second.txt'), 'utf8')).toBe('2');
    expect(existsSync(join(sandbox, 'list.json'))).toBe(false);
  });

  it('refuses a list that names another list, and a list that is not JSON', async () => {
    await s3.putObject(BUCKET, 'nested.json', JSON.stringify({ s3Artifacts: [{ filename: 'x.json', s3Bucket: BUCKET, s3ObjectKey: 'x', isArtifactList: true }] }));
    await expect(stage({ s3Artifacts: [{ name: 'outer', filename: 'nested.json', s3Bucket: BUCKET, s3ObjectKey: 'nested.json', isArtifactList: true }] })).rejects.toThrow(
      'Artifact "outer": artifact list names another artifact list (x.json); lists are expanded one level only',
    );
    await s3.putObject(BUCKET, 'junk.json', 'not json');
    await expect(stage({ s3Artifacts: [{ name: 'junk', filename: 'junk.json', s3Bucket: BUCKET, s3ObjectKey: 'junk.json', isArtifactList: true }] })).rejects.toThrow(
      /^Artifact "junk": artifact list is not valid JSON/,
    );
  });
});

describe('artifact signatures', () => {
  const artifactBytes = Buffer.from('signed content\n');
  const signatureBytes = Buffer.from('signature of it\n');
  beforeAll(async () => {
    await s3.putObject(BUCKET, 'signed/app.txt', artifactBytes);
    await s3.putObject(BUCKET, 'signed/app.txt.sig', signatureBytes);
  });
  const artifact = { filename: 'app.txt', s3Bucket: BUCKET, s3ObjectKey: 'signed/app.txt', md5sum: md5(artifactBytes) };
  const signature = { filename: 'app.txt.sig', s3Bucket: BUCKET, s3ObjectKey: 'signed/app.txt.sig', md5sum: md5(signatureBytes), artifactFilename: 'app.txt' };

  /** A verification command that records its arguments and exits with `code`. */
  function verifier(code: number): string {
    const script = join(root, `verify-${code}.sh`);
    writeFileSync(script, `#!/bin/sh\nprintf '%s\\n' "$@" > ${join(root, 'verify-args')}\necho "checked $1"\nexit ${code}\n`);
    chmodSync(script, 0o755);
    return script;
  }

  it('runs the command with the cache paths and places the artifact when it passes', async () => {
    await stage(
      { s3Artifacts: [artifact], s3ArtifactSignatures: [signature] },
      { executor: { artifactSignatureVerificationCommand: [verifier(0), '--artifact={artifactPath}', '{artifactSignaturePath}'] } },
    );
    const args = readFileSync(join(root, 'verify-args'), 'utf8').trim().split('\n');
    expect(args).toEqual([`--artifact=${join(cacheDir, `${md5(artifactBytes)}-app.txt`)}`, join(cacheDir, `${md5(signatureBytes)}-app.txt.sig`)]);
    expect(readFileSync(join(sandbox, 'app.txt')).equals(artifactBytes)).toBe(true);
    expect(existsSync(join(sandbox, 'app.txt.sig'))).toBe(false);
    expect(readFileSync(join(sandbox, 'executor.gpg.out'), 'utf8')).toContain('(exit: 0)');
  });

  it('fails the task on a failing command and places nothing', async () => {
    const promise = stage(
      { s3Artifacts: [artifact], s3ArtifactSignatures: [signature] },
      { executor: { artifactSignatureVerificationCommand: [verifier(1), '{artifactPath}'] } },
    );
    await expect(promise).rejects.toBeInstanceOf(ArtifactSignatureError);
    await expect(promise).rejects.toThrow(`Failed to validate signature for artifact ${join(cacheDir, `${md5(artifactBytes)}-app.txt`)}`);
    expect(existsSync(join(sandbox, 'app.txt'))).toBe(false);
  });

  it('only warns on a failing command without failTaskOnInvalidArtifactSignature', async () => {
    await stage(
      { s3Artifacts: [artifact], s3ArtifactSignatures: [signature] },
      { executor: { artifactSignatureVerificationCommand: ['/usr/bin/false'], failTaskOnInvalidArtifactSignature: false } },
    );
    expect(existsSync(join(sandbox, 'app.txt'))).toBe(true);
  });

  it('warns about unpaired signatures and artifacts unless told to fail', async () => {
    const stray = { ...signature, artifactFilename: 'other.txt' };
    await stage({ s3Artifacts: [artifact], s3ArtifactSignatures: [stray] }, { executor: { artifactSignatureVerificationCommand: ['/usr/bin/false'] } });
    await expect(
      stage({ s3Artifacts: [artifact], s3ArtifactSignatures: [stray] }, { executor: { failOnSignatureWithNoMatchingArtifact: true } }),
    ).rejects.toThrow('Signature app.txt.sig names artifact other.txt, which this task does not have');
    await expect(
      stage({ s3Artifacts: [artifact], s3ArtifactSignatures: [stray] }, { executor: { failOnArtifactWithNoMatchingSignature: true } }),
    ).rejects.toThrow('Artifact app.txt has no signature');
  });
});
