import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, rmdirSync, statSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import {
  cgroupLimits,
  cgroupParentSegments,
  detectCgroupHierarchy,
  hostCgroupFs,
  parseCgroupRecord,
  parseKeyedValues,
  parseLimitValue,
  probeCgroups,
  sharesToWeight,
  sweepStaleCgroups,
  TaskCgroup,
  type CgroupFs,
  type CgroupHierarchy,
} from './cgroups';
import { isProcessAlive } from './procfs';

/**
 * The pure parts, and every v2 code path against FAKE: a plain directory
 * tree that imitates cgroupfs v2 (this machine's v2 hierarchy has no
 * controllers, so v2 cannot run for real here; v1 runs for real in
 * cgroups.int.spec.ts). FAKE behaves like the kernel where the code depends
 * on it: mkdir fills a new cgroup with its interface files, rmdir refuses a
 * cgroup with processes (EBUSY), `cgroup.kill` SIGKILLs the listed pids,
 * `cgroup.subtree_control` takes `+controller` writes.
 */

const V2_FILES: Record<string, string> = {
  'cgroup.procs': '',
  'cgroup.controllers': 'cpu memory pids',
  'cgroup.subtree_control': '',
  'cgroup.kill': '',
  'memory.max': 'max\n',
  'memory.swap.max': 'max\n',
  'memory.current': '0\n',
  'memory.stat': 'anon 0\nfile 0\nfile_mapped 0\n',
  'memory.events': 'low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n',
  'cpu.weight': '100\n',
  'cpu.max': 'max 100000\n',
  'cpu.stat': 'usage_usec 0\nuser_usec 0\nsystem_usec 0\nnr_periods 0\nnr_throttled 0\nthrottled_usec 0\n',
  'pids.current': '0\n',
};

