import { join } from 'node:path';
import { isProcessAlive, isProcessGroupAlive } from '@singularity/node-util';
import { spawnTs, type SpawnedProcess } from './spawn-ts';

const fixture = join(__dirname, 'fixtures', 'process-tree.fixture.ts');

describe('spawnTs', () => {
  const started: SpawnedProcess[] = [];
  const start = (mode: string, env?: Record<string, string>) => {
    const handle = spawnTs(fixture, [mode], { env });
    started.push(handle);
    return handle;
  };
  afterEach(async () => {
    await Promise.all(started.splice(0).map((handle) => handle.stop('SIGKILL')));
  });

  async function ready(handle: SpawnedProcess): Promise<{ pid: number; child: number }> {
    const match = await handle.waitForOutput(/ready pid=(\d+) child=(\d+) status=(\d+) env=(\S*)/, { timeoutMs: 20000 });
    expect(match[3]).toBe('400'); // the workspace alias @singularity/util resolved
    return { pid: Number(match[1]), child: Number(match[2]) };
  }

  it('runs a TypeScript entry in its own process group, with the given env', async () => {
    const handle = start('normal', { FIXTURE_VALUE: 'hello' });
    const { pid, child } = await ready(handle);
    expect(pid).toBe(handle.pid);
    expect(handle.stdout()).toContain('env=hello');
    expect(isProcessAlive(child)).toBe(true);
    expect(isProcessGroupAlive(handle.pid)).toBe(true);
  });

  it('stop() signals the whole group and waits for it', async () => {
    const handle = start('normal');
    const { child } = await ready(handle);
    const exit = await handle.stop();
    expect(exit).toEqual({ code: null, signal: 'SIGTERM' });
    expect(isProcessAlive(child)).toBe(false);
    expect(isProcessGroupAlive(handle.pid)).toBe(false);
    expect(handle.exitInfo()).toEqual(exit);
    await expect(handle.stop()).resolves.toEqual(exit);
  });

  it('escalates to SIGKILL when the process ignores the signal', async () => {
    const handle = start('stubborn');
    await ready(handle);
    const exit = await handle.stop('SIGTERM', { timeoutMs: 300 });
    expect(exit.signal).toBe('SIGKILL');
    expect(isProcessGroupAlive(handle.pid)).toBe(false);
  });

  it('waits for grandchildren that outlive the leader', async () => {
    const handle = start('stubborn-kid');
    const { child } = await ready(handle);
    const exit = await handle.stop('SIGTERM', { timeoutMs: 300 });
    expect(exit.signal).toBe('SIGTERM');
    expect(isProcessAlive(child)).toBe(false);
    expect(isProcessGroupAlive(handle.pid)).toBe(false);
  });

  it('reports output and exit when the awaited line never comes', async () => {
    const handle = start('normal');
    await ready(handle);
    await handle.stop();
    await expect(handle.waitForOutput('never printed', { timeoutMs: 200 })).rejects.toThrow(/exited .*without printing it[\s\S]*--- stdout \(tail\) ---\nready pid=/);
  });
});
