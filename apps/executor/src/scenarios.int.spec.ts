import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testExecutorConfig, useExecutorRuns } from './testing/executor-harness';

/**
 * Spec slave §7 scenarios 9, 15, 16 and 17 with the real executor program,
 * started the way the agent starts it.
 */

// The tasks write what they see to ../probe: service.log is rotated away by the log teardown after the terminal update.

/** Switching users needs root (or a sudoers rule); CI runs as root, so there these tests must run. */
const canSwitchUsers = process.getuid?.() === 0 || process.env.CI === 'true';
const NOBODY_UID = 65534;

const configDirs: string[] = [];
afterEach(() => configDirs.splice(0).forEach((dir) => rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 })));

/** `--config <file>` arguments for an executor configuration (JSON is YAML), its directories in a temp dir (never /etc). */
function configArgs(config: Record<string, Record<string, unknown>>): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'executor-config-'));
  configDirs.push(dir);
  const file = join(dir, 'executor.yaml');
  writeFileSync(file, JSON.stringify(testExecutorConfig(dir, config)));
  return ['--config', file];
}

const PYTHON_50_THREADS = 'import threading, time\nfor _ in range(50): threading.Thread(target=time.sleep, args=(600,), daemon=True).start()\ntime.sleep(600)';

describe('executor scenarios (spec slave §7)', () => {
  const { start } = useExecutorRuns();

  it('(9) successfulExitCodes [0,3]: exit 3 is FINISHED, exit 1 FAILED', async () => {
    const three = start({ executorData: { cmd: 'exit 3', successfulExitCodes: [0, 3] } });
    const one = start({ executorData: { cmd: 'exit 1', successfulExitCodes: [0, 3] } });
    await expect(three.waitForState('TASK_FINISHED')).resolves.toMatchObject({ message: 'Process exited normally with code 3', exitCode: 3 });
    await expect(one.waitForState('TASK_FAILED')).resolves.toMatchObject({ message: 'Process failed with code 1', exitCode: 1 });
  });

  it('(15) maxTaskThreads 10 and a process with 50 threads: FAILED "Task used N threads and was killed (max 10)"', async () => {
    const run = start({
      executorData: { cmd: `python3 -c ${shellWord(PYTHON_50_THREADS)}`, maxTaskThreads: 10 },
      extraArgs: configArgs({ executor: { checkThreadsEveryMillis: 100, threadCheckerType: 'PROC_STATUS' } }),
    });
    const failed = await run.waitForState('TASK_FAILED');
    const used = Number(/^Task used (\d+) threads and was killed \(max 10\)$/.exec(failed.message ?? '')?.[1]);
    // Counted while the threads start: anything over the cap, at most the 50 threads and the main one.
    expect(used).toBeGreaterThan(10);
    expect(used).toBeLessThanOrEqual(51);
    expect(await run.waitForExit()).toBe(0);
    expect(run.statuses().map((s) => s.state)).toEqual(['TASK_STAGING', 'TASK_STARTING', 'TASK_RUNNING', 'TASK_FAILED']);
  });

  it('(15) a task within maxTaskThreads runs to its end', async () => {
    const run = start({
      executorData: { cmd: "python3 -c 'import threading, time; threading.Thread(target=time.sleep, args=(1,)).start()'", maxTaskThreads: 10 },
      extraArgs: configArgs({ executor: { checkThreadsEveryMillis: 50 } }),
    });
    await expect(run.waitForState('TASK_FINISHED')).resolves.toMatchObject({ message: 'Process exited normally with code 0' });
  });

  it('(16) maxOpenFiles is the soft nofile limit the task sees', async () => {
    const run = start({ executorData: { cmd: "bash -c 'ulimit -Sn > ../probe'", maxOpenFiles: 257 } });
    await run.waitForState('TASK_FINISHED');
    expect(readFileSync(run.sandboxFile('probe'), 'utf8')).toBe('257\n');
  });

  (canSwitchUsers ? describe : describe.skip)('(16) as another user', () => {
    it('runs the task as user nobody with its nofile limit; app/ logs/ tmp/ and staged artifacts are its own', async () => {
      const run = start({
        executorData: {
          cmd: "bash -c '{ id -u; ulimit -Sn; } > ../probe; echo made-by-task > made-by-task'",
          user: 'nobody',
          maxOpenFiles: 258,
          embeddedArtifacts: [{ name: 'cfg', filename: 'staged.txt', content: Buffer.from('hi').toString('base64'), targetFolderRelativeToTask: 'app' }],
        },
      });
      await expect(run.waitForState('TASK_FINISHED')).resolves.toMatchObject({ message: 'Process exited normally with code 0' });
      expect(readFileSync(run.sandboxFile('probe'), 'utf8')).toBe(`${NOBODY_UID}\n258\n`);
      for (const path of ['app', 'logs', 'tmp', 'app/staged.txt', 'app/made-by-task', 'probe']) {
        expect({ path, uid: statSync(run.sandboxFile(path)).uid }).toEqual({ path, uid: NOBODY_UID });
      }
      expect(statSync(run.sandboxFile('tmp')).mode & 0o777).toBe(0o750);
      expect(statSync(run.sandboxFile('logs')).mode & 0o777).toBe(0o755);
    });

    it('takes defaultRunAsUser from the configuration when the deploy names no user', async () => {
      const run = start({ executorData: { cmd: 'id -un > ../probe' }, extraArgs: configArgs({ executor: { defaultRunAsUser: 'nobody' } }) });
      await run.waitForState('TASK_FINISHED');
      expect(readFileSync(run.sandboxFile('probe'), 'utf8')).toBe('nobody\n');
    });

    it('is killed as a whole: a kill reaches the task behind sudo', async () => {
      const run = start({ executorData: { cmd: "bash -c 'trap \"echo got-term > ../probe; exit 0\" TERM; touch ../ready; while :; do sleep 0.1; done'", user: 'nobody' } });
      await run.waitForFile('ready');
      run.kill();
      const killed = await run.waitForState('TASK_KILLED');
      expect(killed.message).toMatch(/^Task killed\. Process exited gracefully with code \d+ \(shutdownTime: \d+ms\)$/);
      expect(readFileSync(run.sandboxFile('probe'), 'utf8')).toBe('got-term\n');
    });

    it('fails the task on a user this host does not have, before anything runs', async () => {
      const run = start({ executorData: { cmd: 'touch ../ran', user: 'no-such-user' } });
      await expect(run.waitForState('TASK_FAILED')).resolves.toMatchObject({ message: 'Run-as user no-such-user does not exist on this host' });
      expect(run.statuses().map((s) => s.state)).toEqual(['TASK_STAGING', 'TASK_STARTING', 'TASK_FAILED']);
      expect(() => statSync(run.sandboxFile('ran'))).toThrow();
    });
  });

  // Values with quotes, backticks, `!`, `$`, spaces and newlines; `$` in env values is live by design (deploy.env).
  const nastyEnv = 'say "hi" `id` it\'s wow! !! \\ back \\n\nsecond line\n\ttab ; & | < > ( ) # *';
  const nastyArgs = ['two words', '$HOME', '${PORT0}', '`id`', '$(touch ../pwned)', 'a "b" \'c\'', 'line1\nline2', '!bang', '', ' lead and trail '];
  const users: Array<[string, string | undefined]> = [['the executor user', undefined], ...(canSwitchUsers ? [['nobody', 'nobody'] as [string, string]] : [])];

  it.each(users)('(17) as %s: environment, PORT0, TASK_ID and spaced arguments arrive intact, nothing is interpolated', async (_who, user) => {
    // The command is raw shell text once: its own quotes, `$` and newline mean what they say, no more.
    const cmd = "/usr/bin/printf '%s\\0' \"$TASK_ID\" \"$MESOS_TASK_ID\" \"$PORT0\" \"$NASTY\" \"$BUILT\" '$PORT0 `id` \"q\"' \"two\nlines\" > ../probe";
    const run = start({
      executorData: { cmd, extraCmdLineArgs: nastyArgs, user },
      env: { PORT: '31000', PORT0: '31000', NASTY: nastyEnv, BUILT: 'port=${PORT0}' },
    });
    await expect(run.waitForState('TASK_FINISHED')).resolves.toMatchObject({ message: 'Process exited normally with code 0' });
    const values = readFileSync(run.sandboxFile('probe'), 'utf8').split('\0');
    expect(values.slice(0, -1)).toEqual([
      run.definition.taskId,
      run.definition.taskId,
      '31000',
      nastyEnv,
      'port=31000',
      '$PORT0 `id` "q"',
      'two\nlines',
      ...nastyArgs,
    ]);
    expect(() => statSync(run.sandboxFile('pwned'))).toThrow();
  });
});

/** One single-quoted shell word. */
function shellWord(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}
