import type { DeployHistoryRecord, HistoryPurgingConfig, HistoryRepository, SingularityTaskHistory } from '@singularity/scheduler-history';
import { HISTORY_PURGING_DEFAULTS, planHistoryPurge, runHistoryPurge, taskHistoryRecord } from '@singularity/scheduler-history';
import type { SchedulerContext } from './scheduler-context';
import type { FinishedTaskRecord } from './scheduler-state';
import { SHELL_COMMANDS_COLLECTION, type ShellCommandRecord } from './shell-commands/shell-command.service';

const BATCH = 500;

/** The full task history of a finished (or live) task, in `SingularityTaskHistory` shape. */
export function taskHistoryOf(record: Pick<FinishedTaskRecord, 'task' | 'updates' | 'healthcheckResults'>): SingularityTaskHistory {
  return {
    task: record.task,
    taskUpdates: record.updates,
    healthcheckResults: [...(record.healthcheckResults ?? [])].reverse(),
    loadBalancerUpdates: [],
    shellCommandHistory: [],
    taskMetadata: [],
  };
}

/**
 * Moves what is finished from live state to the SQL history (spec §3.6): every
 * `persistHistoryEverySeconds`, finished tasks (not ones that may still come
 * back: lost less than 1.5 × `agentReregisterTimeoutSeconds` ago), request
 * history events, and deploys that are neither active nor pending. Writes are
 * idempotent upserts, and live copies are dropped only after the database
 * took them, so a database outage delays history but loses or doubles nothing.
 */
export class HistoryPersister {
  private timer: NodeJS.Timeout | undefined;
  private purgeTimer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  private readonly persistedDeploys;

  constructor(
    private readonly ctx: SchedulerContext,
    private readonly repository: HistoryRepository,
    /** `historyPurging` (spec §5): off unless enabled. */
    private readonly purging: HistoryPurgingConfig = HISTORY_PURGING_DEFAULTS,
    /** The load balancer's updates of a task, saved with its history. */
    private readonly lbUpdatesOf: (taskId: string) => SingularityTaskHistory['loadBalancerUpdates'] = () => [],
  ) {
    this.persistedDeploys = ctx.state.extension<true>('history-persisted-deploys');
  }

  start(): void {
    this.timer = setInterval(() => void this.persistOnce(), this.ctx.settings.persistHistoryEverySeconds * 1000);
    if (this.purging.enabled) {
      this.purgeTimer = setInterval(() => void this.purgeOnce(), this.purging.checkTaskHistoryEveryHours * 3_600_000);
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    clearInterval(this.purgeTimer);
    await this.running;
  }

  /** One purge of old history per `historyPurging` (spec §3.6: newest kept per request). */
  async purgeOnce() {
    try {
      const result = await runHistoryPurge(this.repository, planHistoryPurge(this.purging, this.ctx.clock.now()));
      this.ctx.logger.info({ ...result }, 'history purged');
      return result;
    } catch (err) {
      this.ctx.logger.warn({ err: (err as Error).message }, 'history purge failed; it runs again next period');
      return undefined;
    }
  }

  /** One round; resolves with what moved. Errors are logged and the items wait for the next round. */
  persistOnce(): Promise<{ tasks: number; requestHistory: number; deploys: number; error?: string }> {
    if (this.running) return this.running as Promise<{ tasks: number; requestHistory: number; deploys: number }>;
    const round = this.round().finally(() => (this.running = undefined));
    this.running = round;
    return round;
  }

  private async round(): Promise<{ tasks: number; requestHistory: number; deploys: number; error?: string }> {
    const moved = { tasks: 0, requestHistory: 0, deploys: 0 };
    try {
      const state = this.ctx.state;
      const now = this.ctx.clock.now();
      const returnWindow = 1.5 * this.ctx.settings.agentReregisterTimeoutSeconds * 1000;
      const tasks = state.allFinishedTasks().filter((f) => !(f.updates.at(-1)?.taskState === 'TASK_LOST' && now - f.finishedAt < returnWindow));
      // Shell commands of the tasks that move, grouped once per round (the collection is small: commands are rare).
      const shellCommands = state.extension<ShellCommandRecord>(SHELL_COMMANDS_COLLECTION);
      const commandsByTask = new Map<string, Array<[string, ShellCommandRecord]>>();
      if (tasks.length > 0) {
        for (const [key, record] of shellCommands.entries()) {
          const id = record.shellRequest.taskId.id;
          commandsByTask.set(id, [...(commandsByTask.get(id) ?? []), [key, record]]);
        }
      }
      for (let i = 0; i < tasks.length; i += BATCH) {
        const batch = tasks.slice(i, i + BATCH);
        await this.repository.saveTaskHistories(
          batch.map((f) =>
            taskHistoryRecord({
              ...taskHistoryOf(f),
              loadBalancerUpdates: this.lbUpdatesOf(f.task.taskId.id),
              shellCommandHistory: (commandsByTask.get(f.task.taskId.id) ?? [])
                .map(([, { shellRequest, shellUpdates }]) => ({ shellRequest, shellUpdates }))
                .sort((a, b) => a.shellRequest.timestamp - b.shellRequest.timestamp),
            }),
          ),
        );
        for (const f of batch) {
          state.forgetFinished(f.task.taskId.id);
          for (const [key] of commandsByTask.get(f.task.taskId.id) ?? []) shellCommands.delete(key);
        }
        await state.flush();
        moved.tasks += batch.length;
      }

      const events = state.allRequestHistory();
      for (let i = 0; i < events.length; i += BATCH) {
        const batch = events.slice(i, i + BATCH);
        await this.repository.saveRequestHistory(batch);
        state.forgetRequestHistory(batch);
        await state.flush();
        moved.requestHistory += batch.length;
      }

      const deploys: DeployHistoryRecord[] = [];
      for (const requestId of state.requests.keys()) {
        const activeDeployId = state.activeDeployId(requestId);
        const pendingDeployId = state.getPendingDeploy(requestId)?.deployMarker.deployId;
        for (const deployId of state.deployIdsOf(requestId)) {
          const key = `${requestId}:${deployId}`;
          if (deployId === activeDeployId || deployId === pendingDeployId || this.persistedDeploys.get(key)) continue;
          const deploy = state.getDeploy(requestId, deployId);
          const deployResult = state.getDeployResult(requestId, deployId);
          if (!deploy || !deployResult) continue;
          deploys.push({
            deployMarker: { requestId, deployId, timestamp: deploy.timestamp ?? deployResult.timestamp },
            deploy,
            deployResult,
            deployStatistics: state.getDeployStatistics(requestId, deployId),
          });
        }
      }
      for (let i = 0; i < deploys.length; i += BATCH) {
        const batch = deploys.slice(i, i + BATCH);
        await this.repository.saveDeployHistories(batch);
        for (const d of batch) this.persistedDeploys.put(`${d.deployMarker.requestId}:${d.deployMarker.deployId}`, true);
        await state.flush();
        moved.deploys += batch.length;
      }
      if (moved.tasks + moved.requestHistory + moved.deploys > 0) this.ctx.logger.info(moved, 'history persisted');
      return moved;
    } catch (err) {
      this.ctx.logger.warn({ err: (err as Error).message, ...moved }, 'history store unavailable; finished items stay in live state until the next round');
      return { ...moved, error: (err as Error).message };
    }
  }
}
