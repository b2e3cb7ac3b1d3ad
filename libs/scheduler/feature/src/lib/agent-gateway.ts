import { AGENT_HTTP, type AgentKillRequest, type ExecutorLaunchSpec } from '@singularity/models';
import { HttpCallError, postJson } from '@singularity/node-util';

export interface AgentAddress {
  agentId: string;
  address: string;
  port: number;
}

/**
 * How the scheduler reaches agents (the Mesos master's role). Launch and kill
 * are idempotent on the agent, so callers simply retry.
 */
export interface AgentGateway {
  launch(agent: AgentAddress, spec: ExecutorLaunchSpec): Promise<void>;
  /** Resolves 'unknown' when the agent does not have the task. */
  kill(agent: AgentAddress, taskId: string, request: AgentKillRequest): Promise<'ok' | 'unknown'>;
}

/** A launch or kill did not reach the agent, or the agent refused it; the cause is the HttpCallError. */
export class AgentCallError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AgentCallError';
  }
}

/** Talks to agents over HTTP with a bounded timeout per call. */
export class HttpAgentGateway implements AgentGateway {
  constructor(private readonly timeoutMillis = 5000) {}

  async launch(agent: AgentAddress, spec: ExecutorLaunchSpec): Promise<void> {
    await this.post(agent, AGENT_HTTP.tasks, { spec });
  }

  async kill(agent: AgentAddress, taskId: string, request: AgentKillRequest): Promise<'ok' | 'unknown'> {
    const status = await this.post(agent, AGENT_HTTP.kill(taskId), request, [404]);
    return status === 404 ? 'unknown' : 'ok';
  }

  /** Resolves with the answer's status; failures become AgentCallErrors naming the agent. */
  private async post(agent: AgentAddress, path: string, body: unknown, tolerateStatuses: number[] = []): Promise<number> {
    const url = `http://${agent.address}:${agent.port}${path}`;
    try {
      return (await postJson(url, body, { timeoutMillis: this.timeoutMillis, tolerateStatuses })).status;
    } catch (err) {
      if (!(err instanceof HttpCallError)) throw err;
      if (err.unreachable) throw new AgentCallError(`agent ${agent.agentId} at ${url} unreachable: ${err.reason}`, { cause: err });
      throw new AgentCallError(`agent ${agent.agentId} answered ${err.status} to POST ${path}: ${err.reason}`, { cause: err });
    }
  }
}
