import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { useExecutorRuns } from './testing/executor-harness';

/** Embedded artifacts through the real executor (spec slave §1.5, e2e scenarios 4 and 5). */
describe('executor: embedded artifacts', () => {
  const { start } = useExecutorRuns();

  const bytes = randomBytes(4096);
  const md5 = createHash('md5').update(bytes).digest('hex');

  it('writes the exact bytes with mode 0644 before the task runs', async () => {
    const run = start({
      executorData: {
        cmd: 'md5sum conf/blob.bin',
        embeddedArtifacts: [
          { name: 'blob', filename: 'blob.bin', content: bytes.toString('base64'), md5sum: md5, targetFolderRelativeToTask: 'app/conf' },
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
    expect(readFileSync(run.sandboxFile('service.log'), 'utf8')).toBe(`${md5}  conf/blob.bin\n`);
  });

  it('fails the task on a wrong md5 and never runs it', async () => {
    const wrong = 'f'.repeat(32);
    const run = start({
      executorData: {
        cmd: 'touch ../ran',
        embeddedArtifacts: [{ name: 'blob', filename: 'blob.bin', content: bytes.toString('base64'), md5sum: wrong }],
      },
    });
    const failed = await run.waitForState('TASK_FAILED');
    const full = `Md5sum ${md5} (${run.sandboxFile('blob.bin')}) does not match expected (${wrong})`;
    expect(failed.message).toBe(full.slice(0, 80));
    expect(readFileSync(run.sandboxFile('executor.log'), 'utf8')).toContain(full);
    expect(await run.waitForExit()).toBe(0);
    expect(run.statuses().map((s) => s.state)).toEqual(['TASK_STAGING', 'TASK_STARTING', 'TASK_FAILED']);
    for (const neverWritten of ['ran', 'runner.sh', 'service.log', 'blob.bin']) expect(existsSync(run.sandboxFile(neverWritten))).toBe(false);
  });

  it.each([
    ['../../x', 'is outside the task sandbox'],
    ['/etc', 'is an absolute path'],
  ])('fails on targetFolderRelativeToTask %j and writes nothing outside the sandbox', async (folder, reason) => {
    const filename = `escape-${process.pid}-${Date.now()}.txt`;
    const run = start({
      executorData: {
        cmd: 'touch ../ran',
        embeddedArtifacts: [{ name: 'evil', filename, content: Buffer.from('x').toString('base64'), targetFolderRelativeToTask: folder }],
      },
    });
    const failed = await run.waitForState('TASK_FAILED');
    expect(failed.message?.startsWith(`Artifact "evil": ${JSON.stringify(folder)} ${reason}`)).toBe(true);
    expect(existsSync(join('/etc', filename))).toBe(false);
    expect(existsSync(join(run.sandbox, '..', '..', 'x'))).toBe(false);
    expect(readdirSync(run.root).sort()).toEqual(['control', 'sandbox']);
    expect(readdirSync(join(run.root, 'sandbox'))).toEqual([run.definition.taskId]);
    expect(existsSync(run.sandboxFile('ran'))).toBe(false);
    expect(existsSync(run.sandboxFile('runner.sh'))).toBe(false);
  });
});
