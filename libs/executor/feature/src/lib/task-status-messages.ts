import type { AgentReportedTaskState } from '@singularity/models';

/**
 * Texts and decisions of the executor's status updates (spec slave §1.7).
 * Pure: the executor gathers the facts, these functions word them.
 */

/** Longest message a status update carries (`maxTaskMessageLength`); the full text goes to the executor log. */
export const MAX_TASK_MESSAGE_LENGTH = 80;

/** Machine-readable reasons, in Mesos' vocabulary. */
export const TASK_REASONS = {
  invalidTask: 'REASON_TASK_INVALID',
  launchFailed: 'REASON_CONTAINER_LAUNCH_FAILED',
  killedDuringLaunch: 'REASON_TASK_KILLED_DURING_LAUNCH',
  commandFailed: 'REASON_COMMAND_EXECUTOR_FAILED',
  executorFailed: 'REASON_EXECUTOR_TERMINATED',
  memoryLimit: 'REASON_CONTAINER_LIMITATION_MEMORY',
  threadLimit: 'REASON_CONTAINER_LIMITATION',
} as const;

/** A status update before it gets its seq and timestamp. */
export interface StatusUpdate {
  state: AgentReportedTaskState;
  message?: string;
  reason?: string;
  exitCode?: number;
  forced?: boolean;
}

/** Cuts `message` to `max` characters (code points, so no half surrogate pair is sent). */
export function cutMessage(message: string, max = MAX_TASK_MESSAGE_LENGTH): string {
  const chars = Array.from(message);
  return chars.length <= max ? message : chars.slice(0, max).join('');
}

/** `mm:ss.SSS`, minutes unbounded (the original's `mm:ss.S`, with the millis padded so 1050 ms reads 00:01.050). */
export function formatDuration(millis: number): string {
  const ms = Math.max(0, Math.round(millis));
  const minutes = Math.floor(ms / 60_000);
  const seconds = Math.floor((ms % 60_000) / 1000);
  const rest = ms % 1000;
  return `${String(minutes).padStart(2, '0')}:${String(seconds).padStart(2, '0')}.${String(rest).padStart(3, '0')}`;
}

export function startingMessage(executorPid: number): string {
  return `Staging files... (executor pid: ${executorPid})`;
}

export function runningMessage(processPid: number): string {
  return `Task running process bash - (pid: ${processPid})`;
}

export const KILLED_BEFORE_START_MESSAGE = 'Task killed before service process started';

export function invalidDefinitionUpdate(taskId: string, message: string): StatusUpdate {
  return { state: 'TASK_LOST', message: `Unexpected exception while launching task ${taskId} - ${message}`, reason: TASK_REASONS.invalidTask };
}

export function stagingLostUpdate(errorName: string, message: string): StatusUpdate {
  return { state: 'TASK_LOST', message: `${errorName} while initializing task: ${message}`, reason: TASK_REASONS.launchFailed };
}

export function stagingFailedUpdate(message: string): StatusUpdate {
  return { state: 'TASK_FAILED', message, reason: TASK_REASONS.launchFailed };
}

/** The executor itself broke (a bug or a lost status file); the task is ended rather than left unreported. */
export function executorFailedUpdate(message: string): StatusUpdate {
  return { state: 'TASK_LOST', message: `Executor failed: ${message}`, reason: TASK_REASONS.executorFailed };
}

export function killedBeforeStartUpdate(): StatusUpdate {
  return { state: 'TASK_KILLED', message: KILLED_BEFORE_START_MESSAGE, reason: TASK_REASONS.killedDuringLaunch };
}

/** What happened to a kill the executor was asked for while the process ran. */
export interface KillFacts {
  /** When the first kill request arrived (ms). */
  requestedAt: number;
  /** SIGKILL at once, no grace ("destroy"). */
  destroy: boolean;
  /** Who asked for the destroy, when known. */
  user?: string;
  /** TERM→KILL grace of the (first) graceful kill. */
  graceMillis: number;
  /** SIGKILL was sent because the grace ran out. */
  killedAfterGrace: boolean;
}

export interface ProcessEndFacts {
  /** Exit code; a death by signal counts as 128 + signo (143 SIGTERM, 137 SIGKILL). */
  exitCode: number;
  exitedAt: number;
  successfulExitCodes: readonly number[];
  /** Present when the executor was asked to kill the task before it exited. */
  kill?: KillFacts;
  /** The executor killed the task because it used more threads than `maxTaskThreads`. */
  threadLimit?: { used: number; max: number };
  /** The kernel's OOM killer acted in the task's memory cgroup. */
  outOfMemory?: { limitMb: number };
}

/**
 * The single terminal update of a task whose process ran (spec slave §1.7).
 * A thread-cap kill is FAILED; after a requested kill any exit code means
 * KILLED; a kill by the kernel's OOM killer is FAILED saying so; otherwise the
 * code decides between FINISHED and FAILED (an unrequested 143 is FAILED unless listed).
 */
export function terminalUpdateFor(facts: ProcessEndFacts): StatusUpdate {
  const { exitCode, kill } = facts;
  if (facts.threadLimit) {
    const { used, max } = facts.threadLimit;
    return { state: 'TASK_FAILED', message: `Task used ${used} threads and was killed (max ${max})`, exitCode, reason: TASK_REASONS.threadLimit };
  }
  if (kill) {
    const shutdown = ` (shutdownTime: ${Math.max(0, facts.exitedAt - kill.requestedAt)}ms)`;
    if (kill.destroy) {
      const by = kill.user ? ` by ${kill.user}` : '';
      return { state: 'TASK_KILLED', message: `Task killed forcibly${by}${shutdown}`, exitCode, forced: true };
    }
    if (kill.killedAfterGrace) {
      return {
        state: 'TASK_KILLED',
        message: `Task killed forcibly after waiting at least ${formatDuration(kill.graceMillis)}${shutdown}`,
        exitCode,
        forced: true,
      };
    }
    return { state: 'TASK_KILLED', message: `Task killed. Process exited gracefully with code ${exitCode}${shutdown}`, exitCode, forced: false };
  }
  if (facts.outOfMemory) {
    return {
      state: 'TASK_FAILED',
      message: `Task killed by the kernel: out of memory (limit ${facts.outOfMemory.limitMb} MB)`,
      exitCode,
      reason: TASK_REASONS.memoryLimit,
    };
  }
  if (facts.successfulExitCodes.includes(exitCode)) {
    return { state: 'TASK_FINISHED', message: `Process exited normally with code ${exitCode}`, exitCode };
  }
  return { state: 'TASK_FAILED', message: `Process failed with code ${exitCode}`, exitCode, reason: TASK_REASONS.commandFailed };
}
