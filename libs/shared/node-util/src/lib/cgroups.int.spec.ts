import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cgroupLimits, detectCgroupHierarchy, JOIN_CGROUPS_FAILED_EXIT_CODE, MIB, probeCgroups, sweepStaleCgroups, TaskCgroup, type CgroupHierarchy } from './cgroups';
import { isProcessAlive } from './procfs';

/**
 * Task cgroups on this machine's real cgroup v1 controllers
 * (`/sys/fs/cgroup/{memory,cpu,cpuacct,pids}`; the hybrid layout's v2
 * `unified/` has no controllers). Needs root. Every cgroup lives under a
 * parent of its own, removed with everything in it after the suite.
 */
const ROOT = '/sys/fs/cgroup';
const PARENT = `singularity-test-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;

let hierarchy: CgroupHierarchy;
const cgroups: TaskCgroup[] = [];
const children: ChildProcess[] = [];

beforeAll(async () => {
  const probe = await probeCgroups(ROOT, PARENT);
  if (!probe.ok) throw new Error(`these tests need writable cgroups at ${ROOT}: ${probe.reason}`);
  hierarchy = probe.hierarchy;
});

afterEach(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const cgroup of cgroups.splice(0)) {
    await cgroup.killAll();
    await cgroup.remove();
  }
});

afterAll(async () => {
  if (hierarchy?.version !== 'v1') return;
  const { rmdir } = await import('node:fs/promises');
  // Whatever a failed test left under the test parent goes too (the cgroups are empty by now).
  for (const mount of new Set(Object.values(hierarchy.mounts))) {
    const { readdir } = await import('node:fs/promises');
    const children = await readdir(join(mount, PARENT), { withFileTypes: true }).catch(() => []);
    for (const child of children) if (child.isDirectory()) await rmdir(join(mount, PARENT, child.name)).catch(() => undefined);
    await rmdir(join(mount, PARENT)).catch(() => undefined);
  }
});

let counter = 0;
async function taskCgroup(request: Parameters<typeof cgroupLimits>[0] = {}): Promise<TaskCgroup> {
  const cgroup = await TaskCgroup.create(hierarchy, { parent: PARENT, name: `task-${++counter}`, limits: cgroupLimits(request) });
  cgroups.push(cgroup);
  return cgroup;
}

/** Runs `command` inside the cgroup the way the executor does (the join prefix execs it). */
function runIn(cgroup: TaskCgroup, command: string[]): { child: ChildProcess; output: Promise<{ stdout: string; code: number | null; signal: NodeJS.Signals | null }> } {
  const [program, ...args] = [...cgroup.joinCommand(), ...command];
  const child = spawn(program, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  children.push(child);
  let stdout = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  const output = new Promise<{ stdout: string; code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('close', (code, signal) => resolve({ stdout, code, signal })));
  return { child, output };
}

async function until<T>(probe: () => Promise<T | undefined>, what: string): Promise<T> {
  const deadline = Date.now() + 15000;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('task cgroups on real cgroup v1', () => {
  it('finds v1 on this hybrid machine, with memory, cpu, cpuacct and pids', async () => {
    const detected = await detectCgroupHierarchy(ROOT);
    expect(detected).toMatchObject({ ok: true, hierarchy: { version: 'v1' } });
    expect(hierarchy.version === 'v1' && Object.keys(hierarchy.mounts).sort()).toEqual(['cpu', 'cpuacct', 'memory', 'pids']);
  });

  it('creates the task cgroup in every controller with the memory limit (memsw too), cpu shares and cfs quota', async () => {
    const cgroup = await taskCgroup({ memoryMb: 32, cpus: 0.5, cpuHardLimit: 2, cfsPeriodUs: 50000 });
    const dirs = cgroup.directories();
    expect(dirs).toEqual(['memory', 'cpu', 'cpuacct', 'pids'].map((c) => join(ROOT, c, PARENT, 'task-1').replace('task-1', `task-${counter}`)));
    const read = (controller: string, file: string) => readFileSync(join(ROOT, controller, PARENT, `task-${counter}`, file), 'utf8').trim();
    expect(read('memory', 'memory.limit_in_bytes')).toBe(String(32 * MIB));
    if (existsSync(join(dirs[0], 'memory.memsw.limit_in_bytes'))) expect(read('memory', 'memory.memsw.limit_in_bytes')).toBe(String(32 * MIB));
    expect(read('cpu', 'cpu.shares')).toBe('512');
    expect(read('cpu', 'cpu.cfs_period_us')).toBe('50000');
    expect(read('cpu', 'cpu.cfs_quota_us')).toBe('100000');
  });

  it('joins the runner to every controller before the command runs', async () => {
    const cgroup = await taskCgroup({ memoryMb: 64 });
    const { output } = runIn(cgroup, ['cat', '/proc/self/cgroup']);
    const { stdout, code } = await output;
    expect(code).toBe(0);
    for (const controller of ['memory', 'cpu', 'cpuacct', 'pids']) expect(stdout).toMatch(new RegExp(`:${controller}:/${PARENT}/task-${counter}$`, 'm'));
  });

  it('passes paths and arguments as argv: nothing in them is run as shell text', async () => {
    const cgroup = await taskCgroup();
    const { output } = runIn(cgroup, ['printf', '%s|', '$(touch /tmp/never)', '; echo no', '"quoted"']);
    await expect(output).resolves.toMatchObject({ code: 0, stdout: '$(touch /tmp/never)|; echo no|"quoted"|' });
  });

  it('exits 125 with a message when it cannot join (the cgroup is gone)', async () => {
    const cgroup = await taskCgroup();
    await cgroup.remove();
    const { output } = runIn(cgroup, ['true']);
    const { code, stdout } = await output;
    expect(code).toBe(JOIN_CGROUPS_FAILED_EXIT_CODE);
    expect(stdout).toContain('could not join the task cgroup');
  });

  it('lets the kernel OOM-kill a process that allocates past the limit, and reports it', async () => {
    const cgroup = await taskCgroup({ memoryMb: 32 });
    await expect(cgroup.oom()).resolves.toMatchObject({ oomKills: 0 });
    const { output } = runIn(cgroup, ['python3', '-c', 'b = bytearray(200 * 1024 * 1024); print("survived")']);
    const { signal, stdout } = await output;
    expect(signal).toBe('SIGKILL');
    expect(stdout).not.toContain('survived');
    const oom = await cgroup.oom();
    expect(oom.oomKills).toBeGreaterThanOrEqual(1);
  });

  it('lists and kills processes that left the process group (setsid), until none is left', async () => {
    const cgroup = await taskCgroup();
    const { output } = runIn(cgroup, ['/bin/sh', '-c', 'exec >/dev/null 2>&1; setsid sleep 600 & setsid sh -c "sleep 600 & sleep 600" & echo started']);
    await output; // the runner is gone; its escaped children (their output elsewhere) are not
    const escaped = await until(async () => ((await cgroup.pids()).length >= 3 ? cgroup.pids() : undefined), 'three escaped sleeps');
    for (const pid of escaped) expect(isProcessAlive(pid)).toBe(true);
    const result = await cgroup.killAll();
    expect(result.survivors).toEqual([]);
    expect(result.killed.sort()).toEqual(escaped.sort());
    for (const pid of escaped) expect(isProcessAlive(pid)).toBe(false);
    await expect(cgroup.pids()).resolves.toEqual([]);
  });

  it('reads usage: memory charged, rss, the limit, cpu time and pids', async () => {
    const cgroup = await taskCgroup({ memoryMb: 64 });
    const script = 'import sys, time\nb = bytearray(16 * 1024 * 1024)\nfor i in range(0, len(b), 4096): b[i] = 1\nsum(range(2000000))\nprint("ready", flush=True)\ntime.sleep(600)';
    const { child } = runIn(cgroup, ['python3', '-c', script]);
    await until(async () => (await new Promise<boolean>((resolve) => child.stdout?.once('data', () => resolve(true)))) || undefined, 'the allocation');
    const usage = await cgroup.usage();
    expect(usage.memoryLimitBytes).toBe(64 * MIB);
    expect(usage.memoryRssBytes).toBeGreaterThanOrEqual(16 * MIB);
    expect(usage.memoryUsageBytes).toBeGreaterThanOrEqual(usage.memoryRssBytes as number);
    expect(usage.cpuUsageNanos).toBeGreaterThan(0);
    expect((usage.cpuUserNanos as number) + (usage.cpuSystemNanos as number)).toBeGreaterThan(0);
    expect(usage.pids).toBeGreaterThanOrEqual(1);
    await expect(cgroup.threadCount()).resolves.toBeGreaterThanOrEqual(1);
    expect(usage.cpuPeriods).toBeDefined();
  });

  it('sweeps stale empty task cgroups in every controller and leaves busy ones', async () => {
    const empty = await taskCgroup();
    const busy = await taskCgroup();
    runIn(busy, ['sleep', '600']);
    await until(async () => ((await busy.pids()).length > 0 ? true : undefined), 'the sleep in the cgroup');
    const removed = await sweepStaleCgroups(hierarchy, PARENT, { olderThanMillis: 60_000, now: Date.now() + 120_000 });
    expect(removed).toEqual([empty.record.name]);
    await expect(empty.exists()).resolves.toBe(false);
    for (const dir of empty.directories()) expect(existsSync(dir)).toBe(false);
    await expect(busy.exists()).resolves.toBe(true);
  });

  it('is not removed while a process is in it; is removed once it is empty', async () => {
    const cgroup = await taskCgroup();
    runIn(cgroup, ['sleep', '600']);
    await until(async () => ((await cgroup.pids()).length > 0 ? true : undefined), 'the sleep in the cgroup');
    await expect(cgroup.remove(100)).rejects.toMatchObject({ code: 'EBUSY' });
    await cgroup.killAll();
    await cgroup.remove();
    await expect(cgroup.exists()).resolves.toBe(false);
    for (const dir of cgroup.directories()) expect(existsSync(dir)).toBe(false);
  });
});
