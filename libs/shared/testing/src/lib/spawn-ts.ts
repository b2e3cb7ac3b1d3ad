import { spawn, type ChildProcess } from 'node:child_process';
import { isAbsolute, resolve } from 'node:path';
import { isProcessGroupAlive, signalProcessGroup } from '@singularity/node-util';
import { eventually } from './eventually';
import { repoRoot, tsRegisterPath } from './repo-paths';

export interface SpawnTsOptions {
  /** Working directory (default: the repository root; relative script paths resolve against it). */
  cwd?: string;
  /** Added to (and overriding) this process's environment. */
  env?: Record<string, string | undefined>;
  /** Extra node flags, before `-r register`. */
  nodeArgs?: string[];
  /** Keep at most this many characters of each output stream (default 1 MiB, the newest kept). */
  maxOutputChars?: number;
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface StopOptions {
  /** How long the group gets to exit after `signal` before it is SIGKILLed (default 10 s). */
  timeoutMs?: number;
}

export interface SpawnedProcess {
  readonly pid: number;
  readonly child: ChildProcess;
  /** Everything written to stdout / stderr so far. */
  stdout(): string;
  stderr(): string;
  /** Resolves when the direct child has exited. */
  readonly exited: Promise<ExitInfo>;
  /** Exit of the direct child, once known. */
  exitInfo(): ExitInfo | undefined;
  /** Waits until stdout (or stderr) matches `pattern`; returns the match. */
  waitForOutput(pattern: RegExp | string, options?: { timeoutMs?: number; stream?: 'stdout' | 'stderr' }): Promise<RegExpMatchArray>;
  /**
   * Sends `signal` (default SIGTERM) to the whole process group and waits
   * until every process of it is gone; SIGKILLs the group after `timeoutMs`.
   * Resolves with the exit of the direct child. Safe to call more than once.
   */
  stop(signal?: NodeJS.Signals, options?: StopOptions): Promise<ExitInfo>;
}

const running = new Set<number>();
let exitHookInstalled = false;

/**
 * Runs a TypeScript entry point as a real child process:
 * `node -r <repo>/tools/register.js <script> ...args`, in a process group of
 * its own so `stop()` also reaches whatever it starts. Groups still running
 * when this process exits are SIGKILLed.
 */
export function spawnTs(scriptPath: string, args: string[] = [], options: SpawnTsOptions = {}): SpawnedProcess {
  const cwd = options.cwd ?? repoRoot();
  const script = isAbsolute(scriptPath) ? scriptPath : resolve(cwd, scriptPath);
  const maxChars = options.maxOutputChars ?? 1024 * 1024;
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), '-r', tsRegisterPath(), script, ...args], {
    cwd,
    env: { ...process.env, ...options.env },
    detached: true, // setsid: the child leads a new process group (pgid = pid)
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (child.pid === undefined) throw new Error(`could not start ${script}`);
  const pid = child.pid;
  installExitHook();
  running.add(pid);

  const output = { stdout: '', stderr: '' };
  const collect = (stream: 'stdout' | 'stderr') => (chunk: Buffer) => {
    output[stream] += chunk.toString('utf8');
    if (output[stream].length > maxChars) output[stream] = output[stream].slice(-maxChars);
  };
  child.stdout?.on('data', collect('stdout'));
  child.stderr?.on('data', collect('stderr'));

  let exit: ExitInfo | undefined;
  const exited = new Promise<ExitInfo>((resolveExit) => {
    child.once('exit', (code, signal) => {
      exit = { code, signal };
      resolveExit(exit);
    });
    child.once('error', () => {
      exit ??= { code: null, signal: null };
      resolveExit(exit);
    });
  });

  const describeTail = () => `\n--- stdout (tail) ---\n${output.stdout.slice(-2000)}\n--- stderr (tail) ---\n${output.stderr.slice(-2000)}`;

  const handle: SpawnedProcess = {
    pid,
    child,
    stdout: () => output.stdout,
    stderr: () => output.stderr,
    exited,
    exitInfo: () => exit,
    async waitForOutput(pattern, waitOptions = {}) {
      const stream = waitOptions.stream ?? 'stdout';
      const regex = typeof pattern === 'string' ? new RegExp(escapeRegExp(pattern)) : pattern;
      try {
        return await eventually(
          () => {
            const match = output[stream].match(regex);
            if (match) return match;
            if (exit) throw new Error(`the process exited (${JSON.stringify(exit)}) without printing it`);
            throw new Error('not printed yet');
          },
          { timeoutMs: waitOptions.timeoutMs ?? 10000, intervalMs: 20, description: `${script} prints ${regex} on ${stream}` },
        );
      } catch (err) {
        (err as Error).message += describeTail();
        throw err;
      }
    },
    async stop(signal = 'SIGTERM', stopOptions = {}) {
      const timeoutMs = stopOptions.timeoutMs ?? 10000;
      const gone = async (ms: number) => {
        try {
          await eventually(() => exit !== undefined && !isProcessGroupAlive(pid), { timeoutMs: ms, intervalMs: 20, description: `process group ${pid} exits` });
          return true;
        } catch {
          return false;
        }
      };
      signalProcessGroup(pid, signal);
      if (!(await gone(timeoutMs))) {
        signalProcessGroup(pid, 'SIGKILL');
        if (!(await gone(5000))) throw new Error(`process group ${pid} of ${script} survived SIGKILL${describeTail()}`);
      }
      running.delete(pid);
      return exited;
    },
  };
  return handle;
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const pgid of running) signalProcessGroup(pgid, 'SIGKILL');
  });
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
