import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { listProcesses, signalProcessGroup, type Logger } from '@singularity/node-util';
import type { ExecutorConfig, ShellCommandConfig } from './executor-config';
import { switchUserCommand } from './runner-script';

/**
 * Shell commands run against a running task (spec slave §1.10 `shellCommands`,
 * §1.8 `runShellCommandBeforeKillDueToThreads`): only commands the executor's
 * configuration lists, with `{PID}` and `{USER}` filled in, options from the
 * command's allowed list, output to a file in the sandbox.
 */
export interface ShellCommandRequest {
  name: string;
  options?: readonly string[];
  /** When it was requested (ms); part of the default output file name. */
  timestamp: number;
}

export type ShellCommandOutcome =
  | { result: 'INVALID'; message: string }
  | { result: 'FINISHED' | 'FAILED'; message: string; outputFilename: string; exitCode?: number };

export class InvalidShellCommandError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

export interface ShellCommandTarget {
  sandboxDirectory: string;
  /** The pid `{PID}` stands for (see {@link taskMainPid}). */
  pid: number;
  /** The user the task runs as when it is not the executor's own (runner.sh switched to it). */
  runAsUser?: string;
  /** `{USER}`: the task's user, also when the executor runs the task as itself. */
  user: string;
}

/** The configured commands, by name, or an error that lists what is allowed. */
export function findShellCommand(config: ExecutorConfig, name: string): ShellCommandConfig {
  const commands = config.executor.shellCommands;
  const found = commands.find((c) => c.name === name);
  if (found) return found;
  const allowed = commands.map((c) => c.name);
  throw new InvalidShellCommandError(
    `Unknown shell command ${JSON.stringify(name)}; ${allowed.length ? `allowed: ${allowed.join(', ')}` : 'this executor allows none'}`,
  );
}

/** `<name>-<timestamp>.log` in the sandbox, with anything but `[A-Za-z0-9._-]` in the name replaced. */
export function shellCommandOutputFilename(request: ShellCommandRequest): string {
  return `${request.name.replace(/[^A-Za-z0-9._-]/g, '_')}-${request.timestamp}.log`;
}

/**
 * Program and arguments of a request: the configured argv with `{PID}` and
 * `{USER}` replaced (anywhere in a word), then the requested options, each
 * one of the command's allowed `options`. With `runAsTaskUser` and a task
 * that runs as another user, the argv goes through `switchUserCommandFormat`.
 * Nothing here passes through a shell unquoted.
 */
export function buildShellCommand(request: ShellCommandRequest, config: ExecutorConfig, target: ShellCommandTarget): string[] {
  const command = findShellCommand(config, request.name);
  for (const option of request.options ?? []) {
    if (!command.options.includes(option)) {
      throw new InvalidShellCommandError(
        `Option ${JSON.stringify(option)} is not allowed for ${command.name}; ${command.options.length ? `allowed: ${command.options.join(', ')}` : 'it takes none'}`,
      );
    }
  }
  const argv = [...command.command.map((word) => word.split('{PID}').join(String(target.pid)).split('{USER}').join(target.user)), ...(request.options ?? [])];
  if (!command.runAsTaskUser || target.runAsUser === undefined) return argv;
  return ['/bin/bash', '-c', `exec ${switchUserCommand(config.executor.switchUserCommandFormat, target.runAsUser)} "$@"`, 'singularity-shell-command', ...argv];
}

/**
 * The task's main process for `{PID}`: the runner's pid, which is the
 * service's own when runner.sh exec'd it. After a user switch the runner is
 * the switch command (sudo), which keeps the service as its only child in the
 * task's process group: that child then.
 */
export function taskMainPid(runnerPid: number, switchedUser: boolean): number {
  if (!switchedUser) return runnerPid;
  const children = (listProcesses() ?? []).filter((p) => p.ppid === runnerPid && p.pgrp === runnerPid && p.state !== 'Z');
  return children.length === 1 ? children[0].pid : runnerPid;
}

/**
 * Runs one request to its end: the output (stdout and stderr) is appended to
 * `<sandbox>/<outputFilename>`, the command runs in a process group of its own
 * and is SIGKILLed with it after the command's `timeoutMillis`. `onStarted`
 * gets the command line once it runs. Never throws.
 */
export async function runShellCommand(
  request: ShellCommandRequest,
  config: ExecutorConfig,
  target: ShellCommandTarget,
  logger: Logger,
  onStarted?: (commandLine: string, outputFilename: string) => void,
): Promise<ShellCommandOutcome> {
  let argv: string[];
  let timeoutMillis: number;
  try {
    argv = buildShellCommand(request, config, target);
    timeoutMillis = findShellCommand(config, request.name).timeoutMillis;
  } catch (err) {
    if (err instanceof InvalidShellCommandError) return { result: 'INVALID', message: err.message };
    return { result: 'INVALID', message: (err as Error).message };
  }
  const outputFilename = shellCommandOutputFilename(request);
  let out: number;
  try {
    out = openSync(join(target.sandboxDirectory, outputFilename), 'a', 0o644);
  } catch (err) {
    return { result: 'FAILED', message: `Failed - cannot open ${outputFilename}: ${(err as Error).message}`, outputFilename };
  }
  return new Promise<ShellCommandOutcome>((resolve) => {
    const [program, ...args] = argv;
    let timedOut = false;
    let timer: NodeJS.Timeout | undefined;
    const child = spawn(program, args, { cwd: target.sandboxDirectory, detached: true, stdio: ['ignore', out, out] });
    closeSync(out);
    child.once('error', (err) => {
      clearTimeout(timer);
      logger.warn({ err, request }, 'shell command could not start');
      resolve({ result: 'FAILED', message: `Failed - ${err.name} (${err.message})`, outputFilename });
    });
    child.once('spawn', () => {
      logger.info({ request, argv, pid: child.pid }, 'shell command started');
      onStarted?.(argv.join(' '), outputFilename);
      timer = setTimeout(() => {
        timedOut = true;
        try {
          if (child.pid) signalProcessGroup(child.pid, 'SIGKILL');
        } catch (err) {
          logger.warn({ err }, 'could not kill the timed-out shell command');
        }
      }, timeoutMillis);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      logger.info({ request, code, signal, timedOut }, 'shell command ended');
      if (timedOut) resolve({ result: 'FAILED', message: `Timed out after ${timeoutMillis}ms and was killed`, outputFilename });
      else if (code === 0) resolve({ result: 'FINISHED', message: 'Finished with code 0', outputFilename, exitCode: 0 });
      else if (code !== null) resolve({ result: 'FAILED', message: `Failed with code ${code}`, outputFilename, exitCode: code });
      else resolve({ result: 'FAILED', message: `Killed by ${signal}`, outputFilename });
    });
  });
}
