import { readFileSync } from 'node:fs';
import execa from 'execa';
import type { ExecutorTaskDefinition } from '@singularity/models';
import { liveProcessGroupMembers, type Logger } from '@singularity/node-util';
import type { ExecutorConfig } from './executor-config';
import { requestedRunAsUser, resolveRunAsUser, SYSTEM_USERS } from './run-as-user';
import { runShellCommand, taskMainPid } from './shell-command';

export interface ThreadCheckerOptions {
  definition: ExecutorTaskDefinition;
  config: ExecutorConfig;
  logger: Logger;
  /** The runner's pid, which is also its process group id. */
  processPid: number;
  /** Called once when the task uses more than `maxTaskThreads`; the executor then kills it. */
  onExceeded(used: number, max: number): void;
  /** Replaces the counter chosen by `threadCheckerType` (tests). */
  countThreads?: ThreadCounter;
}

export interface ThreadChecker {
  stop(): void;
}

/** Threads of every live process in the task's process group; undefined when they cannot be counted. */
export type ThreadCounter = (pgid: number) => Promise<number | undefined>;

/** `Threads:` of /proc/<pid>/status; 0 for a process that is gone by now. */
function threadsOf(pid: number): number {
  try {
    const match = /^Threads:\s+(\d+)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : 0;
  } catch {
    return 0;
  }
}

/** PROC_STATUS: the sum of `Threads:` over the group's processes in /proc. */
export const procStatusThreadCount: ThreadCounter = async (pgid) => {
  const members = liveProcessGroupMembers(pgid);
  return members.reduce((sum, p) => sum + threadsOf(p.pid), 0);
};

/** PS: `ps -e -o pgid=,nlwp=` summed over the group. */
export const psThreadCount: ThreadCounter = async (pgid) => {
  const { stdout } = await execa('ps', ['-e', '-o', 'pgid=,nlwp='], { timeout: 10_000 });
  let sum = 0;
  for (const line of stdout.split('\n')) {
    const [group, threads] = line.trim().split(/\s+/).map(Number);
    if (group === pgid && Number.isInteger(threads)) sum += threads;
  }
  return sum;
};

/**
 * The counter for `threadCheckerType`. CGROUP (the original read the task's
 * cgroup) counts the process group through /proc here: the task isolation
 * gives the checker no cgroup path, and the process group holds the same
 * processes unless one left it with setsid.
 */
export function threadCounterFor(type: ExecutorConfig['executor']['threadCheckerType'], logger: Logger): ThreadCounter {
  if (type === 'PS') return psThreadCount;
  if (type === 'CGROUP') logger.info('threadCheckerType CGROUP: counting the task process group through /proc (no cgroup path is available to the checker)');
  return procStatusThreadCount;
}

const NOT_CHECKING: ThreadChecker = { stop: () => undefined };

/**
 * Counts the task's threads every `checkThreadsEveryMillis` (spec slave §1.8)
 * when the deploy sets `maxTaskThreads`. Over the cap it stops counting, runs
 * `runShellCommandBeforeKillDueToThreads` when configured (e.g. a thread dump;
 * up to the command's timeout), then calls `onExceeded` once, unless the
 * checker was stopped (the task ended) meanwhile.
 */
export function startThreadChecker(options: ThreadCheckerOptions): ThreadChecker {
  const { definition, config, logger, processPid } = options;
  const max = definition.executorData.maxTaskThreads;
  if (max === undefined) return NOT_CHECKING;
  const count = options.countThreads ?? threadCounterFor(config.executor.threadCheckerType, logger);
  let stopped = false;
  let busy = false;
  const timer = setInterval(() => {
    if (busy || stopped) return;
    busy = true;
    void check().finally(() => (busy = false));
  }, config.executor.checkThreadsEveryMillis);
  timer.unref();

  const stop = () => {
    stopped = true;
    clearInterval(timer);
  };

  async function check(): Promise<void> {
    let used: number | undefined;
    try {
      used = await count(processPid);
    } catch (err) {
      logger.warn({ err }, 'could not count the task threads');
      return;
    }
    if (stopped || used === undefined || used <= (max as number)) return;
    clearInterval(timer);
    logger.warn({ used, max }, 'task uses more threads than maxTaskThreads');
    await runCommandBeforeKill();
    if (stopped) return;
    stopped = true;
    options.onExceeded(used, max as number);
  }

  async function runCommandBeforeKill(): Promise<void> {
    const before = config.executor.runShellCommandBeforeKillDueToThreads;
    if (!before) return;
    try {
      const runAsUser = resolveRunAsUser(definition, config);
      const self = SYSTEM_USERS.self();
      const user = requestedRunAsUser(definition, config) ?? self.name ?? String(self.uid);
      const outcome = await runShellCommand(
        { name: before.name, options: before.options, timestamp: Date.now() },
        config,
        { sandboxDirectory: definition.sandboxDirectory, pid: taskMainPid(processPid, runAsUser !== undefined), runAsUser, user },
        logger,
      );
      logger.info({ command: before, outcome }, 'shell command before the thread-cap kill done');
    } catch (err) {
      logger.warn({ err, command: before }, 'shell command before the thread-cap kill failed');
    }
  }

  return { stop };
}
