import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create as createTar } from 'tar';
import { startS3rver, type S3rverHandle } from '@singularity/testing';
import { OneMachineCluster, until } from './support/one-machine-cluster';

jest.setTimeout(240_000);

/**
 * S3 artifacts end to end (issue 4): scheduler, agent and the real executor
 * program fetch a ~50 MB `.tar.gz` from a real S3-compatible server
 * (s3rver) in ranged chunks, extract it and run the deploy's command from it;
 * a second deploy of the same artifact is served from the agent's artifact
 * cache; a tampered md5 fails the task with a message naming the artifact.
 */
const BUCKET = 'releases';
const KEY = 'payload/payload-1.0.tar.gz';
const BLOB_BYTES = 50 * 1024 * 1024;

describe('artifacts: S3 through scheduler, agent and executor', () => {
  const work = mkdtempSync(join(tmpdir(), 'artifacts-e2e-'));
  const executorConfigFile = join(work, 'executor.yaml');
  const cluster = new OneMachineCluster({ agentEnv: { SINGULARITY_AGENT_EXECUTOR_CONFIG_FILE: executorConfigFile } });
  let s3: S3rverHandle;
  let api: string;
  let archive: { md5: string; size: number; blobMd5: string };

  beforeAll(async () => {
    s3 = await startS3rver({ buckets: [BUCKET] });
    // 8 MB chunks: the 50 MB download is seven ranged GETs, four at a time.
    writeFileSync(
      executorConfigFile,
      `s3:\n  s3Endpoint: ${s3.endpoint}\n  s3AccessKey: ${s3.accessKey}\n  s3SecretKey: ${s3.secretKey}\n  s3ChunkSize: ${8 * 1024 * 1024}\n`,
    );
    archive = await buildPayload();
    await cluster.start();
    api = `${cluster.baseUrl}/api`;
  });

  afterAll(async () => {
    await cluster.stop();
    await s3?.stop();
    rmSync(work, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
    if (!expect.getState().suppressedErrors?.length) cluster.cleanup();
  });

  /** `payload/blob.bin` (incompressible) and `payload/run.sh`, which checks the blob's md5 sum; uploaded to s3rver. */
  async function buildPayload(): Promise<{ md5: string; size: number; blobMd5: string }> {
    const source = join(work, 'source');
    mkdirSync(join(source, 'payload'), { recursive: true });
    const blob = randomBytes(BLOB_BYTES);
    const blobMd5 = createHash('md5').update(blob).digest('hex');
    writeFileSync(join(source, 'payload', 'blob.bin'), blob);
    writeFileSync(join(source, 'payload', 'run.sh'), `#!/bin/sh\ncd "$(dirname "$0")"\necho "${blobMd5}  blob.bin" | md5sum -c -\n`);
    chmodSync(join(source, 'payload', 'run.sh'), 0o755);
    const file = join(work, 'payload.tar.gz');
    await createTar({ gzip: { level: 1 }, cwd: source, file, portable: true }, ['payload']);
    const bytes = readFileSync(file);
    await s3.putObject(BUCKET, KEY, bytes);
    return { md5: createHash('md5').update(bytes).digest('hex'), size: bytes.length, blobMd5 };
  }

  const post = async (path: string, body: unknown) => {
    const res = await fetch(`${api}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  };
  type Update = { taskState: string; statusMessage?: string };
  const updates = async (taskId: string): Promise<Update[]> => {
    const res = await fetch(`${api}/history/task/${encodeURIComponent(taskId)}`);
    return res.ok ? ((await res.json()) as { taskUpdates: Update[] }).taskUpdates : [];
  };
  const TERMINAL = ['TASK_FINISHED', 'TASK_FAILED', 'TASK_KILLED', 'TASK_LOST'];

  /** Deploys a RUN_ONCE request whose executorData stages the payload, and waits for its task to end. */
  async function runOnce(requestId: string, md5sum: string): Promise<{ taskId: string; updates: Update[] }> {
    await post('/requests', { id: requestId, owners: ['a@b.c'], requestType: 'RUN_ONCE' });
    await post('/deploys', {
      deploy: {
        requestId,
        id: 'v1',
        // Singularity's custom-executor deploy shape; our agent always runs its own executor.
        customExecutorCmd: '/usr/local/bin/singularity-executor',
        executorData: {
          cmd: './payload/run.sh',
          s3Artifacts: [
            { name: 'payload', filename: 'payload-1.0.tar.gz', s3Bucket: BUCKET, s3ObjectKey: KEY, md5sum, filesize: archive.size, targetFolderRelativeToTask: 'app' },
          ],
        },
        resources: { cpus: 0.1, memoryMb: 128 },
      },
    });
    const taskId = await until(`a task of ${requestId}`, async () => {
      const res = await fetch(`${api}/history/request/${requestId}/tasks`);
      return res.ok ? ((await res.json()) as Array<{ taskId: { id: string } }>)[0]?.taskId.id : undefined;
    });
    const history = await until(`${taskId} to end`, async () => {
      const list = await updates(taskId);
      return TERMINAL.includes(list.at(-1)?.taskState ?? '') ? list : undefined;
    }, 120_000);
    return { taskId, updates: history };
  }

  const gets = () => s3.requestsFor(BUCKET, KEY, 'GET');
  const cacheDir = () => join(cluster.dir, 'agent', 'artifact-cache');
  const readSandbox = async (taskId: string, path: string) => {
    const res = await fetch(`${api}/sandbox/${encodeURIComponent(taskId)}/read?path=${encodeURIComponent(path)}&offset=0&length=65536`);
    return res.ok ? ((await res.json()) as { data: string }).data : `(HTTP ${res.status})`;
  };

  it('runs the command from a 50 MB .tar.gz fetched from S3 in ranged chunks', async () => {
    const { taskId, updates: history } = await runOnce('payload', archive.md5);
    expect(history.map((u) => u.taskState)).toEqual(expect.arrayContaining(['TASK_STARTING', 'TASK_RUNNING', 'TASK_FINISHED']));
    expect(history.at(-1)).toMatchObject({ taskState: 'TASK_FINISHED', statusMessage: 'Process exited normally with code 0' });
    expect(await readSandbox(taskId, 'tail_of_finished_service.log')).toBe('blob.bin: OK\n');
    // Seven 8 MB ranges (the last one shorter), each fetched once.
    const ranges = gets().map((r) => r.range);
    expect(ranges).toHaveLength(Math.ceil(archive.size / (8 * 1024 * 1024)));
    expect(new Set(ranges).size).toBe(ranges.length);
    const entry = join(cacheDir(), `${archive.md5}-payload-1.0.tar.gz`);
    expect(statSync(entry).size).toBe(archive.size);
  });

  it('serves a second deploy of the same artifact from the cache: no second download', async () => {
    const before = s3.requestsFor(BUCKET, KEY).length;
    const { taskId, updates: history } = await runOnce('payload-again', archive.md5.toUpperCase());
    expect(history.at(-1)).toMatchObject({ taskState: 'TASK_FINISHED' });
    expect(await readSandbox(taskId, 'tail_of_finished_service.log')).toBe('blob.bin: OK\n');
    expect(s3.requestsFor(BUCKET, KEY)).toHaveLength(before); // not even a HEAD
    expect(readdirSync(cacheDir())).toEqual([`${archive.md5}-payload-1.0.tar.gz`]);
  });

  it('fails a deploy whose md5 was tampered with, naming the artifact in the task history; nothing runs, nothing is cached', async () => {
    const tampered = `${archive.md5.slice(0, -4)}beef`;
    const { taskId, updates: history } = await runOnce('payload-tampered', tampered);
    const failed = history.at(-1);
    expect(failed?.taskState).toBe('TASK_FAILED');
    expect(failed?.statusMessage).toMatch(new RegExp(`^Artifact "payload": Md5sum ${archive.md5} \\(`));
    expect(history.map((u) => u.taskState)).not.toContain('TASK_RUNNING');
    expect(readdirSync(cacheDir())).toEqual([`${archive.md5}-payload-1.0.tar.gz`]);
    const sandbox = await fetch(`${api}/sandbox/${encodeURIComponent(taskId)}/browse`);
    const names = sandbox.ok ? ((await sandbox.json()) as { files: Array<{ name: string }> }).files.map((f) => f.name) : [];
    expect(names).not.toContain('runner.sh');
    expect(existsSync(join(cacheDir(), `${tampered}-payload-1.0.tar.gz`))).toBe(false);
  });
});
