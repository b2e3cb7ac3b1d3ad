import { lstat, mkdir, realpath, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { z } from 'zod';
import type { S3Artifact } from '@singularity/models';
import { writeJsonAtomic, type Logger } from '@singularity/node-util';
import { artifactLabel, assertPlainFilename } from '../embedded-artifacts';
import { SandboxEscapeError } from '../executor-errors';
import { ConcurrencyLimit } from '../artifacts/concurrency-limit';
import type { ArtifactDownloadRequest } from '../artifacts/local-download-client';
import { ArtifactFetcher } from '../artifacts/remote-artifact-stagers';
import type { DownloadServiceConfig } from './download-service-config';
import { DownloadServiceMetrics, type DownloadServiceMetricsSnapshot } from './download-service-metrics';
import { SharedDownloads } from './shared-downloads';

const nonBlank = z.string().refine((s) => s.trim().length > 0, 'must not be blank');

/** The request body (spec slave §3); unknown fields are ignored, as the executor's task definition does. */
const downloadRequestSchema = z.looseObject({
  targetDirectory: z.string().refine((p) => isAbsolute(p), 'must be an absolute path'),
  s3Artifact: z.looseObject({
    name: z.string().optional(),
    filename: nonBlank,
    md5sum: z.string().optional(),
    filesize: z.number().int().min(0).optional(),
    s3Bucket: nonBlank,
    s3ObjectKey: nonBlank,
    targetFolderRelativeToTask: z.string().optional(),
    isArtifactList: z.boolean().optional(),
  }),
  timeoutMillis: z.number().int().positive().optional(),
});

/** Largest request body read; a request is a few hundred bytes. */
const MAX_BODY_BYTES = 1024 * 1024;
/** How often the metrics file is rewritten (as the S3 uploader's). */
const METRICS_FILE_EVERY_MILLIS = 30_000;

class BadRequest extends Error {}

export interface ArtifactDownloadServiceOptions {
  config: DownloadServiceConfig;
  logger: Logger;
  /** Overrides `s3.localDownloadHttpPort`; 0 picks a free port (tests). */
  httpPort?: number;
  /** The fetcher to use; the executor's, from the configuration, by default. */
  fetcher?: ArtifactFetcher;
}

/** Where the service listens once started. */
export interface DownloadServiceAddress {
  /** `http://127.0.0.1:<port>`. */
  url: string;
  port: number;
  /** The unix socket, when `s3.localDownloadSocket` is set. */
  socketPath?: string;
}

interface InFlightRequest {
  readonly controller: AbortController;
  readonly done: Promise<void>;
}

/**
 * The local artifact download service (spec slave §3): executors on this
 * machine POST `{targetDirectory, s3Artifact, timeoutMillis}` to
 * `<localDownloadPath>` and get 200 (empty) once the artifact is in place, or
 * 500 with the reason. Listens on 127.0.0.1 only (and the unix socket when
 * configured): it writes wherever a caller asks, so it must not be reachable
 * from other machines. `GET /health` and `GET /metrics` on the same server.
 */
export class ArtifactDownloadService {
  private readonly metricsState = new DownloadServiceMetrics();
  private readonly downloads: SharedDownloads;
  private readonly enqueue: ConcurrencyLimit;
  private readonly requests = new Set<InFlightRequest>();
  private readonly servers: Server[] = [];
  private metricsTimer?: NodeJS.Timeout;
  private stopping = false;
  private listening?: DownloadServiceAddress;

  constructor(private readonly options: ArtifactDownloadServiceOptions) {
    const { config } = options;
    this.downloads = new SharedDownloads({
      fetcher: options.fetcher ?? ArtifactFetcher.fromConfig(config),
      maxConcurrentFetches: config.downloadService.numDownloaderThreads,
      useCompressProgram: config.base.useCompressProgram,
      metrics: this.metricsState,
    });
    this.enqueue = new ConcurrencyLimit(config.downloadService.numEnqueueThreads);
  }

  get address(): DownloadServiceAddress {
    if (!this.listening) throw new Error('the download service is not started');
    return this.listening;
  }

  metrics(): DownloadServiceMetricsSnapshot {
    return this.metricsState.snapshot();
  }

  async start(): Promise<DownloadServiceAddress> {
    const { s3, downloadService } = this.options.config;
    const http = this.newServer();
    await listen(http, { port: this.options.httpPort ?? s3.localDownloadHttpPort, host: '127.0.0.1' });
    const port = (http.address() as AddressInfo).port;
    let socketPath: string | undefined;
    if (s3.localDownloadSocket) {
      socketPath = s3.localDownloadSocket;
      await removeStaleSocket(socketPath, this.options.logger);
      await mkdir(dirname(socketPath), { recursive: true });
      await listen(this.newServer(), { path: socketPath, backlog: downloadService.unixAcceptQueueSize });
    }
    if (s3.metricsFilePath) {
      await this.writeMetricsFile();
      this.metricsTimer = setInterval(() => void this.writeMetricsFile(), METRICS_FILE_EVERY_MILLIS);
      this.metricsTimer.unref();
    }
    this.listening = { url: `http://127.0.0.1:${port}`, port, socketPath };
    return this.listening;
  }

  /**
   * Stops accepting requests, lets those in flight finish for up to
   * `downloadService.shutdownGraceMillis`, then aborts the rest (their callers
   * get a 500 and download in-process) and closes every connection.
   */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    const closed = this.servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve())));
    for (const server of this.servers) server.closeIdleConnections();
    const grace = this.options.config.downloadService.shutdownGraceMillis;
    const pending = [...this.requests];
    if (pending.length > 0) {
      this.options.logger.info({ requests: pending.length, graceMillis: grace }, 'waiting for requests in flight');
      let timer: NodeJS.Timeout | undefined;
      const timeUp = new Promise<void>((resolve) => (timer = setTimeout(resolve, grace)));
      await Promise.race([Promise.all(pending.map((r) => r.done)), timeUp]);
      clearTimeout(timer);
      for (const request of this.requests) request.controller.abort(new Error('the download service is shutting down'));
      await Promise.all([...this.requests].map((r) => r.done));
    }
    for (const server of this.servers) server.closeAllConnections();
    await Promise.all(closed);
    if (this.metricsTimer) clearInterval(this.metricsTimer);
    if (this.options.config.s3.metricsFilePath) await this.writeMetricsFile();
    const socketPath = this.listening?.socketPath;
    if (socketPath) await rm(socketPath, { force: true });
  }

  private newServer(): Server {
    const server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        this.options.logger.error({ err }, 'unexpected error answering a request');
        if (!res.headersSent) this.send(res, 500, 'internal error');
        else res.destroy();
      });
    });
    // A request is held open while its artifact downloads: only httpServerTimeout bounds it (spec slave §3).
    server.requestTimeout = this.options.config.downloadService.httpServerTimeout;
    server.timeout = 0;
    this.servers.push(server);
    return server;
  }

  private send(res: ServerResponse, status: number, body?: unknown, headers: Record<string, string> = {}): void {
    this.metricsState.answered(status);
    if (body === undefined) {
      res.writeHead(status, { 'content-length': '0', ...headers }).end();
      return;
    }
    const json = typeof body !== 'string';
    const text = json ? JSON.stringify(body) : `${body}\n`;
    res.writeHead(status, { 'content-type': json ? 'application/json' : 'text/plain; charset=utf-8', ...headers }).end(text);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.metricsState.requestReceived();
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const downloadPath = this.options.config.s3.localDownloadPath;
    if (path === '/health' || path === '/metrics') {
      if (req.method !== 'GET' && req.method !== 'HEAD') return this.send(res, 405, `${path} answers GET only`, { allow: 'GET, HEAD' });
      const body =
        path === '/metrics'
          ? this.metrics()
          : { ok: !this.stopping, cacheDirectory: this.options.config.s3.artifactCacheDirectory, activeRequests: this.requests.size };
      return this.send(res, 200, body);
    }
    if (path !== downloadPath) return this.send(res, 404, `no ${path} here: POST ${downloadPath} to download an artifact; GET /health, GET /metrics`);
    if (req.method !== 'POST') return this.send(res, 405, `${downloadPath} takes POST only`, { allow: 'POST' });
    if (this.stopping) return this.send(res, 503, 'the download service is shutting down');

    let request: ArtifactDownloadRequest;
    try {
      request = parseRequest(await readBody(req));
    } catch (err) {
      if (!(err instanceof BadRequest)) throw err;
      this.options.logger.warn({ reason: err.message }, 'bad download request');
      return this.send(res, 400, err.message);
    }
    const outside = await outsideAllowedRoots(request.targetDirectory, this.options.config.downloadService.allowedTargetRoots);
    if (outside) {
      this.options.logger.warn({ targetDirectory: request.targetDirectory, reason: outside }, 'download request refused');
      return this.send(res, 403, outside);
    }
    await this.serve(request, res);
  }

  /** Runs one download request to its answer, tracked so that a stop can wait for it. */
  private async serve(request: ArtifactDownloadRequest, res: ServerResponse): Promise<void> {
    const { logger: serviceLogger, config } = this.options;
    const artifact = request.s3Artifact;
    const label = artifactLabel(artifact);
    const logger = serviceLogger.child({ artifact: label, targetDirectory: request.targetDirectory });
    const timeoutMillis = Math.min(request.timeoutMillis ?? config.downloadService.defaultTimeoutMillis, config.downloadService.httpServerTimeout);
    const controller = new AbortController();
    const timeout = AbortSignal.timeout(timeoutMillis);
    const signal = AbortSignal.any([controller.signal, timeout]);
    // The executor was killed (or gave up): stop working for it.
    res.once('close', () => {
      if (!res.writableFinished) controller.abort(new Error('the client closed the connection'));
    });
    const started = Date.now();
    let finish!: () => void;
    const entry: InFlightRequest = { controller, done: new Promise<void>((resolve) => (finish = resolve)) };
    this.requests.add(entry);
    try {
      await this.enqueue.run(() => this.downloads.deliver(artifact, request.targetDirectory, signal, logger), signal);
      const millis = Date.now() - started;
      this.metricsState.downloadDelivered(millis);
      logger.info({ millis }, 'download request done');
      this.send(res, 200);
    } catch (err) {
      const reason = timeout.aborted
        ? `${label}: not done within ${timeoutMillis} ms`
        : controller.signal.aborted
          ? `${label}: ${(controller.signal.reason as Error).message}`
          : (err as Error).message || String(err);
      logger.warn({ reason, millis: Date.now() - started }, 'download request failed');
      if (!res.writableEnded && !res.destroyed) this.send(res, 500, reason);
      else this.metricsState.answered(500);
    } finally {
      this.requests.delete(entry);
      finish();
    }
  }

  private async writeMetricsFile(): Promise<void> {
    const path = this.options.config.s3.metricsFilePath;
    if (!path) return;
    try {
      await writeJsonAtomic(path, this.metrics());
    } catch (err) {
      this.options.logger.warn({ err, path }, 'cannot write the metrics file');
    }
  }
}

