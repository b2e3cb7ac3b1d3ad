import type { SingularityTaskId } from './task-id';
import type { SingularityShellCommand } from './validation/common-fields';

/**
 * Shell commands run against a running task (`POST /tasks/task/{taskId}/command`),
 * in the reference's shapes. The commands themselves are configured on the
 * agents (executor configuration `shellCommands`); a request names one.
 * `SingularityShellCommand` (the body) is in validation/common-fields.ts.
 */

export const SHELL_COMMAND_UPDATE_TYPES = ['INVALID', 'ACKED', 'STARTED', 'FINISHED', 'FAILED'] as const;
export type ShellCommandUpdateType = (typeof SHELL_COMMAND_UPDATE_TYPES)[number];

/** INVALID, FINISHED and FAILED end a command; nothing follows them. */
export function isTerminalShellCommandUpdate(type: ShellCommandUpdateType): boolean {
  return type === 'INVALID' || type === 'FINISHED' || type === 'FAILED';
}

/** `SingularityTaskShellCommandRequestId`: (task, name, timestamp) names one request. */
export interface SingularityTaskShellCommandRequestId {
  taskId: SingularityTaskId;
  name: string;
  timestamp: number;
}

/** `SingularityTaskShellCommandRequest`. */
export interface SingularityTaskShellCommandRequest {
  taskId: SingularityTaskId;
  user?: string;
  /** When it was requested (ms); with the name it identifies the request. */
  timestamp: number;
  shellCommand: SingularityShellCommand;
}

/** `SingularityTaskShellCommandUpdate`. */
export interface SingularityTaskShellCommandUpdate {
  shellRequestId: SingularityTaskShellCommandRequestId;
  timestamp: number;
  message?: string;
  outputFilename?: string;
  updateType: ShellCommandUpdateType;
}

/** `SingularityTaskShellCommandHistory`: a request and its updates, oldest first. */
export interface SingularityTaskShellCommandHistory {
  shellRequest: SingularityTaskShellCommandRequest;
  shellUpdates: SingularityTaskShellCommandUpdate[];
}

/** `POST /agent/tasks/{taskId}/commands` body: the request as the agent runs it. */
export interface AgentShellCommandRequest {
  name: string;
  options?: string[];
  /** The scheduler's request timestamp; (taskId, name, timestamp) is the command's identity on the agent too. */
  timestamp: number;
  user?: string;
  logfileName?: string;
}

/** One update as the agent records it. */
export interface AgentShellCommandUpdate {
  updateType: ShellCommandUpdateType;
  timestamp: number;
  message?: string;
  outputFilename?: string;
}

/** A command's updates on the agent: the answer to the POST and, as a list, to `GET /agent/tasks/{taskId}/commands`. */
export interface AgentShellCommandStatus {
  name: string;
  timestamp: number;
  updates: AgentShellCommandUpdate[];
}
