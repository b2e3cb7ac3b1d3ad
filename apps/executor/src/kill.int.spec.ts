import { readFileSync } from 'node:fs';
import { isProcessAlive, liveProcessGroupMembers } from '@singularity/node-util';
import { eventually, useExecutorRuns } from './testing/executor-harness';

/** Kill semantics (spec slave §1.8) through the real executor, as the agent kills: kill file, then SIGTERM. */
describe('executor: killing a task', () => {
  const { start } = useExecutorRuns();

  const terminalStates = ['TASK_FINISHED', 'TASK_FAILED', 'TASK_KILLED', 'TASK_LOST'];

  it('a task that dies on SIGTERM is killed gracefully with code 143', async () => {
    const run = start({ executorData: { cmd: 'sleep 60' } });
    const pgid = await run.runnerPid();
    run.kill();
    const killed = await run.waitForState('TASK_KILLED');
    expect(killed.message).toMatch(/^Task killed\. Process exited gracefully with code 143 \(shutdownTime: \d+ms\)$/);
    expect(killed).toMatchObject({ exitCode: 143, forced: false });
    expect(await run.waitForExit()).toBe(0);
    expect(liveProcessGroupMembers(pgid)).toEqual([]);
  });

  it('a task ignoring SIGTERM is SIGKILLed after the grace, with everything in its group', async () => {
    const run = start({
      executorData: { cmd: "trap '' TERM; sleep 300 & echo $! > ../grandchild.pid; sleep 60", sigKillProcessesAfterMillis: 1000 },
    });
    const pgid = await run.runnerPid();
    const grandchild = await eventually(() => {
      try {
        const pid = Number(readFileSync(run.sandboxFile('grandchild.pid'), 'utf8'));
        return pid > 1 ? pid : undefined;
      } catch {
        return undefined;
      }
    }, 'grandchild pid');
    expect(isProcessAlive(grandchild)).toBe(true);
    run.kill();
    const killed = await run.waitForState('TASK_KILLED');
    expect(killed.message).toMatch(/^Task killed forcibly after waiting at least 00:01\.000 \(shutdownTime: \d+ms\)$/);
    expect(killed).toMatchObject({ exitCode: 137, forced: true });
    expect(liveProcessGroupMembers(pgid)).toEqual([]);
    expect(isProcessAlive(grandchild)).toBe(false);
    expect(await run.waitForExit()).toBe(0);
  });

  it('a task that handles SIGTERM and exits 0 within the grace is killed gracefully with code 0', async () => {
    const run = start({
      executorData: { cmd: "bash -c 'trap \"echo bye; exit 0\" TERM; touch ../ready; sleep 60 & wait'", sigKillProcessesAfterMillis: 20000 },
    });
    await run.waitForFile('ready');
    run.kill();
    const killed = await run.waitForState('TASK_KILLED');
    expect(killed.message).toMatch(/^Task killed\. Process exited gracefully with code 0 \(shutdownTime: \d+ms\)$/);
    expect(await run.serviceOutput()).toContain('bye');
  });

  it('a destroy SIGKILLs at once and names the user', async () => {
    const run = start({ executorData: { cmd: "trap '' TERM; sleep 60", sigKillProcessesAfterMillis: 600000 } });
    const pgid = await run.runnerPid();
    run.kill({ destroy: true, user: 'alice' });
    const killed = await run.waitForState('TASK_KILLED');
    expect(killed.message).toMatch(/^Task killed forcibly by alice \(shutdownTime: \d+ms\)$/);
    expect(killed).toMatchObject({ exitCode: 137, forced: true });
    expect(liveProcessGroupMembers(pgid)).toEqual([]);
  });

  it('three kills give one SIGTERM, one timer and exactly one terminal update', async () => {
    const run = start({ executorData: { cmd: "trap '' TERM; touch ../ready; sleep 60", sigKillProcessesAfterMillis: 600000 } });
    await run.waitForFile('ready');
    // The kill request's grace overrides the task's. Signals sent back to back may merge, so each kill waits for the last.
    for (let i = 1; i <= 3; i++) {
      run.kill({ sigKillProcessesAfterMillis: 3000 });
      await eventually(() => (run.logCount('kill requested') >= i || run.statuses().some((s) => s.state === 'TASK_KILLED') ? true : undefined), `kill ${i}`);
    }
    const killed = await run.waitForState('TASK_KILLED');
    expect(killed.message).toMatch(/^Task killed forcibly after waiting at least 00:03\.000 \(shutdownTime: \d+ms\)$/);
    expect(await run.waitForExit()).toBe(0);
    const statuses = run.statuses();
    expect(statuses.map((s) => s.state)).toEqual(['TASK_STAGING', 'TASK_STARTING', 'TASK_RUNNING', 'TASK_KILLED']);
    expect(statuses.filter((s) => terminalStates.includes(s.state))).toHaveLength(1);
    const log = readFileSync(run.sandboxFile('executor.log'), 'utf8');
    expect(log.match(/"signal":"SIGTERM"/g)).toHaveLength(1);
    expect(log.match(/"signal":"SIGKILL"/g)?.length).toBeGreaterThanOrEqual(1);
    expect(run.logCount('kill requested')).toBe(3);
    expect(run.logCount('kill ignored: the task is already being killed')).toBe(2);
  });

  it('a SIGTERM without a kill file uses the task grace', async () => {
    const run = start({ executorData: { cmd: "trap '' TERM; touch ../ready; sleep 60", sigKillProcessesAfterMillis: 800 }, defaultSigKillProcessesAfterMillis: 600000 });
    await run.waitForFile('ready');
    run.kill();
    await expect(run.waitForState('TASK_KILLED')).resolves.toMatchObject({
      message: expect.stringMatching(/^Task killed forcibly after waiting at least 00:00\.800 /),
      forced: true,
    });
  });

  it('an unrequested SIGTERM death is a failure', async () => {
    const run = start({ executorData: { cmd: "bash -c 'kill -TERM $$'" } });
    await expect(run.waitForState('TASK_FAILED')).resolves.toMatchObject({ message: 'Process failed with code 143', exitCode: 143 });
  });
});
