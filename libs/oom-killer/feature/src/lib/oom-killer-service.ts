import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '@singularity/node-util';
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
  private server?: Server;
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
    this.server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      const send = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      if (req.method !== 'GET') return send(405, { error: 'only GET' });
      if (path === '/health') return send(200, { ok: true, lastCheckAt: this.killer.lastCheckAt ?? null, checks: this.killer.meters.checks });
      if (path === '/metrics') return send(200, this.killer.meters);
      send(404, { error: `no ${path} here; try /health or /metrics` });
    });
    const server = this.server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(settings.httpPort, settings.listenHost, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.port = (server.address() as AddressInfo).port;
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
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
    this.deps.logger.info('oom killer stopped');
  }
}
