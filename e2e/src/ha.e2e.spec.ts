import { HaCluster, sleep, until, type AgentTask } from './support/ha-cluster';

/*
 * Issue 5, chaos acceptance: three schedulers (one leader, two standbys) elected through a real
 * ZooKeeper, a shared PostgreSQL for history, two agents that know all three schedulers.
 *
 * (a) kill -9 of the leader in the middle of a deploy, five times: another instance leads within the
 *     session timeout + 5 s, the deploy finishes, every task is accounted for and none runs twice;
 * (b) ZooKeeper down for 30 s in steady state: nothing is killed or started, writes get a clear 503,
 *     everything works again by itself when ZooKeeper is back;
 * (c) PostgreSQL down for 30 s while tasks finish: their history appears once it is back, exactly once.
 *
 * Measured failover times are printed (and kept in bench/README.md), never asserted beyond the bound.
 */

const SESSION_TIMEOUT_MILLIS = 6000;
const OUTAGE_MILLIS = 30_000;
const ZOOKEEPER_UNREACHABLE = 'ZooKeeper is unreachable: live state cannot be written; retry later';

jest.setTimeout(600_000);

interface ActiveTask {
  taskId: { id: string; requestId: string; deployId: string; instanceNo: number };
}
interface RequestParent {
  activeDeploy?: { id: string };
  pendingDeploy?: { id: string };
}
interface TaskHistory {
  taskUpdates: Array<{ taskState: string }>;
}

const unavailable = HaCluster.unavailable();
const isCI = /^(1|true|yes)$/i.test(process.env['CI'] ?? '');
if (unavailable && !isCI) console.warn(`\n!! SKIPPED: HA e2e: ${unavailable} (under CI=true this fails)\n`);

