import { join } from 'node:path';
import {
  cgroupParentSegments,
  detectCgroupHierarchy,
  hostCgroupFs,
  TaskCgroup,
  type CgroupFs,
  type CgroupHierarchy,
  type CgroupRecord,
} from '@singularity/node-util';
import type { MemoryFigures } from './oom-decision';

/** One running task's memory, and the way to kill its processes. */
export interface TaskMemoryReading extends MemoryFigures {
  /** The task id (the executor names a task's cgroup after it). */
  taskId: string;
  /** SIGKILLs every process in the task's cgroup; resolves with the pids signalled. */
  killAll(): Promise<number[]>;
}

/**
 * Where the OOM killer learns about the tasks on this node. The production
 * one reads the task cgroups; tests may put figures in front of it (the
 * kernel never lets resident memory pass a cgroup's own limit, see
 * docs/oom-killer.md "Limits").
 */
export interface TaskMemorySource {
  /** Says what is read, for the start-up line; rejects when it can never work (no cgroup hierarchy). */
  describe(): Promise<string>;
  read(): Promise<TaskMemoryReading[]>;
}

/** How long a direct kill keeps SIGKILLing a cgroup whose processes fork while being killed. */
const KILL_TIMEOUT_MILLIS = 1000;

/**
 * The task cgroups the executor makes (libs/executor task-isolation.ts):
 * every directory under `<cgroupRoot>/…/<cgroupParent>` (v1: in the memory
 * controller) is one task, named by its task id. Resident memory is the
 * cgroup's anonymous memory (v1 `memory.stat` `total_rss`, v2 `anon`); the
 * limit is the cgroup's (`memory.limit_in_bytes`, `memory.max`), which the
 * executor sets to the task's `memoryMb`.
 */
export class CgroupTaskMemorySource implements TaskMemorySource {
  private hierarchy?: CgroupHierarchy;

  constructor(
    private readonly cgroupRoot: string,
    private readonly cgroupParent: string,
    private readonly fs: CgroupFs = hostCgroupFs,
  ) {}

  async describe(): Promise<string> {
    const hierarchy = await this.detect();
    return `${this.parentDir(hierarchy)} (cgroup ${hierarchy.version})`;
  }

  async read(): Promise<TaskMemoryReading[]> {
    const hierarchy = await this.detect();
    const parentDir = this.parentDir(hierarchy);
    let names: string[];
    try {
      names = await this.fs.listDirs(parentDir);
    } catch (err) {
      // No task has started since boot (the executor makes the parent): nothing to watch.
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const readings: TaskMemoryReading[] = [];
    for (const name of names) {
      const cgroup = TaskCgroup.open(this.recordOf(hierarchy, name), this.fs);
      try {
        const usage = await cgroup.usage();
        readings.push({
          taskId: name,
          residentBytes: usage.memoryRssBytes,
          limitBytes: usage.memoryLimitBytes,
          killAll: async () => (await cgroup.killAll(KILL_TIMEOUT_MILLIS)).killed,
        });
      } catch (err) {
        // Removed between the listing and the reading: the task ended.
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
    return readings;
  }

  private async detect(): Promise<CgroupHierarchy> {
    if (this.hierarchy) return this.hierarchy;
    const detected = await detectCgroupHierarchy(this.cgroupRoot, this.fs);
    if (!detected.ok) throw new Error(`no task cgroups to watch: ${detected.reason}`);
    this.hierarchy = detected.hierarchy;
    return detected.hierarchy;
  }

  private parentDir(hierarchy: CgroupHierarchy): string {
    const base = hierarchy.version === 'v1' ? hierarchy.mounts.memory : hierarchy.mount;
    return join(base, ...cgroupParentSegments(this.cgroupParent));
  }

  /**
   * The record the executor would have written for cgroup `name`. v1 uses
   * the memory controller only: its `cgroup.procs` holds every process of the
   * task (the runner joins all controllers at once), and it is all the
   * readings need.
   */
  private recordOf(hierarchy: CgroupHierarchy, name: string): CgroupRecord {
    const dir = join(this.parentDir(hierarchy), name);
    return hierarchy.version === 'v1'
      ? { version: 'v1', name, parent: this.cgroupParent, dirs: { memory: dir }, limits: {}, createdAt: 0 }
      : { version: 'v2', name, parent: this.cgroupParent, dir, limits: {}, createdAt: 0 };
  }
}
