import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TaskStatusRecord } from '@singularity/models';
import { ManualClock } from '@singularity/util';
import { StatusWriter } from './status-writer';

let dir: string;
let file: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'status-writer-'));
  file = join(dir, 'status.jsonl');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const lines = (): TaskStatusRecord[] =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as TaskStatusRecord);

describe('StatusWriter', () => {
  it("continues after the agent's seq 1, one JSON line per update", async () => {
    writeFileSync(file, `${JSON.stringify({ seq: 1, taskId: 't', state: 'TASK_STAGING', timestamp: 1 })}\n`);
    const writer = await StatusWriter.open(file, 't', { clock: new ManualClock(5000) });
    await writer.send({ state: 'TASK_STARTING', message: 'Staging files...' });
    await writer.send({ state: 'TASK_FINISHED', message: 'done', exitCode: 0 });
    await writer.close();
    expect(lines()).toEqual([
      { seq: 1, taskId: 't', state: 'TASK_STAGING', timestamp: 1 },
      { seq: 2, taskId: 't', state: 'TASK_STARTING', message: 'Staging files...', timestamp: 5000 },
      { seq: 3, taskId: 't', state: 'TASK_FINISHED', message: 'done', exitCode: 0, timestamp: 5000 },
    ]);
  });

  it('starts at seq 1 without a file', async () => {
    const writer = await StatusWriter.open(file, 't');
    await writer.send({ state: 'TASK_STARTING' });
    await writer.close();
    expect(lines().map((r) => r.seq)).toEqual([1]);
  });

  it('closes a torn last line before appending', async () => {
    writeFileSync(file, `${JSON.stringify({ seq: 1, taskId: 't', state: 'TASK_STAGING', timestamp: 1 })}\n{"seq":2,"taskI`);
    const writer = await StatusWriter.open(file, 't');
    const record = await writer.send({ state: 'TASK_STARTING' });
    await writer.close();
    expect(record?.seq).toBe(2);
    const text = readFileSync(file, 'utf8').split('\n');
    expect(text[1]).toBe('{"seq":2,"taskI');
    expect(JSON.parse(text[2])).toMatchObject({ seq: 2, state: 'TASK_STARTING' });
  });

  it('writes one terminal update at most, even when sent concurrently', async () => {
    const writer = await StatusWriter.open(file, 't');
    const results = await Promise.all([
      writer.send({ state: 'TASK_RUNNING' }),
      writer.send({ state: 'TASK_KILLED', message: 'a' }),
      writer.send({ state: 'TASK_FAILED', message: 'b' }),
      writer.send({ state: 'TASK_RUNNING' }),
    ]);
    await writer.close();
    expect(results.map((r) => r?.state)).toEqual(['TASK_RUNNING', 'TASK_KILLED', undefined, undefined]);
    expect(lines().map((r) => r.state)).toEqual(['TASK_RUNNING', 'TASK_KILLED']);
    expect(writer.terminalRecord?.state).toBe('TASK_KILLED');
  });

  it('cuts messages to 80 characters', async () => {
    const writer = await StatusWriter.open(file, 't');
    await writer.send({ state: 'TASK_LOST', message: 'y'.repeat(200) });
    await writer.close();
    expect(lines()[0].message).toBe('y'.repeat(80));
  });

  it('knows a terminal update already in the file', async () => {
    writeFileSync(file, `${JSON.stringify({ seq: 1, taskId: 't', state: 'TASK_LOST', timestamp: 1 })}\n`);
    const writer = await StatusWriter.open(file, 't');
    expect(writer.terminalRecord?.state).toBe('TASK_LOST');
    expect(await writer.send({ state: 'TASK_STARTING' })).toBeUndefined();
    await writer.close();
  });
});
