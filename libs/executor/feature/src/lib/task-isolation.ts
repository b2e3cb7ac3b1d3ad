import { createHash } from 'node:crypto';
import { rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { safeTaskId, type ExecutorTaskDefinition } from '@singularity/models';
import {
  CGROUP_RECORD_FILE,
  cgroupLimits,
  detectCgroupHierarchy,
  hostCgroupFs,
  prepareCgroupParent,
  sweepStaleCgroups,
  TaskCgroup,
  type CgroupFs,
  type CgroupHierarchy,
  type CgroupOomReport,
  type Logger,
} from '@singularity/node-util';
import type { ExecutorConfig } from './executor-config';
import { TaskFailureError } from './executor-errors';

/**
 * The task's resource isolation (spec slave §1.6, issue 4 "Isolation"): one
 * cgroup per task with the memory limit from `memoryMb` and cpu shares/quota
 * from `cpus`.
 */
export interface TaskIsolation {
  /**
   * Program and arguments that put the runner into the task's cgroups and
   * then exec the rest of the command line; empty without cgroups.
   */
  readonly spawnPrefix: readonly string[];
  /** SIGKILLs every process left in the task's cgroups, also ones that left the process group. */
  killAll(): Promise<void>;
  /** Whether the kernel's OOM killer acted in the task's cgroup, with the limit it enforced. */
  outOfMemory(): Promise<{ limitMb: number } | undefined>;
  /** Removes the task's cgroups once they are empty. */
  release(): Promise<void>;
  /**
   * Threads in the task's cgroup, also of processes that left the process
   * group (for `threadCheckerType: CGROUP`); absent without cgroups.
   */
  countThreads?(): Promise<number>;
}

/** No cgroups: the process group is all there is. */
export const NO_ISOLATION: TaskIsolation = {
  spawnPrefix: [],
  killAll: async () => undefined,
  outOfMemory: async () => undefined,
  release: async () => undefined,
};

export interface TaskIsolationContext {
  definition: ExecutorTaskDefinition;
  config: ExecutorConfig;
  logger: Logger;
  /** The cgroup file system (tests); the host's by default. */
  cgroupFs?: CgroupFs;
}

/** How long `killAll` keeps SIGKILLing what is in the cgroup, and `release` waits for it to be empty. */
export const CGROUP_KILL_TIMEOUT_MILLIS = 5000;
export const CGROUP_REMOVE_TIMEOUT_MILLIS = 2000;
/** Empty task cgroups older than this were left by an executor that died; the next task start removes them. */
export const STALE_CGROUP_AGE_MILLIS = 10 * 60 * 1000;

/** `<controlDirectory>/cgroups.json`: the task cgroup's record, for the agent (usage) and clean-ups. */
export function cgroupRecordFile(definition: ExecutorTaskDefinition): string {
  return join(definition.controlDirectory, CGROUP_RECORD_FILE);
}

/**
 * The task's cgroup directory name: the safe task id, shortened with a hash
 * when it is too long for a directory name.
 */
export function taskCgroupName(taskId: string): string {
  // eslint-disable-next-line no-control-regex
  const safe = safeTaskId(taskId).replace(/[\x00-\x1f]/g, '_');
  if (safe.length <= 200 && safe !== '.' && safe !== '..') return safe;
  return `${safe.slice(0, 150)}-${createHash('sha256').update(taskId).digest('hex').slice(0, 16)}`;
}

/** `executorData.cpuHardLimit` (scheduler-filled, spec slave §1.2), when it is a positive number. */
function cpuHardLimitOf(definition: ExecutorTaskDefinition): number | undefined {
  const value = (definition.executorData as { cpuHardLimit?: unknown }).cpuHardLimit;
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : undefined;
}

type Available = { ok: true; hierarchy: CgroupHierarchy } | { ok: false; reason: string };

async function availableHierarchy(config: ExecutorConfig, fs: CgroupFs): Promise<Available> {
  const { cgroupRoot, cgroupParent } = config.executor;
  const detected = await detectCgroupHierarchy(cgroupRoot, fs);
  if (!detected.ok) return detected;
  try {
    await prepareCgroupParent(detected.hierarchy, cgroupParent, fs);
    return detected;
  } catch (err) {
    return { ok: false, reason: `cannot create the parent cgroup ${cgroupParent} under ${cgroupRoot}: ${(err as Error).message}` };
  }
}

/**
 * Sets up the task's cgroup before the runner starts (`executor.cgroups`):
 * `off` never; `auto` where the hierarchy is usable, else the task runs
 * without (a debug line; the agent says it once at its start); `required`
 * fails the task (TASK_FAILED with the reason) when it cannot have one.
 * The cgroup's record goes to `<controlDirectory>/cgroups.json`.
 */
export async function createTaskIsolation(context: TaskIsolationContext): Promise<TaskIsolation> {
  const { definition, config, logger } = context;
  const fs = context.cgroupFs ?? hostCgroupFs;
  const { cgroups: mode, cgroupRoot, cgroupParent, defaultCfsPeriod } = config.executor;
  if (mode === 'off') {
    logger.debug('task cgroups are off (executor.cgroups: off)');
    return NO_ISOLATION;
  }
  const required = mode === 'required';

  const available = await availableHierarchy(config, fs);
  if (!available.ok) {
    if (required) throw new TaskFailureError(`Task cgroups required but unavailable: ${available.reason}`);
    logger.debug({ reason: available.reason, cgroupRoot }, 'no task cgroups (executor.cgroups: auto): the task runs without limits');
    return NO_ISOLATION;
  }

  const swept = await sweepStaleCgroups(available.hierarchy, cgroupParent, { olderThanMillis: STALE_CGROUP_AGE_MILLIS, fs });
  if (swept.length > 0) logger.info({ cgroups: swept }, `removed ${swept.length} stale empty task cgroup(s) left by executors that died`);

  const limits = cgroupLimits({
    memoryMb: definition.resources.memoryMb,
    cpus: definition.resources.cpus,
    cpuHardLimit: cpuHardLimitOf(definition),
    cfsPeriodUs: defaultCfsPeriod,
  });
  const recordFile = cgroupRecordFile(definition);
  let cgroup: TaskCgroup | undefined;
  try {
    cgroup = await TaskCgroup.create(available.hierarchy, { parent: cgroupParent, name: taskCgroupName(definition.taskId), limits }, fs);
    const tmp = `${recordFile}.tmp`;
    await writeFile(tmp, `${JSON.stringify(cgroup.record, null, 2)}\n`, { mode: 0o644 });
    await rename(tmp, recordFile);
  } catch (err) {
    await cgroup?.remove().catch(() => undefined);
    const message = `could not set up the task cgroup: ${(err as Error).message}`;
    if (required) throw new TaskFailureError(`Task cgroups required but unavailable: ${message}`);
    logger.warn({ err, cgroupRoot, cgroupParent }, `${message}; the task runs without cgroups`);
    return NO_ISOLATION;
  }
  logger.info({ cgroup: cgroup.record }, 'task cgroup created');
  return new CgroupIsolation(cgroup, definition, recordFile, logger);
}

/**
 * A task in its own cgroup. Once the runner exited and `killAll` emptied the
 * cgroup, its OOM counters are read and it is removed at once (with its
 * record), before the terminal update: an executor stopped right after that
 * update then leaves nothing behind. `release` removes whatever is still there.
 */
class CgroupIsolation implements TaskIsolation {
  readonly spawnPrefix: readonly string[];
  private removed = false;
  /** The OOM counters, read before the cgroup went. */
  private oomReport?: CgroupOomReport;

  constructor(
    private readonly cgroup: TaskCgroup,
    private readonly definition: ExecutorTaskDefinition,
    private readonly recordFile: string,
    private readonly logger: Logger,
  ) {
    this.spawnPrefix = cgroup.joinCommand();
  }

  async killAll(): Promise<void> {
    if (this.removed) return;
    const { killed, survivors } = await this.cgroup.killAll(CGROUP_KILL_TIMEOUT_MILLIS);
    if (killed.length > 0) this.logger.warn({ pids: killed }, `killed ${killed.length} process(es) left in the task cgroup (outside the task's process group)`);
    if (survivors.length > 0) {
      this.logger.error({ pids: survivors }, 'processes of the task cgroup survived SIGKILL');
      return;
    }
    try {
      this.oomReport = await this.cgroup.oom();
      await this.remove();
    } catch (err) {
      this.logger.warn({ err }, 'could not remove the task cgroup yet; trying again after the terminal update');
    }
  }

  async outOfMemory(): Promise<{ limitMb: number } | undefined> {
    if (this.cgroup.record.limits.memoryLimitBytes === undefined) return undefined;
    const oom = this.oomReport ?? (this.removed ? {} : await this.cgroup.oom());
    // Kernels before 4.13 have no oom_kill counter: hitting the limit is the best sign there is.
    const killed = oom.oomKills !== undefined ? oom.oomKills > 0 : (oom.limitHits ?? 0) > 0;
    if (!killed) return undefined;
    this.logger.warn({ oom, limitBytes: this.cgroup.record.limits.memoryLimitBytes }, "the kernel's OOM killer acted in the task cgroup");
    return { limitMb: this.definition.resources.memoryMb };
  }

  countThreads(): Promise<number> {
    return this.cgroup.threadCount();
  }

  /** Removes the cgroup (killing again whatever still holds it), then its record. */
  async release(): Promise<void> {
    if (this.removed) return;
    try {
      await this.remove();
    } catch (err) {
      this.logger.warn({ err }, 'the task cgroup is not empty yet: killing what is left and trying again');
      await this.cgroup.killAll(CGROUP_KILL_TIMEOUT_MILLIS);
      await this.remove();
    }
  }

  private async remove(): Promise<void> {
    await this.cgroup.remove(CGROUP_REMOVE_TIMEOUT_MILLIS);
    this.removed = true;
    await rm(this.recordFile, { force: true });
    this.logger.info({ dirs: this.cgroup.directories() }, 'task cgroup removed');
  }
}
