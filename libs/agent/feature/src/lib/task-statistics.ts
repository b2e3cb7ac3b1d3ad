import { readFile, lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { ExecutorTaskDefinition } from '@singularity/models';
import { CGROUP_RECORD_FILE, hostCgroupFs, MIB, parseCgroupRecord, TaskCgroup, type CgroupFs, type CgroupRecord, type CgroupUsage } from '@singularity/node-util';
import { NotFoundError } from '@singularity/util';

/**
 * A task's resource usage in the shape of Singularity's
 * `MesosTaskStatisticsObject` (what Mesos' `/monitor/statistics` gave it):
 * camelCase fields, times in seconds, sizes in bytes. Absent fields had no
 * reading (e.g. no pids or cpu controller).
 */
export interface TaskStatistics {
  /** When the usage was read, in epoch **seconds** (fractional). */
  timestamp: number;
  /** The reference declares an integer: the hard limit (`cpuHardLimit`), else `cpus`, rounded up. */
  cpusLimit?: number;
  cpusNrPeriods?: number;
  cpusNrThrottled?: number;
  cpusSystemTimeSecs?: number;
  cpusThrottledTimeSecs?: number;
  cpusUserTimeSecs?: number;
  memAnonBytes?: number;
  memFileBytes?: number;
  memLimitBytes?: number;
  memMappedFileBytes?: number;
  memRssBytes?: number;
  memTotalBytes?: number;
  diskLimitBytes?: number;
  diskUsedBytes?: number;
}

/** Where the agent finds a live task's definition; undefined for a task it does not know. */
export type TaskDefinitionLookup = (taskId: string) => ExecutorTaskDefinition | undefined;

/** More entries than this in a sandbox and its disk usage is left out rather than walked on every request. */
const MAX_SANDBOX_ENTRIES = 100_000;

/** The usage object from a cgroup reading, the cgroup's limits and the task's resources. */
export function taskStatisticsFrom(usage: CgroupUsage, record: CgroupRecord, definition: ExecutorTaskDefinition, diskUsedBytes?: number): TaskStatistics {
  const seconds = (nanos: number | undefined) => (nanos === undefined ? undefined : nanos / 1e9);
  const cpus = record.limits.cpuHardLimit ?? record.limits.cpus ?? definition.resources.cpus;
  const stats: TaskStatistics = {
    timestamp: usage.timestamp / 1000,
    cpusLimit: cpus > 0 ? Math.ceil(cpus) : undefined,
    cpusNrPeriods: usage.cpuPeriods,
    cpusNrThrottled: usage.cpuThrottledPeriods,
    cpusSystemTimeSecs: seconds(usage.cpuSystemNanos),
    cpusThrottledTimeSecs: seconds(usage.cpuThrottledNanos),
    cpusUserTimeSecs: seconds(usage.cpuUserNanos),
    memAnonBytes: usage.memoryAnonBytes,
    memFileBytes: usage.memoryFileBytes,
    memLimitBytes: usage.memoryLimitBytes ?? record.limits.memoryLimitBytes,
    memMappedFileBytes: usage.memoryMappedFileBytes,
    memRssBytes: usage.memoryRssBytes,
    memTotalBytes: usage.memoryUsageBytes,
    diskLimitBytes: definition.resources.diskMb > 0 ? Math.round(definition.resources.diskMb * MIB) : undefined,
    diskUsedBytes,
  };
  return Object.fromEntries(Object.entries(stats).filter(([, v]) => v !== undefined)) as TaskStatistics;
}

/** Bytes the sandbox takes on disk (allocated blocks, hard links once), like `du`; undefined when it is too big to walk. */
export async function diskUsage(dir: string, maxEntries = MAX_SANDBOX_ENTRIES): Promise<number | undefined> {
  const seen = new Set<string>();
  let total = 0;
  let entries = 0;
  const stack = [dir];
  while (stack.length > 0) {
    const current = stack.pop() as string;
    let info;
    try {
      info = await lstat(current);
    } catch {
      continue; // gone meanwhile
    }
    if (++entries > maxEntries) return undefined;
    const key = `${info.dev}:${info.ino}`;
    if (seen.has(key)) continue;
    seen.add(key);
    total += info.blocks * 512;
    if (info.isDirectory()) {
      try {
        for (const name of await readdir(current)) stack.push(join(current, name));
      } catch {
        // unreadable: counted without its content
      }
    }
  }
  return total;
}

/**
 * Usage statistics of the agent's live tasks (`GET /agent/tasks/{taskId}/statistics`),
 * read from the task cgroup the executor recorded in `<controlDirectory>/cgroups.json`.
 */
export class TaskStatisticsReader {
  constructor(
    private readonly lookup: TaskDefinitionLookup,
    private readonly fs: CgroupFs = hostCgroupFs,
  ) {}

  /** Throws NotFoundError for an unknown task, and (with a message) for a task without a cgroup. */
  async statistics(taskId: string): Promise<TaskStatistics> {
    const definition = this.lookup(taskId);
    if (!definition) throw new NotFoundError(`Task ${taskId} is not known to this agent`);
    const file = join(definition.controlDirectory, CGROUP_RECORD_FILE);
    let record: CgroupRecord;
    try {
      record = parseCgroupRecord(await readFile(file, 'utf8'));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') throw new NotFoundError(`Task ${taskId} has no cgroup on this agent (it runs without cgroups, has not started or has finished): no usage statistics`);
      throw new NotFoundError(`Task ${taskId} has no readable cgroup record (${file}: ${(err as Error).message})`);
    }
    const cgroup = TaskCgroup.open(record, this.fs);
    if (!(await cgroup.exists())) throw new NotFoundError(`Task ${taskId} has no cgroup any more (it has finished): no usage statistics`);
    const usage = await cgroup.usage();
    return taskStatisticsFrom(usage, record, definition, await diskUsage(definition.sandboxDirectory));
  }
}
