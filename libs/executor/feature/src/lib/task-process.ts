import { closeSync, openSync } from 'node:fs';
import { constants } from 'node:os';
import execa from 'execa';
import { liveProcessGroupMembers, signalProcessGroup, type Logger, type ProcStat } from '@singularity/node-util';
import { systemClock, type Clock } from '@singularity/util';
import type { KillTarget } from './process-killer';
import { SANDBOX_FILES, sandboxPath } from './sandbox-layout';

export interface ProcessExit {
  /** Shell convention: 128 + signo for a death by signal. */
  exitCode: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  exitedAt: number;
}

export interface TaskProcessOptions {
  sandboxDirectory: string;
  /** The runner's whole environment (nothing else is inherited). */
  env: NodeJS.ProcessEnv;
  logger: Logger;
  clock?: Clock;
  /** Program and arguments run before `bash runner.sh` (e.g. one that joins the task's cgroups, then execs the rest). */
  spawnPrefix?: readonly string[];
}

/** Exit status in the shell's convention: a death by signal N is 128 + N (143 SIGTERM, 137 SIGKILL). */
export function exitCodeOf(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  if (signal !== null) {
    const signo = constants.signals[signal];
    if (signo !== undefined) return 128 + signo;
  }
  return 255;
}

const sleep = (millis: number) => new Promise<void>((resolve) => setTimeout(resolve, millis));

/**
 * The task's process: `bash runner.sh` started in the sandbox as the leader
 * of a new process group (detached), so one signal reaches everything it
 * starts (spec slave §1.4 step 6, §1.8). Its stdout and stderr go to
 * `executor.bash.log`; the service's own output goes to `service.log` through
 * the redirection in runner.sh.
 */
export class TaskProcess implements KillTarget {
  private exitInfo?: ProcessExit;

  private constructor(
    /** The runner's pid, which is also its process group id. */
    readonly pid: number,
    readonly exited: Promise<ProcessExit>,
    private readonly logger: Logger,
  ) {
    void exited.then((exit) => (this.exitInfo = exit));
  }

  /** Spawns the runner; resolves once it runs, rejects when it cannot be started. */
  static async start(options: TaskProcessOptions): Promise<TaskProcess> {
    const clock = options.clock ?? systemClock;
    const bashLog = openSync(sandboxPath(options.sandboxDirectory, 'bashLog'), 'a');
    let child: execa.ExecaChildProcess;
    try {
      const [program, ...args] = [...(options.spawnPrefix ?? []), 'bash', SANDBOX_FILES.runnerScript];
      child = execa(program, args, {
        cwd: options.sandboxDirectory,
        env: options.env,
        extendEnv: false,
        detached: true,
        stdio: ['ignore', bashLog, bashLog],
        cleanup: false,
        buffer: false,
        reject: false,
      });
    } finally {
      closeSync(bashLog); // the child holds its own copy
    }
    // The result promise resolves with reject:false; exit is taken from the 'exit' event below.
    child.catch(() => undefined);
    const exited = new Promise<ProcessExit>((resolve) => {
      child.once('exit', (code, signal) => resolve({ exitCode: exitCodeOf(code, signal), code, signal, exitedAt: clock.now() }));
    });
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', () => resolve());
      child.once('error', (err) => reject(err));
    });
    const pid = child.pid;
    if (pid === undefined) throw new Error('the runner started without a pid');
    options.logger.info({ pid }, 'runner started in its own process group');
    return new TaskProcess(pid, exited, options.logger);
  }

  get hasExited(): boolean {
    return this.exitInfo !== undefined;
  }

  /** Signals the whole process group; never throws (a kill must not crash the executor). */
  signal(signal: NodeJS.Signals): boolean {
    try {
      const delivered = signalProcessGroup(this.pid, signal);
      this.logger.info({ pgid: this.pid, signal, delivered }, 'signalled the process group');
      return delivered;
    } catch (err) {
      this.logger.error({ err, pgid: this.pid, signal }, 'could not signal the process group');
      return false;
    }
  }

  private signalQuietly(signal: NodeJS.Signals): boolean {
    try {
      return signalProcessGroup(this.pid, signal);
    } catch (err) {
      this.logger.error({ err, pgid: this.pid, signal }, 'could not signal the process group');
      return false;
    }
  }

  /**
   * After the runner exited: SIGKILLs whatever is left in its group (background
   * children, daemons that did not leave the group) and waits up to
   * `timeoutMillis` for them to go. Returns the processes still alive then.
   * Processes that left the group (setsid) escape this; the task's cgroup
   * catches them (`TaskIsolation.killAll`, task-isolation.ts).
   */
  async killLeftovers(timeoutMillis: number): Promise<ProcStat[]> {
    const before = liveProcessGroupMembers(this.pid);
    if (before.length > 0) this.logger.warn({ pgid: this.pid, leftovers: before }, 'killing processes left in the task process group');
    const deadline = Date.now() + timeoutMillis;
    for (;;) {
      if (!this.signalQuietly('SIGKILL')) return [];
      const left = liveProcessGroupMembers(this.pid);
      if (left.length === 0) return [];
      if (Date.now() >= deadline) {
        this.logger.error({ pgid: this.pid, survivors: left }, 'processes of the task group survived SIGKILL');
        return left;
      }
      await sleep(25);
    }
  }
}
