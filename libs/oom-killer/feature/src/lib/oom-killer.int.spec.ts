import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import pino from 'pino';
import { cgroupLimits, detectCgroupHierarchy, isProcessAlive, MIB, probeCgroups, TaskCgroup, type CgroupHierarchy } from '@singularity/node-util';
import { eventually } from '@singularity/testing';
import { decideOom } from './oom-decision';
import { OomKiller } from './oom-killer';
import { HttpSchedulerKillClient } from './scheduler-kill-client';
import { CgroupTaskMemorySource, type TaskMemoryReading, type TaskMemorySource } from './task-memory';

/**
 * The OOM killer against this machine's real cgroups (v1 or v2; needs root
 * and a writable hierarchy, else the suite fails) with real processes inside
 * them, and a real local HTTP server standing in for the scheduler. Every
 * cgroup lives under a parent of this file's own, removed after the suite.
 */
const CGROUP_ROOT = '/sys/fs/cgroup';
const PARENT = `singularity-oom-test-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;

let hierarchy: CgroupHierarchy;
const cgroups: TaskCgroup[] = [];
const children: ChildProcess[] = [];

/** Stand-in for the scheduler: records every request it gets and answers 200. */
let scheduler: Server;
let schedulerUrl: string;
const received: Array<{ method: string; url: string; body: string }> = [];

beforeAll(async () => {
  const probe = await probeCgroups(CGROUP_ROOT, PARENT);
  if (!probe.ok) throw new Error(`these tests need writable cgroups at ${CGROUP_ROOT}: ${probe.reason}`);
  hierarchy = probe.hierarchy;
  scheduler = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      received.push({ method: req.method ?? '', url: req.url ?? '', body });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });
  await new Promise<void>((resolve) => scheduler.listen(0, '127.0.0.1', resolve));
  schedulerUrl = `http://127.0.0.1:${(scheduler.address() as AddressInfo).port}/singularity`;
});

afterEach(async () => {
  received.length = 0;
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const cgroup of cgroups.splice(0)) {
    await cgroup.killAll();
    await cgroup.remove();
  }
});

afterAll(async () => {
  await new Promise<void>((resolve) => (scheduler ? scheduler.close(() => resolve()) : resolve()));
  const detected = await detectCgroupHierarchy(CGROUP_ROOT);
  if (!detected.ok) return;
  const { readdir, rmdir } = await import('node:fs/promises');
  const mounts = detected.hierarchy.version === 'v1' ? new Set(Object.values(detected.hierarchy.mounts)) : new Set([detected.hierarchy.mount]);
  for (const mount of mounts) {
    const left = await readdir(join(mount, PARENT), { withFileTypes: true }).catch(() => []);
    for (const child of left) if (child.isDirectory()) await rmdir(join(mount, PARENT, child.name)).catch(() => undefined);
    await rmdir(join(mount, PARENT)).catch(() => undefined);
  }
});

/** A task cgroup named like the executor names it (the task id), with a memory limit. */
async function taskCgroup(taskId: string, memoryMb: number): Promise<TaskCgroup> {
  const cgroup = await TaskCgroup.create(hierarchy, { parent: PARENT, name: taskId, limits: cgroupLimits({ memoryMb }) });
  cgroups.push(cgroup);
  return cgroup;
}

/** A node process inside the cgroup (joined the executor's way) holding `holdMb` of touched memory. */
async function runIn(cgroup: TaskCgroup, holdMb: number): Promise<ChildProcess> {
  const script = `const b = Buffer.alloc(${holdMb} * 1024 * 1024, 1); console.log('ready'); setInterval(() => b[0]++, 1000);`;
  const [program, ...args] = [...cgroup.joinCommand(), process.execPath, '-e', script];
  const child = spawn(program, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => chunk.toString().includes('ready') && resolve());
    child.once('exit', (code, signal) => reject(new Error(`the task process ended early (${code ?? signal})`)));
  });
  return child;
}

const exited = (child: ChildProcess) =>
  child.exitCode !== null || child.signalCode !== null ? Promise.resolve(child.signalCode) : new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_c, s) => resolve(s)));

const logger = pino({ level: 'silent' });
const thresholds = { requestKillThresholdRatio: 1.0, killProcessDirectlyThresholdRatio: 1.2 };

