import {
  isTerminalShellCommandUpdate,
  readShellCommand,
  type AgentShellCommandStatus,
  type SingularityShellCommand,
  type SingularityTaskShellCommandHistory,
  type SingularityTaskShellCommandRequest,
  type SingularityTaskShellCommandUpdate,
} from '@singularity/models';
import { InvalidRequestError } from '@singularity/util';
import type { AgentAddress } from '../agent-gateway';
import type { SchedulerContext } from '../scheduler-context';
import type { ExtensionCollection } from '../scheduler-state';
import type { ShellCommandAgentClient } from './shell-command-agent-client';

/** Live-state collection of shell commands, keyed `<taskId>:<name>:<timestamp>`. */
export const SHELL_COMMANDS_COLLECTION = 'task-shell-commands';

/** A request and what its agent reported; `SingularityTaskShellCommandHistory` plus when the agent took it. */
export interface ShellCommandRecord extends SingularityTaskShellCommandHistory {
  /** When the agent accepted the request (its first answer recorded); queued until then. */
  dispatchedAt?: number;
}

/** A file name the agent accepts as `logfileName` (plain, in the sandbox). */
const LOGFILE_NAME = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/;

const keyOf = (taskId: string, name: string, timestamp: number) => `${taskId}:${name}:${timestamp}`;

/**
 * Shell commands against running tasks (`/tasks/task/{taskId}/command`,
 * issue 4 item 8). The scheduler keeps each request and its updates in live
 * state and hands the request to the task's agent, which runs it (agent
 * `shell-commands.ts`) and keeps the updates.
 *
 * Names and options are not checked here: the commands are configured on the
 * agents (`executor.shellCommands`), which may differ from machine to
 * machine, so the agent decides and an unknown name or option comes back as
 * an INVALID update listing what is allowed. (Singularity checked them against
 * the scheduler's UI list and answered 403/400; we have no such list.)
 *
 * Updates reach the scheduler when it asks: right after the request, and on
 * every read of the task's command history, which also re-sends requests the
 * agent did not take (agent unreachable). There is no background poller.
 */
export class ShellCommandService {
  private readonly records: ExtensionCollection<ShellCommandRecord>;

  constructor(
    private readonly ctx: SchedulerContext,
    private readonly client: ShellCommandAgentClient,
  ) {
    this.records = ctx.state.extension<ShellCommandRecord>(SHELL_COMMANDS_COLLECTION);
  }

  /**
   * Records the request (400 for a bad body or a task that is not active),
   * sends it to the task's agent and returns it
   * (`SingularityTaskShellCommandRequest`). An agent that cannot be reached
   * leaves it queued.
   */
  async run(taskId: string, body: unknown, actingUser?: string): Promise<SingularityTaskShellCommandRequest> {
    const shellCommand = this.readBody(body);
    const task = this.ctx.state.getTask(taskId)?.task;
    if (!task) throw new InvalidRequestError(`${taskId} is not an active task, can't run ${shellCommand.name} on it`);
    this.forgetEndedTasks();
    let timestamp = this.ctx.clock.now();
    while (this.records.get(keyOf(taskId, shellCommand.name, timestamp))) timestamp++;
    const user = actingUser ?? shellCommand.user;
    const shellRequest: SingularityTaskShellCommandRequest = { taskId: task.taskId, timestamp, shellCommand, ...(user ? { user } : {}) };
    const record: ShellCommandRecord = { shellRequest, shellUpdates: [] };
    this.records.put(keyOf(taskId, shellCommand.name, timestamp), record);
    await this.ctx.state.flush();
    await this.dispatch(record);
    return shellRequest;
  }

  /** The task's commands with their updates, oldest first, after asking the agent for news. */
  async history(taskId: string): Promise<SingularityTaskShellCommandHistory[]> {
    await this.refresh(taskId);
    return this.ofTask(taskId).map(({ shellRequest, shellUpdates }) => ({ shellRequest, shellUpdates }));
  }

  /** The updates of one command (empty when there is no such command). */
  async updates(taskId: string, name: string, timestamp: number): Promise<SingularityTaskShellCommandUpdate[]> {
    await this.refresh(taskId);
    return this.records.get(keyOf(taskId, name, timestamp))?.shellUpdates ?? [];
  }

  /** Requests no agent has taken yet (`/tasks/commands/queued`). */
  queued(): SingularityTaskShellCommandRequest[] {
    return [...this.records.values()].filter((r) => r.dispatchedAt === undefined).map((r) => r.shellRequest).sort((a, b) => a.timestamp - b.timestamp);
  }

  private readBody(body: unknown): SingularityShellCommand {
    const shellCommand = readShellCommand(body ?? {}, '');
    if (shellCommand.logfileName !== undefined && (!LOGFILE_NAME.test(shellCommand.logfileName) || shellCommand.logfileName.length > 200)) {
      throw new InvalidRequestError('logfileName: must be a plain file name ([A-Za-z0-9._-], not starting with a dot)', 'logfileName');
    }
    return shellCommand;
  }

