import { AGENT_HTTP, type AgentShellCommandRequest, type AgentShellCommandStatus } from '@singularity/models';
import { HttpCallError, postJson } from '@singularity/node-util';
import type { AgentAddress } from '../agent-gateway';

/**
 * How the scheduler hands shell commands to a task's agent and reads their
 * updates back (`AGENT_HTTP.shellCommands`). A port, so the service is tested
 * without agents.
 */
export interface ShellCommandAgentClient {
  /** Starts the command; the agent answers with its updates so far (ACKED or INVALID). 'unknown': the agent does not run the task. */
  send(agent: AgentAddress, taskId: string, request: AgentShellCommandRequest): Promise<AgentShellCommandStatus | 'unknown'>;
  /** Every command of the task the agent knows, with all their updates. */
  list(agent: AgentAddress, taskId: string): Promise<AgentShellCommandStatus[]>;
}

/** The agent did not answer, or refused; the command stays queued and is sent again on the next read. */
export class ShellCommandAgentError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ShellCommandAgentError';
  }
}

export class HttpShellCommandAgentClient implements ShellCommandAgentClient {
  constructor(private readonly timeoutMillis = 5000) {}

  async send(agent: AgentAddress, taskId: string, request: AgentShellCommandRequest): Promise<AgentShellCommandStatus | 'unknown'> {
    const url = this.url(agent, taskId);
    try {
      const answer = await postJson<AgentShellCommandStatus>(url, request, { timeoutMillis: this.timeoutMillis, tolerateStatuses: [404] });
      if (answer.status === 404) return 'unknown';
      if (!answer.json) throw new ShellCommandAgentError(`agent ${agent.agentId} answered ${answer.status} without a status to POST ${url}`);
      return answer.json;
    } catch (err) {
      if (err instanceof HttpCallError) throw new ShellCommandAgentError(`agent ${agent.agentId}: POST ${url}: ${err.reason}`, { cause: err });
      throw err;
    }
  }

  async list(agent: AgentAddress, taskId: string): Promise<AgentShellCommandStatus[]> {
    const url = this.url(agent, taskId);
    let response: Response;
    try {
      response = await fetch(url, { signal: AbortSignal.timeout(this.timeoutMillis) });
    } catch (err) {
      throw new ShellCommandAgentError(`agent ${agent.agentId}: GET ${url}: ${(err as Error).message}`, { cause: err });
    }
    if (!response.ok) throw new ShellCommandAgentError(`agent ${agent.agentId} answered ${response.status} to GET ${url}`);
    return (await response.json()) as AgentShellCommandStatus[];
  }

  private url(agent: AgentAddress, taskId: string): string {
    return `http://${agent.address}:${agent.port}${AGENT_HTTP.shellCommands(taskId)}`;
  }
}
