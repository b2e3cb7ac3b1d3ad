import pino from 'pino';
import { OomKiller } from './oom-killer';
import type { SchedulerKillClient } from './scheduler-kill-client';
import type { TaskMemoryReading, TaskMemorySource } from './task-memory';

/** Readings set by the test; `killAll` records the call and "kills" the listed pids. */
class FakeTaskMemorySource implements TaskMemorySource {
  tasks = new Map<string, { ratio?: number; pids: number[] }>();
  killed: string[] = [];
  failWith?: Error;
  async describe() {
    return 'fake';
  }
  async read(): Promise<TaskMemoryReading[]> {
    if (this.failWith) throw this.failWith;
    return [...this.tasks].map(([taskId, t]) => ({
      taskId,
      residentBytes: t.ratio === undefined ? undefined : t.ratio * 1000,
      limitBytes: 1000,
      killAll: async () => {
        this.killed.push(taskId);
        return t.pids;
      },
    }));
  }
}

class FakeScheduler implements SchedulerKillClient {
  requests: Array<{ taskId: string; message: string }> = [];
  down = false;
  async killTask(taskId: string, message: string) {
    if (this.down) throw new Error('connection refused');
    this.requests.push({ taskId, message });
  }
}

describe('OomKiller checks', () => {
  let source: FakeTaskMemorySource;
  let scheduler: FakeScheduler;
  let killer: OomKiller;

  beforeEach(() => {
    source = new FakeTaskMemorySource();
    scheduler = new FakeScheduler();
    killer = new OomKiller(
      { checkForOOMEveryMillis: 100, requestKillThresholdRatio: 1.0, killProcessDirectlyThresholdRatio: 1.2, slaveHostname: 'node1' },
      { source, scheduler, logger: pino({ level: 'silent' }), now: () => 42 },
    );
  });

  it('scenario 30: 1.1 asks once, 1.3 SIGKILLs the cgroup, 0.9 does nothing', async () => {
    source.tasks.set('t-1.1', { ratio: 1.1, pids: [] });
    source.tasks.set('t-1.3', { ratio: 1.3, pids: [11, 12] });
    source.tasks.set('t-0.9', { ratio: 0.9, pids: [13] });
    for (let i = 0; i < 3; i++) await killer.checkOnce();

    expect(scheduler.requests.map((r) => r.taskId)).toEqual(['t-1.1']);
    expect(scheduler.requests[0].message).toMatch(/OOM killer on node1: resident memory at 1\.10x/);
    expect(source.killed).toEqual(['t-1.3', 't-1.3', 't-1.3']);
    expect(killer.meters).toMatchObject({ softKills: 1, singularityAlreadyKilling: 2, hardKills: 6, eligibleForKill: 6, singularityFailures: 0, checks: 3 });
    expect(killer.lastCheckAt).toBe(42);
  });

  it('a failed request is counted and asked again on the next check', async () => {
    source.tasks.set('t', { ratio: 1.1, pids: [] });
    scheduler.down = true;
    await killer.checkOnce();
    await killer.checkOnce();
    expect(killer.meters.singularityFailures).toBe(2);
    scheduler.down = false;
    await killer.checkOnce();
    await killer.checkOnce();
    expect(scheduler.requests.map((r) => r.taskId)).toEqual(['t']);
    expect(killer.meters).toMatchObject({ softKills: 1, singularityAlreadyKilling: 1 });
  });

  it('forgets a task once its cgroup is gone (a new task of the same id would be asked about again)', async () => {
    source.tasks.set('t', { ratio: 1.1, pids: [] });
    await killer.checkOnce();
    source.tasks.delete('t');
    await killer.checkOnce();
    source.tasks.set('t', { ratio: 1.1, pids: [] });
    await killer.checkOnce();
    expect(scheduler.requests).toHaveLength(2);
  });

  it('a task asked about that keeps growing is still SIGKILLed over the direct threshold', async () => {
    source.tasks.set('t', { ratio: 1.1, pids: [5] });
    await killer.checkOnce();
    source.tasks.set('t', { ratio: 1.25, pids: [5] });
    await killer.checkOnce();
    expect(source.killed).toEqual(['t']);
    expect(killer.meters.hardKills).toBe(1);
  });

  it('counts cgroups without a ratio as unknownExecutors and survives a failed reading', async () => {
    source.tasks.set('no-reading', { pids: [] });
    await killer.checkOnce();
    expect(killer.meters.unknownExecutors).toBe(1);
    source.failWith = new Error('EACCES');
    await killer.checkOnce();
    expect(killer.meters).toMatchObject({ checkErrors: 1, checks: 1 });
  });

  it('runs on its own every checkForOOMEveryMillis until stopped', async () => {
    source.tasks.set('t', { ratio: 1.1, pids: [] });
    killer.start();
    while (killer.meters.checks < 3) await new Promise((r) => setTimeout(r, 20));
    await killer.stop();
    const checks = killer.meters.checks;
    await new Promise((r) => setTimeout(r, 250));
    expect(killer.meters.checks).toBe(checks);
    expect(scheduler.requests).toHaveLength(1);
  });
});
