import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { Logger } from '@singularity/node-util';
import { openSqlHistoryRepository } from '@singularity/scheduler-history';
import { hostStatesOf, LeaderGuard, normalizeNamespace, ZooKeeperLeaderElection, type SchedulerRuntime } from '@singularity/scheduler-feature';
import { ZooKeeperStateStore } from '@singularity/scheduler-state';
import { systemClock } from '@singularity/util';
import { createSchedulerApp } from './create-app';
import type { SchedulerConfig } from './scheduler-config';
import { startStandbyServer, type StandbyServer } from './standby-server';

/**
 * The exit code of a leader that stopped because it could no longer vouch for its state (leadership or
 * a ZooKeeper session lost, a failed commit): EX_TEMPFAIL, "restart me". Its supervisor restarts it; it
 * comes back as a standby.
 */
export const EXIT_LEADERSHIP_LOST = 75;

/**
 * A commit waits this long at most for a lost ZooKeeper connection. The session, not this bound, is what
 * ends a leader's authority: while ZooKeeper is down no session expires (and nobody else can be elected),
 * so the leader pauses and waits; if its session did expire meanwhile, it learns so on reconnection and
 * exits. The bound only keeps a commit from waiting forever on a ZooKeeper that never comes back.
 */
const COMMIT_WAITS_FOR_ZOOKEEPER_MILLIS = 24 * 3_600_000;

export interface HighlyAvailableScheduler {
  /** The port the standby server and later the leader's app listen on. */
  readonly port: number;
  readonly election: ZooKeeperLeaderElection;
  /** Leaves the election and stops whatever runs (a leader flushes and hands over at once). */
  stop(): Promise<void>;
}

/**
 * A scheduler with `zookeeper.quorum` (docs/high-availability.md): it starts as a standby that forwards
 * to the leader, joins the election, and once elected opens the ZooKeeper store and the SQL history,
 * builds the full app, takes over the port and starts the loop. A leader that loses its footing calls
 * `exit(EXIT_LEADERSHIP_LOST)`.
 */
export async function startHighlyAvailableScheduler(config: SchedulerConfig, logger: Logger, exit: (code: number) => void): Promise<HighlyAvailableScheduler> {
  const zk = config.zookeeper;
  const quorum = zk.quorum;
  if (!quorum) throw new Error('zookeeper.quorum is not set');
  const namespace = normalizeNamespace(zk.zkNamespace);
  const startedAt = Date.now();
  // The standby listens first: the election's advertised URL needs the port it got.
  const electionRef: { current?: ZooKeeperLeaderElection } = {};
  const leaderChangeListeners: Array<() => void> = [];
  let standby: StandbyServer | undefined = await startStandbyServer({
    host: config.host,
    port: config.httpPort,
    logger,
    leader: () => electionRef.current?.leader(),
    self: () => electionRef.current?.self,
    connectTimeoutMillis: zk.connectTimeoutMillis,
    onLeaderChange: (listener) => {
      leaderChangeListeners.push(listener);
    },
  });
  const port = standby.port;
  const advertisedHost = config.advertisedHost ?? config.hostname;
  const elected = new ZooKeeperLeaderElection({
    connect: quorum,
    namespace,
    sessionTimeoutMillis: zk.sessionTimeoutMillis,
    connectTimeoutMillis: zk.connectTimeoutMillis,
    retryBaseSleepTimeMilliseconds: zk.retryBaseSleepTimeMilliseconds,
    retryMaxTries: zk.retryMaxTries,
    self: { url: `http://${advertisedHost}:${port}`, hostname: config.hostname, hostAddress: advertisedHost, startedAt },
    logger,
  });
  electionRef.current = elected;
  elected.on('leaderChanged', () => {
    for (const listener of leaderChangeListeners) listener();
  });

  let leading: { app: NestFastifyApplication; runtime: SchedulerRuntime; guard: LeaderGuard } | undefined;
  let guard: LeaderGuard | undefined;
  let stopping = false;
  let exiting = false;
  const die = () => {
    if (exiting || stopping) return;
    exiting = true;
    logger.flush?.();
    // Give the fatal log line a moment to leave; nothing acts meanwhile (the guard stopped the loop).
    setTimeout(() => exit(EXIT_LEADERSHIP_LOST), 50);
  };

  const takeOver = async () => {
    const started = Date.now();
    // A pause of a third of the session timeout (ZooKeeper's ping interval) means the sessions may be gone.
    guard = new LeaderGuard({ election: elected, clock: systemClock, logger, onFatal: die, stallMillis: Math.max(1000, Math.round(zk.sessionTimeoutMillis / 3)) });
    const store = new ZooKeeperStateStore({
      connect: quorum,
      root: namespace,
      sessionTimeoutMillis: zk.sessionTimeoutMillis,
      reconnectTimeoutMillis: COMMIT_WAITS_FOR_ZOOKEEPER_MILLIS,
      logger,
    });
    guard.watchStore(store);
    if (!config.databaseUrl) {
      logger.warn('zookeeper.quorum is set but databaseUrl is not: each scheduler keeps its own embedded history; point all of them at one PostgreSQL');
    }
    const history = await openSqlHistoryRepository({
      url: config.databaseUrl,
      embedded: config.databaseUrl ? undefined : { dataDir: `${config.dataDir}/history-db` },
      logger,
    });
    const activeGuard = guard;
    const { app, runtime } = await createSchedulerApp({
      config,
      store: activeGuard.guardStore(store),
      logger,
      history,
      ha: { available: () => activeGuard.available(), hostStates: () => hostStatesOf(elected, Date.now()) },
    });
    activeGuard.attach(runtime);
    if (stopping) {
      await app.close();
      await runtime.stop();
      return;
    }
    await standby?.close();
    standby = undefined;
    await app.listen({ host: config.host, port });
    leading = { app, runtime, guard: activeGuard };
    if (exiting) return; // lost its footing during the take-over: the loop must not start
    runtime.start();
    logger.info(
      { url: elected.self.url, store: store.describe(), takeoverMs: Date.now() - started },
      `leading: scheduler API at ${elected.self.url}/singularity/api; live state in ${store.describe()}`,
    );
  };

  elected.on('elected', () => {
    takeOver().catch((err: unknown) => {
      logger.fatal({ err }, 'could not take over as leader; exiting so that another instance can');
      if (guard) guard.fail(`take-over failed: ${(err as Error)?.message ?? String(err)}`);
      else die();
    });
  });
  // Before the guard exists (between election and take-over) a lost leadership still ends the process.
  elected.on('lost', (reason) => {
    if (!guard) {
      logger.fatal({ reason }, 'leadership lost while taking over; exiting');
      die();
    }
  });
  void elected.start();

  return {
    port,
    election: elected,
    stop: async () => {
      stopping = true;
      if (leading) {
        leading.guard.standDown();
        await leading.app.close();
        // Flushes, moves the last history, closes the store; only then does the next leader start.
        await leading.runtime.stop();
      }
      await standby?.close();
      await elected.close();
    },
  };
}
