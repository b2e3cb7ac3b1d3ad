import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import type { ExecutorTaskDefinition } from '@singularity/models';
import { liveProcessGroupMembers } from '@singularity/node-util';
import { executorConfig } from './executor-config';
import { procStatusThreadCount, psThreadCount, startThreadChecker } from './thread-checker';

/** Real process groups: a python process with 50 sleeping threads, and plain single-threaded processes. */
const logger = pino({ level: 'silent' });
const PYTHON_50_THREADS = [
  '-c',
  'import threading, time, sys\nfor _ in range(50): threading.Thread(target=time.sleep, args=(600,), daemon=True).start()\nprint("ready", flush=True)\ntime.sleep(600)',
];

const groups: ChildProcess[] = [];
afterEach(() => {
  for (const child of groups.splice(0)) {
    try {
      process.kill(-(child.pid as number), 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

/** Starts `program` as the leader of a new process group; resolves once it printed "ready". */
function startGroup(program: string, args: string[]): Promise<number> {
  const child = spawn(program, args, { detached: true, stdio: ['ignore', 'pipe', 'inherit'] });
  groups.push(child);
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.stdout?.on('data', (data: Buffer) => data.toString().includes('ready') && resolve(child.pid as number));
  });
}

describe.each([
  ['PROC_STATUS', procStatusThreadCount],
  ['PS', psThreadCount],
])('%s thread count', (_type, count) => {
  it("counts every thread of the group's processes", async () => {
    const pgid = await startGroup('python3', PYTHON_50_THREADS);
    expect(await count(pgid)).toBe(51);
  });

  it('counts processes of the group without threads as one each', async () => {
    const pgid = await startGroup('bash', ['-c', 'sleep 600 & sleep 600 & echo ready; wait']);
    expect(await count(pgid)).toBe(liveProcessGroupMembers(pgid).length);
    expect(await count(pgid)).toBe(3);
  });
});

describe('thread checker on a real task', () => {
  let sandbox: string;
  beforeEach(() => (sandbox = mkdtempSync(join(tmpdir(), 'thread-checker-'))));
  afterEach(() => rmSync(sandbox, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 }));

  it('runs runShellCommandBeforeKillDueToThreads against the task, then reports the excess', async () => {
    const pgid = await startGroup('python3', PYTHON_50_THREADS);
    const config = executorConfig({
      executor: {
        checkThreadsEveryMillis: 20,
        threadCheckerType: 'PROC_STATUS',
        shellCommands: [{ name: 'threads', command: ['/bin/sh', '-c', 'echo "pid=$1 threads=$(ls /proc/$1/task | wc -l) as=$2"', 'sh', '{PID}', '{USER}'] }],
        runShellCommandBeforeKillDueToThreads: { name: 'threads' },
      },
    });
    const definition = { taskId: 't', sandboxDirectory: sandbox, executorData: { cmd: 'x', maxTaskThreads: 10 } } as unknown as ExecutorTaskDefinition;
    const exceeded = new Promise<[number, number]>((resolve) => {
      startThreadChecker({ definition, config, logger, processPid: pgid, onExceeded: (used, max) => resolve([used, max]) });
    });
    expect(await exceeded).toEqual([51, 10]);
    // The command ran to its end before the report: its output is already there.
    const [output] = readdirSync(sandbox).filter((f) => /^threads-\d+\.log$/.test(f));
    expect(readFileSync(join(sandbox, output), 'utf8')).toMatch(new RegExp(`^pid=${pgid} threads=51 as=\\S+\\n$`));
  });
});
