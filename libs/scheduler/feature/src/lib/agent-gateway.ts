import { AGENT_HTTP, type AgentKillRequest, type ExecutorLaunchSpec } from '@singularity/models';

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

export class AgentCallError extends Error {}

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

  private async post(agent: AgentAddress, path: string, body: unknown, tolerated: number[] = []): Promise<number> {
    const url = `http://${agent.address}:${agent.port}${path}`;
    let response: Response;
    try {
      response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMillis),
      });
    } catch (err) {
      throw new AgentCallError(`agent ${agent.agentId} at ${url} unreachable: ${(err as Error).message}`);
    }
    const text = await response.text();
    if (!response.ok && !tolerated.includes(response.status)) {
      throw new AgentCallError(`agent ${agent.agentId} answered ${response.status} to POST ${path}: ${text.slice(0, 300)}`);
    }
    return response.status;
  }
}
