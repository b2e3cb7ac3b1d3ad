import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AgentRegistration, AgentRegistrationResponse, TaskStatusBatch, TaskStatusBatchResponse, TaskStatusRecord } from '@singularity/models';
import { eventually, tempDir, type TempDir } from '@singularity/testing';
import { testLogger } from '../testing/agent-test-kit';
import { taskPaths } from './control-files';
import { SchedulerCallError, type SchedulerLink } from './scheduler-link';
import { StatusRelay } from './status-relay';
import { TaskTable } from './task-table';

/** A SchedulerLink in memory: records batches, acknowledges what `ack` allows, fails while `down`. */
class InMemorySchedulerLink implements SchedulerLink {
  readonly baseUrl = 'memory://scheduler';
  readonly batches: TaskStatusRecord[][] = [];
  down = false;
  ack: (u: TaskStatusRecord) => boolean = () => true;

  async register(_r: AgentRegistration): Promise<AgentRegistrationResponse> {
    return { agentId: 'a', heartbeatIntervalMillis: 1000 };
  }
  async heartbeat(): Promise<{ known: boolean }> {
    return { known: true };
  }
  async sendStatusUpdates(_agentId: string, batch: TaskStatusBatch): Promise<TaskStatusBatchResponse> {
    if (this.down) throw new SchedulerCallError('scheduler unreachable at memory://scheduler: ECONNREFUSED');
    this.batches.push(batch.updates);
    return { acknowledged: batch.updates.filter((u) => this.ack(u)).map((u) => ({ taskId: u.taskId, seq: u.seq })) };
  }
  /** (taskId, seq) pairs in the order they arrived, repeats included. */
  arrivals(): string[] {
    return this.batches.flat().map((u) => `${u.taskId}#${u.seq}`);
  }
}

describe('StatusRelay', () => {
  let dir: TempDir;
  let link: InMemorySchedulerLink;
  let relays: StatusRelay[];
  const logger = testLogger();

  beforeEach(async () => {
    dir = await tempDir('status-relay-');
    link = new InMemorySchedulerLink();
    relays = [];
  });
  afterEach(async () => {
    for (const relay of relays) await relay.stop();
    await dir.cleanup();
  });

  /** A control directory as a launch leaves it, with `states` already in the status file. */
  const writeTask = (taskId: string, states: string[]) => {
    const paths = taskPaths(dir.path, join(dir.path, 'sandboxes'), taskId);
    mkdirSync(paths.controlDirectory, { recursive: true });
    writeFileSync(paths.taskFile, JSON.stringify({ taskId, sandboxDirectory: paths.sandboxDirectory }));
    writeFileSync(paths.statusFile, states.map((state, i) => `${JSON.stringify({ seq: i + 1, taskId, state, timestamp: i })}\n`).join(''));
    return paths;
  };
  const startRelay = (batchSize = 100) => {
    const table = new TaskTable(dir.path, logger);
    const entries = table.recover();
    const relay = new StatusRelay(table, link, { agentId: 'a', pollMillis: 10, retryMillis: 10, maxRetryMillis: 40, batchSize }, logger);
    relays.push(relay);
    relay.start();
    return { table, entries, relay };
  };

  it('sends each task in seq order across small batches and persists the highest acknowledged seq', async () => {
    const a = writeTask('a', ['TASK_STAGING', 'TASK_STARTING', 'TASK_RUNNING']);
    writeTask('b', ['TASK_STAGING', 'TASK_STARTING']);
    const { relay } = startRelay(2);
    await eventually(() => expect(relay.pendingCount()).toBe(0), { description: 'everything acknowledged' });
    expect(link.batches.every((b) => b.length <= 2)).toBe(true);
    expect(link.arrivals()).toEqual(['a#1', 'a#2', 'a#3', 'b#1', 'b#2']);
    expect(readFileSync(a.ackedFile, 'utf8').trim()).toBe('3');
  });

  it('sends unacknowledged records again, in order, and after a restart only those', async () => {
    writeTask('a', ['TASK_STAGING', 'TASK_STARTING', 'TASK_RUNNING']);
    link.ack = (u) => u.seq === 1; // the scheduler takes seq 1 only
    const first = startRelay();
    await eventually(() => expect(link.batches.length).toBeGreaterThanOrEqual(2), { description: 'a retry' });
    await first.relay.stop();
    expect(link.batches[0].map((u) => u.seq)).toEqual([1, 2, 3]);
    expect(link.batches.slice(1).every((b) => b.map((u) => u.seq).join() === '2,3')).toBe(true);

    link.batches.length = 0;
    link.ack = () => true;
    const second = startRelay();
    await eventually(() => expect(second.relay.pendingCount()).toBe(0), { description: 'everything acknowledged' });
    expect(link.arrivals()).toEqual(['a#2', 'a#3']);
  });

  it('retries while the scheduler is down and delivers afterwards', async () => {
    writeTask('a', ['TASK_STAGING']);
    link.down = true;
    const { relay } = startRelay();
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(relay.pendingCount()).toBe(1);
    link.down = false;
    await eventually(() => expect(link.arrivals()).toEqual(['a#1']), { description: 'delivered' });
  });

  it('drops a task whose terminal record is acknowledged and whose executor is gone, keeping its files', async () => {
    writeTask('a', ['TASK_STAGING', 'TASK_RUNNING', 'TASK_FINISHED']);
    const { table, entries } = startRelay();
    entries[0].executorGone = true;
    await eventually(() => expect(table.size).toBe(0), { description: 'task dropped' });
    expect(existsSync(join(dir.path, 'executors-finished', 'a', 'status.jsonl'))).toBe(true);
    expect(table.isFinished('a')).toBe(true);
  });
});