describe('CgroupTaskMemorySource on real cgroups', () => {
  it('reads each task cgroup: its name as task id, resident anonymous memory, the limit, and kills every pid in it', async () => {
    const cgroup = await taskCgroup('req-dep-1700000000000-1-host-rack', 256);
    const child = await runIn(cgroup, 64);
    const source = new CgroupTaskMemorySource(CGROUP_ROOT, PARENT);

    expect(await source.describe()).toContain(PARENT);
    const [reading, ...others] = await source.read();
    expect(others).toEqual([]);
    expect(reading.taskId).toBe('req-dep-1700000000000-1-host-rack');
    expect(reading.limitBytes).toBe(256 * MIB);
    // The 64 MiB buffer is resident; a node process adds its own heap on top.
    expect(reading.residentBytes).toBeGreaterThanOrEqual(60 * MIB);
    expect(reading.residentBytes).toBeLessThan(256 * MIB);
    // Real figures under the limit: nothing to do (scenario 30, 0.9 side).
    expect(decideOom(reading, thresholds).verdict).toBe('ok');

    expect(await reading.killAll()).toEqual([child.pid]);
    expect(await exited(child)).toBe('SIGKILL');
  });

  it('reads nothing while the parent cgroup does not exist yet', async () => {
    expect(await new CgroupTaskMemorySource(CGROUP_ROOT, `${PARENT}-never-made`).read()).toEqual([]);
  });
});

/**
 * Resident memory is the real cgroup's figure scaled to the ratio the test
 * names: the kernel never lets a cgroup's resident memory pass its own limit,
 * so a ratio over 1 cannot be produced for real (docs/oom-killer.md
 * "Limits"). Everything else is real: the listing, the limit, the pids, the
 * SIGKILL and the HTTP request.
 */
class AtRatio implements TaskMemorySource {
  constructor(
    private readonly real: TaskMemorySource,
    private readonly ratios: Record<string, number>,
  ) {}
  describe() {
    return this.real.describe();
  }
  async read(): Promise<TaskMemoryReading[]> {
    return (await this.real.read()).map((r) => ({ ...r, residentBytes: r.limitBytes === undefined ? undefined : Math.round(r.limitBytes * this.ratios[r.taskId]) }));
  }
}

describe('scenario 30 (spec slave §7): the OOM killer on real task cgroups', () => {
  it('ratio 1.1 → exactly one kill request; 1.3 → the cgroup’s pids SIGKILLed; 0.9 → nothing', async () => {
    const ids = { soft: 'soft-dep-1700000000000-1-host-rack', hard: 'hard-dep-1700000000000-1-host-rack', fine: 'fine-dep-1700000000000-1-host-rack' };
    const soft = await runIn(await taskCgroup(ids.soft, 128), 1);
    const hardCgroup = await taskCgroup(ids.hard, 128);
    const hard = [await runIn(hardCgroup, 1), await runIn(hardCgroup, 1)];
    const fine = await runIn(await taskCgroup(ids.fine, 128), 1);

    const source = new AtRatio(new CgroupTaskMemorySource(CGROUP_ROOT, PARENT), { [ids.soft]: 1.1, [ids.hard]: 1.3, [ids.fine]: 0.9 });
    const killer = new OomKiller(
      { ...thresholds, checkForOOMEveryMillis: 20, slaveHostname: 'node-a' },
      { source, scheduler: new HttpSchedulerKillClient([schedulerUrl], 5000), logger },
    );
    killer.start();
    try {
      for (const child of hard) expect(await exited(child)).toBe('SIGKILL');
      await eventually(() => killer.meters.singularityAlreadyKilling >= 3, { timeoutMs: 10000, description: 'three more checks after the request' });
    } finally {
      await killer.stop();
    }

    expect(received).toHaveLength(1);
    expect(received[0]).toMatchObject({ method: 'DELETE', url: `/singularity/api/tasks/task/${ids.soft}` });
    expect(JSON.parse(received[0].body).message).toMatch(/^OOM killer on node-a: resident memory at 1\.10x/);
    expect(isProcessAlive(soft.pid as number)).toBe(true);
    expect(isProcessAlive(fine.pid as number)).toBe(true);
    expect(await hardCgroup.pids()).toEqual([]);
    expect(killer.meters).toMatchObject({ softKills: 1, hardKills: 2, singularityFailures: 0, unknownExecutors: 0 });
  });

  it('counts singularityFailures while the scheduler does not answer, and asks again', async () => {
    const id = 'down-dep-1700000000000-1-host-rack';
    await runIn(await taskCgroup(id, 128), 1);
    const source = new AtRatio(new CgroupTaskMemorySource(CGROUP_ROOT, PARENT), { [id]: 1.1 });
    // Port 1 refuses connections: no scheduler is listening.
    const killer = new OomKiller({ ...thresholds, checkForOOMEveryMillis: 20, slaveHostname: 'node-a' }, { source, scheduler: new HttpSchedulerKillClient(['http://127.0.0.1:1/singularity'], 2000), logger });
    await killer.checkOnce();
    await killer.checkOnce();
    expect(killer.meters).toMatchObject({ singularityFailures: 2, softKills: 0 });
  });
});
