import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { rmdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import type { ExecutorData, ExecutorTaskDefinition, TaskStatusRecord } from '@singularity/models';
import { detectCgroupHierarchy, isProcessAlive, MIB, parseCgroupRecord, signalProcessGroup, TaskCgroup, type CgroupRecord } from '@singularity/node-util';
import { TaskExecutor } from './executor';
import { executorConfig, type ExecutorConfigInput } from './executor-config';
import { StatusWriter } from './status-writer';
import { cgroupRecordFile, createTaskIsolation, NO_ISOLATION, taskCgroupName } from './task-isolation';

/**
 * Task cgroups through the executor (in-process, real processes, this
 * machine's real cgroup v1 controllers; needs root). Every task cgroup of
 * this file lives under a parent of its own, removed after the suite; every
 * process a test starts is killed after it, also when it fails.
 * e2e/src/isolation.e2e.spec.ts runs the same through agent and executor programs.
 */
const CGROUP_ROOT = '/sys/fs/cgroup';
const PARENT = `singularity-test-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;

let root: string;
let counter = 0;
const started: Array<{ def: ExecutorTaskDefinition; executor: TaskExecutor; done: Promise<TaskStatusRecord | undefined> }> = [];
/** Records of every cgroup a test saw, for the clean-up. */
const seen: CgroupRecord[] = [];

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'task-isolation-'));
});

afterEach(async () => {
  for (const { def, executor, done } of started.splice(0)) {
    executor.kill({ destroy: true });
    await done.catch(() => undefined);
    const pid = executor.processPid;
    if (pid) {
      try {
        signalProcessGroup(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    if (existsSync(cgroupRecordFile(def))) seen.push(parseCgroupRecord(readFileSync(cgroupRecordFile(def), 'utf8')));
  }
  for (const record of seen.splice(0)) {
    const cgroup = TaskCgroup.open(record);
    await cgroup.killAll();
    await cgroup.remove().catch(() => undefined);
  }
  rmSync(root, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
});

afterAll(async () => {
  const detected = await detectCgroupHierarchy(CGROUP_ROOT);
  if (detected.ok && detected.hierarchy.version === 'v1') {
    // Whatever a failed test left under the test parent goes too (the cgroups are empty by now).
    for (const mount of new Set(Object.values(detected.hierarchy.mounts))) {
      const { readdir } = await import('node:fs/promises');
      const children = await readdir(join(mount, PARENT), { withFileTypes: true }).catch(() => []);
      for (const child of children) if (child.isDirectory()) await rmdir(join(mount, PARENT, child.name)).catch(() => undefined);
      await rmdir(join(mount, PARENT)).catch(() => undefined);
    }
  }
});

function definition(data: Partial<ExecutorData> & Record<string, unknown>, resources: Partial<ExecutorTaskDefinition['resources']> = {}): ExecutorTaskDefinition {
  const taskId = `req-dep-${++counter}-0-host-rack`;
  const control = join(root, `control-${counter}`);
  mkdirSync(control);
  return {
    taskId,
    requestId: 'req',
    deployId: 'dep',
    executorData: { cmd: 'true', ...data } as ExecutorData,
    env: { TASK_ID: taskId },
    resources: { cpus: 1, memoryMb: 64, diskMb: 64, ports: [], ...resources },
    sandboxDirectory: join(root, `T-${counter}`),
    controlDirectory: control,
    statusFile: join(control, 'status.jsonl'),
    killFile: join(control, 'kill.json'),
    defaultSigKillProcessesAfterMillis: 30000,
  };
}

function config(executor: NonNullable<ExecutorConfigInput['executor']> = {}) {
  return executorConfig({ executor: { cgroupRoot: CGROUP_ROOT, cgroupParent: PARENT, ...executor } });
}

async function start(def: ExecutorTaskDefinition, executorSettings: NonNullable<ExecutorConfigInput['executor']> = {}) {
  const status = await StatusWriter.open(def.statusFile, def.taskId);
  const executor = new TaskExecutor({ definition: def, status, config: config(executorSettings), logger: pino({ level: 'silent' }), leftoverKillTimeoutMillis: 5000 });
  const done = executor.run().finally(() => status.close());
  started.push({ def, executor, done });
  return { executor, done };
}

async function eventually<T>(probe: () => T | undefined | Promise<T | undefined>, what: string): Promise<T> {
  const deadline = Date.now() + 20000;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const readPid = (file: string) => eventually(() => (existsSync(file) && /^\d+\s*$/.test(readFileSync(file, 'utf8')) ? Number(readFileSync(file, 'utf8')) : undefined), file);

/** The record the executor wrote while the task runs. */
const recordOf = (def: ExecutorTaskDefinition) =>
  eventually(() => (existsSync(cgroupRecordFile(def)) ? parseCgroupRecord(readFileSync(cgroupRecordFile(def), 'utf8')) : undefined), 'cgroups.json');

const controllerDir = (controller: string, def: ExecutorTaskDefinition) => join(CGROUP_ROOT, controller, PARENT, taskCgroupName(def.taskId));

/** The cgroup of `pid` in one v1 controller, from /proc. */
const cgroupOfPid = (pid: number, controller: string) =>
  readFileSync(`/proc/${pid}/cgroup`, 'utf8')
    .split('\n')
    .find((line) => line.split(':')[1] === controller)
    ?.split(':')[2];

describe('task isolation with cgroups (real v1)', () => {
  it('runs the task in its cgroup with its limits, records it in cgroups.json, and removes both after the end', async () => {
    const def = definition({ cmd: 'echo $$ > ../runner.pid; exec sleep 600', cpuHardLimit: 2 }, { memoryMb: 48, cpus: 0.25 });
    const { executor, done } = await start(def, { defaultCfsPeriod: 50000 });
    const record = await recordOf(def);
    const runner = await readPid(join(def.sandboxDirectory, 'runner.pid'));
    expect(record).toMatchObject({ version: 'v1', name: taskCgroupName(def.taskId), parent: PARENT, dirs: { memory: controllerDir('memory', def) } });
    expect(record.limits).toMatchObject({ memoryLimitBytes: 48 * MIB, cpuShares: 256, cfsPeriodUs: 50000, cfsQuotaUs: 100000 });
    for (const controller of ['memory', 'cpu', 'cpuacct', 'pids']) expect(cgroupOfPid(runner, controller)).toBe(`/${PARENT}/${taskCgroupName(def.taskId)}`);
    const read = (controller: string, file: string) => readFileSync(join(controllerDir(controller, def), file), 'utf8').trim();
    expect(read('memory', 'memory.limit_in_bytes')).toBe(String(48 * MIB));
    expect(read('cpu', 'cpu.shares')).toBe('256');
    expect(read('cpu', 'cpu.cfs_quota_us')).toBe('100000');
    expect(read('cpu', 'cpu.cfs_period_us')).toBe('50000');

    executor.kill({});
    await expect(done).resolves.toMatchObject({ state: 'TASK_KILLED' });
    for (const controller of ['memory', 'cpu', 'cpuacct', 'pids']) expect(existsSync(controllerDir(controller, def))).toBe(false);
    expect(existsSync(cgroupRecordFile(def))).toBe(false);
  });

  it('a task allocating past memoryMb is OOM-killed by the kernel and fails saying so', async () => {
    const def = definition({ cmd: 'python3 -c "b = bytearray(200 * 1024 * 1024)"' }, { memoryMb: 32 });
    const { done } = await start(def);
    await expect(done).resolves.toMatchObject({ state: 'TASK_FAILED', message: 'Task killed by the kernel: out of memory (limit 32 MB)', exitCode: 137 });
    expect(existsSync(controllerDir('memory', def))).toBe(false);
  });

  it('kills children that left the process group (setsid) when the task ends', async () => {
    const def = definition({ cmd: 'setsid sleep 600 >/dev/null 2>&1 < /dev/null & echo $! > ../escaped.pid; sleep 0.2; exit 0' });
    const { done } = await start(def);
    const escaped = await readPid(join(def.sandboxDirectory, 'escaped.pid'));
    await expect(done).resolves.toMatchObject({ state: 'TASK_FINISHED' });
    expect(isProcessAlive(escaped)).toBe(false);
    expect(existsSync(controllerDir('memory', def))).toBe(false);
  });

  it('kills children that left the process group when the task is killed', async () => {
    const def = definition({ cmd: 'setsid sleep 600 >/dev/null 2>&1 < /dev/null & echo $! > ../escaped.pid; exec sleep 600' });
    const { executor, done } = await start(def);
    const escaped = await readPid(join(def.sandboxDirectory, 'escaped.pid'));
    const record = await recordOf(def);
    await eventually(async () => ((await TaskCgroup.open(record).pids()).includes(escaped) ? true : undefined), 'the escaped child in the cgroup');
    expect(isProcessAlive(escaped)).toBe(true);
    executor.kill({});
    await expect(done).resolves.toMatchObject({ state: 'TASK_KILLED' });
    expect(isProcessAlive(escaped)).toBe(false);
    expect(existsSync(controllerDir('memory', def))).toBe(false);
  });

  it('cgroups: off runs the task without a cgroup', async () => {
    const def = definition({ cmd: 'cat /proc/self/cgroup > ../cgroup.txt' });
    const { done } = await start(def, { cgroups: 'off' });
    await expect(done).resolves.toMatchObject({ state: 'TASK_FINISHED' });
    expect(readFileSync(join(def.sandboxDirectory, 'cgroup.txt'), 'utf8')).not.toContain(PARENT);
    expect(existsSync(cgroupRecordFile(def))).toBe(false);
  });

  it('cgroups: required fails the task with the reason when the root is unusable; nothing runs', async () => {
    for (const cgroupRoot of [join(root, 'does-not-exist'), root]) {
      const def = definition({ cmd: 'touch ../ran' });
      const { done } = await start(def, { cgroups: 'required', cgroupRoot });
      const terminal = await done;
      expect(terminal).toMatchObject({ state: 'TASK_FAILED' });
      expect(terminal?.message).toMatch(/^Task cgroups required but unavailable: /);
      expect(existsSync(join(def.sandboxDirectory, 'ran'))).toBe(false);
    }
  });

  it('cgroups: auto runs the task without cgroups when the root is unusable', async () => {
    const def = definition({ cmd: 'touch ../ran' });
    const { done } = await start(def, { cgroups: 'auto', cgroupRoot: join(root, 'does-not-exist') });
    await expect(done).resolves.toMatchObject({ state: 'TASK_FINISHED' });
    expect(existsSync(join(def.sandboxDirectory, 'ran'))).toBe(true);
    expect(existsSync(cgroupRecordFile(def))).toBe(false);
  });
});

describe('createTaskIsolation', () => {
  it('removes stale empty task cgroups that a dead executor left, and leaves fresh ones', async () => {
    const { mkdir, utimes } = await import('node:fs/promises');
    const hour = new Date(Date.now() - 3600_000);
    for (const controller of ['memory', 'cpu', 'cpuacct', 'pids']) {
      await mkdir(join(CGROUP_ROOT, controller, PARENT, 'stale-task'), { recursive: true });
      await utimes(join(CGROUP_ROOT, controller, PARENT, 'stale-task'), hour, hour);
      await mkdir(join(CGROUP_ROOT, controller, PARENT, 'fresh-task'), { recursive: true });
    }
    const def = definition({});
    const isolation = await createTaskIsolation({ definition: def, config: config(), logger: pino({ level: 'silent' }) });
    await isolation.release();
    for (const controller of ['memory', 'cpu', 'cpuacct', 'pids']) {
      expect(existsSync(join(CGROUP_ROOT, controller, PARENT, 'stale-task'))).toBe(false);
      expect(existsSync(join(CGROUP_ROOT, controller, PARENT, 'fresh-task'))).toBe(true);
      await rmdir(join(CGROUP_ROOT, controller, PARENT, 'fresh-task'));
    }
  });

  it('removes the cgroup and its record as soon as killAll emptied it, keeping the OOM counters for outOfMemory', async () => {
    const def = definition({});
    const isolation = await createTaskIsolation({ definition: def, config: config(), logger: pino({ level: 'silent' }) });
    expect(existsSync(cgroupRecordFile(def))).toBe(true);
    await isolation.killAll();
    expect(existsSync(controllerDir('memory', def))).toBe(false);
    expect(existsSync(cgroupRecordFile(def))).toBe(false);
    await expect(isolation.outOfMemory()).resolves.toBeUndefined();
    await isolation.release();
  });

  it('gives NO_ISOLATION for off, and a prefix that joins every controller otherwise', async () => {
    const def = definition({});
    const logger = pino({ level: 'silent' });
    await expect(createTaskIsolation({ definition: def, config: config({ cgroups: 'off' }), logger })).resolves.toBe(NO_ISOLATION);
    const isolation = await createTaskIsolation({ definition: def, config: config(), logger });
    try {
      expect(isolation.spawnPrefix.slice(0, 2)).toEqual(['/bin/sh', '-c']);
      expect(isolation.spawnPrefix.filter((arg) => arg.endsWith('cgroup.procs'))).toEqual(
        ['memory', 'cpu', 'cpuacct', 'pids'].map((c) => join(controllerDir(c, def), 'cgroup.procs')),
      );
      expect(isolation.spawnPrefix.at(-1)).toBe('--');
      await expect(isolation.outOfMemory()).resolves.toBeUndefined();
      await expect(isolation.countThreads?.()).resolves.toBe(0);
    } finally {
      await isolation.release();
    }
    expect(existsSync(controllerDir('memory', def))).toBe(false);
    await isolation.release(); // twice: no error
  });

  it('shortens task ids too long for a directory name with a hash', () => {
    expect(taskCgroupName('a:b/c')).toBe('a_b_c');
    const long = 'x'.repeat(300);
    expect(taskCgroupName(long)).toMatch(/^x{150}-[0-9a-f]{16}$/);
    expect(taskCgroupName(long)).not.toBe(taskCgroupName(`${long}y`));
  });
});