function errno(code: string, path: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: ${path}`), { code });
}

/** A FAKE v2 hierarchy in a temp dir: `<root>/cgroup.controllers` lists memory, so it is "pure v2". */
class FakeV2 implements CgroupFs {
  readonly root = mkdtempSync(join(tmpdir(), 'FAKE-cgroup-v2-'));
  /** Every write, in order: [path relative to root, data]. */
  readonly writes: Array<[string, string]> = [];

  constructor() {
    this.fill(this.root);
  }

  private fill(dir: string): void {
    for (const [name, content] of Object.entries(V2_FILES)) writeFileSync(join(dir, name), content);
  }

  private rel(path: string): string {
    return path.slice(this.root.length + 1);
  }

  async mkdir(path: string): Promise<void> {
    if (existsSync(path)) throw errno('EEXIST', path);
    if (!existsSync(dirname(path))) throw errno('ENOENT', path);
    mkdirSync(path);
    this.fill(path);
  }

  async rmdir(path: string): Promise<void> {
    if (!existsSync(path)) throw errno('ENOENT', path);
    if (readFileSync(join(path, 'cgroup.procs'), 'utf8').trim()) throw errno('EBUSY', path);
    if (readdirSync(path, { withFileTypes: true }).some((e) => e.isDirectory())) throw errno('EBUSY', path);
    for (const name of readdirSync(path)) unlinkSync(join(path, name));
    rmdirSync(path);
  }

  async readFile(path: string): Promise<string> {
    return readFileSync(path, 'utf8');
  }

  async writeFile(path: string, data: string): Promise<void> {
    if (!existsSync(path)) throw errno('ENOENT', path);
    this.writes.push([this.rel(path), data]);
    const name = path.split('/').pop();
    if (name === 'cgroup.subtree_control') {
      const enabled = new Set(readFileSync(path, 'utf8').split(/\s+/).filter(Boolean));
      enabled.add(data.replace(/^\+/, ''));
      writeFileSync(path, [...enabled].join(' '));
    } else if (name === 'cgroup.kill') {
      const procs = join(dirname(path), 'cgroup.procs');
      for (const pid of readFileSync(procs, 'utf8').split('\n').filter(Boolean)) process.kill(Number(pid), 'SIGKILL');
      writeFileSync(procs, '');
    } else {
      writeFileSync(path, data);
    }
  }

  exists = hostCgroupFs.exists;
  listDirs = hostCgroupFs.listDirs;
  realpath = hostCgroupFs.realpath;
  modifiedAt = hostCgroupFs.modifiedAt;

  /** Sets a file of the FAKE tree, as the kernel would update it. */
  set(rel: string, content: string): void {
    writeFileSync(join(this.root, rel), content);
  }

  cleanup(): void {
    rmSync(this.root, { recursive: true, force: true });
  }
}

describe('cgroup readings (pure)', () => {
  it('parses key-value files and skips what is not a number', () => {
    expect(parseKeyedValues('oom_kill_disable 0\nunder_oom 0\noom_kill 3\n')).toEqual({ oom_kill_disable: 0, under_oom: 0, oom_kill: 3 });
    expect(parseKeyedValues('anon 4096\nfile 8192\nweird x\n\n')).toEqual({ anon: 4096, file: 8192 });
  });

  it('reads limits: bytes, v2 "max" and the v1 page-counter maximum mean no limit', () => {
    expect(parseLimitValue('33554432\n')).toBe(33554432);
    expect(parseLimitValue('max\n')).toBeUndefined();
    expect(parseLimitValue('9223372036854771712\n')).toBeUndefined();
  });

  it('turns resources into cgroup values', () => {
    expect(cgroupLimits({ memoryMb: 32, cpus: 0.5 })).toEqual({ memoryLimitBytes: 32 * 1024 * 1024, cpus: 0.5, cpuShares: 512, cpuWeight: sharesToWeight(512) });
    expect(cgroupLimits({ memoryMb: 0, cpus: 0 })).toEqual({});
    expect(cgroupLimits({ cpuHardLimit: 2, cfsPeriodUs: 50000 })).toEqual({ cpuHardLimit: 2, cfsPeriodUs: 50000, cfsQuotaUs: 100000 });
    expect(cgroupLimits({ cpuHardLimit: 0.001 })).toMatchObject({ cfsPeriodUs: 100000, cfsQuotaUs: 1000 });
    expect(cgroupLimits({ cpus: 0.001 }).cpuShares).toBe(2);
  });

  it('maps cpu shares to v2 weights like runc (2→1, 1024→39, 262144→10000)', () => {
    expect(sharesToWeight(2)).toBe(1);
    expect(sharesToWeight(1024)).toBe(39);
    expect(sharesToWeight(262144)).toBe(10000);
  });

  it('refuses cgroup parents and names that would leave the hierarchy', async () => {
    expect(cgroupParentSegments('/a/b/')).toEqual(['a', 'b']);
    expect(() => cgroupParentSegments('a/../b')).toThrow(/not usable/);
    await expect(TaskCgroup.create({ version: 'v2', root: '/x', mount: '/x', controllers: [] }, { parent: 'p', name: '..', limits: {} })).rejects.toThrow(/not usable/);
  });

  it('parses a cgroups.json record and refuses anything else', () => {
    const record = { version: 'v2', name: 't', parent: 'p', dir: '/x/p/t', limits: {}, createdAt: 1 };
    expect(parseCgroupRecord(JSON.stringify(record))).toEqual(record);
    expect(() => parseCgroupRecord('{"version":"v1","name":"t","limits":{},"dirs":{}}')).toThrow(/not a task cgroup record/);
  });
});

describe('detecting the hierarchy (FAKE trees)', () => {
  let root: string;
  beforeEach(() => (root = mkdtempSync(join(tmpdir(), 'FAKE-cgroup-root-'))));
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  const touch = (rel: string, content = '') => {
    mkdirSync(dirname(join(root, rel)), { recursive: true });
    writeFileSync(join(root, rel), content);
  };

  it('pure v2: cgroup.controllers at the root with memory', async () => {
    touch('cgroup.controllers', 'cpuset cpu io memory pids');
    await expect(detectCgroupHierarchy(root)).resolves.toEqual({ ok: true, hierarchy: { version: 'v2', root, mount: root, controllers: ['cpuset', 'cpu', 'io', 'memory', 'pids'] } });
  });

  it('hybrid (like this machine): v1 controllers win over a v2 unified/ without controllers', async () => {
    for (const c of ['memory', 'cpu', 'cpuacct']) touch(`${c}/cgroup.procs`);
    touch('unified/cgroup.controllers', '');
    const detected = await detectCgroupHierarchy(root);
    expect(detected).toEqual({ ok: true, hierarchy: { version: 'v1', root, mounts: { memory: join(root, 'memory'), cpu: join(root, 'cpu'), cpuacct: join(root, 'cpuacct') } } });
  });

  it('v1 with cpu and cpuacct mounted together (symlinks to cpu,cpuacct): one directory for both', async () => {
    touch('memory/cgroup.procs');
    touch('cpu,cpuacct/cgroup.procs');
    symlinkSync('cpu,cpuacct', join(root, 'cpu'));
    symlinkSync('cpu,cpuacct', join(root, 'cpuacct'));
    const detected = await detectCgroupHierarchy(root);
    if (!detected.ok) throw new Error(detected.reason);
    const cgroup = await TaskCgroup.create(detected.hierarchy, { parent: 'p', name: 't', limits: cgroupLimits({ memoryMb: 1, cpus: 1 }) });
    expect(cgroup.directories()).toEqual([join(root, 'memory', 'p', 't'), join(root, 'cpu,cpuacct', 'p', 't')]);
    expect(cgroup.procsFiles()).toHaveLength(2);
    expect(readFileSync(join(root, 'cpu,cpuacct', 'p', 't', 'cpu.shares'), 'utf8')).toBe('1024');
    expect(readFileSync(join(root, 'memory', 'p', 't', 'memory.limit_in_bytes'), 'utf8')).toBe(String(1024 * 1024));
  });

  it('hybrid with the controllers in unified/ and none in v1 uses unified/', async () => {
    touch('unified/cgroup.controllers', 'memory pids');
    await expect(detectCgroupHierarchy(root)).resolves.toMatchObject({ ok: true, hierarchy: { version: 'v2', mount: join(root, 'unified') } });
  });

  it('nothing usable: a plain directory, or one that does not exist', async () => {
    await expect(detectCgroupHierarchy(root)).resolves.toEqual({ ok: false, reason: `no cgroup hierarchy with the memory controller under ${root}` });
    await expect(detectCgroupHierarchy(join(root, 'nope'))).resolves.toEqual({ ok: false, reason: `${join(root, 'nope')} does not exist` });
    touch('cgroup.controllers', 'cpu pids');
    await expect(detectCgroupHierarchy(root)).resolves.toMatchObject({ ok: false });
  });
});

describe('a v2 task cgroup (FAKE)', () => {
  let fake: FakeV2;
  let hierarchy: CgroupHierarchy;
  const children: ChildProcess[] = [];
  beforeEach(async () => {
    fake = new FakeV2();
    const detected = await detectCgroupHierarchy(fake.root, fake);
    if (!detected.ok) throw new Error(detected.reason);
    hierarchy = detected.hierarchy;
  });
  afterEach(() => {
    for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    fake.cleanup();
  });

  it('probes writability by creating the parent and a probe cgroup in it', async () => {
    await expect(probeCgroups(fake.root, 'singularity', fake)).resolves.toMatchObject({ ok: true, hierarchy: { version: 'v2' } });
    expect(readdirSync(join(fake.root, 'singularity')).filter((n) => statSync(join(fake.root, 'singularity', n)).isDirectory())).toEqual([]);
  });

  it('creates <parent>/<name> with the controllers enabled on the way and writes memory.max, memory.swap.max, cpu.weight, cpu.max', async () => {
    const limits = cgroupLimits({ memoryMb: 32, cpus: 2, cpuHardLimit: 1.5, cfsPeriodUs: 100000 });
    const cgroup = await TaskCgroup.create(hierarchy, { parent: 'singularity/tasks', name: 'task-1', limits }, fake);
    const dir = join(fake.root, 'singularity', 'tasks', 'task-1');
    expect(cgroup.record).toMatchObject({ version: 'v2', dir, name: 'task-1', parent: 'singularity/tasks', limits });
    expect(cgroup.procsFiles()).toEqual([join(dir, 'cgroup.procs')]);
    expect(fake.writes).toEqual([
      ['cgroup.subtree_control', '+memory'],
      ['cgroup.subtree_control', '+cpu'],
      ['cgroup.subtree_control', '+pids'],
      ['singularity/cgroup.subtree_control', '+memory'],
      ['singularity/cgroup.subtree_control', '+cpu'],
      ['singularity/cgroup.subtree_control', '+pids'],
      ['singularity/tasks/cgroup.subtree_control', '+memory'],
      ['singularity/tasks/cgroup.subtree_control', '+cpu'],
      ['singularity/tasks/cgroup.subtree_control', '+pids'],
      ['singularity/tasks/task-1/memory.max', String(32 * 1024 * 1024)],
      ['singularity/tasks/task-1/memory.swap.max', '0'],
      ['singularity/tasks/task-1/cpu.weight', String(sharesToWeight(2048))],
      ['singularity/tasks/task-1/cpu.max', '150000 100000'],
    ]);
  });

  it('writes no swap limit where memory.swap.max is missing (no swap accounting)', async () => {
    unlinkSync(join(fake.root, 'memory.swap.max'));
    const original = fake.mkdir.bind(fake);
    fake.mkdir = async (path) => {
      await original(path);
      unlinkSync(join(path, 'memory.swap.max'));
    };
    await TaskCgroup.create(hierarchy, { parent: 'p', name: 't', limits: cgroupLimits({ memoryMb: 8 }) }, fake);
    expect(fake.writes.filter(([file]) => file.startsWith('p/t/'))).toEqual([['p/t/memory.max', String(8 * 1024 * 1024)]]);
  });

  it('reads the OOM kills from memory.events and the usage from memory.*, cpu.stat and pids.current', async () => {
    const cgroup = await TaskCgroup.create(hierarchy, { parent: 'p', name: 't', limits: cgroupLimits({ memoryMb: 32 }) }, fake);
    await expect(cgroup.oom()).resolves.toEqual({ oomKills: 0, limitHits: 0 });
    fake.set('p/t/memory.events', 'low 0\nhigh 0\nmax 7\noom 1\noom_kill 1\n');
    await expect(cgroup.oom()).resolves.toEqual({ oomKills: 1, limitHits: 7 });

    fake.set('p/t/memory.current', '5242880\n');
    fake.set('p/t/memory.stat', 'anon 4194304\nfile 1048576\nkernel 0\nfile_mapped 65536\n');
    fake.set('p/t/cpu.stat', 'usage_usec 3500000\nuser_usec 2500000\nsystem_usec 1000000\nnr_periods 10\nnr_throttled 2\nthrottled_usec 40000\n');
    fake.set('p/t/pids.current', '3\n');
    fake.set('p/t/cgroup.threads', '10\n11\n12\n');
    await expect(cgroup.threadCount()).resolves.toBe(3);
    await expect(cgroup.usage(1234)).resolves.toEqual({
      timestamp: 1234,
      memoryUsageBytes: 5242880,
      memoryLimitBytes: 32 * 1024 * 1024,
      memoryRssBytes: 4194304,
      memoryAnonBytes: 4194304,
      memoryFileBytes: 1048576,
      memoryMappedFileBytes: 65536,
      cpuUsageNanos: 3.5e9,
      cpuUserNanos: 2.5e9,
      cpuSystemNanos: 1e9,
      cpuPeriods: 10,
      cpuThrottledPeriods: 2,
      cpuThrottledNanos: 4e7,
      pids: 3,
    });
    // A counter read a moment before memory.stat may trail its parts: the total is never below them.
    fake.set('p/t/memory.current', '4000000\n');
    await expect(cgroup.usage(1235)).resolves.toMatchObject({ memoryUsageBytes: 4194304 + 1048576, memoryRssBytes: 4194304 });
  });

  it('kills through cgroup.kill, and is removed only once empty (retrying while busy)', async () => {
    const cgroup = await TaskCgroup.create(hierarchy, { parent: 'p', name: 't', limits: {} }, fake);
    const sleeper = spawn('sleep', ['600'], { stdio: 'ignore' });
    children.push(sleeper);
    await new Promise((resolve) => sleeper.once('spawn', resolve));
    const pid = sleeper.pid as number;
    fake.set('p/t/cgroup.procs', `${pid}\n`);
    await expect(cgroup.pids()).resolves.toEqual([pid]);
    await expect(cgroup.remove(100)).rejects.toMatchObject({ code: 'EBUSY' });

    const exited = new Promise((resolve) => sleeper.once('exit', (_code, signal) => resolve(signal)));
    await expect(cgroup.killAll()).resolves.toEqual({ killed: [pid], survivors: [] });
    expect(fake.writes).toContainEqual(['p/t/cgroup.kill', '1']);
    await expect(exited).resolves.toBe('SIGKILL');
    expect(isProcessAlive(pid)).toBe(false);

    await cgroup.remove();
    expect(existsSync(join(fake.root, 'p', 't'))).toBe(false);
    await expect(cgroup.exists()).resolves.toBe(false);
    await expect(cgroup.pids()).resolves.toEqual([]);
    await cgroup.remove(); // again: nothing left, no error
  });

  it('removes child cgroups the task made inside its own first', async () => {
    const cgroup = await TaskCgroup.create(hierarchy, { parent: 'p', name: 't', limits: {} }, fake);
    await fake.mkdir(join(fake.root, 'p', 't', 'inner'));
    await cgroup.remove();
    expect(existsSync(join(fake.root, 'p', 't'))).toBe(false);
  });

  it('sweeps only empty cgroups older than the given age', async () => {
    await TaskCgroup.create(hierarchy, { parent: 'p', name: 'empty', limits: {} }, fake);
    await TaskCgroup.create(hierarchy, { parent: 'p', name: 'busy', limits: {} }, fake);
    await TaskCgroup.create(hierarchy, { parent: 'p', name: 'nested', limits: {} }, fake);
    await fake.mkdir(join(fake.root, 'p', 'nested', 'inner'));
    fake.set('p/busy/cgroup.procs', '1\n');
    await expect(sweepStaleCgroups(hierarchy, 'p', { olderThanMillis: 60_000, fs: fake })).resolves.toEqual([]);
    await expect(sweepStaleCgroups(hierarchy, 'p', { olderThanMillis: 60_000, now: Date.now() + 120_000, fs: fake })).resolves.toEqual(['empty']);
    expect(readdirSync(join(fake.root, 'p'), { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name).sort()).toEqual(['busy', 'nested']);
    await expect(sweepStaleCgroups(hierarchy, 'missing', { olderThanMillis: 0, fs: fake })).resolves.toEqual([]);
  });

  it('removes what it created when writing a limit fails', async () => {
    const original = fake.writeFile.bind(fake);
    fake.writeFile = async (path, data) => {
      if (path.endsWith('memory.max')) throw errno('EINVAL', path);
      return original(path, data);
    };
    await expect(TaskCgroup.create(hierarchy, { parent: 'p', name: 't', limits: cgroupLimits({ memoryMb: 1 }) }, fake)).rejects.toMatchObject({ code: 'EINVAL' });
    expect(existsSync(join(fake.root, 'p', 't'))).toBe(false);
  });
});
