import {
  healthcheckTarget,
  resolveHealthcheck,
  shouldHealthcheck,
  taskPorts,
  type HealthVerdict,
  type SingularityTaskHealthcheckResult,
  type TaskRecord,
} from '@singularity/scheduler-core';
import type { HttpHealthChecker } from './health';
import type { SchedulerContext } from './scheduler-context';

/**
 * Connects HTTP health checks to the task lifecycle (spec §3.4): a task of a
 * deploy with a check `uri` gets `health: PENDING` when it becomes RUNNING, its
 * checks run against the agent's address and the task's port, every result is
 * kept with the task, and the final verdict is handed to `onVerdict`.
 */
export class HealthMonitor {
  constructor(
    private readonly ctx: SchedulerContext,
    private readonly checker: HttpHealthChecker,
    private readonly onVerdict: (record: TaskRecord, verdict: HealthVerdict) => void,
  ) {}

  /** Starts (or resumes, with the stored results) checking a RUNNING task. Caller flushes. */
  start(record: TaskRecord, runningSince: number): void {
    const state = this.ctx.state;
    const { task } = record;
    const requestId = task.taskId.requestId;
    const pendingDeployId = state.getPendingDeploy(requestId)?.deployMarker.deployId;
    if (!shouldHealthcheck(task, { request: state.getRequest(requestId)?.request, pendingDeployId })) return;
    const options = resolveHealthcheck(task.taskRequest.deploy, this.ctx.settings);
    if (!options) return;
    const target = healthcheckTarget(task, options);
    if (!target) {
      // The deploy asks for a port the task does not have: a check can never pass.
      const result: SingularityTaskHealthcheckResult = {
        taskId: task.taskId,
        timestamp: this.ctx.clock.now(),
        errorMessage: `Invalid healthcheck uri or ports not present (portIndex ${options.portIndex}, task ports: ${taskPorts(record.task).join(', ') || 'none'})`,
        startup: false,
      };
      state.addHealthcheckResult(record, result);
      record.health = { status: 'UNHEALTHY', message: result.errorMessage };
      this.onVerdict(record, { status: 'UNHEALTHY', reason: 'failed more than maxRetries checks', message: result.errorMessage ?? '', countedFailures: 1 });
      return;
    }
    // Checks go to the agent's address (what the scheduler reaches it by), not its display host name.
    const agent = state.agents.get(task.mesosTask.agentId.value);
    const reachable = { ...target, host: agent?.address ?? target.host };
    record.health = { status: 'PENDING' };
    const verdict = this.checker.start(task, reachable, options, (result, v) => this.onResult(task.taskId.id, result, v), {
      runningSince,
      results: record.healthcheckResults,
      duringDeploy: () => state.getPendingDeploy(requestId)?.deployMarker.deployId === task.taskId.deployId,
    });
    if (verdict.status !== 'PENDING') this.settle(record, verdict);
  }

  stop(taskId: string): void {
    this.checker.stop(taskId);
  }

  /** Resolves when no check is in flight (tests). */
  idle(): Promise<void> {
    return this.checker.idle();
  }

  async stopAll(): Promise<void> {
    await this.checker.stopAll();
  }

  private onResult(taskId: string, result: SingularityTaskHealthcheckResult, verdict: HealthVerdict): void {
    const record = this.ctx.state.getTask(taskId);
    if (!record) return;
    this.ctx.state.addHealthcheckResult(record, result);
    if (verdict.status !== 'PENDING') this.settle(record, verdict);
    void this.ctx.state.flush().catch((err) => this.ctx.logger.error({ err, taskId }, 'could not save a health-check result'));
  }

  private settle(record: TaskRecord, verdict: HealthVerdict): void {
    record.health = { status: verdict.status, message: verdict.status === 'PENDING' ? undefined : verdict.message };
    this.ctx.logger.info({ taskId: record.task.taskId.id, health: verdict.status, message: record.health.message }, 'health check verdict');
    this.onVerdict(record, verdict);
  }
}
