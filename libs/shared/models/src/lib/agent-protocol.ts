/**
 * The wire contracts between the scheduler, the agents and the executors.
 * Singularity delegated this to Mesos; these messages replace the Mesos
 * master/agent protocol (spec: "offer" = an agent's free-resource snapshot).
 *
 *   scheduler  <-- register / heartbeat / status batches (HTTP POST) --  agent
 *   scheduler  --  launch / kill (HTTP POST to the agent's port)     -->  agent
 *   agent      --  task definition file + SIGTERM (kill)              -->  executor
 *   executor   --  status.jsonl, one StatusRecord a line (fsync'd)    -->  agent
 *
 * Every message is idempotent: a launch of a known task id is ignored, a kill
 * of a finished task is a no-op, a repeated status update is dropped by the
 * scheduler. Status updates are retried by the agent until acknowledged.
 */
import type { ExecutorData } from './deploy';
import type { AgentReportedTaskState } from './enums';

/** Paths of the scheduler's internal endpoints, relative to the context path `/singularity`. */
export const AGENT_API = {
  register: '/internal/agents/register',
  heartbeat: (agentId: string) => `/internal/agents/${encodeURIComponent(agentId)}/heartbeat`,
  statusUpdates: (agentId: string) => `/internal/agents/${encodeURIComponent(agentId)}/status-updates`,
} as const;

/** Paths served by every agent (default port `agentHttpPort` = 5051). */
export const AGENT_HTTP = {
  health: '/agent/health',
  tasks: '/agent/tasks',
  kill: (taskId: string) => `/agent/tasks/${encodeURIComponent(taskId)}/kill`,
  /** POST runs a configured shell command against the task (AgentShellCommandRequest); GET lists the task's commands. */
  shellCommands: (taskId: string) => `/agent/tasks/${encodeURIComponent(taskId)}/commands`,
  /** A live task's usage from its cgroup (`MesosTaskStatisticsObject`); 404 for an unknown task or one without a cgroup. */
  statistics: (taskId: string) => `/agent/tasks/${encodeURIComponent(taskId)}/statistics`,
} as const;

export interface PortRange {
  begin: number;
  end: number;
}

export interface AgentResources {
  cpus: number;
  memoryMb: number;
  diskMb: number;
}

/** What an agent knows about one of its tasks; sent with registration and heartbeats. */
export interface AgentTaskReport {
  taskId: string;
  /** Last state the executor reported, or TASK_STAGING before it reported anything. */
  state: AgentReportedTaskState;
  executorPid?: number;
}

export interface AgentRegistration {
  /** Stable id the agent keeps across restarts (persisted in its data directory). */
  agentId: string;
  /** Host name used in task ids and shown to users. */
  hostname: string;
  /** Address the scheduler and health checks use to reach this machine. */
  address: string;
  /** Port of the agent's HTTP server. */
  port: number;
  rackId: string;
  attributes: Record<string, string>;
  resources: AgentResources;
  portRange: PortRange;
  version: string;
  /** Tasks the agent is running right now (reconciliation input). */
  tasks: AgentTaskReport[];
}

export interface AgentRegistrationResponse {
  agentId: string;
  heartbeatIntervalMillis: number;
}

export interface AgentHeartbeat {
  tasks: AgentTaskReport[];
}

export interface AgentHeartbeatResponse {
  /** False when the scheduler does not know this agent (e.g. it was removed): the agent registers again. */
  known: boolean;
}

/** One status update of one task, as the executor records it and the agent relays it. */
export interface TaskStatusRecord {
  /** Position in the task's status file, from 1; (taskId, seq) identifies the update. */
  seq: number;
  taskId: string;
  state: AgentReportedTaskState;
  message?: string;
  /** Machine-readable reason (Mesos-style), e.g. REASON_COMMAND_EXECUTOR_FAILED. */
  reason?: string;
  timestamp: number;
  exitCode?: number;
  /** For TASK_KILLED: true when SIGKILL was needed after the grace period. */
  forced?: boolean;
}

export interface TaskStatusBatch {
  updates: TaskStatusRecord[];
}

export interface TaskStatusBatchResponse {
  /** (taskId, seq) pairs the scheduler has durably recorded; the agent may forget them. */
  acknowledged: Array<{ taskId: string; seq: number }>;
}

/** Everything an executor needs to run one task. The scheduler builds it; the agent adds paths. */
export interface ExecutorLaunchSpec {
  taskId: string;
  requestId: string;
  deployId: string;
  executorData: ExecutorData;
  /** Environment of the task, in order: scheduler variables, deploy env, instance env, overrides. */
  env: Record<string, string>;
  resources: AgentResources & { ports: number[] };
}

/** `POST /agent/tasks` body. */
export interface AgentLaunchRequest {
  spec: ExecutorLaunchSpec;
}

/** `POST /agent/tasks/{taskId}/kill` body. */
export interface AgentKillRequest {
  /** Immediate SIGKILL ("destroy"), e.g. `USER_REQUESTED_DESTROY`, `REQUEST_DELETING`. */
  destroy?: boolean;
  user?: string;
  message?: string;
  /** Overrides the task's `sigKillProcessesAfterMillis`. */
  sigKillProcessesAfterMillis?: number;
}

/**
 * The task definition file the agent writes and the executor reads
 * (`<controlDirectory>/task.json`).
 */
export interface ExecutorTaskDefinition extends ExecutorLaunchSpec {
  /** The task's sandbox `T` (spec slave §1.3). */
  sandboxDirectory: string;
  /** Directory the agent and the executor share for this task's control files. */
  controlDirectory: string;
  /** Append-only JSON-lines file of TaskStatusRecord written by the executor. */
  statusFile: string;
  /** Written by the agent before it sends SIGTERM; holds an AgentKillRequest. */
  killFile: string;
  /** Default TERM→KILL grace when neither the kill nor the task sets one. */
  defaultSigKillProcessesAfterMillis: number;
}
