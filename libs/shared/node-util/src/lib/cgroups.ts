import { constants as fsConstants } from 'node:fs';
import { access, mkdir, readdir, readFile, realpath, rmdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Task cgroups (issue 4 "Isolation"; spec slave §1.6 cfs quota, §6 OOM): one
 * cgroup per task, `<parent>/<name>`, with the task's memory limit and cpu
 * share, the list and the killing of every process in it (also those that
 * left the task's process group), the kernel's OOM kills and usage readings.
 * The executor creates it; the agent reads its usage back through the
 * {@link CgroupRecord} the executor leaves in the task's control directory.
 *
 * Both hierarchies are handled:
 * - **v1**: one mount per controller (`<root>/memory`, `<root>/cpu`,
 *   `<root>/cpuacct`, `<root>/pids`); the task gets a directory in each that is
 *   mounted (memory is required), and the runner is written into each.
 * - **v2** (unified): one directory, `<mount>/<parent>/<name>`, with the
 *   controllers enabled in the parents' `cgroup.subtree_control`.
 *
 * Which one: a pure v2 machine has `cgroup.controllers` at the root listing
 * `memory`. A hybrid machine (v1 controllers plus a v2 hierarchy at
 * `<root>/unified`, usually with no controllers) uses v1; a v2 hierarchy at
 * `unified/` is used only when it has the memory controller and v1 has none.
 *
 * All file access goes through {@link CgroupFs}, so the v2 code paths can be
 * tested against a directory tree that imitates cgroupfs on machines that
 * have only v1.
 */

// ---------------------------------------------------------------------------
// The file-system port
// ---------------------------------------------------------------------------

/** The file operations cgroup handling needs; {@link hostCgroupFs} is the real one. */
export interface CgroupFs {
  /** Creates one directory (not its parents); rejects with EEXIST when it exists. */
  mkdir(path: string): Promise<void>;
  /** Removes an empty directory; cgroupfs rejects with EBUSY while processes are in it. */
  rmdir(path: string): Promise<void>;
  readFile(path: string): Promise<string>;
  /** One write() of `data` (cgroupfs takes one value per write). */
  writeFile(path: string, data: string): Promise<void>;
  exists(path: string): Promise<boolean>;
  /** Names of the sub-directories (child cgroups) of `path`. */
  listDirs(path: string): Promise<string[]>;
  realpath(path: string): Promise<string>;
  /** Last modification of `path` in epoch millis (a leaf cgroup's directory: when it was made). */
  modifiedAt(path: string): Promise<number>;
}

export const hostCgroupFs: CgroupFs = {
  mkdir: async (path) => {
    await mkdir(path);
  },
  rmdir: (path) => rmdir(path),
  readFile: (path) => readFile(path, 'utf8'),
  writeFile: (path, data) => writeFile(path, data),
  exists: async (path) => {
    try {
      await access(path, fsConstants.F_OK);
      return true;
    } catch {
      return false;
    }
  },
  listDirs: async (path) => (await readdir(path, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name),
  realpath: (path) => realpath(path),
  modifiedAt: async (path) => (await stat(path)).mtimeMs,
};

// ---------------------------------------------------------------------------
// Hierarchies
// ---------------------------------------------------------------------------

export type CgroupVersion = 'v1' | 'v2';

/** The v1 controllers a task cgroup uses; `memory` is required, the others are used when mounted. */
export const V1_CONTROLLERS = ['memory', 'cpu', 'cpuacct', 'pids'] as const;
export type V1Controller = (typeof V1_CONTROLLERS)[number];

/** The v2 controllers enabled for task cgroups (those the hierarchy has). */
export const V2_CONTROLLERS = ['memory', 'cpu', 'pids'] as const;

export type CgroupHierarchy =
  | {
      version: 'v1';
      root: string;
      /** Mount directory of each mounted controller (real paths: `cpu` and `cpuacct` may share one). */
      mounts: { memory: string } & Partial<Record<Exclude<V1Controller, 'memory'>, string>>;
    }
  | {
      version: 'v2';
      root: string;
      /** The v2 mount: the root itself, or `<root>/unified` on hybrid machines. */
      mount: string;
      /** Controllers the hierarchy offers (`cgroup.controllers` of the mount). */
      controllers: string[];
    };

export type CgroupDetection = { ok: true; hierarchy: CgroupHierarchy } | { ok: false; reason: string };

async function v2Controllers(fs: CgroupFs, mount: string): Promise<string[] | undefined> {
  const file = join(mount, 'cgroup.controllers');
  if (!(await fs.exists(file))) return undefined;
  return (await fs.readFile(file)).split(/\s+/).filter(Boolean);
}

/** Finds the hierarchy under `root` (default layout: `/sys/fs/cgroup`) that task cgroups can use. */
export async function detectCgroupHierarchy(root: string, fs: CgroupFs = hostCgroupFs): Promise<CgroupDetection> {
  try {
    if (!(await fs.exists(root))) return { ok: false, reason: `${root} does not exist` };
    const pure = await v2Controllers(fs, root);
    if (pure?.includes('memory')) return { ok: true, hierarchy: { version: 'v2', root, mount: root, controllers: pure } };

    if (await fs.exists(join(root, 'memory', 'cgroup.procs'))) {
      const mounts: Partial<Record<V1Controller, string>> = {};
      for (const controller of V1_CONTROLLERS) {
        const dir = join(root, controller);
        if (await fs.exists(join(dir, 'cgroup.procs'))) mounts[controller] = await fs.realpath(dir);
      }
      return { ok: true, hierarchy: { version: 'v1', root, mounts: mounts as { memory: string } } };
    }

    const unified = join(root, 'unified');
    const hybrid = await v2Controllers(fs, unified);
    if (hybrid?.includes('memory')) return { ok: true, hierarchy: { version: 'v2', root, mount: unified, controllers: hybrid } };
    return { ok: false, reason: `no cgroup hierarchy with the memory controller under ${root}` };
  } catch (err) {
    return { ok: false, reason: `cannot read ${root}: ${(err as Error).message}` };
  }
}

/** `a/b` → ['a', 'b']; refuses `..`, empty and absolute forms so that nothing leaves the hierarchy. */
export function cgroupParentSegments(parent: string): string[] {
  const segments = parent.split('/').filter((s) => s !== '');
  for (const s of segments) assertCgroupName(s, 'cgroup parent');
  return segments;
}

/** A single cgroup directory name: no `/`, not `.` or `..`, no control characters. */
export function assertCgroupName(name: string, what = 'cgroup name'): void {
  // eslint-disable-next-line no-control-regex
  if (!name || name === '.' || name === '..' || name.includes('/') || /[\x00-\x1f]/.test(name) || name.length > 255) {
    throw new RangeError(`${what} '${name}' is not usable as a cgroup directory name`);
  }
}

async function mkdirIfMissing(fs: CgroupFs, path: string): Promise<boolean> {
  try {
    await fs.mkdir(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
}

/** The parent's directory in every controller; created when missing (v2: with the controllers enabled down to it). */
export async function prepareCgroupParent(hierarchy: CgroupHierarchy, parent: string, fs: CgroupFs = hostCgroupFs): Promise<string[]> {
  const segments = cgroupParentSegments(parent);
  if (hierarchy.version === 'v1') {
    const dirs: string[] = [];
    for (const mount of distinct(Object.values(hierarchy.mounts))) {
      let dir = mount;
      for (const segment of segments) {
        dir = join(dir, segment);
        await mkdirIfMissing(fs, dir);
      }
      dirs.push(dir);
    }
    return dirs;
  }
  let dir = hierarchy.mount;
  await enableControllers(fs, dir, hierarchy.controllers);
  for (const segment of segments) {
    dir = join(dir, segment);
    await mkdirIfMissing(fs, dir);
    await enableControllers(fs, dir, hierarchy.controllers);
  }
  return [dir];
}

/** v2: children of `dir` get the task controllers (`+memory +cpu +pids`, those offered). */
async function enableControllers(fs: CgroupFs, dir: string, offered: readonly string[]): Promise<void> {
  const file = join(dir, 'cgroup.subtree_control');
  const enabled = (await fs.readFile(file)).split(/\s+/).filter(Boolean);
  for (const controller of V2_CONTROLLERS) {
    if (offered.includes(controller) && !enabled.includes(controller)) await fs.writeFile(file, `+${controller}`);
  }
}

export type CgroupProbe = { ok: true; hierarchy: CgroupHierarchy } | { ok: false; reason: string };

/**
 * Whether task cgroups can be made under `root`/`parent`: detects the
 * hierarchy, creates the parent where missing, then creates and removes one
 * probe cgroup in it. The reason says what failed (no hierarchy, read-only…).
 */
export async function probeCgroups(root: string, parent: string, fs: CgroupFs = hostCgroupFs): Promise<CgroupProbe> {
  const detected = await detectCgroupHierarchy(root, fs);
  if (!detected.ok) return detected;
  const hierarchy = detected.hierarchy;
  try {
    const parents = await prepareCgroupParent(hierarchy, parent, fs);
    const name = `probe-${process.pid}-${Math.random().toString(36).slice(2, 10)}`;
    for (const dir of parents) {
      await fs.mkdir(join(dir, name));
      await fs.rmdir(join(dir, name));
    }
    return { ok: true, hierarchy };
  } catch (err) {
    return { ok: false, reason: `cannot create cgroups under ${describeHierarchy(hierarchy)}/${parent}: ${(err as Error).message}` };
  }
}

export function describeHierarchy(hierarchy: CgroupHierarchy): string {
  return hierarchy.version === 'v1' ? `${hierarchy.root}/{${Object.keys(hierarchy.mounts).join(',')}} (v1)` : `${hierarchy.mount} (v2)`;
}

/**
 * Removes task cgroups under `parent` that are empty (no process, no child
 * cgroup) and older than `olderThanMillis`: left by an executor that died
 * before it could remove its task's cgroup. A live task's cgroup is never
 * empty for long (its runner joins it right after it is made, and it goes
 * right after the runner's end), so the age keeps this away from cgroups
 * in use. Returns the names removed; never throws.
 */
export async function sweepStaleCgroups(
  hierarchy: CgroupHierarchy,
  parent: string,
  options: { olderThanMillis: number; now?: number; fs?: CgroupFs },
): Promise<string[]> {
  const fs = options.fs ?? hostCgroupFs;
  const now = options.now ?? Date.now();
  const parents =
    hierarchy.version === 'v1'
      ? distinct(Object.values(hierarchy.mounts)).map((mount) => join(mount, ...cgroupParentSegments(parent)))
      : [join(hierarchy.mount, ...cgroupParentSegments(parent))];
  const removed = new Set<string>();
  for (const dir of parents) {
    let names: string[];
    try {
      names = await fs.listDirs(dir);
    } catch {
      continue;
    }
    for (const name of names) {
      const child = join(dir, name);
      try {
        if (now - (await fs.modifiedAt(child)) < options.olderThanMillis) continue;
        if ((await fs.listDirs(child)).length > 0) continue;
        if (((await readOptional(fs, join(child, 'cgroup.procs'))) ?? '').trim() !== '') continue;
        await fs.rmdir(child);
        removed.add(name);
      } catch {
        // busy again, or gone meanwhile: leave it
      }
    }
  }
  return [...removed];
}

// ---------------------------------------------------------------------------
// Limits and the record of a task cgroup
// ---------------------------------------------------------------------------

export const MIB = 1024 * 1024;

/** What a task asks for (spec slave §1.1 resources, §1.2 `cpuHardLimit`). */
export interface CgroupLimitRequest {
  /** Memory limit in MiB (`resources.memoryMb`); none when 0 or absent. */
  memoryMb?: number;
  /** CPU share (`resources.cpus`): v1 `cpu.shares` = cpus × 1024, v2 the matching `cpu.weight`. */
  cpus?: number;
  /** Hard cap in CPUs (`executorData.cpuHardLimit`): cfs quota = cpuHardLimit × period. */
  cpuHardLimit?: number;
  /** `defaultCfsPeriod` (µs), 100000 when absent. */
  cfsPeriodUs?: number;
}

/** The values written to the task's cgroup files. */
export interface CgroupLimits {
  memoryLimitBytes?: number;
  cpus?: number;
  /** v1 `cpu.shares`. */
  cpuShares?: number;
  /** v2 `cpu.weight`. */
  cpuWeight?: number;
  cpuHardLimit?: number;
  cfsPeriodUs?: number;
  cfsQuotaUs?: number;
}

export const DEFAULT_CFS_PERIOD_US = 100000;

/** v1 `cpu.shares` → v2 `cpu.weight`, the mapping runc and systemd use (2..262144 → 1..10000). */
export function sharesToWeight(shares: number): number {
  const clamped = Math.min(262144, Math.max(2, shares));
  return 1 + Math.floor(((clamped - 2) * 9999) / 262142);
}

export function cgroupLimits(request: CgroupLimitRequest): CgroupLimits {
  const limits: CgroupLimits = {};
  if (request.memoryMb !== undefined && request.memoryMb > 0) limits.memoryLimitBytes = Math.round(request.memoryMb * MIB);
  if (request.cpus !== undefined && request.cpus > 0) {
    limits.cpus = request.cpus;
    limits.cpuShares = Math.max(2, Math.round(request.cpus * 1024));
    limits.cpuWeight = sharesToWeight(limits.cpuShares);
  }
  if (request.cpuHardLimit !== undefined && request.cpuHardLimit > 0) {
    const period = request.cfsPeriodUs ?? DEFAULT_CFS_PERIOD_US;
    limits.cpuHardLimit = request.cpuHardLimit;
    limits.cfsPeriodUs = period;
    // The kernel refuses quotas under 1 ms.
    limits.cfsQuotaUs = Math.max(1000, Math.round(request.cpuHardLimit * period));
  }
  return limits;
}

/**
 * Everything needed to find a task cgroup again, from another process (the
 * agent reading usage, a clean-up after a crash): written by the executor as
 * `<controlDirectory>/cgroups.json`.
 */
export type CgroupRecord =
  | {
      version: 'v1';
      name: string;
      parent: string;
      /** The task's directory in each controller used. */
      dirs: { memory: string } & Partial<Record<Exclude<V1Controller, 'memory'>, string>>;
      limits: CgroupLimits;
      createdAt: number;
    }
  | { version: 'v2'; name: string; parent: string; dir: string; limits: CgroupLimits; createdAt: number };

export const CGROUP_RECORD_FILE = 'cgroups.json';

/** Parses a cgroups.json text; throws when it is not a record this code wrote. */
export function parseCgroupRecord(text: string): CgroupRecord {
  const value = JSON.parse(text) as Partial<CgroupRecord> & { dirs?: Record<string, unknown>; dir?: unknown };
  const ok =
    value &&
    typeof value === 'object' &&
    typeof value.name === 'string' &&
    typeof value.limits === 'object' &&
    ((value.version === 'v1' && typeof value.dirs === 'object' && typeof value.dirs?.memory === 'string') || (value.version === 'v2' && typeof value.dir === 'string'));
  if (!ok) throw new Error('not a task cgroup record');
  return value as CgroupRecord;
}

// ---------------------------------------------------------------------------
// Readings
// ---------------------------------------------------------------------------

/** `key value` lines (memory.stat, cpu.stat, memory.oom_control, memory.events, cpuacct.stat) → numbers. */
export function parseKeyedValues(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const [key, value] = line.trim().split(/\s+/);
    if (key && value !== undefined && /^-?\d+$/.test(value)) out[key] = Number(value);
  }
  return out;
}

/** v1 reports "no limit" as a huge page-counter maximum (9223372036854771712); v2 as `max`. */
const UNLIMITED_AT = 2 ** 60;

/** A limit file's value in bytes; undefined for "no limit". */
export function parseLimitValue(text: string): number | undefined {
  const t = text.trim();
  if (t === 'max' || !/^\d+$/.test(t)) return undefined;
  const n = Number(t);
  return n >= UNLIMITED_AT ? undefined : n;
}

/** Usage of a task cgroup; a field is absent when its controller or file is not there. */
export interface CgroupUsage {
  /** Epoch millis of the reading. */
  timestamp: number;
  /** Memory charged to the cgroup, page cache included (v1 `memory.usage_in_bytes`, v2 `memory.current`). */
  memoryUsageBytes?: number;
  /** Resident anonymous memory (v1 `total_rss`, v2 `anon`). */
  memoryRssBytes?: number;
  memoryAnonBytes?: number;
  /** Page cache (v1 `total_cache`, v2 `file`). */
  memoryFileBytes?: number;
  memoryMappedFileBytes?: number;
  memoryLimitBytes?: number;
  cpuUsageNanos?: number;
  cpuUserNanos?: number;
  cpuSystemNanos?: number;
  cpuPeriods?: number;
  cpuThrottledPeriods?: number;
  cpuThrottledNanos?: number;
  /** Tasks (threads included) charged to the pids controller. */
  pids?: number;
}

/** What the kernel's OOM killer did in the cgroup. */
export interface CgroupOomReport {
  /** Processes the OOM killer killed here (v1 `memory.oom_control` oom_kill, v2 `memory.events` oom_kill); absent on kernels without the counter. */
  oomKills?: number;
  /** Times usage hit the limit (v1 `memory.failcnt`, v2 `memory.events` max); a fallback where oom_kill is missing. */
  limitHits?: number;
}

export interface KillAllResult {
  /** Distinct pids that were sent SIGKILL. */
  killed: number[];
  /** Pids still in the cgroup when the time ran out. */
  survivors: number[];
}

/**
 * The `/bin/sh` script of the spawn prefix: writes its own pid into every
 * `cgroup.procs` file given before `--`, then execs the rest of its argv, so
 * the runner is inside the cgroups before it runs anything. Paths and the
 * command arrive as arguments, never as script text.
 */
export const JOIN_CGROUPS_SCRIPT = [
  'while [ "$#" -gt 0 ] && [ "$1" != -- ]; do',
  '  printf \'%s\\n\' "$$" > "$1" || { echo "could not join the task cgroup ($1)" >&2; exit 125; }',
  '  shift',
  'done',
  'shift',
  'exec "$@"',
].join('\n');

/** The exit status of the spawn prefix when it cannot join a cgroup. */
export const JOIN_CGROUPS_FAILED_EXIT_CODE = 125;

const sleep = (millis: number) => new Promise<void>((resolve) => setTimeout(resolve, millis));

function distinct<T>(values: Iterable<T | undefined>): T[] {
  return [...new Set([...values].filter((v): v is T => v !== undefined))];
}

async function readOptional(fs: CgroupFs, path: string): Promise<string | undefined> {
  try {
    return await fs.readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENODEV' || code === 'EOPNOTSUPP') return undefined;
    throw err;
  }
}

async function readNumber(fs: CgroupFs, path: string): Promise<number | undefined> {
  const text = await readOptional(fs, path);
  if (text === undefined) return undefined;
  const n = Number(text.trim());
  return Number.isFinite(n) ? n : undefined;
}

async function readKeyed(fs: CgroupFs, path: string): Promise<Record<string, number> | undefined> {
  const text = await readOptional(fs, path);
  return text === undefined ? undefined : parseKeyedValues(text);
}

// ---------------------------------------------------------------------------
// A task cgroup
// ---------------------------------------------------------------------------

export interface TaskCgroupSpec {
  parent: string;
  /** The task's cgroup directory name (e.g. the safe task id). */
  name: string;
  limits: CgroupLimits;
}

/** One task's cgroup: its directories in the hierarchy and what can be done with them. */
export class TaskCgroup {
  private constructor(
    readonly record: CgroupRecord,
    private readonly fs: CgroupFs,
  ) {}

  /** A task cgroup described by a record (e.g. read from cgroups.json); nothing is checked or created. */
  static open(record: CgroupRecord, fs: CgroupFs = hostCgroupFs): TaskCgroup {
    return new TaskCgroup(record, fs);
  }

  /**
   * Creates `<parent>/<name>` in the hierarchy (in every v1 controller used)
   * and writes the limits. An existing empty directory of the same name is
   * taken over. On any failure whatever was created is removed again.
   */
  static async create(hierarchy: CgroupHierarchy, spec: TaskCgroupSpec, fs: CgroupFs = hostCgroupFs, now = Date.now()): Promise<TaskCgroup> {
    assertCgroupName(spec.name);
    const parentDirs = await prepareCgroupParent(hierarchy, spec.parent, fs);
    let record: CgroupRecord;
    if (hierarchy.version === 'v1') {
      const dirs: Record<string, string> = {};
      const parentOf = (mount: string) => parentDirs.find((p) => p.startsWith(`${mount}/`) || p === mount) as string;
      for (const controller of V1_CONTROLLERS) {
        const mount = hierarchy.mounts[controller];
        if (mount) dirs[controller] = join(parentOf(mount), spec.name);
      }
      record = { version: 'v1', name: spec.name, parent: spec.parent, dirs: dirs as { memory: string }, limits: spec.limits, createdAt: now };
    } else {
      record = { version: 'v2', name: spec.name, parent: spec.parent, dir: join(parentDirs[0], spec.name), limits: spec.limits, createdAt: now };
    }
    const cgroup = new TaskCgroup(record, fs);
    const created: string[] = [];
    try {
      for (const dir of cgroup.directories()) if (await mkdirIfMissing(fs, dir)) created.push(dir);
      await cgroup.writeLimits();
    } catch (err) {
      for (const dir of created.reverse()) await fs.rmdir(dir).catch(() => undefined);
      throw err;
    }
    return cgroup;
  }

  get version(): CgroupVersion {
    return this.record.version;
  }

  /** The task's cgroup directories (one per v1 controller used; one in v2). */
  directories(): string[] {
    return this.record.version === 'v1' ? distinct(Object.values(this.record.dirs)) : [this.record.dir];
  }

  /** The `cgroup.procs` files a process writes its pid into to join the task cgroup. */
  procsFiles(): string[] {
    return this.directories().map((dir) => join(dir, 'cgroup.procs'));
  }

  /**
   * Program and arguments that join the task cgroup and then exec what
   * follows them (`[...joinCommand(), 'bash', 'runner.sh']`).
   */
  joinCommand(): string[] {
    return ['/bin/sh', '-c', JOIN_CGROUPS_SCRIPT, 'join-task-cgroup', ...this.procsFiles(), '--'];
  }

  private get memoryDir(): string {
    return this.record.version === 'v1' ? this.record.dirs.memory : this.record.dir;
  }

  private async writeLimits(): Promise<void> {
    const fs = this.fs;
    const limits = this.record.limits;
    if (this.record.version === 'v1') {
      const { memory, cpu } = this.record.dirs;
      if (limits.memoryLimitBytes !== undefined) {
        // memsw (memory + swap) must stay ≥ the memory limit: memory first. Without it the task could swap instead of being OOM-killed.
        await fs.writeFile(join(memory, 'memory.limit_in_bytes'), String(limits.memoryLimitBytes));
        const memsw = join(memory, 'memory.memsw.limit_in_bytes');
        if (await fs.exists(memsw)) await fs.writeFile(memsw, String(limits.memoryLimitBytes));
      }
      if (cpu) {
        if (limits.cpuShares !== undefined) await fs.writeFile(join(cpu, 'cpu.shares'), String(limits.cpuShares));
        if (limits.cfsQuotaUs !== undefined && limits.cfsPeriodUs !== undefined) {
          await fs.writeFile(join(cpu, 'cpu.cfs_period_us'), String(limits.cfsPeriodUs));
          await fs.writeFile(join(cpu, 'cpu.cfs_quota_us'), String(limits.cfsQuotaUs));
        }
      }
      return;
    }
    const dir = this.record.dir;
    if (limits.memoryLimitBytes !== undefined) {
      await fs.writeFile(join(dir, 'memory.max'), String(limits.memoryLimitBytes));
      const swap = join(dir, 'memory.swap.max');
      if (await fs.exists(swap)) await fs.writeFile(swap, '0');
    }
    if (limits.cpuWeight !== undefined && (await fs.exists(join(dir, 'cpu.weight')))) await fs.writeFile(join(dir, 'cpu.weight'), String(limits.cpuWeight));
    if (limits.cfsQuotaUs !== undefined && limits.cfsPeriodUs !== undefined) await fs.writeFile(join(dir, 'cpu.max'), `${limits.cfsQuotaUs} ${limits.cfsPeriodUs}`);
  }

  /** Whether the task's cgroup directories still exist (all of them). */
  async exists(): Promise<boolean> {
    for (const dir of this.directories()) if (!(await this.fs.exists(dir))) return false;
    return true;
  }

  /** Every pid in the task cgroup and its child cgroups; empty once it is gone. */
  async pids(): Promise<number[]> {
    const pids = new Set<number>();
    const visit = async (dir: string): Promise<void> => {
      const text = await readOptional(this.fs, join(dir, 'cgroup.procs'));
      if (text === undefined) return;
      for (const line of text.split('\n')) if (/^\d+$/.test(line.trim())) pids.add(Number(line.trim()));
      let children: string[] = [];
      try {
        children = await this.fs.listDirs(dir);
      } catch {
        return;
      }
      for (const child of children) await visit(join(dir, child));
    };
    for (const dir of this.directories()) await visit(dir);
    return [...pids].sort((a, b) => a - b);
  }

  /**
   * SIGKILLs every process in the cgroup, again and again until it is empty
   * or `timeoutMillis` ran out (a process may fork while being killed). v2
   * `cgroup.kill` is used where the kernel has it. Never signals this process or init.
   */
  async killAll(timeoutMillis = 5000): Promise<KillAllResult> {
    const killed = new Set<number>();
    const deadline = Date.now() + timeoutMillis;
    if (this.record.version === 'v2') {
      const file = join(this.record.dir, 'cgroup.kill');
      if (await this.fs.exists(file)) {
        const before = await this.pids();
        before.forEach((pid) => killed.add(pid));
        if (before.length > 0) await this.fs.writeFile(file, '1').catch(() => undefined);
      }
    }
    for (;;) {
      const pids = (await this.pids()).filter((pid) => pid > 1 && pid !== process.pid);
      if (pids.length === 0) return { killed: [...killed], survivors: [] };
      if (Date.now() >= deadline) return { killed: [...killed], survivors: pids };
      for (const pid of pids) {
        killed.add(pid);
        try {
          process.kill(pid, 'SIGKILL');
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
        }
      }
      await sleep(20);
    }
  }

  /**
   * Threads in the task cgroup (v1: the `tasks` file of the memory cgroup
   * and its children; v2: `cgroup.threads`); zombies are not counted.
   */
  async threadCount(): Promise<number> {
    const file = this.record.version === 'v1' ? 'tasks' : 'cgroup.threads';
    let count = 0;
    const visit = async (dir: string): Promise<void> => {
      const text = await readOptional(this.fs, join(dir, file));
      if (text === undefined) return;
      count += text.split('\n').filter((line) => /^\d+$/.test(line.trim())).length;
      for (const child of await this.fs.listDirs(dir).catch(() => [] as string[])) await visit(join(dir, child));
    };
    await visit(this.memoryDir);
    return count;
  }

  /** What the kernel's OOM killer did in the task cgroup (its counters start at 0 when the cgroup is made). */
  async oom(): Promise<CgroupOomReport> {
    if (this.record.version === 'v1') {
      const control = await readKeyed(this.fs, join(this.memoryDir, 'memory.oom_control'));
      const failcnt = await readNumber(this.fs, join(this.memoryDir, 'memory.failcnt'));
      const memswFailcnt = await readNumber(this.fs, join(this.memoryDir, 'memory.memsw.failcnt'));
      const hits = Math.max(failcnt ?? 0, memswFailcnt ?? 0);
      return { oomKills: control?.['oom_kill'], limitHits: failcnt === undefined && memswFailcnt === undefined ? undefined : hits };
    }
    const events = await readKeyed(this.fs, join(this.record.dir, 'memory.events'));
    return { oomKills: events?.['oom_kill'], limitHits: events?.['max'] };
  }

  /** Memory, cpu and pids usage of the task cgroup now. */
  async usage(now = Date.now()): Promise<CgroupUsage> {
    const fs = this.fs;
    const usage: CgroupUsage = { timestamp: now };
    if (this.record.version === 'v1') {
      const { memory, cpu, cpuacct, pids } = this.record.dirs;
      usage.memoryUsageBytes = await readNumber(fs, join(memory, 'memory.usage_in_bytes'));
      usage.memoryLimitBytes = parseLimitValue((await readOptional(fs, join(memory, 'memory.limit_in_bytes'))) ?? 'max');
      const stat = await readKeyed(fs, join(memory, 'memory.stat'));
      if (stat) {
        usage.memoryRssBytes = stat['total_rss'] ?? stat['rss'];
        usage.memoryAnonBytes = usage.memoryRssBytes;
        usage.memoryFileBytes = stat['total_cache'] ?? stat['cache'];
        usage.memoryMappedFileBytes = stat['total_mapped_file'] ?? stat['mapped_file'];
      }
      usage.memoryUsageBytes = atLeastItsParts(usage);
      if (cpuacct) {
        usage.cpuUsageNanos = await readNumber(fs, join(cpuacct, 'cpuacct.usage'));
        usage.cpuUserNanos = await readNumber(fs, join(cpuacct, 'cpuacct.usage_user'));
        usage.cpuSystemNanos = await readNumber(fs, join(cpuacct, 'cpuacct.usage_sys'));
        if (usage.cpuUserNanos === undefined || usage.cpuSystemNanos === undefined) {
          // cpuacct.stat counts USER_HZ ticks (100 a second on Linux).
          const ticks = await readKeyed(fs, join(cpuacct, 'cpuacct.stat'));
          if (ticks?.['user'] !== undefined) usage.cpuUserNanos = ticks['user'] * 1e7;
          if (ticks?.['system'] !== undefined) usage.cpuSystemNanos = ticks['system'] * 1e7;
        }
      }
      if (cpu) {
        const stat = await readKeyed(fs, join(cpu, 'cpu.stat'));
        usage.cpuPeriods = stat?.['nr_periods'];
        usage.cpuThrottledPeriods = stat?.['nr_throttled'];
        usage.cpuThrottledNanos = stat?.['throttled_time'];
      }
      if (pids) usage.pids = await readNumber(fs, join(pids, 'pids.current'));
      return dropUndefined(usage);
    }
    const dir = this.record.dir;
    usage.memoryUsageBytes = await readNumber(fs, join(dir, 'memory.current'));
    usage.memoryLimitBytes = parseLimitValue((await readOptional(fs, join(dir, 'memory.max'))) ?? 'max');
    const stat = await readKeyed(fs, join(dir, 'memory.stat'));
    if (stat) {
      usage.memoryRssBytes = stat['anon'];
      usage.memoryAnonBytes = stat['anon'];
      usage.memoryFileBytes = stat['file'];
      usage.memoryMappedFileBytes = stat['file_mapped'];
    }
    usage.memoryUsageBytes = atLeastItsParts(usage);
    const cpuStat = await readKeyed(fs, join(dir, 'cpu.stat'));
    if (cpuStat) {
      const nanos = (usec: number | undefined) => (usec === undefined ? undefined : usec * 1000);
      usage.cpuUsageNanos = nanos(cpuStat['usage_usec']);
      usage.cpuUserNanos = nanos(cpuStat['user_usec']);
      usage.cpuSystemNanos = nanos(cpuStat['system_usec']);
      usage.cpuPeriods = cpuStat['nr_periods'];
      usage.cpuThrottledPeriods = cpuStat['nr_throttled'];
      usage.cpuThrottledNanos = nanos(cpuStat['throttled_usec']);
    }
    usage.pids = await readNumber(fs, join(dir, 'pids.current'));
    return dropUndefined(usage);
  }

  /**
   * Removes the task cgroup (child cgroups first). The kernel refuses while
   * a process is still in it, so it retries until `timeoutMillis`; a missing
   * directory counts as removed. Rejects with the last error when it gave up.
   */
  async remove(timeoutMillis = 2000): Promise<void> {
    const deadline = Date.now() + timeoutMillis;
    for (const dir of this.directories()) {
      for (;;) {
        try {
          await this.removeTree(dir);
          break;
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          if ((code !== 'EBUSY' && code !== 'ENOTEMPTY') || Date.now() >= deadline) throw err;
          await sleep(25);
        }
      }
    }
  }

  private async removeTree(dir: string): Promise<void> {
    let children: string[];
    try {
      children = await this.fs.listDirs(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    for (const child of children) await this.removeTree(join(dir, child));
    try {
      await this.fs.rmdir(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
}

function dropUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

/**
 * The usage counter (v1 `usage_in_bytes` is batched per cpu and only
 * approximate; both are read a moment before `memory.stat`) can trail the
 * sum of its parts: report at least rss + cache, so the total is never below
 * the resident memory it includes.
 */
function atLeastItsParts(usage: CgroupUsage): number | undefined {
  const parts = (usage.memoryRssBytes ?? 0) + (usage.memoryFileBytes ?? 0);
  if (usage.memoryUsageBytes === undefined) return parts > 0 ? parts : undefined;
  return Math.max(usage.memoryUsageBytes, parts);
}
