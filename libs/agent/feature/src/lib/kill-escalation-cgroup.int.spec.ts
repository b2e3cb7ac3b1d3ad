import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { rmdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { AGENT_HTTP, safeTaskId } from '@singularity/models';
import { CGROUP_RECORD_FILE, cgroupLimits, isProcessAlive, probeCgroups, TaskCgroup } from '@singularity/node-util';
import { eventually, tempDir, type TempDir } from '@singularity/testing';
import { aLaunchRequest, killLaunchedExecutors, postJson, testAgentConfig, testLogger } from '../testing/agent-test-kit';
import { FakeScheduler } from '../testing/fake-scheduler';
import { Agent } from './agent';

/**
 * When an executor does not end its task after a kill, the agent SIGKILLs the
 * executor's process tree and, through the task's cgroup (`cgroups.json`,
 * written by the real executor), whatever left that tree. The executor here
 * is the FakeExecutor (it ignores SIGTERM); the cgroup and the escaped
 * process are real (cgroup v1 on this machine; needs root).
 */
const ROOT = '/sys/fs/cgroup';
const PARENT = `singularity-test-escalation-${process.pid}`;

describe('agent kill escalation through the task cgroup', () => {
  let dir: TempDir;
  let scheduler: FakeScheduler;
  let agent: Agent | undefined;
  let cgroup: TaskCgroup | undefined;

  beforeEach(async () => {
    dir = await tempDir('agent-escalation-');
    scheduler = new FakeScheduler();
    await scheduler.start();
  });
  afterEach(async () => {
    await agent?.stop();
    killLaunchedExecutors(join(dir.path, 'launches.log'));
    if (cgroup) {
      await cgroup.killAll();
      await cgroup.remove();
      // The test's parent cgroup goes too (empty now).
      const record = cgroup.record;
      const dirs = record.version === 'v1' ? Object.values(record.dirs) : [record.dir];
      for (const parent of new Set(dirs.map((d) => dirname(d)))) await rmdir(parent).catch(() => undefined);
    }
    await scheduler.stop();
    await dir.cleanup();
  });

  it('SIGKILLs a process that left the process tree, once the executor ignored the kill', async () => {
    const probe = await probeCgroups(ROOT, PARENT);
    if (!probe.ok) throw new Error(`this test needs writable cgroups at ${ROOT}: ${probe.reason}`);
    const dataDir = join(dir.path, 'agent');
    agent = new Agent(testAgentConfig(dataDir, scheduler.url, { executorKillMarginMillis: 200 }), { logger: testLogger() });
    await agent.start();
    const request = aLaunchRequest({ env: { FAKE_EXECUTOR_BEHAVIOUR: 'ignore-term' } });
    expect((await postJson(`http://127.0.0.1:${agent.port}${AGENT_HTTP.tasks}`, request)).status).toBe(202);
    await eventually(() => expect(scheduler.statesOf(request.spec.taskId)).toContain('TASK_RUNNING'), { timeoutMs: 15000, description: 'running' });

    // What the real executor would have done: a task cgroup, recorded in the control directory, with a process in it
    // that left the executor's process tree (its own session).
    cgroup = await TaskCgroup.create(probe.hierarchy, { parent: PARENT, name: safeTaskId(request.spec.taskId), limits: cgroupLimits({ memoryMb: 64, cpus: 0.1 }) });
    writeFileSync(join(dataDir, 'executors', safeTaskId(request.spec.taskId), CGROUP_RECORD_FILE), JSON.stringify(cgroup.record));
    const pidFile = join(dir.path, 'escaped.pid');
    const starter = spawn(cgroup.joinCommand()[0], [...cgroup.joinCommand().slice(1), '/bin/sh', '-c', `setsid sleep 600 & echo $! > ${pidFile}`], { stdio: 'ignore' });
    await new Promise((resolve) => starter.once('exit', resolve));
    const escaped = Number(readFileSync(pidFile, 'utf8'));
    expect(isProcessAlive(escaped)).toBe(true);

    expect((await postJson(`http://127.0.0.1:${agent.port}${AGENT_HTTP.kill(request.spec.taskId)}`, { sigKillProcessesAfterMillis: 300 })).status).toBe(202);
    await eventually(() => expect(scheduler.statesOf(request.spec.taskId).at(-1)).toBe('TASK_KILLED'), { timeoutMs: 15000, description: 'killed' });
    await eventually(() => expect(isProcessAlive(escaped)).toBe(false), { timeoutMs: 10000, description: 'the escaped process to be gone' });
  });
});
