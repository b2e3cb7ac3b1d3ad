import { AGENT_HTTP } from '@singularity/models';
import { NotFoundError, UnavailableError } from '@singularity/util';
import { AgentAnswerError } from './sandbox.service';
import type { SchedulerContext } from './scheduler-context';

/** `MesosTaskStatisticsObject` as the agent reads it from the task's cgroup; passed on as it comes. */
export type TaskStatisticsObject = Record<string, number>;

export interface TaskStatisticsOptions {
  /** Per call to the agent. */
  timeoutMillis?: number;
  /** The HTTP client (tests); the global fetch by default. */
  fetch?: typeof fetch;
}

/**
 * `GET /tasks/task/{taskId}/statistics` (Singularity: "resource usage
 * statistics about a specific active task"): the scheduler finds the agent
 * running the task and asks it (`AGENT_HTTP.statistics`); the agent reads the
 * task's cgroup. 404 for a task that is not active, and the agent's 404 (with
 * its reason) for a task it does not know or that runs without a cgroup.
 */
export class TaskStatisticsService {
  private readonly timeoutMillis: number;
  private readonly fetch: typeof fetch;

  constructor(
    private readonly ctx: SchedulerContext,
    options: TaskStatisticsOptions = {},
  ) {
    this.timeoutMillis = options.timeoutMillis ?? 10_000;
    this.fetch = options.fetch ?? ((input, init) => fetch(input, init));
  }

  async statistics(taskId: string): Promise<TaskStatisticsObject> {
    const task = this.ctx.state.getTask(taskId)?.task;
    if (!task) throw new NotFoundError(`Couldn't find active task with id ${taskId}`);
    const agentId = task.mesosTask.agentId.value;
    const agent = this.ctx.state.agents.get(agentId);
    if (!agent) throw new NotFoundError(`The agent of task ${taskId} (${agentId}) is no longer known`);
    const url = `http://${agent.address}:${agent.port}${AGENT_HTTP.statistics(taskId)}`;
    let response: Response;
    try {
      response = await this.fetch(url, { signal: AbortSignal.timeout(this.timeoutMillis) });
    } catch (err) {
      throw new UnavailableError(`agent ${agent.hostname} did not answer (${(err as Error).message}); try again`);
    }
    const text = await response.text();
    if (!response.ok) {
      let message = text;
      try {
        message = (JSON.parse(text) as { message?: string }).message ?? text;
      } catch {
        // not JSON: pass the text on
      }
      if (response.status === 404) throw new NotFoundError(message || `No statistics for task ${taskId} on agent ${agent.hostname}`);
      throw new AgentAnswerError(response.status, message);
    }
    try {
      return JSON.parse(text) as TaskStatisticsObject;
    } catch {
      throw new AgentAnswerError(502, `agent ${agent.hostname} answered with something that is not JSON`);
    }
  }
}