/**
 * Why `targetDirectory` may not be written to, or undefined when it lies in
 * one of `roots` (any, when there are none). Checked on the real path of its
 * deepest existing ancestor, so a symlink cannot lead out.
 */
async function outsideAllowedRoots(targetDirectory: string, roots: readonly string[]): Promise<string | undefined> {
  if (roots.length === 0) return undefined;
  let existing = resolve(targetDirectory);
  const rest: string[] = [];
  for (;;) {
    try {
      existing = await realpath(existing);
      break;
    } catch {
      if (dirname(existing) === existing) break;
      rest.unshift(basename(existing));
      existing = dirname(existing);
    }
  }
  const real = join(existing, ...rest);
  for (const root of roots) {
    const realRoot = await realpath(root).catch(() => resolve(root));
    if (real === realRoot || real.startsWith(`${realRoot}/`)) return undefined;
  }
  return `targetDirectory ${targetDirectory} is outside downloadService.allowedTargetRoots (${roots.join(', ')})`;
}

function parseRequest(text: string): ArtifactDownloadRequest {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new BadRequest('the body must be JSON: {targetDirectory, s3Artifact, timeoutMillis}');
  }
  const parsed = downloadRequestSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new BadRequest(`invalid request field '${issue.path.join('.') || '(body)'}': ${issue.message}`);
  }
  const request = parsed.data as ArtifactDownloadRequest & { s3Artifact: S3Artifact };
  try {
    assertPlainFilename(request.s3Artifact.filename, artifactLabel(request.s3Artifact));
  } catch (err) {
    if (err instanceof SandboxEscapeError) throw new BadRequest(`invalid request field 's3Artifact.filename': ${err.message}`);
    throw err;
  }
  return request;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new BadRequest(`the body is larger than ${MAX_BODY_BYTES} bytes`));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function listen(server: Server, options: { port?: number; host?: string; path?: string; backlog?: number }): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** A socket file left by a service that died; anything else at that path is not ours to remove. */
async function removeStaleSocket(path: string, logger: Logger): Promise<void> {
  const stats = await lstat(path).catch(() => undefined);
  if (!stats) return;
  if (!stats.isSocket()) throw new Error(`s3.localDownloadSocket ${path} exists and is not a socket`);
  logger.info({ socketPath: path }, 'removing a left-over socket file');
  await rm(path, { force: true });
}
