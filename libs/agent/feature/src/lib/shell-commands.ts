import { execFileSync, spawn } from 'node:child_process';
import { appendFileSync, closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import {
  isTerminalShellCommandUpdate,
  safeTaskId,
  SHELL_COMMAND_UPDATE_TYPES,
  type AgentShellCommandRequest,
  type AgentShellCommandStatus,
  type AgentShellCommandUpdate,
  type AgentTaskReport,
  type ExecutorTaskDefinition,
} from '@singularity/models';
import { listProcesses, readProcStat, signalProcessGroup, type Logger } from '@singularity/node-util';
import { InvalidRequestError, NotFoundError, systemClock, UnavailableError, type Clock } from '@singularity/util';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { controlPaths, finishedExecutorsDir, readStatusRecords, taskPaths, type TaskPaths } from './control-files';

/**
 * Shell commands against running tasks (issue 4 item 8; Singularity's
 * `POST /tasks/task/{taskId}/command`): the scheduler passes a request on to
 * the task's agent, and the agent runs it itself. Only commands listed in the
 * executor configuration (`executor.shellCommands` of the `executor.yaml`
 * the agent hands its executors) run: the argv with `{PID}` (the task's main
 * process) and `{USER}` (the task's user) filled in, plus options from the
 * command's allowed list, as the task's user (`switchUserCommandFormat`)
 * unless `runAsTaskUser: false`, output appended to `<sandbox>/<name>-<timestamp>.log`
 * (or the request's `logfileName`), SIGKILLed with its process group after
 * `timeoutMillis`.
 *
 * Why the agent and not the executor: the executor learns of requests only
 * through its kill file and SIGTERM, and the agent has everything a command
 * needs (the executor configuration, the task definition, the runner's pid from
 * the status file). The executor runs the same kind of command itself only
 * before a thread-cap kill (`runShellCommandBeforeKillDueToThreads`).
 *
 * Every update is appended to `<controlDirectory>/shell-commands.jsonl`, so
 * the scheduler can read them (`GET /agent/tasks/{taskId}/commands`) until the
 * control directory goes with the sandbox retention. A request is identified
 * by (task, name, timestamp): a repeated POST returns the first one's status.
 */
export const SHELL_COMMANDS_FILE = 'shell-commands.jsonl';

/** The part of the executor configuration shell commands use (mirrors executor-config.ts, which the agent cannot import). */
const executorSection = z.looseObject({
  defaultRunAsUser: z.string().min(1).optional(),
  switchUserCommandFormat: z.string().min(1).default('sudo -E -u %s'),
  shellCommands: z
    .array(
      z.looseObject({
        name: z.string().min(1),
        command: z.array(z.string().min(1)).min(1),
        options: z.array(z.string().min(1)).default([]),
        runAsTaskUser: z.boolean().default(true),
        timeoutMillis: z.number().int().positive().default(60000),
      }),
    )
    .default([]),
});
type ShellCommandsConfig = z.infer<typeof executorSection>;

/** Names runner.sh accepts as run-as users (run-as-user.ts in the executor). */
const USER_NAME = /^[a-z_][a-z0-9_-]*[$]?$/;
const LOGFILE_NAME = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/;

const requestSchema = z.strictObject({
  name: z.string().min(1).max(200),
  options: z.array(z.string()).optional(),
  timestamp: z.number().int().min(0),
  user: z.string().optional(),
  logfileName: z.string().regex(LOGFILE_NAME, 'must be a plain file name ([A-Za-z0-9._-], not starting with a dot)').max(200).optional(),
});

/** What the commands need from the agent. */
export interface ShellCommandHost {
  /** The live task's report, or undefined when the agent does not run it (any more). */
  task(taskId: string): AgentTaskReport | undefined;
  /** The task's control and sandbox paths: the live ones, else those of a finished task, else undefined. */
  paths(taskId: string): TaskPaths | undefined;
  /** The executor configuration the agent hands its executors. */
  executorConfigFile: string;
}

/** A host from the agent's data directory layout (control-files.ts). */
export function dataDirHost(dataDir: string, sandboxRoot: string, tasks: () => AgentTaskReport[]): ShellCommandHost {
  return {
    task: (taskId) => tasks().find((t) => t.taskId === taskId),
    paths: (taskId) => {
      const live = taskPaths(dataDir, sandboxRoot, taskId);
      if (existsSync(live.controlDirectory)) return live;
      const finished = controlPaths(join(finishedExecutorsDir(dataDir), safeTaskId(taskId)), live.sandboxDirectory);
      return existsSync(finished.controlDirectory) ? finished : undefined;
    },
    executorConfigFile: join(dataDir, 'executor.yaml'),
  };
}

/** The pid in the TASK_RUNNING message (`Task running process bash - (pid: N)`): the runner, leader of the task's process group. */
export function runnerPidOf(statusFile: string, taskId: string): number | undefined {
  const records = readStatusRecords(statusFile, 0, taskId).records;
  const running = records.find((r) => r.state === 'TASK_RUNNING');
  const match = /\(pid: (\d+)\)/.exec(running?.message ?? '');
  return match ? Number(match[1]) : undefined;
}

/** After a user switch the runner is sudo, whose only child in the group is the task's process. */
function mainPid(runnerPid: number, switched: boolean): number {
  if (!switched) return runnerPid;
  const children = (listProcesses() ?? []).filter((p) => p.ppid === runnerPid && p.pgrp === runnerPid && p.state !== 'Z');
  return children.length === 1 ? children[0].pid : runnerPid;
}

function uidOf(name: string): number | undefined {
  try {
    return Number(execFileSync('id', ['-u', '--', name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 10_000 }).trim());
  } catch {
    return undefined;
  }
}

function ownUserName(): string {
  try {
    return userInfo().username;
  } catch {
    return String(process.getuid?.() ?? '');
  }
}

const shellQuote = (word: string) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`);

class InvalidCommand extends Error {}

/** The agent's shell-command runner; one per agent. */
export class AgentShellCommands {
  /** Commands this process runs right now, by `taskId\0name\0timestamp`. */
  private readonly running = new Map<string, { pid?: number }>();

  constructor(
    private readonly host: ShellCommandHost,
    private readonly logger: Logger,
    private readonly clock: Clock = systemClock,
  ) {}

  /**
   * Starts `request` against `taskId` and answers with its status so far
   * (ACKED, or INVALID with the reason); the command then runs on.
   */
  run(taskId: string, request: AgentShellCommandRequest): AgentShellCommandStatus {
    const paths = this.host.paths(taskId);
    if (!this.host.task(taskId) || !paths) throw new NotFoundError(`Task ${taskId} is not known to this agent`);
    const known = this.list(taskId).find((s) => s.name === request.name && s.timestamp === request.timestamp);
    if (known) return known;
    const status: AgentShellCommandStatus = { name: request.name, timestamp: request.timestamp, updates: [] };
    const record = (update: Omit<AgentShellCommandUpdate, 'timestamp'>) => {
      const full = { ...update, timestamp: this.clock.now() };
      status.updates.push(full);
      this.append(paths, request, full);
    };
    let prepared: { argv: string[]; timeoutMillis: number; outputFilename: string };
    try {
      prepared = this.prepare(taskId, paths, request);
    } catch (err) {
      if (!(err instanceof InvalidCommand)) throw err;
      record({ updateType: 'INVALID', message: err.message });
      this.logger.info({ taskId, request, reason: err.message }, 'shell command refused');
      return status;
    }
    record({ updateType: 'ACKED', message: prepared.argv.map(shellQuote).join(' '), outputFilename: prepared.outputFilename });
    const answer = { ...status, updates: [...status.updates] };
    this.start(taskId, paths, request, prepared, record);
    return answer;
  }

  /** Every command of the task with its updates, oldest first; [] when the task is unknown. */
  list(taskId: string): AgentShellCommandStatus[] {
    const paths = this.host.paths(taskId);
    if (!paths) return [];
    let text: string;
    try {
      text = readFileSync(join(paths.controlDirectory, SHELL_COMMANDS_FILE), 'utf8');
    } catch {
      return [];
    }
    const byKey = new Map<string, AgentShellCommandStatus>();
    for (const line of text.split('\n')) {
      if (!line.trim()) continue;
      let entry: { name?: unknown; timestamp?: unknown; update?: AgentShellCommandUpdate };
      try {
        entry = JSON.parse(line);
      } catch {
        continue; // a torn last line
      }
      if (typeof entry.name !== 'string' || typeof entry.timestamp !== 'number' || !entry.update || !SHELL_COMMAND_UPDATE_TYPES.includes(entry.update.updateType)) continue;
      const key = `${entry.name}\0${entry.timestamp}`;
      const status = byKey.get(key) ?? { name: entry.name, timestamp: entry.timestamp, updates: [] };
      status.updates.push(entry.update);
      byKey.set(key, status);
    }
    const statuses = [...byKey.values()];
    // A command this process is not running and that never ended ran under an agent that is gone.
    for (const status of statuses) {
      const last = status.updates[status.updates.length - 1];
      if (last && !isTerminalShellCommandUpdate(last.updateType) && !this.running.has(`${taskId}\0${status.name}\0${status.timestamp}`)) {
        const update: AgentShellCommandUpdate = { updateType: 'FAILED', message: 'The agent restarted while the command ran; its end is unknown', timestamp: this.clock.now() };
        status.updates.push(update);
        this.append(paths, status, update);
      }
    }
    return statuses.sort((a, b) => a.timestamp - b.timestamp);
  }

  private append(paths: TaskPaths, request: { name: string; timestamp: number }, update: AgentShellCommandUpdate): void {
    appendFileSync(join(paths.controlDirectory, SHELL_COMMANDS_FILE), `${JSON.stringify({ name: request.name, timestamp: request.timestamp, update })}\n`);
  }

  private config(): ShellCommandsConfig {
    let raw: unknown;
    try {
      raw = parseYaml(readFileSync(this.host.executorConfigFile, 'utf8'));
    } catch (err) {
      throw new UnavailableError(`cannot read the executor configuration ${this.host.executorConfigFile}: ${(err as Error).message}`);
    }
    const parsed = executorSection.safeParse((raw as { executor?: unknown } | null)?.executor ?? {});
    if (!parsed.success) throw new UnavailableError(`the executor configuration's shellCommands are invalid: ${parsed.error.issues[0].message}`);
    return parsed.data;
  }

  private prepare(taskId: string, paths: TaskPaths, request: AgentShellCommandRequest): { argv: string[]; timeoutMillis: number; outputFilename: string } {
    const config = this.config();
    const command = config.shellCommands.find((c) => c.name === request.name);
    if (!command) {
      const allowed = config.shellCommands.map((c) => c.name);
      throw new InvalidCommand(`Unknown shell command ${JSON.stringify(request.name)}; ${allowed.length ? `allowed: ${allowed.join(', ')}` : 'this agent allows none'}`);
    }
    for (const option of request.options ?? []) {
      if (!command.options.includes(option)) {
        throw new InvalidCommand(
          `Option ${JSON.stringify(option)} is not allowed for ${command.name}; ${command.options.length ? `allowed: ${command.options.join(', ')}` : 'it takes none'}`,
        );
      }
    }
    const state = this.host.task(taskId)?.state;
    if (state !== 'TASK_RUNNING') throw new InvalidCommand(`Task ${taskId} is not running (${state ?? 'gone'})`);
    const runnerPid = runnerPidOf(paths.statusFile, taskId);
    if (runnerPid === undefined || readProcStat(runnerPid)?.pgrp !== runnerPid) throw new InvalidCommand(`Task ${taskId} has no running process`);

    let definition: ExecutorTaskDefinition;
    try {
      definition = JSON.parse(readFileSync(paths.taskFile, 'utf8')) as ExecutorTaskDefinition;
    } catch (err) {
      throw new InvalidCommand(`Cannot read the task definition: ${(err as Error).message}`);
    }
    const own = ownUserName();
    const taskUser = definition.executorData?.user || config.defaultRunAsUser || undefined;
    const switchTo = taskUser !== undefined && taskUser !== own && uidOf(taskUser) !== process.getuid?.() ? taskUser : undefined;
    const pid = mainPid(runnerPid, switchTo !== undefined);
    let argv = [...command.command.map((w) => w.split('{PID}').join(String(pid)).split('{USER}').join(taskUser ?? own)), ...(request.options ?? [])];
    if (command.runAsTaskUser && switchTo !== undefined) {
      if (!USER_NAME.test(switchTo) || !config.switchUserCommandFormat.includes('%s')) throw new InvalidCommand(`Cannot run as the task's user ${switchTo}`);
      const switchCommand = config.switchUserCommandFormat.split('%s').join(shellQuote(switchTo));
      argv = ['/bin/bash', '-c', `exec ${switchCommand} "$@"`, 'singularity-shell-command', ...argv];
    }
    const outputFilename = request.logfileName ?? `${request.name.replace(/[^A-Za-z0-9._-]/g, '_')}-${request.timestamp}.log`;
    return { argv, timeoutMillis: command.timeoutMillis, outputFilename };
  }

  private start(
    taskId: string,
    paths: TaskPaths,
    request: AgentShellCommandRequest,
    prepared: { argv: string[]; timeoutMillis: number; outputFilename: string },
    record: (update: Omit<AgentShellCommandUpdate, 'timestamp'>) => void,
  ): void {
    const key = `${taskId}\0${request.name}\0${request.timestamp}`;
    const finish = (update: Omit<AgentShellCommandUpdate, 'timestamp'>) => {
      this.running.delete(key);
      record({ ...update, outputFilename: prepared.outputFilename });
      this.logger.info({ taskId, request, update }, 'shell command ended');
    };
    this.running.set(key, {});
    let out: number;
    try {
      out = openSync(join(paths.sandboxDirectory, prepared.outputFilename), 'a', 0o644);
    } catch (err) {
      finish({ updateType: 'FAILED', message: `Failed - cannot open ${prepared.outputFilename}: ${(err as Error).message}` });
      return;
    }
    const [program, ...args] = prepared.argv;
    let timedOut = false;
    let timer: NodeJS.Timeout | undefined;
    const child = spawn(program, args, { cwd: paths.sandboxDirectory, detached: true, stdio: ['ignore', out, out] });
    closeSync(out);
    child.once('error', (err) => {
      clearTimeout(timer);
      finish({ updateType: 'FAILED', message: `Failed - ${err.name} (${err.message})` });
    });
    child.once('spawn', () => {
      this.running.set(key, { pid: child.pid });
      record({ updateType: 'STARTED', message: `Started as pid ${child.pid}` });
      this.logger.info({ taskId, request, argv: prepared.argv, pid: child.pid }, 'shell command started');
      timer = setTimeout(() => {
        timedOut = true;
        try {
          if (child.pid) signalProcessGroup(child.pid, 'SIGKILL');
        } catch (err) {
          this.logger.warn({ err, taskId, request }, 'could not kill a timed-out shell command');
        }
      }, prepared.timeoutMillis);
      timer.unref();
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (timedOut) finish({ updateType: 'FAILED', message: `Timed out after ${prepared.timeoutMillis}ms and was killed` });
      else if (code === 0) finish({ updateType: 'FINISHED', message: 'Finished with code 0' });
      else if (code !== null) finish({ updateType: 'FAILED', message: `Failed with code ${code}` });
      else finish({ updateType: 'FAILED', message: `Killed by ${signal}` });
    });
    child.unref();
  }
}

