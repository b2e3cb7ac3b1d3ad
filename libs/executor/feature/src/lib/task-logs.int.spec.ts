import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import pino from 'pino';
import type { ExecutorData, ExecutorTaskDefinition, TaskStatusRecord } from '@singularity/models';
import { eventually, tempDir, type TempDir } from '@singularity/testing';
import { TaskExecutor } from './executor';
import { executorConfig, type ExecutorConfig, type ExecutorConfigInput } from './executor-config';
import { StatusWriter } from './status-writer';
import { TaskLogs } from './task-logs';
import type { S3UploadMetadata, TailMetadata } from '@singularity/models';

/**
 * The task's logs with real processes and the real logrotate (spec slave
 * §1.8, §1.9, §2, §5; scenarios 18 and 25).
 */
const TASK_ID = 'app-d1-1700000000000-0-host_1-rack1';

let dir: TempDir;
let dirs: { s3: string; tail: string; conf: string; hourly: string; cron: string };
beforeEach(async () => {
  dir = await tempDir('task-logs-');
  dirs = {
    s3: join(dir.path, 's3-uploader-metadata'),
    tail: join(dir.path, 'log-watcher-metadata'),
    conf: join(dir.path, 'logrotate.d'),
    hourly: join(dir.path, 'logrotate.d', 'hourly'),
    cron: join(dir.path, 'cron.d'),
  };
  mkdirSync(join(dir.path, 'control'));
});
afterEach(() => dir.cleanup());

function config(executor: ExecutorConfigInput['executor'] = {}): ExecutorConfig {
  return executorConfig({
    base: { s3UploaderMetadataDirectory: dirs.s3, logWatcherMetadataDirectory: dirs.tail },
    executor: { logrotateConfDirectory: dirs.conf, logrotateHourlyConfDirectory: dirs.hourly, cronDirectory: dirs.cron, ...executor },
  });
}

function definition(data: Partial<ExecutorData>): ExecutorTaskDefinition {
  return {
    taskId: TASK_ID,
    requestId: 'app',
    deployId: 'd1',
    executorData: { cmd: 'true', ...data },
    env: { TASK_ID },
    resources: { cpus: 1, memoryMb: 64, diskMb: 64, ports: [] },
    sandboxDirectory: join(dir.path, 'T'),
    controlDirectory: join(dir.path, 'control'),
    statusFile: join(dir.path, 'control', 'status.jsonl'),
    killFile: join(dir.path, 'control', 'kill.json'),
    defaultSigKillProcessesAfterMillis: 30000,
  };
}

/** A logger whose records the test can read. */
function recordingLogger() {
  const records: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => records.push(JSON.parse(line) as Record<string, unknown>) });
  return { logger, records };
}

async function start(def: ExecutorTaskDefinition, cfg: ExecutorConfig) {
  const { logger, records } = recordingLogger();
  const status = await StatusWriter.open(def.statusFile, def.taskId);
  const executor = new TaskExecutor({ definition: def, status, logger, config: cfg, leftoverKillTimeoutMillis: 5000 });
  const done: Promise<TaskStatusRecord | undefined> = executor.run().finally(() => status.close());
  return { executor, done, records };
}

const numbered = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => `${from + i}\n`).join('');
const json = <T>(path: string) => JSON.parse(readFileSync(path, 'utf8')) as T;
/** Files (not directories) below `path`, relative to it. */
const filesIn = (path: string) =>
  existsSync(path)
    ? readdirSync(path, { recursive: true })
        .map(String)
        .filter((f) => statSync(join(path, f)).isFile())
        .sort()
    : [];
const s3File = (hint: string) => join(dirs.s3, `${TASK_ID}-${hint}.s3.json`);
const tailFile = () => join(dirs.tail, readdirSync(dirs.tail)[0]);
const sandbox = (...parts: string[]) => join(dir.path, 'T', ...parts);

