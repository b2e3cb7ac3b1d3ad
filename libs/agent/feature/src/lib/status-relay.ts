import type { TaskStatusRecord } from '@singularity/models';
import type { Logger } from '@singularity/node-util';
import { systemClock, type Clock } from '@singularity/util';
import { writeFileAtomic } from './control-files';
import { RetryBackoff, describeDelay } from './retry-backoff';
import { SchedulerCallError, type SchedulerLink } from './scheduler-link';
import { collectStatus, type TaskEntry, type TaskTable } from './task-table';

export interface StatusRelayOptions {
  agentId: string;
  /** How often status files are polled for new lines. */
  pollMillis: number;
  /** First retry delay after a failed relay; doubles up to `maxRetryMillis`. */
  retryMillis: number;
  maxRetryMillis: number;
  /** Most records per POST. */
  batchSize: number;
}

/**
 * Relays status records from the executors' status files to the scheduler,
 * at least once and in order per task (spec: agent-protocol.ts).
 *
 * Each poll reads only the bytes appended since the last one. One batch is in
 * flight at a time and holds every task's records from its lowest
 * unacknowledged seq up, so a retry never reorders. Acknowledged seqs are
 * persisted per task (`acked`), so after a restart only unacknowledged records
 * are sent again. While the scheduler is down the relay retries with capped
 * exponential backoff and says so in the log.
 */
export class StatusRelay {
  private timer?: NodeJS.Timeout;
  private running = false;
  private inFlight?: Promise<boolean>;
  private nextAttemptAt = 0;
  private readonly backoff: RetryBackoff;

  constructor(
    private readonly table: TaskTable,
    private readonly link: SchedulerLink,
    private readonly options: StatusRelayOptions,
    private readonly logger: Logger,
    private readonly clock: Clock = systemClock,
  ) {
    this.backoff = new RetryBackoff(options.retryMillis, options.maxRetryMillis);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.inFlight;
  }

  /** Retry now instead of waiting out the backoff (e.g. the scheduler answered a registration). */
  wake(): void {
    this.nextAttemptAt = 0;
    if (this.running) this.schedule(0);
  }

  /** Records read from status files and not yet acknowledged. */
  pendingCount(): number {
    return this.table.list().reduce((n, e) => n + e.pending.length, 0);
  }

  /** Reads new status lines of one task (also used by the launcher before it decides an executor left no end). */
  collect(entry: TaskEntry): TaskStatusRecord[] {
    const fresh = collectStatus(entry, this.logger);
    for (const r of fresh) {
      this.logger.info({ taskId: r.taskId, seq: r.seq, state: r.state, statusMessage: r.message }, `task ${r.taskId}: ${r.state}`);
    }
    return fresh;
  }

  /**
   * Tries to relay everything pending within `timeoutMillis` (shutdown).
   * Resolves true when nothing is left.
   */
  async drain(timeoutMillis: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMillis;
    for (;;) {
      this.collectAll();
      if (this.pendingCount() === 0) return true;
      const remaining = deadline - Date.now();
      if (remaining <= 0) return false;
      this.nextAttemptAt = 0;
      const ok = await this.sendOnce();
      if (!ok) await sleep(Math.min(500, Math.max(deadline - Date.now(), 0)));
    }
  }

  private schedule(delay: number): void {
    if (!this.running) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.tick(), delay);
  }

  private async tick(): Promise<void> {
    this.timer = undefined;
    try {
      this.collectAll();
      // Keep sending while batches are full and accepted: a backlog drains without poll pauses.
      while (this.running && this.pendingCount() > 0 && this.clock.now() >= this.nextAttemptAt) {
        const sentFull = this.pendingCount() > this.options.batchSize;
        if (!(await this.sendOnce()) || !sentFull) break;
      }
    } catch (err) {
      this.logger.error({ err }, 'status relay round failed');
    }
    this.schedule(this.options.pollMillis);
  }

  private collectAll(): void {
    for (const entry of this.table.list()) {
      try {
        if (entry.terminalSeq === undefined || !entry.executorGone) this.collect(entry);
        this.table.finishIfDone(entry);
      } catch (err) {
        this.logger.warn({ err, taskId: entry.taskId }, 'could not read the status file');
      }
    }
  }

  /** One POST of the oldest pending records; resolves whether it was accepted. */
  private sendOnce(): Promise<boolean> {
    if (!this.inFlight) {
      this.inFlight = this.send().finally(() => {
        this.inFlight = undefined;
      });
    }
    return this.inFlight;
  }

  private async send(): Promise<boolean> {
    const updates = this.nextBatch();
    if (updates.length === 0) return true;
    try {
      const response = await this.link.sendStatusUpdates(this.options.agentId, { updates });
      if (this.backoff.failures > 0) {
        this.logger.info({ updates: updates.length, failedAttempts: this.backoff.failures }, `scheduler reachable again at ${this.link.baseUrl}; relaying ${this.pendingCount()} waiting updates`);
      }
      this.backoff.reset();
      this.applyAcknowledged(response.acknowledged);
      return true;
    } catch (err) {
      const delay = this.backoff.next();
      this.nextAttemptAt = this.clock.now() + delay;
      const waiting = this.pendingCount();
      if (err instanceof SchedulerCallError && !err.transient) {
        this.logger.error({ err: err.message, waiting }, `scheduler rejected ${updates.length} status updates; ${waiting} updates waiting; retrying in ${describeDelay(delay)}`);
      } else {
        this.logger.warn(
          { err: (err as Error).message, waiting, attempt: this.backoff.failures },
          `scheduler unreachable at ${this.link.baseUrl}; ${waiting} updates waiting; retrying in ${describeDelay(delay)}`,
        );
      }
      return false;
    }
  }

  /** The lowest pending records of every task, whole tasks first, at most `batchSize`. */
  private nextBatch(): TaskStatusRecord[] {
    const batch: TaskStatusRecord[] = [];
    for (const entry of this.table.list()) {
      for (const record of entry.pending) {
        if (batch.length >= this.options.batchSize) return batch;
        batch.push(record);
      }
    }
    return batch;
  }

  private applyAcknowledged(acknowledged: ReadonlyArray<{ taskId: string; seq: number }>): void {
    const byTask = new Map<string, Set<number>>();
    for (const a of acknowledged) {
      const seqs = byTask.get(a.taskId) ?? new Set<number>();
      seqs.add(a.seq);
      byTask.set(a.taskId, seqs);
    }
    for (const [taskId, seqs] of byTask) {
      const entry = this.table.get(taskId);
      if (!entry) continue;
      entry.pending = entry.pending.filter((r) => !seqs.has(r.seq));
      // Everything below the lowest record still pending has been acknowledged.
      const acked = entry.pending.length > 0 ? entry.pending[0].seq - 1 : entry.lastSeq;
      if (acked > entry.ackedSeq) {
        entry.ackedSeq = acked;
        try {
          // Not fsync'd: losing it only means the scheduler sees a few updates again.
          writeFileAtomic(entry.paths.ackedFile, `${acked}\n`, false);
        } catch (err) {
          this.logger.warn({ err, taskId }, 'could not persist the acknowledged seq');
        }
      }
      this.table.finishIfDone(entry);
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