  private ofTask(taskId: string): ShellCommandRecord[] {
    return [...this.records.values()].filter((r) => r.shellRequest.taskId.id === taskId).sort((a, b) => a.shellRequest.timestamp - b.shellRequest.timestamp);
  }

  private agentOf(taskId: string): AgentAddress | undefined {
    const task = this.ctx.state.getTask(taskId)?.task ?? this.ctx.state.getFinishedTask(taskId)?.task;
    return task ? this.ctx.state.agents.get(task.mesosTask.agentId.value) : undefined;
  }

  /** Sends a queued request; its first updates (ACKED or INVALID) are recorded. Never throws. */
  private async dispatch(record: ShellCommandRecord): Promise<void> {
    const { taskId, shellCommand, timestamp, user } = record.shellRequest;
    const agent = this.agentOf(taskId.id);
    const now = () => this.ctx.clock.now();
    try {
      if (!agent) {
        this.apply(record, { name: shellCommand.name, timestamp, updates: [{ updateType: 'INVALID', message: `The agent of task ${taskId.id} is no longer known`, timestamp: now() }] });
      } else {
        const answer = await this.client.send(agent, taskId.id, {
          name: shellCommand.name,
          timestamp,
          ...(shellCommand.options ? { options: shellCommand.options } : {}),
          ...(user ? { user } : {}),
          ...(shellCommand.logfileName ? { logfileName: shellCommand.logfileName } : {}),
        });
        const status: AgentShellCommandStatus =
          answer === 'unknown' ? { name: shellCommand.name, timestamp, updates: [{ updateType: 'INVALID', message: `Task ${taskId.id} is not running on its agent`, timestamp: now() }] } : answer;
        this.apply(record, status);
      }
      record.dispatchedAt = now();
      this.records.put(keyOf(taskId.id, shellCommand.name, timestamp), record);
      await this.ctx.state.flush();
    } catch (err) {
      this.ctx.logger.warn({ err, taskId: taskId.id, name: shellCommand.name, timestamp }, 'shell command not handed to the agent yet; it stays queued');
    }
  }

  /** The agent's list is the whole story of a command: it replaces what was recorded when it is longer. */
  private apply(record: ShellCommandRecord, status: AgentShellCommandStatus): boolean {
    if (status.updates.length <= record.shellUpdates.length) return false;
    const shellRequestId = { taskId: record.shellRequest.taskId, name: record.shellRequest.shellCommand.name, timestamp: record.shellRequest.timestamp };
    record.shellUpdates = status.updates.map((u) => ({
      shellRequestId,
      timestamp: u.timestamp,
      updateType: u.updateType,
      ...(u.message !== undefined ? { message: u.message } : {}),
      ...(u.outputFilename !== undefined ? { outputFilename: u.outputFilename } : {}),
    }));
    return true;
  }

  /** Sends what is queued and reads the updates of commands that have not ended. Never throws. */
  private async refresh(taskId: string): Promise<void> {
    const records = this.ofTask(taskId);
    for (const record of records.filter((r) => r.dispatchedAt === undefined && this.ctx.state.getTask(taskId))) await this.dispatch(record);
    const open = records.filter((r) => r.dispatchedAt !== undefined && !isTerminalShellCommandUpdate(r.shellUpdates.at(-1)?.updateType ?? 'ACKED'));
    const agent = this.agentOf(taskId);
    if (open.length === 0 || !agent) return;
    try {
      const statuses = await this.client.list(agent, taskId);
      let changed = false;
      for (const record of open) {
        const status = statuses.find((s) => s.name === record.shellRequest.shellCommand.name && s.timestamp === record.shellRequest.timestamp);
        if (status && this.apply(record, status)) {
          this.records.put(keyOf(taskId, status.name, status.timestamp), record);
          changed = true;
        }
      }
      if (changed) await this.ctx.state.flush();
    } catch (err) {
      this.ctx.logger.warn({ err, taskId }, 'could not read shell command updates from the agent');
    }
  }

  /** Commands of tasks that left live state go with them (the SQL history does not keep them yet). */
  private forgetEndedTasks(): void {
    for (const [key, record] of [...this.records.entries()]) {
      const id = record.shellRequest.taskId.id;
      if (!this.ctx.state.getTask(id) && !this.ctx.state.getFinishedTask(id)) this.records.delete(key);
    }
  }
}

const services = new WeakMap<SchedulerContext, ShellCommandService>();

/** The one service of a scheduler (its live state), created on first use. */
export function shellCommandServiceOf(ctx: SchedulerContext, client: () => ShellCommandAgentClient): ShellCommandService {
  let service = services.get(ctx);
  if (!service) services.set(ctx, (service = new ShellCommandService(ctx, client())));
  return service;
}
