import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir, type TempDir } from '@singularity/testing';
import { appendStatusRecord, readStatusRecords } from './control-files';

describe('status file', () => {
  let dir: TempDir;
  let file: string;
  beforeEach(async () => {
    dir = await tempDir('status-file-');
    file = join(dir.path, 'status.jsonl');
  });
  afterEach(() => dir.cleanup());

  const line = (seq: number, state: string) => `${JSON.stringify({ seq, taskId: 't', state, timestamp: seq })}\n`;

  it('reads only what was appended since the last offset, and leaves a partial last line for later', () => {
    writeFileSync(file, line(1, 'TASK_STAGING') + line(2, 'TASK_STARTING'));
    const first = readStatusRecords(file, 0, 't');
    expect(first.records.map((r) => r.seq)).toEqual([1, 2]);

    const third = line(3, 'TASK_RUNNING');
    appendFileSync(file, third.slice(0, 10));
    const partial = readStatusRecords(file, first.offset, 't');
    expect(partial).toEqual({ records: [], invalid: [], offset: first.offset });

    appendFileSync(file, third.slice(10));
    expect(readStatusRecords(file, partial.offset, 't').records).toEqual([{ seq: 3, taskId: 't', state: 'TASK_RUNNING', timestamp: 3 }]);
  });

  it('reports lines that are not status records of this task, and skips them', () => {
    writeFileSync(file, ['not json', JSON.stringify({ seq: 1, state: 'TASK_BOGUS' }), JSON.stringify({ seq: 2, taskId: 'other', state: 'TASK_RUNNING' }), ''].join('\n') + line(3, 'TASK_RUNNING'));
    const chunk = readStatusRecords(file, 0, 't');
    expect(chunk.records.map((r) => r.seq)).toEqual([3]);
    expect(chunk.invalid).toHaveLength(3);
  });

  it('closes a line a dead writer left half-written before appending', () => {
    writeFileSync(file, line(1, 'TASK_STAGING') + '{"seq":2,"sta');
    appendStatusRecord(file, { seq: 2, taskId: 't', state: 'TASK_LOST', message: 'Executor is gone', timestamp: 5 });
    expect(readFileSync(file, 'utf8').endsWith('\n')).toBe(true);
    const chunk = readStatusRecords(file, 0, 't');
    expect(chunk.records.map((r) => r.state)).toEqual(['TASK_STAGING', 'TASK_LOST']);
    expect(chunk.invalid).toEqual(['{"seq":2,"sta']);
  });
});
