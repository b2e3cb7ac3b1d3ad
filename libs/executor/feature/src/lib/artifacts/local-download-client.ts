import { request, type IncomingMessage } from 'node:http';
import type { S3Artifact } from '@singularity/models';
import type { ExecutorConfig } from '../executor-config';
import { ConcurrencyLimit } from './concurrency-limit';

/**
 * The body of `POST <localDownloadPath>` (spec slave §3), as the original's
 * `ArtifactDownloadRequest`: put `s3Artifact` into `targetDirectory` (an
 * absolute path; the service places it there, extracting tarballs), within
 * `timeoutMillis`.
 */
export interface ArtifactDownloadRequest {
  targetDirectory: string;
  s3Artifact: S3Artifact;
  timeoutMillis?: number;
}

/** Where the service listens and how the executor talks to it (`s3` and `executor` keys). */
export interface LocalDownloadClientSettings {
  /** `s3.localDownloadSocket`: used instead of HTTP on the port when set. */
  socketPath?: string;
  /** `s3.localDownloadHttpPort`, on 127.0.0.1. */
  port: number;
  /** `s3.localDownloadPath`. */
  path: string;
  /** `executor.localDownloadServiceTimeoutMillis`: the whole request, and what the service is given. */
  timeoutMillis: number;
  /** `executor.localDownloadServiceMaxConnections`: requests in flight at once. */
  maxConnections: number;
}

export function localDownloadClientSettings(config: Pick<ExecutorConfig, 's3' | 'executor'>): LocalDownloadClientSettings {
  return {
    socketPath: config.s3.localDownloadSocket,
    port: config.s3.localDownloadHttpPort,
    path: config.s3.localDownloadPath,
    timeoutMillis: config.executor.localDownloadServiceTimeoutMillis,
    maxConnections: config.executor.localDownloadServiceMaxConnections,
  };
}

/** The service could not be reached, answered other than 200, or took too long. The caller downloads in-process instead. */
export class LocalDownloadServiceError extends Error {
  constructor(
    message: string,
    /** The HTTP status, when there was an answer. */
    readonly status?: number,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** The longest part of an error answer kept for the log. */
const MAX_ERROR_BODY = 4096;

/**
 * The executor's side of the local artifact download service (spec slave
 * §1.5 `useLocalDownloadService`, §3). One instance per executor: its limit
 * is the executor's connections to the service.
 */
export class LocalDownloadClient {
  private readonly limit: ConcurrencyLimit;

  constructor(readonly settings: LocalDownloadClientSettings) {
    this.limit = new ConcurrencyLimit(settings.maxConnections);
  }

  /** Where requests go, for logs. */
  get endpoint(): string {
    return this.settings.socketPath ? `unix:${this.settings.socketPath}:${this.settings.path}` : `http://127.0.0.1:${this.settings.port}${this.settings.path}`;
  }

  /**
   * Asks the service to place `artifact` into `targetDirectory` and waits for
   * its answer. Resolves on 200; throws a LocalDownloadServiceError on any
   * other outcome, or `signal`'s reason when the caller aborted (a kill).
   */
  async download(artifact: S3Artifact, targetDirectory: string, signal: AbortSignal): Promise<void> {
    await this.limit.run(() => this.post({ targetDirectory, s3Artifact: artifact, timeoutMillis: this.settings.timeoutMillis }, signal), signal);
  }

  private post(body: ArtifactDownloadRequest, signal: AbortSignal): Promise<void> {
    const { socketPath, port, path, timeoutMillis } = this.settings;
    const timeout = AbortSignal.timeout(timeoutMillis);
    const both = AbortSignal.any([signal, timeout]);
    const payload = Buffer.from(JSON.stringify(body));
    return new Promise<void>((resolve, reject) => {
      const fail = (err: unknown) => {
        if (signal.aborted) reject(signal.reason);
        else if (timeout.aborted) reject(new LocalDownloadServiceError(`no answer from ${this.endpoint} within ${timeoutMillis} ms`));
        else reject(new LocalDownloadServiceError(`${this.endpoint}: ${(err as Error).message ?? String(err)}`));
      };
      const req = request(
        {
          ...(socketPath ? { socketPath } : { host: '127.0.0.1', port }),
          path,
          method: 'POST',
          // No keep-alive agent: a request holds its connection for the whole download, and nothing lingers afterwards.
          agent: false,
          headers: { 'content-type': 'application/json', 'content-length': payload.length },
          signal: both,
        },
        (res: IncomingMessage) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            if (text.length < MAX_ERROR_BODY) text += chunk;
          });
          res.on('error', fail);
          res.on('end', () => {
            if (res.statusCode === 200) return resolve();
            const reason = text.trim().slice(0, MAX_ERROR_BODY) || res.statusMessage || 'no reason given';
            reject(new LocalDownloadServiceError(`${this.endpoint} answered ${res.statusCode}: ${reason}`, res.statusCode));
          });
        },
      );
      req.on('error', fail);
      req.end(payload);
    });
  }
}
