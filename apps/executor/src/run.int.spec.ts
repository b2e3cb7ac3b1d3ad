import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { isProcessAlive } from '@singularity/node-util';
import { eventually, useExecutorRuns } from './testing/executor-harness';

/** The real executor program against a status file, as the agent starts it. */
describe('executor: running a task', () => {
  const { start, prepare } = useExecutorRuns();

  it('reports STARTING, RUNNING and FINISHED with the spec texts, then exits 0', async () => {
    const run = start({ executorData: { cmd: 'true' } });
    await run.waitForState('TASK_FINISHED');
    expect(await run.waitForExit()).toBe(0);
    const statuses = run.statuses();
    const executorPid = run.child?.pid;
    expect(statuses.map(({ seq, taskId, state, message, exitCode }) => ({ seq, taskId, state, message, exitCode }))).toEqual([
      { seq: 1, taskId: run.definition.taskId, state: 'TASK_STAGING', message: undefined, exitCode: undefined },
      { seq: 2, taskId: run.definition.taskId, state: 'TASK_STARTING', message: `Staging files... (executor pid: ${executorPid})`, exitCode: undefined },
      { seq: 3, taskId: run.definition.taskId, state: 'TASK_RUNNING', message: expect.stringMatching(/^Task running process bash - \(pid: \d+\)$/), exitCode: undefined },
      { seq: 4, taskId: run.definition.taskId, state: 'TASK_FINISHED', message: 'Process exited normally with code 0', exitCode: 0 },
    ]);
    for (const s of statuses.slice(1)) expect(typeof s.timestamp).toBe('number');
    await run.waitForExit();
    for (const file of ['runner.sh', 'deploy.env', 'tail_of_finished_service.log', 'logs', 'executor.bash.log', 'executor.log']) {
      expect(existsSync(run.sandboxFile(file))).toBe(true);
    }
    expect(readFileSync(run.sandboxFile('executor.log'), 'utf8')).toContain('"msg":"status update sent"');
  });

  it.each([
    [3, [0, 3], 'TASK_FINISHED', 'Process exited normally with code 3'],
    [1, [0, 3], 'TASK_FAILED', 'Process failed with code 1'],
    [1, undefined, 'TASK_FAILED', 'Process failed with code 1'],
  ])('exit %d with successfulExitCodes %j → %s', async (code, successfulExitCodes, state, message) => {
    const run = start({ executorData: { cmd: `bash -c 'exit ${code}'`, successfulExitCodes } });
    await expect(run.waitForState(state as 'TASK_FINISHED')).resolves.toMatchObject({ message, exitCode: code });
    expect(await run.waitForExit()).toBe(0);
    expect(run.statuses().filter((s) => ['TASK_FINISHED', 'TASK_FAILED', 'TASK_KILLED', 'TASK_LOST'].includes(s.state))).toHaveLength(1);
  });

  it("puts the task's stdout and stderr in service.log", async () => {
    const run = start({ executorData: { cmd: "bash -c 'echo to-stdout; echo to-stderr >&2'" } });
    await run.waitForState('TASK_FINISHED');
    const log = await run.serviceOutput();
    expect(log).toContain('to-stdout\n');
    expect(log).toContain('to-stderr\n');
  });

  it('gives the task its environment and its arguments intact', async () => {
    // `$` is live in deploy.env by design (see the $ test below), so this value holds none.
    const nasty = 'say "hi" `id` it\'s wow! !! \\ back \\n\nsecond line\n\ttab ; & | < > ( ) # *';
    const args = ['two words', "it's", '$HOME', ''];
    const run = start({
      executorData: { cmd: "/usr/bin/printf '%s\\0' \"$TASK_ID\" \"$MESOS_TASK_ID\" \"$PORT0\" \"$NASTY\"", extraCmdLineArgs: args },
      env: { PORT: '31000', PORT0: '31000', NASTY: nasty },
    });
    await run.waitForState('TASK_FINISHED');
    const values = (await run.serviceOutput()).split('\0');
    expect(values.slice(0, -1)).toEqual([run.definition.taskId, run.definition.taskId, '31000', nasty, ...args]);
  });

  it('expands $ in environment values, as documented', async () => {
    const run = start({
      executorData: { cmd: "/usr/bin/printf '%s' \"$APP_HOME\"" },
      env: { BASE: '/opt', APP_HOME: '$BASE/app' },
    });
    await run.waitForState('TASK_FINISHED');
    expect(await run.serviceOutput()).toBe('/opt/app');
  });

  it('applies maxOpenFiles as the soft limit of the task', async () => {
    const run = start({ executorData: { cmd: "bash -c 'ulimit -Sn'", maxOpenFiles: 321 } });
    await run.waitForState('TASK_FINISHED');
    expect((await run.serviceOutput()).trim()).toBe('321');
  });

  it('fails the task on an invalid environment variable name', async () => {
    const run = start({ executorData: { cmd: 'touch ../ran' }, env: { 'NOT-VALID': 'x' } });
    await expect(run.waitForState('TASK_FAILED')).resolves.toMatchObject({ message: 'Invalid environment variable name "NOT-VALID"' });
    expect(existsSync(run.sandboxFile('ran'))).toBe(false);
    expect(await run.waitForExit()).toBe(0);
  });

  it('reports an unusable task definition as LOST and exits non-zero', async () => {
    const run = start({
      executorData: { cmd: 'true' },
      rawDefinition: (d) => JSON.stringify({ ...d, executorData: { extraCmdLineArgs: [] } }),
    });
    const lost = await run.waitForState('TASK_LOST');
    const full = `Unexpected exception while launching task ${run.definition.taskId} - executorData.cmd: `;
    expect(full.startsWith(lost.message ?? '-')).toBe(true);
    expect(lost.message).toHaveLength(80);
    expect(lost.seq).toBe(2);
    expect(await run.waitForExit()).toBe(1);
    expect(run.statuses().map((s) => s.state)).toEqual(['TASK_STAGING', 'TASK_LOST']);
    expect(readFileSync(run.executorOut, 'utf8')).toContain('executorData.cmd');
  });

  it('exits non-zero without a usable definition file', async () => {
    const run = start({ executorData: { cmd: 'true' }, rawDefinition: () => '{ not json' });
    expect(await run.waitForExit()).toBe(1);
    expect(run.statuses().map((s) => s.state)).toEqual(['TASK_STAGING']);
  });

  it('runs on after its agent is gone', async () => {
    // An "agent" shell starts the executor in its own session, then is SIGKILLed while the task runs.
    const run = prepare({ executorData: { cmd: "bash -c 'sleep 2; echo survived'" } });
    const quoted = run.commandLine().map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
    const agent = spawn('bash', ['-c', `setsid ${quoted} >/dev/null 2>&1 & echo $! > ${run.root}/executor.pid; sleep 60`], { stdio: 'ignore' });
    try {
      await run.waitForState('TASK_RUNNING');
      agent.kill('SIGKILL');
      await expect(run.waitForState('TASK_FINISHED')).resolves.toMatchObject({ message: 'Process exited normally with code 0' });
      expect(await run.serviceOutput()).toBe('survived\n');
      // It finishes its clean-up (rotation, metadata) and exits by itself: no agent needed.
      const executorPid = Number(readFileSync(`${run.root}/executor.pid`, 'utf8'));
      await eventually(() => (isProcessAlive(executorPid) ? undefined : true), 'the orphaned executor to exit by itself');
    } finally {
      agent.kill('SIGKILL');
      // The executor leads its own session (setsid): end its whole group (logrotate included)
      // and wait, so nothing writes into the sandbox while the harness removes it.
      const pid = Number(readFileSync(`${run.root}/executor.pid`, 'utf8'));
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // exited by itself
      }
      await eventually(() => (isProcessAlive(pid) ? undefined : true), 'the executor to be gone');
    }
  });
});
