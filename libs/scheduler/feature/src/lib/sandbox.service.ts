import { NotFoundError, UnavailableError, DomainError } from '@singularity/util';
import type { HistoryService } from './history.service';
import { grepChunk, grepPattern, type FileChunk } from './sandbox-grep';
import type { SchedulerContext } from './scheduler-context';
import type { AgentRecord } from './scheduler-state';

/** An agent's non-2xx answer, passed on with its status and message. */
export class AgentAnswerError extends DomainError {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The scheduler's sandbox endpoints (spec §4: `/sandbox/{taskId}/browse|read`,
 * `/tasks/download|open`): it finds the agent that ran the task and passes
 * the request on. The agent confines every path to the task's sandbox.
 */
export class SandboxService {
  constructor(
    private readonly ctx: SchedulerContext,
    private readonly history: HistoryService,
    private readonly timeoutMillis = 10_000,
  ) {}

  async browse(taskId: string, path?: string): Promise<unknown> {
    return this.json(await this.agentOfTask(taskId), `/agent/sandbox/${encodeURIComponent(taskId)}/browse`, { path });
  }

  /** A chunk of a sandbox file; with `grep`, only its lines that match the pattern (as Singularity filters them). */
  async read(taskId: string, query: { path?: string; offset?: string; length?: string; grep?: string }): Promise<unknown> {
    const { grep, ...rest } = query;
    if (grep) grepPattern(grep); // a bad pattern is a 400 before the agent is asked
    const chunk = (await this.json(await this.agentOfTask(taskId), `/agent/sandbox/${encodeURIComponent(taskId)}/read`, rest)) as FileChunk;
    return grep ? grepChunk(chunk, grep) : chunk;
  }

  /** A file by its full path on an agent (`slaveHostname`, `path` as in Singularity). */
  async download(slaveHostname: string | undefined, path: string | undefined): Promise<Response> {
    const agent = [...this.ctx.state.agents.values()].find((a) => a.hostname === slaveHostname || a.agentId === slaveHostname);
    if (!agent) throw new NotFoundError(`Couldn't find agent ${slaveHostname ?? '(slaveHostname missing)'}`);
    const response = await this.fetch(agent, '/agent/files/download', { path });
    if (!response.ok) throw await this.answerError(response);
    return response;
  }

  private async agentOfTask(taskId: string): Promise<AgentRecord> {
    const task = this.ctx.state.getTask(taskId)?.task ?? this.ctx.state.getFinishedTask(taskId)?.task ?? (await this.history.task(taskId)).task;
    const agent = this.ctx.state.agents.get(task.mesosTask.agentId.value);
    if (!agent) throw new NotFoundError(`The agent of task ${taskId} (${task.mesosTask.agentId.value}) is no longer known`);
    return agent;
  }

  private async json(agent: AgentRecord, path: string, query: Record<string, string | undefined>): Promise<unknown> {
    const response = await this.fetch(agent, path, query);
    if (!response.ok) throw await this.answerError(response);
    return response.json();
  }

  private async fetch(agent: AgentRecord, path: string, query: Record<string, string | undefined>): Promise<Response> {
    const params = new URLSearchParams(Object.entries(query).filter((e): e is [string, string] => e[1] !== undefined));
    const url = `http://${agent.address}:${agent.port}${path}${params.size ? `?${params}` : ''}`;
    try {
      return await fetch(url, { signal: AbortSignal.timeout(this.timeoutMillis) });
    } catch (err) {
      throw new UnavailableError(`agent ${agent.hostname} did not answer (${(err as Error).message}); try again`);
    }
  }

  private async answerError(response: Response): Promise<AgentAnswerError> {
    const text = await response.text();
    let message = text;
    try {
      message = (JSON.parse(text) as { message?: string }).message ?? text;
    } catch {
      // not JSON: pass the text on
    }
    return new AgentAnswerError(response.status, message);
  }
}
