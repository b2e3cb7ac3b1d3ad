import { startStatusServer, type Logger, type StatusServer } from '@singularity/node-util';
import type { OomKillerConfig } from './oom-killer-config';
import { OomKiller } from './oom-killer';
import { HttpSchedulerKillClient, type SchedulerKillClient } from './scheduler-kill-client';
import { CgroupTaskMemorySource, type TaskMemorySource } from './task-memory';

export interface OomKillerServiceDeps {
  logger: Logger;
  /** Defaults to the task cgroups under `cgroupRoot`/`cgroupParent`. */
  source?: TaskMemorySource;
  /** Defaults to HTTP at `schedulerUrl`. */
  scheduler?: SchedulerKillClient;
}

/**
 * The daemon: the check loop plus `GET /health` and `GET /metrics` on
 * `listenHost:httpPort`. `start` fails when there is no cgroup hierarchy to
 * read (the daemon could never do anything) or the port is taken.
 */
export class OomKillerService {
  readonly killer: OomKiller;
  private readonly source: TaskMemorySource;
  private server?: StatusServer;
  port?: number;

  constructor(
    private readonly config: OomKillerConfig,
    private readonly deps: OomKillerServiceDeps,
  ) {
    const settings = config.oomKiller;
    this.source = deps.source ?? new CgroupTaskMemorySource(settings.cgroupRoot, settings.cgroupParent);
    const scheduler = deps.scheduler ?? new HttpSchedulerKillClient(settings.schedulerUrl, settings.schedulerTimeoutMillis);
    this.killer = new OomKiller(settings, { source: this.source, scheduler, logger: deps.logger });
  }

  async start(): Promise<void> {
    const settings = this.config.oomKiller;
    const watching = await this.source.describe();
    this.server = await startStatusServer({
      host: settings.listenHost,
      port: settings.httpPort,
      routes: {
        '/health': () => ({ ok: true, lastCheckAt: this.killer.lastCheckAt ?? null, checks: this.killer.meters.checks }),
        '/metrics': () => this.killer.meters,
      },
    });
    this.port = this.server.port;
    this.killer.start();
    this.deps.logger.info(
      { watching, schedulerUrl: settings.schedulerUrl, port: this.port },
      `oom killer watching task cgroups under ${watching} every ${settings.checkForOOMEveryMillis} ms ` +
        `(ask the scheduler at ${settings.schedulerUrl.join(',')} over ${settings.requestKillThresholdRatio}x, SIGKILL over ${settings.killProcessDirectlyThresholdRatio}x); ` +
        `keeps no data on disk; listening on ${settings.listenHost}:${this.port}`,
    );
  }

  async stop(): Promise<void> {
    await this.killer.stop();
    const server = this.server;
    this.server = undefined;
    await server?.close();
    this.deps.logger.info('oom killer stopped');
  }
}