(unavailable && !isCI ? describe.skip : describe)('high availability: three schedulers, ZooKeeper, PostgreSQL, two agents', () => {
  const cluster = new HaCluster({
    sessionTimeoutMillis: SESSION_TIMEOUT_MILLIS,
    schedulerEnv: {
      // A deploy stays in progress for a few seconds after its tasks run: room to kill the leader mid-way.
      SINGULARITY_SCHEDULER_CONSIDER_TASK_HEALTHY_AFTER_RUNNING_FOR_SECONDS: '3',
      // Shorter than the 30 s ZooKeeper outage: without the refresh after it, every agent would be DEAD.
      SINGULARITY_SCHEDULER_AGENT_HEARTBEAT_TIMEOUT_SECONDS: '20',
    },
  });
  /** Every task ever seen on an agent: which agents and executor pids ran it. */
  const seen = new Map<string, { agents: Set<number>; pids: Set<number> }>();
  let watcher: NodeJS.Timeout | undefined;
  const failoverMillis: number[] = [];
  const handoverMillis: number[] = [];
  let failed = false;
  /** Runs a test body, remembering a failure so that afterAll keeps the logs. */
  const keepLogsOnFailure = (body: () => Promise<void>) => async () => {
    try {
      await body();
    } catch (err) {
      failed = true;
      throw err;
    }
  };

  const observe = async () => {
    for (const a of cluster.agents) {
      const tasks = await cluster.agentTasks(a.index).catch(() => [] as AgentTask[]);
      for (const t of tasks) {
        const entry = seen.get(t.taskId) ?? { agents: new Set<number>(), pids: new Set<number>() };
        entry.agents.add(a.index);
        if (t.executorPid) entry.pids.add(t.executorPid);
        seen.set(t.taskId, entry);
      }
    }
  };

  beforeAll(async () => {
    if (unavailable) throw new Error(`${unavailable}; CI=true, so a missing server fails this suite`);
    await cluster.start();
    const tick = () => {
      watcher = setTimeout(() => void observe().finally(() => watcher && tick()), 100);
    };
    tick();
  }, 180_000);

  afterAll(async () => {
    clearTimeout(watcher);
    watcher = undefined;
    if (handoverMillis.length > 0) console.log(`HA e2e: hand-over after SIGTERM of the leader: ${handoverMillis.join(', ')} ms`);
    if (failoverMillis.length > 0) console.log(`HA e2e: failover after kill -9 (5 rounds) and SIGSTOP (last) of the leader (session timeout ${SESSION_TIMEOUT_MILLIS} ms): ${failoverMillis.join(', ')} ms`);
    await cluster.stop();
    if (failed || process.env['SINGULARITY_E2E_KEEP_LOGS']) console.log(`HA e2e: logs kept in ${cluster.dir}`);
    else cluster.cleanup();
  }, 120_000);

  const activeTasks = async (requestId: string) => (await cluster.json<ActiveTask[]>('/api/tasks/active')).filter((t) => t.taskId.requestId === requestId);
  const lastState = async (taskId: string) => (await cluster.json<TaskHistory>(`/api/history/task/${encodeURIComponent(taskId)}`)).taskUpdates.at(-1)?.taskState;
  /** taskId → executor pid of every task the agents run now (terminal ones excluded). */
  const running = async () => {
    const out = new Map<string, { agent: number; pid?: number }>();
    for (const a of cluster.agents) {
      for (const t of await cluster.agentTasks(a.index)) {
        if (['TASK_FINISHED', 'TASK_FAILED', 'TASK_KILLED', 'TASK_LOST'].includes(t.state)) continue;
        if (out.has(t.taskId)) throw new Error(`task ${t.taskId} runs on two agents`);
        out.set(t.taskId, { agent: a.index, pid: t.executorPid });
      }
    }
    return out;
  };
  const deploy = (requestId: string, deployId: string, command = 'exec sleep 3600') =>
    cluster.post('/api/deploys', { deploy: { requestId, id: deployId, command, resources: { cpus: 0.1, memoryMb: 32, numPorts: 0, diskMb: 0 } } });
  /** The deploy is active and nothing is pending; its `instances` tasks run, nothing else of the request. */
  const settled = async (requestId: string, deployId: string, instances: number) => {
    const parent = await cluster.json<RequestParent>(`/api/requests/request/${requestId}`);
    if (parent.activeDeploy?.id !== deployId || parent.pendingDeploy) return undefined;
    const active = await activeTasks(requestId);
    if (active.length !== instances || active.some((t) => t.taskId.deployId !== deployId)) return undefined;
    const onAgents = await running();
    const ids = active.map((t) => t.taskId.id).sort();
    const agentIds = [...onAgents.keys()].filter((id) => id.startsWith(`${requestId}-`)).sort();
    if (JSON.stringify(ids) !== JSON.stringify(agentIds)) return undefined;
    for (const id of ids) if ((await lastState(id)) !== 'TASK_RUNNING') return undefined;
    return { active, onAgents };
  };

  it('(a) survives kill -9 of the leader in the middle of a deploy, five times: a new leader within session timeout + 5 s, the deploy finishes, no task runs twice', keepLogsOnFailure(async () => {
    const INSTANCES = 3;
    expect((await cluster.post('/api/requests', { id: 'web', owners: ['ha@example.com'], requestType: 'WORKER', instances: INSTANCES })).status).toBe(200);
    expect((await deploy('web', 'v0')).status).toBe(200);
    await until('deploy v0 to run', () => settled('web', 'v0', INSTANCES), 90_000);

    // Where each round cuts in: at once after the deploy was accepted, when its first task reached an
    // agent, when all its tasks run (but before they count as healthy).
    const killPoints = ['accepted', 'first task launched', 'all tasks running', 'accepted', 'first task launched'] as const;
    for (let round = 1; round <= killPoints.length; round++) {
      const deployId = `v${round}`;
      const previous = (await activeTasks('web')).map((t) => t.taskId.id);
      const oldLeader = await cluster.waitForLeader(30_000);
      const accepted = await deploy('web', deployId);
      expect(accepted.status).toBe(200);
      const point = killPoints[round - 1];
      if (point !== 'accepted') {
        const wanted = point === 'first task launched' ? 1 : INSTANCES;
        await until(`${point} for ${deployId}`, async () => {
          const ofDeploy = [...(await running()).keys()].filter((id) => id.startsWith(`web-${deployId}-`));
          return ofDeploy.length >= wanted ? true : undefined;
        }, 60_000, 50);
      }
      const parent = await cluster.json<RequestParent>('/api/requests/request/web');
      expect(parent.activeDeploy?.id).not.toBe(deployId); // still in the middle of it

      const killedAt = Date.now();
      await cluster.killScheduler(oldLeader);
      // The bound the issue demands: another instance leads within the session timeout + 5 s.
      const newLeader = await cluster.waitForLeader(SESSION_TIMEOUT_MILLIS + 5000, oldLeader);
      failoverMillis.push(Date.now() - killedAt);
      expect(newLeader).not.toBe(oldLeader);
      cluster.startScheduler(oldLeader); // back as a new standby

      const done = await until(`deploy ${deployId} to finish under the new leader`, () => settled('web', deployId, INSTANCES), 90_000);
      await observe();
      const ids = done.active.map((t) => t.taskId.id).sort();
      // Every task of the deploy ever seen on an agent is one of the deploy's three active tasks: none was
      // launched twice (no duplicate instance, no second executor for a task id, no second agent).
      const launched = [...seen.keys()].filter((id) => id.startsWith(`web-${deployId}-`)).sort();
      expect(launched).toEqual(ids);
      expect(done.active.map((t) => t.taskId.instanceNo).sort()).toEqual([1, 2, 3]);
      for (const id of ids) {
        expect(seen.get(id)?.agents.size).toBe(1);
        expect(seen.get(id)?.pids.size).toBe(1);
      }
      // The previous deploy's tasks were all killed, and the scheduler says so.
      for (const id of previous) {
        expect(done.onAgents.has(id)).toBe(false);
        await until(`${id} to be recorded as killed`, async () => ((await lastState(id)) === 'TASK_KILLED' ? true : undefined), 30_000);
      }
      await until('the restarted instance to be a standby again', async () => ((await cluster.health(oldLeader))?.leader === false ? true : undefined), 60_000);
    }
    // The leader's /state lists the three schedulers (the last one restarted joins within moments).
    const hostStates = await until('three schedulers in /state hostStates', async () => {
      const state = await cluster.json<{ hostStates: Array<{ hostname: string; master: boolean }> }>('/api/state?skipCache=true');
      return state.hostStates.length === 3 ? state.hostStates : undefined;
    }, 30_000);
    expect(hostStates.map((h) => h.hostname).sort()).toEqual(['scheduler-0', 'scheduler-1', 'scheduler-2']);
    expect(hostStates.filter((h) => h.master).map((h) => h.hostname)).toEqual([`scheduler-${await cluster.leader()}`]);
    expect(failoverMillis.every((ms) => ms <= SESSION_TIMEOUT_MILLIS + 5000)).toBe(true);
  }));

  it('(a2) a leader frozen past its session timeout loses the leadership, and on waking exits (75) without acting', keepLogsOnFailure(async () => {
    const frozen = await cluster.waitForLeader(30_000);
    const before = await until('a settled cluster', async () => {
      const parent = await cluster.json<RequestParent>('/api/requests/request/web');
      return parent.activeDeploy ? settled('web', parent.activeDeploy.id, 3) : undefined;
    }, 60_000);
    const beforeTasks = JSON.stringify([...before.onAgents.entries()].sort());

    cluster.freezeScheduler(frozen);
    const frozenAt = Date.now();
    const next = await cluster.waitForLeader(SESSION_TIMEOUT_MILLIS + 5000, frozen);
    failoverMillis.push(Date.now() - frozenAt);
    // The new leader starts a fourth task: one the frozen leader's state knows nothing of.
    const scaled = await cluster.api('/api/requests/request/web/scale', { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ instances: 4 }) });
    expect(scaled.status).toBe(200);
    const withFourth = await until('a fourth task to run', async () => {
      const now = [...(await running()).entries()].filter(([id]) => id.startsWith('web-'));
      return now.length === 4 ? JSON.stringify(now.sort()) : undefined;
    }, 30_000);
    // Past the heartbeat timeout (20 s): on waking, its state says every agent is silent.
    await sleep(Math.max(0, 22_000 - (Date.now() - frozenAt)));
    cluster.thawScheduler(frozen);
    await until('the woken leader to exit', async () => (cluster.isRunning(frozen) ? undefined : true), 20_000, 100);
    expect(cluster.exitCode(frozen)).toBe(75);
    const log = cluster.logTail(`scheduler-${frozen}`, 300);
    expect(log).toMatch(/stood still; it acts on nothing until ZooKeeper confirms its leadership/);
    expect(log).toMatch(/must stop leading: .*(expired|commit)/);

    // Nothing happened to the tasks: the new leader keeps them, the old one acted on nothing.
    expect(await cluster.leader()).toBe(next);
    await sleep(3000);
    expect(JSON.stringify([...(await running()).entries()].filter(([id]) => id.startsWith('web-')).sort())).toBe(withFourth);
    // The three it ran before, same agents and executors, and the fourth.
    const fourEntries = JSON.parse(withFourth) as Array<[string, unknown]>;
    for (const entry of JSON.parse(beforeTasks) as Array<[string, unknown]>) expect(fourEntries).toContainEqual(entry);
    const agents = await cluster.json<Array<{ currentState: { state: string } }>>('/api/slaves');
    expect(agents.map((a) => a.currentState.state)).toEqual(['ACTIVE', 'ACTIVE']);
    const scaledBack = await cluster.api('/api/requests/request/web/scale', { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ instances: 3 }) });
    expect(scaledBack.status).toBe(200);
    cluster.startScheduler(frozen);
    await until('the restarted instance to join as a standby', async () => {
      const state = await cluster.json<{ hostStates: unknown[] }>('/api/state?skipCache=true');
      return state.hostStates.length === 3 ? true : undefined;
    }, 30_000);
  }));

  it('(a3) hands over at once when the leader is stopped cleanly (SIGTERM), without waiting for its session to expire', keepLogsOnFailure(async () => {
    const leader = await cluster.waitForLeader(30_000);
    const stoppedAt = Date.now();
    const stopping = cluster.terminateScheduler(leader);
    const next = await cluster.waitForLeader(SESSION_TIMEOUT_MILLIS + 5000, leader);
    handoverMillis.push(Date.now() - stoppedAt);
    await stopping;
    expect(cluster.exitCode(leader)).toBe(0);
    expect(next).not.toBe(leader);
    cluster.startScheduler(leader);
    await until('the restarted instance to be a standby', async () => ((await cluster.health(leader))?.leader === false ? true : undefined), 60_000);
    await until('a settled cluster under the new leader', async () => {
      const parent = await cluster.json<RequestParent>('/api/requests/request/web');
      return parent.activeDeploy ? settled('web', parent.activeDeploy.id, 3) : undefined;
    }, 60_000);
  }));

  it('(b) rides out ZooKeeper down for 30 s: no task killed or started, writes get a clear 503, all works again by itself', keepLogsOnFailure(async () => {
    const leader = await cluster.waitForLeader(30_000);
    const standby = await until('a standby that answers', async () => {
      for (const s of cluster.schedulers) if (s.index !== leader && (await cluster.health(s.index))?.leader === false) return s.index;
      return undefined;
    }, 60_000);
    const before = await until('a settled cluster', async () => {
      const parent = await cluster.json<RequestParent>('/api/requests/request/web');
      return parent.activeDeploy ? settled('web', parent.activeDeploy.id, 3) : undefined;
    }, 60_000);
    const beforeTasks = JSON.stringify([...before.onAgents.entries()].sort());
    const endedBefore = (await cluster.json<unknown[]>('/api/history/request/web/tasks?count=1000')).length;

    const stoppedAt = Date.now();
    await cluster.zookeeper.stop();
    try {
      await until('the leader to see ZooKeeper go', async () => ((await cluster.health(leader))?.writable === false ? true : undefined), 15_000, 100);

      // Writes in the window: a clear 503 from the leader, and through a standby.
      for (const via of [leader, standby]) {
        const res = await cluster.post('/api/requests', { id: 'during-outage', owners: ['ha@example.com'], requestType: 'WORKER', instances: 1 }, via);
        expect(res.status).toBe(503);
        expect(await res.text()).toBe(ZOOKEEPER_UNREACHABLE);
      }
      // Reads still answer, and for the whole outage the agents run the same tasks.
      while (Date.now() - stoppedAt < OUTAGE_MILLIS) {
        expect(JSON.stringify([...(await running()).entries()].sort())).toBe(beforeTasks);
        expect((await activeTasks('web')).map((t) => t.taskId.id).sort()).toEqual([...before.onAgents.keys()].sort());
        await sleep(1000);
      }
    } finally {
      await cluster.zookeeper.start();
    }

    await until('writes to be accepted again', async () => {
      const res = await cluster.post('/api/requests', { id: 'after-outage', owners: ['ha@example.com'], requestType: 'WORKER', instances: 1 });
      return res.status === 200 ? true : undefined;
    }, 30_000);
    expect(await cluster.leader()).toBe(leader);
    // Several scheduling rounds later (without the refresh the first one would find every agent silent
    // for 30 s, past the 20 s heartbeat timeout): agents alive, the same tasks.
    await sleep(5000);
    const agents = await cluster.json<Array<{ currentState: { state: string } }>>('/api/slaves');
    expect(agents.map((a) => a.currentState.state)).toEqual(['ACTIVE', 'ACTIVE']);
    expect(JSON.stringify([...(await running()).entries()].filter(([id]) => id.startsWith('web-')).sort())).toBe(beforeTasks);
    expect((await activeTasks('web')).map((t) => t.taskId.id).sort()).toEqual([...before.onAgents.keys()].sort());
    expect((await cluster.json<unknown[]>('/api/history/request/web/tasks?count=1000')).length).toBe(endedBefore);
    const refused = await cluster.api('/api/requests/request/during-outage');
    expect(refused.status).toBe(404);
  }));

  it('(c) keeps history of tasks that finish while PostgreSQL is down for 30 s, and stores it once it is back, exactly once', keepLogsOnFailure(async () => {
    expect((await cluster.post('/api/requests', { id: 'batch', owners: ['ha@example.com'], requestType: 'ON_DEMAND', instances: 3 })).status).toBe(200);
    expect((await deploy('batch', 'b1', 'sleep 1')).status).toBe(200);
    await until('deploy b1 to be active', async () => ((await cluster.json<RequestParent>('/api/requests/request/batch')).activeDeploy?.id === 'b1' ? true : undefined), 60_000);

    const stoppedAt = Date.now();
    await cluster.postgres.stop();
    let finished: string[];
    try {
      const runs: string[] = [];
      for (let i = 1; i <= 3; i++) {
        const res = await cluster.post('/api/requests/request/batch/run', { runId: `run-${i}` });
        expect(res.status).toBe(200);
        runs.push(`run-${i}`);
      }
      // Where each run is, from live state (the history endpoints need the database).
      finished = await until('the three runs to finish while PostgreSQL is down', async () => {
        const states = await Promise.all(runs.map((runId) => cluster.json<{ taskId?: { id: string }; currentState?: string }>(`/api/track/run/batch/${runId}`)));
        return states.every((s) => s.currentState === 'TASK_FINISHED') ? states.map((s) => s.taskId?.id as string).sort() : undefined;
      }, OUTAGE_MILLIS - 5000);
      expect(Date.now() - stoppedAt).toBeLessThan(OUTAGE_MILLIS);
      await sleep(Math.max(0, OUTAGE_MILLIS - (Date.now() - stoppedAt)));
    } finally {
      await cluster.postgres.start();
    }

    await until('the finished tasks to be in PostgreSQL', async () => {
      const rows = await cluster.postgres.query<{ task_id: string }>('SELECT task_id FROM task_history WHERE request_id = $1', ['batch']);
      return rows.length === 3 ? true : undefined;
    }, 60_000);
    // A few more persist rounds (every 2 s): still exactly once, in the database and through the API.
    await sleep(6000);
    const rows = await cluster.postgres.query<{ task_id: string }>('SELECT task_id FROM task_history WHERE request_id = $1 ORDER BY task_id', ['batch']);
    expect(rows.map((r) => r.task_id)).toEqual(finished);
    const viaApi = (await cluster.json<Array<{ taskId: { id: string } }>>('/api/history/request/batch/tasks?count=100')).map((t) => t.taskId.id).sort();
    expect(viaApi).toEqual(finished);
    for (const id of finished) expect(await lastState(id)).toBe('TASK_FINISHED');
  }));
});
