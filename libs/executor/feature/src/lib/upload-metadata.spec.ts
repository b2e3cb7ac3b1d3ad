import { createHash } from 'node:crypto';
import type { ExecutorData } from '@singularity/models';
import {
  DEFAULT_S3_KEY_PATTERN,
  expandKeyPattern,
  planS3Metadata,
  s3MetadataPath,
  tailMetadataPath,
  taskHost,
  unrotatedS3Metadata,
  type S3MetadataInput,
} from './upload-metadata';

const TASK_ID = 'my-app-d1-1700000000000-0-host_a-rack1';
const T = `/sandboxes/${TASK_ID}`;
const task = { taskId: TASK_ID, requestId: 'my-app', deployId: 'd1', host: 'host_a' };

function input(data: Partial<ExecutorData> = {}): S3MetadataInput {
  return { task: { ...task, tag: data.loggingTag, group: data.requestGroup }, sandboxDirectory: T, serviceLog: 'service.log', logrotateToDirectory: 'logs', executorData: { cmd: 'x', ...data } };
}

describe('upload metadata (spec slave §2 "From the executor", §5)', () => {
  it('expands the task placeholders once and leaves the uploader ones', () => {
    expect(expandKeyPattern('%requestId/%group/%tag/%deployId/%host/%taskId/%Y/%m/%index-%s-%filename%fileext', { ...task, tag: 'web', group: 'g1' })).toBe(
      `my-app/g1/web/d1/host_a/${TASK_ID}/%Y/%m/%index-%s-%filename%fileext`,
    );
    // Defaults: group "default", tag empty; a value holding a placeholder is not expanded again.
    expect(expandKeyPattern('%group/%tag/%requestId', { ...task, requestId: '%taskId' })).toBe('default//%taskId');
    expect(expandKeyPattern(DEFAULT_S3_KEY_PATTERN, task)).toBe(`my-app/%Y/%m/${TASK_ID}_%index-%s-%filename`);
  });

  it('takes %host from the task id, sanitized', () => {
    expect(taskHost(TASK_ID, 'x')).toBe('host_a');
    expect(taskHost('not a task id', 'my-host')).toBe('my_host');
  });

  it('writes nothing without a bucket and names what it left out', () => {
    expect(planS3Metadata(input({ s3UploaderAdditionalFiles: ['gc.log'] }), { finished: false })).toEqual({ entries: [], withoutBucket: ['file1', 'default'] });
    expect(unrotatedS3Metadata(input())).toBeUndefined();
  });

  it('describes the rotated service logs in logs/ (hint default), then finished and immediate', () => {
    const data = { defaultS3Bucket: 'bucket', s3UploaderKeyPattern: '%requestId/%taskId/%filename', s3StorageClass: 'STANDARD_IA', applyS3StorageClassAfterBytes: 1000 };
    const running = planS3Metadata(input(data), { finished: false, pid: 42 });
    expect(running).toEqual({
      entries: [
        {
          hint: 'default',
          metadata: {
            directory: `${T}/logs`,
            fileGlob: 'service.log*.[gb]z*',
            s3Bucket: 'bucket',
            s3KeyFormat: `my-app/${TASK_ID}/%filename`,
            finished: false,
            pid: 42,
            s3StorageClass: 'STANDARD_IA',
            applyStorageClassIfOverBytes: 1000,
            checkSubdirectories: false,
          },
        },
      ],
      withoutBucket: [],
    });
    expect(planS3Metadata(input(data), { finished: true, pid: 42 }).entries[0].metadata).toMatchObject({ finished: true, uploadImmediately: true });
  });

  it('adds one per additional file: hint, directory, glob, own bucket and settings; a service.log entry replaces default but keeps logs/', () => {
    const plan = planS3Metadata(
      input({
        defaultS3Bucket: 'bucket',
        s3StorageClass: 'GLACIER',
        s3UploaderAdditionalFiles: [
          'gc.log',
          { filename: 'access-*.log', directory: 'app/logs', s3UploaderFilenameHint: 'access', s3UploaderBucket: 'other', s3UploaderKeyPattern: '%host/%filename', checkIfOpen: false },
          { filename: 'heap.hprof', compressBeforeUpload: true, checkSubdirectories: true, s3StorageClass: 'STANDARD' },
          { filename: 'service.log', s3UploaderFilenameHint: 'service' },
        ],
      }),
      { finished: false },
    );
    expect(plan.withoutBucket).toEqual([]);
    expect(plan.entries.map((e) => [e.hint, e.metadata.directory, e.metadata.fileGlob, e.metadata.s3Bucket])).toEqual([
      ['file1', T, 'gc.log*.[gb]z*', 'bucket'],
      ['access', `${T}/app/logs`, 'access-*.log', 'other'],
      ['file3', T, 'heap.hprof*', 'bucket'],
      ['service', `${T}/logs`, 'service.log*.[gb]z*', 'bucket'],
    ]);
    expect(plan.entries[1].metadata).toMatchObject({ s3KeyFormat: 'host_a/%filename', checkIfOpen: false, s3StorageClass: 'GLACIER' });
    expect(plan.entries[2].metadata).toMatchObject({ compressBeforeUpload: true, checkSubdirectories: true, checkIfOpen: true, s3StorageClass: 'STANDARD' });
  });

  it('describes the raw service log when rotation is skipped (hint unrotated)', () => {
    expect(unrotatedS3Metadata(input({ defaultS3Bucket: 'bucket' }))).toEqual({
      hint: 'unrotated',
      metadata: {
        directory: T,
        fileGlob: 'service.log',
        s3Bucket: 'bucket',
        s3KeyFormat: `my-app/%Y/%m/${TASK_ID}_%index-%s-%filename`,
        finished: true,
        uploadImmediately: true,
        checkSubdirectories: false,
      },
    });
  });

  it('names the files as the uploader and the log watcher expect', () => {
    expect(s3MetadataPath('/meta', '.s3.json', TASK_ID, 'default')).toBe(`/meta/${TASK_ID}-default.s3.json`);
    const sha = createHash('sha256').update(`${T}/service.log`).digest('hex');
    expect(tailMetadataPath('/tail', '.tail.json', `${T}/service.log`)).toBe(`/tail/${sha}.tail.json`);
  });
});
