import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { rmdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { AGENT_HTTP, type ExecutorTaskDefinition } from '@singularity/models';
import { cgroupLimits, CGROUP_RECORD_FILE, hostCgroupFs, MIB, probeCgroups, TaskCgroup, type CgroupHierarchy, type CgroupRecord } from '@singularity/node-util';
import { expectMatchesSchema } from '@singularity/testing';
import { createAgentHttpServer, type AgentOperations } from './agent-http.server';
import { reportTaskCgroups } from './cgroup-probe';
import { diskUsage, TaskStatisticsReader, taskStatisticsFrom } from './task-statistics';

/**
 * `GET /agent/tasks/{taskId}/statistics` on real cgroup v1 (this machine;
 * needs root) and, for v2, on FAKE: a directory imitating a v2 task cgroup's
 * files. The cgroup probe at agent start, with a capturing logger.
 */
const CGROUP_ROOT = '/sys/fs/cgroup';
const PARENT = `singularity-test-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;

let dir: string;
let hierarchy: CgroupHierarchy;
const cgroups: TaskCgroup[] = [];
const children: ChildProcess[] = [];
const definitions = new Map<string, ExecutorTaskDefinition>();

beforeAll(async () => {
  const probe = await probeCgroups(CGROUP_ROOT, PARENT);
  if (!probe.ok) throw new Error(`these tests need writable cgroups at ${CGROUP_ROOT}: ${probe.reason}`);
  hierarchy = probe.hierarchy;
});

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'agent-statistics-'));
});

afterEach(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const cgroup of cgroups.splice(0)) {
    await cgroup.killAll();
    await cgroup.remove();
  }
  definitions.clear();
  rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
});

afterAll(async () => {
  if (hierarchy?.version !== 'v1') return;
  for (const mount of new Set(Object.values(hierarchy.mounts))) {
    for (const child of readdirSync(join(mount, PARENT), { withFileTypes: true })) if (child.isDirectory()) await rmdir(join(mount, PARENT, child.name)).catch(() => undefined);
    await rmdir(join(mount, PARENT)).catch(() => undefined);
  }
});

function definition(taskId: string, resources: Partial<ExecutorTaskDefinition['resources']> = {}): ExecutorTaskDefinition {
  const control = join(dir, 'executors', taskId);
  const sandbox = join(dir, 'sandboxes', taskId);
  mkdirSync(control, { recursive: true });
  mkdirSync(sandbox, { recursive: true });
  const def: ExecutorTaskDefinition = {
    taskId,
    requestId: 'req',
    deployId: 'dep',
    executorData: { cmd: 'true' },
    env: {},
    resources: { cpus: 0.5, memoryMb: 64, diskMb: 100, ports: [], ...resources },
    sandboxDirectory: sandbox,
    controlDirectory: control,
    statusFile: join(control, 'status.jsonl'),
    killFile: join(control, 'kill.json'),
    defaultSigKillProcessesAfterMillis: 1000,
  };
  definitions.set(taskId, def);
  return def;
}

const reader = () => new TaskStatisticsReader((taskId) => definitions.get(taskId));

/** A task as the executor leaves it: its cgroup, cgroups.json, and a process using ~16 MB in it. */
async function runningTask(taskId: string): Promise<{ def: ExecutorTaskDefinition; cgroup: TaskCgroup }> {
  const def = definition(taskId);
  const cgroup = await TaskCgroup.create(hierarchy, { parent: PARENT, name: taskId, limits: cgroupLimits({ memoryMb: 64, cpus: 0.5 }) });
  cgroups.push(cgroup);
  writeFileSync(join(def.controlDirectory, CGROUP_RECORD_FILE), JSON.stringify(cgroup.record));
  writeFileSync(join(def.sandboxDirectory, 'service.log'), 'x'.repeat(64 * 1024));
  const script = 'import time\nb = bytearray(16 * 1024 * 1024)\nfor i in range(0, len(b), 4096): b[i] = 1\nprint("ready", flush=True)\ntime.sleep(600)';
  const [program, ...args] = [...cgroup.joinCommand(), 'python3', '-c', script];
  const child = spawn(program, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  await new Promise((resolve) => child.stdout?.once('data', resolve));
  return { def, cgroup };
}

describe('task statistics from the task cgroup (real v1)', () => {
  it('reads usage, limits and disk in the shape of MesosTaskStatisticsObject', async () => {
    const { def } = await runningTask('stats-task-1');
    const stats = await reader().statistics(def.taskId);
    expectMatchesSchema(stats, 'MesosTaskStatisticsObject');
    expect(stats.memLimitBytes).toBe(64 * MIB);
    expect(stats.memRssBytes).toBeGreaterThanOrEqual(16 * MIB);
    expect(stats.memTotalBytes).toBeGreaterThanOrEqual(stats.memRssBytes as number);
    expect((stats.cpusUserTimeSecs as number) + (stats.cpusSystemTimeSecs as number)).toBeGreaterThan(0);
    expect(stats.cpusLimit).toBe(1);
    expect(stats.diskLimitBytes).toBe(100 * MIB);
    expect(stats.diskUsedBytes).toBeGreaterThanOrEqual(64 * 1024);
    expect(Math.abs(stats.timestamp - Date.now() / 1000)).toBeLessThan(60);
  });

  it('is a 404 for an unknown task, and a 404 with a reason for a task without a cgroup or whose cgroup is gone', async () => {
    await expect(reader().statistics('nobody')).rejects.toMatchObject({ status: 404, message: 'Task nobody is not known to this agent' });
    definition('no-cgroup');
    await expect(reader().statistics('no-cgroup')).rejects.toMatchObject({ status: 404, message: expect.stringMatching(/^Task no-cgroup has no cgroup on this agent/) });
    const { def, cgroup } = await runningTask('stats-task-gone');
    await cgroup.killAll();
    await cgroup.remove();
    await expect(reader().statistics(def.taskId)).rejects.toMatchObject({ status: 404, message: expect.stringMatching(/has no cgroup any more/) });
  });

  it('serves GET /agent/tasks/{taskId}/statistics: 200 with the object, 404 with a message', async () => {
    const { def } = await runningTask('stats-task-http');
    const agent = {} as AgentOperations;
    const app = createAgentHttpServer(agent, pino({ level: 'silent' }), undefined, reader());
    try {
      const ok = await app.inject({ method: 'GET', url: AGENT_HTTP.statistics(def.taskId) });
      expect(ok.statusCode).toBe(200);
      const body = ok.json() as { memLimitBytes: number; memRssBytes: number };
      expectMatchesSchema(body, 'MesosTaskStatisticsObject');
      expect(body.memLimitBytes).toBe(64 * MIB);
      expect(body.memRssBytes).toBeGreaterThan(0);
      const missing = await app.inject({ method: 'GET', url: AGENT_HTTP.statistics('nobody') });
      expect(missing.statusCode).toBe(404);
      expect(missing.json()).toEqual({ message: 'Task nobody is not known to this agent' });
    } finally {
      await app.close();
    }
  });
});

describe('task statistics from a v2 task cgroup (FAKE)', () => {
  it('maps memory.current, memory.stat, memory.max and cpu.stat', async () => {
    const def = definition('v2-task', { memoryMb: 32, cpus: 1.5 });
    const fakeDir = join(dir, 'FAKE-v2', PARENT, 'v2-task');
    mkdirSync(fakeDir, { recursive: true });
    const files: Record<string, string> = {
      'cgroup.procs': '123\n',
      'memory.current': '9437184\n',
      'memory.max': `${32 * MIB}\n`,
      'memory.stat': 'anon 8388608\nfile 1048576\nfile_mapped 4096\n',
      'cpu.stat': 'usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\nnr_periods 4\nnr_throttled 1\nthrottled_usec 250000\n',
      'pids.current': '2\n',
    };
    for (const [name, content] of Object.entries(files)) writeFileSync(join(fakeDir, name), content);
    const record: CgroupRecord = { version: 'v2', name: 'v2-task', parent: PARENT, dir: fakeDir, limits: cgroupLimits({ memoryMb: 32, cpus: 1.5 }), createdAt: 1 };
    writeFileSync(join(def.controlDirectory, CGROUP_RECORD_FILE), JSON.stringify(record));
    const stats = await new TaskStatisticsReader((taskId) => definitions.get(taskId), hostCgroupFs).statistics('v2-task');
    expectMatchesSchema(stats, 'MesosTaskStatisticsObject');
    expect(stats).toMatchObject({
      cpusLimit: 2,
      cpusUserTimeSecs: 2,
      cpusSystemTimeSecs: 0.5,
      cpusNrPeriods: 4,
      cpusNrThrottled: 1,
      cpusThrottledTimeSecs: 0.25,
      memTotalBytes: 9437184,
      memRssBytes: 8388608,
      memAnonBytes: 8388608,
      memFileBytes: 1048576,
      memMappedFileBytes: 4096,
      memLimitBytes: 32 * MIB,
      diskLimitBytes: 100 * MIB,
    });
  });

  it('takes cpuHardLimit as the cpu limit and the configured memory limit when the cgroup has none', () => {
    const def = definition('pure', { cpus: 0.25 });
    const record: CgroupRecord = { version: 'v2', name: 'pure', parent: 'p', dir: '/x', limits: cgroupLimits({ memoryMb: 16, cpus: 0.25, cpuHardLimit: 3 }), createdAt: 1 };
    expect(taskStatisticsFrom({ timestamp: 1500 }, record, def)).toEqual({ timestamp: 1.5, cpusLimit: 3, memLimitBytes: 16 * MIB, diskLimitBytes: 100 * MIB });
  });

  it('measures a sandbox like du, and gives up on one too big to walk', async () => {
    const sandbox = join(dir, 'du');
    mkdirSync(join(sandbox, 'a'), { recursive: true });
    writeFileSync(join(sandbox, 'a', 'f'), 'x'.repeat(10000));
    expect(await diskUsage(sandbox)).toBeGreaterThanOrEqual(10000);
    await expect(diskUsage(sandbox, 2)).resolves.toBeUndefined();
    await expect(diskUsage(join(dir, 'missing'))).resolves.toBe(0);
  });
});

describe('the cgroup probe at agent start', () => {
  function capture() {
    const lines: Array<{ level: number; msg: string }> = [];
    const stream = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(JSON.parse(chunk.toString()) as { level: number; msg: string });
        done();
      },
    });
    return { logger: pino({ level: 'debug' }, stream), lines };
  }

  const configFile = (executor: Record<string, unknown>) => {
    const file = join(dir, 'executor.yaml');
    writeFileSync(file, `executor:\n${Object.entries(executor).map(([k, v]) => `  ${k}: ${JSON.stringify(v)}`).join('\n')}\n`);
    return file;
  };

  it('warns once, saying tasks run without cgroups, when the root is not usable', async () => {
    const { logger, lines } = capture();
    await expect(reportTaskCgroups(configFile({ cgroupRoot: join(dir, 'nope'), cgroupParent: PARENT }), logger)).resolves.toMatchObject({ ok: false });
    await new Promise((r) => setImmediate(r));
    const warnings = lines.filter((l) => l.level === 40);
    expect(warnings).toHaveLength(1);
    expect(warnings[0].msg).toMatch(/^cgroups are not writable \(.*does not exist\): tasks run without them/);
  });

  it('warns that tasks will fail when cgroups are required; says nothing alarming when they work or are off', async () => {
    const required = capture();
    await reportTaskCgroups(configFile({ cgroups: 'required', cgroupRoot: join(dir, 'nope') }), required.logger);
    await new Promise((r) => setImmediate(r));
    expect(required.lines.filter((l) => l.level === 40).map((l) => l.msg)).toEqual([expect.stringMatching(/every task will fail \(executor.cgroups: required\)$/)]);

    const working = capture();
    await expect(reportTaskCgroups(configFile({ cgroupRoot: CGROUP_ROOT, cgroupParent: PARENT }), working.logger)).resolves.toMatchObject({ ok: true });
    const off = capture();
    await expect(reportTaskCgroups(configFile({ cgroups: 'off' }), off.logger)).resolves.toBeUndefined();
    await new Promise((r) => setImmediate(r));
    expect([...working.lines, ...off.lines].filter((l) => l.level >= 40)).toEqual([]);
  });
});