/** The agent's own configuration as far as shell commands need it (`Agent.config`). */
interface AgentWithLayout {
  config: { dataDir: string; sandboxRoot: string };
  tasks(): AgentTaskReport[];
}

function hasLayout(agent: unknown): agent is AgentWithLayout {
  const config = (agent as { config?: { dataDir?: unknown; sandboxRoot?: unknown } }).config;
  return typeof config?.dataDir === 'string' && typeof config.sandboxRoot === 'string';
}

/**
 * `POST` and `GET /agent/tasks/{taskId}/commands` (AGENT_HTTP.shellCommands).
 * An agent without a data directory layout (test doubles) answers 501.
 */
export function registerShellCommandRoutes(app: FastifyInstance, agent: { tasks(): AgentTaskReport[] }, logger: Logger, commands?: AgentShellCommands): void {
  const runner =
    commands ?? (hasLayout(agent) ? new AgentShellCommands(dataDirHost(agent.config.dataDir, agent.config.sandboxRoot, () => agent.tasks()), logger.child({ component: 'shell-commands' })) : undefined);
  const path = '/agent/tasks/:taskId/commands'; // AGENT_HTTP.shellCommands
  type Params = { Params: { taskId: string } };
  app.post<Params>(path, async (request, reply) => {
    if (!runner) return reply.status(501).send({ message: 'Shell commands are not available on this agent' });
    const parsed = requestSchema.safeParse(request.body ?? {});
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const field = issue.path.join('.');
      throw new InvalidRequestError(`${field || 'body'}: ${issue.message}`, field || undefined);
    }
    const status = runner.run(request.params.taskId, parsed.data);
    return reply.status(status.updates.some((u) => u.updateType === 'INVALID') ? 200 : 202).send(status);
  });
  app.get<Params>(path, async (request, reply) => {
    if (!runner) return reply.status(501).send({ message: 'Shell commands are not available on this agent' });
    return reply.send(runner.list(request.params.taskId));
  });
}