describe('TaskLogs with the real logrotate', () => {
  it('scenario 18: rotation configs while the task runs; at the end a 2500-line tail, logs/service.log-*.gz, finished+immediate metadata, configs gone', async () => {
    const def = definition({
      cmd: 'seq 1 3000; while [ ! -e ../go ]; do sleep 0.05; done',
      logrotateFrequency: 'HOURLY',
      defaultS3Bucket: 'logs-bucket',
      s3UploaderKeyPattern: '%requestId/%host/%taskId/%filename',
      loggingTag: 'web',
      loggingExtraFields: { team: 'core' },
    });
    const { executor, done } = await start(def, config());
    await eventually(() => expect(json<S3UploadMetadata>(s3File('default')).pid).toBe(executor.processPid), { description: 'the pid in the upload metadata' });
    await eventually(() => expect(readFileSync(sandbox('service.log'), 'utf8')).toBe(numbered(1, 3000)), { description: 'the task wrote its lines' });

    // While it runs (spec slave §1.4 step 5).
    const conf = readFileSync(join(dirs.conf, TASK_ID), 'utf8');
    expect(conf).toContain(`${sandbox('service.log')} {`);
    const cron = join(dirs.cron, `${TASK_ID}.logrotate`);
    expect(statSync(cron).mode & 0o777).toBe(0o644);
    expect(readFileSync(cron, 'utf8')).toMatch(new RegExp(`^0 \\* \\* \\* \\* root /\\S*logrotate -f -s ${sandbox('logrotate.status')} ${join(dirs.conf, TASK_ID)}\n$`));
    expect(json<S3UploadMetadata>(s3File('default'))).toEqual({
      directory: sandbox('logs'),
      fileGlob: 'service.log*.[gb]z*',
      s3Bucket: 'logs-bucket',
      s3KeyFormat: `app/host_1/${TASK_ID}/%filename`,
      finished: false,
      pid: executor.processPid,
      checkSubdirectories: false,
    });
    expect(json<TailMetadata>(tailFile())).toEqual({ filename: sandbox('service.log'), tag: 'web', extraFields: { team: 'core' }, finished: false });

    writeFileSync(sandbox('go'), '');
    await expect(done).resolves.toMatchObject({ state: 'TASK_FINISHED' });

    expect(readFileSync(sandbox('tail_of_finished_service.log'), 'utf8')).toBe(numbered(501, 3000));
    const rotated = readdirSync(sandbox('logs')).filter((f) => /^service\.log-\d+\.log\.gz$/.test(f));
    expect(rotated).toHaveLength(1);
    expect(gunzipSync(readFileSync(sandbox('logs', rotated[0]))).toString()).toBe(numbered(1, 3000));
    expect(json<S3UploadMetadata>(s3File('default'))).toMatchObject({ finished: true, uploadImmediately: true, pid: executor.processPid });
    expect(json<TailMetadata>(tailFile())).toMatchObject({ finished: true });
    expect(filesIn(dirs.conf)).toEqual([]);
    expect(filesIn(dirs.cron)).toEqual([]);
    // copytruncate left service.log empty, so it went too.
    expect(existsSync(sandbox('service.log'))).toBe(false);
  });

  it('scenario 25: skipLogrotateAndCompress writes no rotation files and describes the raw service.log (hint unrotated)', async () => {
    const def = definition({ cmd: 'echo raw output; while [ ! -e ../go ]; do sleep 0.05; done', skipLogrotateAndCompress: true, defaultS3Bucket: 'logs-bucket' });
    const { done } = await start(def, config({ logrotateAdditionalFiles: [{ filename: 'app/x.log', logrotateFrequencyOverride: 'HOURLY' }] }));
    await eventually(() => expect(readFileSync(sandbox('service.log'), 'utf8')).toBe('raw output\n'), { description: 'the task wrote' });
    expect(filesIn(dirs.conf)).toEqual([]);
    expect(filesIn(dirs.cron)).toEqual([]);
    writeFileSync(sandbox('go'), '');
    await expect(done).resolves.toMatchObject({ state: 'TASK_FINISHED' });

    expect(filesIn(dirs.conf)).toEqual([]);
    expect(filesIn(dirs.cron)).toEqual([]);
    expect(json<S3UploadMetadata>(s3File('unrotated'))).toEqual({
      directory: sandbox(),
      fileGlob: 'service.log',
      s3Bucket: 'logs-bucket',
      s3KeyFormat: `app/%Y/%m/${TASK_ID}_%index-%s-%filename`,
      finished: true,
      uploadImmediately: true,
      checkSubdirectories: false,
    });
    expect(readFileSync(sandbox('service.log'), 'utf8')).toBe('raw output\n');
    expect(existsSync(sandbox('tail_of_finished_service.log'))).toBe(false);
    expect(filesIn(sandbox('logs'))).toEqual([]);
    // No loggingTag: no log-watcher metadata.
    expect(filesIn(dirs.tail)).toEqual([]);
  });

  it('writes no upload metadata without a bucket and says so once', async () => {
    const { done, records } = await start(definition({ cmd: 'echo hi' }), config());
    await expect(done).resolves.toMatchObject({ state: 'TASK_FINISHED' });
    expect(filesIn(dirs.s3)).toEqual([]);
    expect(records.filter((r) => String(r.msg).startsWith('no S3 bucket'))).toHaveLength(1);
    expect(readFileSync(sandbox('tail_of_finished_service.log'), 'utf8')).toBe('hi\n');
  });

  it('fails the task when an additional file or upload directory leaves T, and leaves no rotation files', async () => {
    const first = await start(definition({ cmd: 'touch ../ran' }), config({ logrotateAdditionalFiles: ['app/../../escape.log'] }));
    await expect(first.done).resolves.toMatchObject({ state: 'TASK_FAILED', message: expect.stringContaining('outside the task sandbox') });
    expect(existsSync(sandbox('ran'))).toBe(false);
    expect(filesIn(dirs.conf)).toEqual([]);

    const again = () => rmSync(join(dir.path, 'control', 'status.jsonl'));
    again();
    const second = await start(definition({ cmd: 'touch ../ran' }), config({ logrotateAdditionalFiles: ['app/*/../../../x.log'] }));
    await expect(second.done).resolves.toMatchObject({ state: 'TASK_FAILED', message: expect.stringContaining('after a wildcard') });

    again();
    const third = await start(definition({ cmd: 'touch ../ran', defaultS3Bucket: 'b', s3UploaderAdditionalFiles: [{ filename: 'x', directory: '/etc' }] }), config());
    await expect(third.done).resolves.toMatchObject({ state: 'TASK_FAILED', message: expect.stringContaining('absolute path') });
    expect(existsSync(sandbox('ran'))).toBe(false);
    expect(filesIn(dirs.conf)).toEqual([]);
  });

  it('on a logrotate failure removes the configs only: metadata stays unfinished, service.log stays', async () => {
    const { done, records } = await start(definition({ cmd: 'echo hi', defaultS3Bucket: 'b' }), config({ logrotateCommand: '/bin/false', logrotateFrequency: 'HOURLY' }));
    await expect(done).resolves.toMatchObject({ state: 'TASK_FINISHED' });
    expect(records.some((r) => r.msg === 'logrotate failed')).toBe(true);
    expect(filesIn(dirs.conf)).toEqual([]);
    expect(filesIn(dirs.cron)).toEqual([]);
    expect(json<S3UploadMetadata>(s3File('default'))).toMatchObject({ finished: false });
    expect(readFileSync(sandbox('service.log'), 'utf8')).toBe('hi\n');
  });

  it('logrotate accepts every config it writes: additional files, forced and size-based ones, a sandbox path with a space', async () => {
    const def = { ...definition({}), sandboxDirectory: join(dir.path, 'sand box', TASK_ID) };
    mkdirSync(join(def.sandboxDirectory, 'app'), { recursive: true });
    mkdirSync(join(def.sandboxDirectory, 'logs'));
    for (const name of ['service.log', 'app/gc.log', 'app/access-1.log', 'app/hourly.log', 'app/big.log']) writeFileSync(join(def.sandboxDirectory, name), 'content\n');
    const cfg = config({
      logrotateFrequency: 'EVERY_FIVE_MINUTES',
      logrotateAdditionalFiles: [
        'app/gc.log',
        { filename: 'app/access-*.log', extension: 'log', logrotateFrequencyOverride: 'WEEKLY' },
        { filename: 'app/hourly.log', logrotateFrequencyOverride: 'HOURLY' },
        { filename: 'app/big.log', logrotateSizeOverride: '1k' },
        { filename: 'app/missing*.log' },
      ],
    });
    const logs = await TaskLogs.prepare({ definition: def, config: cfg, logger: pino({ level: 'silent' }) });
    const confs = [join(dirs.conf, TASK_ID), join(dirs.hourly, `${TASK_ID}.HOURLY`), join(dirs.hourly, `${TASK_ID}.sizebased`)];
    const debug = spawnSync('logrotate', ['-d', '-s', join(dir.path, 'state'), ...confs], { encoding: 'utf8' });
    expect({ status: debug.status, errors: `${debug.stdout}${debug.stderr}`.split('\n').filter((l) => /error/i.test(l)) }).toEqual({ status: 0, errors: [] });
    expect(readFileSync(join(dirs.cron, `${TASK_ID}.logrotate`), 'utf8').split('\n').filter(Boolean)).toHaveLength(3);

    await logs.finish();
    // The forced teardown run rotated every file, each in one place.
    expect(filesIn(join(def.sandboxDirectory, 'logs'))).toEqual([expect.stringMatching(/^service\.log-\d+\.log\.gz$/)]);
    expect(filesIn(join(def.sandboxDirectory, 'app')).filter((f) => f.endsWith('.gz'))).toEqual([
      expect.stringMatching(/^access-1\.log-\d{8}\.log\.gz$/),
      expect.stringMatching(/^big\.log-\d{8}\.gz$/),
      expect.stringMatching(/^gc\.log-\d{8}\.gz$/),
      expect.stringMatching(/^hourly\.log-\d{8}\.gz$/),
    ]);
    expect(filesIn(dirs.conf)).toEqual([]);
    expect(filesIn(dirs.cron)).toEqual([]);
  });

  it('forces a rotation when service.log grows past maxServiceLogSizeMb, from started() on', async () => {
    const def = definition({});
    mkdirSync(sandbox(), { recursive: true });
    writeFileSync(sandbox('service.log'), 'small\n');
    const logs = await TaskLogs.prepare({ definition: def, config: config({ maxServiceLogSizeMb: 1 }), logger: pino({ level: 'silent' }), sizeCheckEveryMillis: 50 });
    expect(await logs.checkServiceLogSize()).toBe(false);

    logs.started(process.pid);
    writeFileSync(sandbox('service.log'), 'x'.repeat(1024 * 1024 + 1));
    await eventually(() => expect(filesIn(sandbox('logs'))).toEqual([expect.stringMatching(/^service\.log-\d+\.log\.gz$/)]), { description: 'the size checker rotated service.log' });
    expect(statSync(sandbox('service.log')).size).toBe(0);
    await logs.finish();
    expect(await logs.checkServiceLogSize()).toBe(false);
  });
});
