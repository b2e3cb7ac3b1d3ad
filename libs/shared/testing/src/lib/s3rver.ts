import type { IncomingMessage, Server } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';

/** The part of s3rver (no type declarations of its own) the helper uses. */
interface S3rverServer {
  run(): Promise<{ address: string; port: number }>;
  close(): Promise<void>;
  httpServer?: Server;
}
type S3rverConstructor = new (options: {
  address: string;
  port: number;
  silent: boolean;
  directory: string;
  configureBuckets: Array<{ name: string }>;
  resetOnClose?: boolean;
}) => S3rverServer;

/** One request s3rver received. */
export interface S3rverRequest {
  method: string;
  /** Path and query, e.g. `/bucket/key?x-id=GetObject`. */
  url: string;
  /** The `Range` header, for ranged GETs. */
  range?: string;
}

export interface S3rverHandle {
  /** `http://127.0.0.1:<port>`: the `s3Endpoint` to configure (path-style). */
  readonly endpoint: string;
  readonly port: number;
  /** Where s3rver keeps buckets and objects. */
  readonly directory: string;
  /** s3rver accepts any credentials; these are the conventional ones. */
  readonly accessKey: string;
  readonly secretKey: string;
  /** Every request so far, in order. */
  readonly requests: readonly S3rverRequest[];
  /** Requests for `bucket/key` (any query), optionally of one method (`GET`, `HEAD`, …). */
  requestsFor(bucket: string, key: string, method?: string): S3rverRequest[];
  /** An S3 client for this server (path-style, checksums only when required: see stack notes, pitfall 5). */
  client(): S3Client;
  createBucket(name: string): Promise<void>;
  putObject(bucket: string, key: string, body: Buffer | string): Promise<void>;
  deleteObject(bucket: string, key: string): Promise<void>;
  /** Stops the server and removes its directory. Safe to call twice. */
  stop(): Promise<void>;
}

export interface StartS3rverOptions {
  /** Buckets created before the server answers (names of 3 or more characters). */
  buckets?: string[];
}

/**
 * A real S3-compatible server (s3rver) for tests: a temp directory, a port
 * of its own on 127.0.0.1, the given buckets, and a log of every request (to
 * prove what was, or was not, downloaded). Call `stop()` in `afterAll`.
 */
export async function startS3rver(options: StartS3rverOptions = {}): Promise<S3rverHandle> {
  // Loaded on use: importing @singularity/testing must not load s3rver and the AWS SDK for every spec.
  const S3rver = require('s3rver') as S3rverConstructor;
  const { CreateBucketCommand, DeleteObjectCommand, PutObjectCommand, S3Client } = require('@aws-sdk/client-s3') as typeof import('@aws-sdk/client-s3');
  const directory = await mkdtemp(join(tmpdir(), 's3rver-'));
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory,
    configureBuckets: (options.buckets ?? []).map((name) => ({ name })),
  });
  const { port } = await server.run();
  const requests: S3rverRequest[] = [];
  server.httpServer?.on('request', (req: IncomingMessage) => {
    requests.push({ method: req.method ?? '', url: req.url ?? '', range: req.headers.range });
  });
  const endpoint = `http://127.0.0.1:${port}`;
  const accessKey = 'S3RVER';
  const secretKey = 'S3RVER';
  const client = new S3Client({
    region: 'us-east-1',
    endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: accessKey, secretAccessKey: secretKey },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  let stopped = false;
  return {
    endpoint,
    port,
    directory,
    accessKey,
    secretKey,
    requests,
    requestsFor: (bucket, key, method) =>
      requests.filter((r) => r.url.split('?')[0] === `/${bucket}/${key}` && (method === undefined || r.method === method)),
    client: () => client,
    createBucket: async (name) => {
      await client.send(new CreateBucketCommand({ Bucket: name }));
    },
    putObject: async (bucket, key, body) => {
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
    },
    deleteObject: async (bucket, key) => {
      await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
    },
    stop: async () => {
      if (stopped) return;
      stopped = true;
      client.destroy();
      server.httpServer?.closeAllConnections?.();
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
