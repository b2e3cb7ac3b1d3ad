import { isTerminalTaskState, type AgentTaskReport } from '@singularity/models';
import { lastAgentState } from '@singularity/scheduler-core';
import type { SchedulerContext } from './scheduler-context';
import type { AgentRecord } from './scheduler-state';

/** `GET /state/task-reconciliation` (SingularityTaskReconciliationStatistics). */
export interface TaskReconciliationStatistics {
  taskReconciliationStartedAt: number;
  taskReconciliationDurationMillis: number;
  taskReconciliationIterations: number;
  taskReconciliationResponseCount: number;
  taskReconciliationResponseMax: number;
  taskReconciliationResponseMean: number;
  taskReconciliationResponseMin: number;
  taskReconciliationResponseP50: number;
  taskReconciliationResponseP75: number;
  taskReconciliationResponseP95: number;
  taskReconciliationResponseP98: number;
  taskReconciliationResponseP99: number;
  taskReconciliationResponseP999: number;
  taskReconciliationResponseStddev: number;
}

export interface ReconcileActions {
  /** The scheduler has the task but the agent does not: it is lost. */
  lost(taskId: string, message: string): void;
  /** The agent runs a task the scheduler does not have: recovered if it may be, else it must die. */
  kill(agent: AgentRecord, taskId: string): void;
  /** True when the task was taken back (a lost task whose agent still runs it). */
  recover?(agent: AgentRecord, taskId: string): boolean;
}

/**
 * Reconciliation (spec §3.2) over the task lists agents send with every
 * heartbeat. A task the scheduler believes runs on an agent is lost only when
 * two reports in a row, both sent well after the agent acknowledged the task,
 * leave it out (a report built just before a launch must not condemn it).
 * Rounds start at leader start and every `startNewReconcileEverySeconds`; a
 * round ends once every agent holding tasks has reported, and its figures are
 * kept for `/state/task-reconciliation`.
 */
export class TaskReconciler {
  private readonly missingSince = new Map<string, number>();
  private round: { startedAt: number; waitingFor: Set<string>; responses: number[]; iterations: number } | undefined;
  private lastRound: TaskReconciliationStatistics | undefined;

  constructor(
    private readonly ctx: SchedulerContext,
    private readonly actions: ReconcileActions,
  ) {}

  /** Starts a round if none runs or the last one is older than the period. */
  maybeStartRound(now: number): void {
    const periodMillis = this.ctx.settings.startNewReconcileEverySeconds * 1000;
    if (this.round && now - this.round.startedAt < periodMillis) return;
    if (!this.round && this.lastRound && now - this.lastRound.taskReconciliationStartedAt < periodMillis) return;
    const waitingFor = new Set<string>();
    for (const agent of this.ctx.state.agents.values()) {
      if (agent.state !== 'DEAD' && this.ctx.state.tasksOnAgent(agent.agentId).length > 0) waitingFor.add(agent.agentId);
    }
    this.round = { startedAt: now, waitingFor, responses: [], iterations: 0 };
    this.finishRoundIfDone(now);
  }

  /** Compares one agent's report with what the scheduler holds for it. */
  onReport(agent: AgentRecord, reported: readonly AgentTaskReport[], now: number): void {
    const reportedIds = new Set(reported.map((r) => r.taskId));
    const marginMillis = this.ctx.settings.heartbeatIntervalMillis;
    for (const record of this.ctx.state.tasksOnAgent(agent.agentId)) {
      const id = record.task.taskId.id;
      if (reportedIds.has(id)) {
        this.missingSince.delete(id);
        continue;
      }
      const acknowledgedAt = record.updates.find((u) => u.taskState !== 'TASK_LAUNCHED' && u.taskState !== 'TASK_CLEANING')?.timestamp;
      if (acknowledgedAt === undefined || now - acknowledgedAt < marginMillis || isTerminalTaskState(lastAgentState(record))) continue;
      const since = this.missingSince.get(id);
      if (since === undefined) {
        this.missingSince.set(id, now);
      } else if (now > since) {
        this.missingSince.delete(id);
        this.actions.lost(id, `Task was not running on agent ${agent.hostname} during reconciliation`);
      }
    }
    for (const r of reported) {
      if (this.ctx.state.getTask(r.taskId) || isTerminalTaskState(r.state)) continue;
      if (!this.actions.recover?.(agent, r.taskId)) this.actions.kill(agent, r.taskId);
    }
    if (this.round) {
      this.round.iterations++;
      if (this.round.waitingFor.delete(agent.agentId)) this.round.responses.push(now - this.round.startedAt);
      this.finishRoundIfDone(now);
    }
  }

  forget(taskId: string): void {
    this.missingSince.delete(taskId);
  }

  statistics(): TaskReconciliationStatistics | undefined {
    return this.lastRound;
  }

  private finishRoundIfDone(now: number): void {
    const round = this.round;
    if (!round || round.waitingFor.size > 0) return;
    this.round = undefined;
    const sorted = [...round.responses].sort((a, b) => a - b);
    const pct = (p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] : 0);
    const mean = sorted.length ? sorted.reduce((a, b) => a + b, 0) / sorted.length : 0;
    const stddev = sorted.length ? Math.sqrt(sorted.reduce((a, b) => a + (b - mean) ** 2, 0) / sorted.length) : 0;
    this.lastRound = {
      taskReconciliationStartedAt: round.startedAt,
      taskReconciliationDurationMillis: now - round.startedAt,
      taskReconciliationIterations: round.iterations,
      taskReconciliationResponseCount: sorted.length,
      taskReconciliationResponseMax: sorted.at(-1) ?? 0,
      taskReconciliationResponseMean: mean,
      taskReconciliationResponseMin: sorted[0] ?? 0,
      taskReconciliationResponseP50: pct(50),
      taskReconciliationResponseP75: pct(75),
      taskReconciliationResponseP95: pct(95),
      taskReconciliationResponseP98: pct(98),
      taskReconciliationResponseP99: pct(99),
      taskReconciliationResponseP999: pct(99.9),
      taskReconciliationResponseStddev: stddev,
    };
    this.ctx.logger.info({ durationMillis: now - round.startedAt, agents: sorted.length }, 'task reconciliation round finished');
  }
}
