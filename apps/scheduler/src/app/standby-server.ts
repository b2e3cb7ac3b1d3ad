import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from '@singularity/node-util';
import { FORWARDED_BY_HEADER, forwardRequest, type SchedulerInstance } from '@singularity/scheduler-feature';

/** The 503 text while no leader is known (ZooKeeper not reached yet, or an election in progress). */
export const NO_LEADER_MESSAGE = 'no leader elected yet; retry in a few seconds';

export interface StandbyServerOptions {
  host: string;
  /** 0 picks a free port (tests); the elected app listens on the same one. */
  port: number;
  logger: Logger;
  /** The current leader as this instance knows it (undefined: none known). */
  leader(): SchedulerInstance | undefined;
  /** This instance, once known (its URL needs the bound port). */
  self(): SchedulerInstance | undefined;
  /** Waiting for the leader to accept a connection (default 5000). */
  connectTimeoutMillis?: number;
  /** Longest silence of a forwarded exchange once connected (default 120000). */
  idleTimeoutMillis?: number;
  /**
   * Subscribes to leader changes: exchanges still waiting for the previous leader (dead, or frozen and
   * about to lose its session) are cut then, so their clients retry at once instead of waiting it out.
   */
  onLeaderChange?: (listener: () => void) => void;
}

export interface StandbyServer {
  /** The port it listens on. */
  readonly port: number;
  /** Stops listening and cuts every connection (forwarded exchanges included); the port is free when this resolves. */
  close(): Promise<void>;
}

const METHODS = ['DELETE', 'GET', 'HEAD', 'PATCH', 'POST', 'PUT', 'OPTIONS'] as const;

/**
 * What a standby scheduler serves on the scheduler's port (docs/high-availability.md): its own
 * `/singularity/health` (`leader: false`, and who leads), and everything else under `/singularity/`
 * (the API, the agents' `/internal` calls, the UI) forwarded as it came to the leader, whose answer is
 * streamed back. Without a leader, or with an unreachable one, the answer is a 503 that says so; agents
 * and clients retry.
 */
export async function startStandbyServer(options: StandbyServerOptions): Promise<StandbyServer> {
  const { logger } = options;
  const connectTimeoutMillis = options.connectTimeoutMillis ?? 5000;
  const idleTimeoutMillis = options.idleTimeoutMillis ?? 120_000;
  const app: FastifyInstance = Fastify({ logger: false, forceCloseConnections: 'idle', exposeHeadRoutes: false });

  app.get('/singularity/health', async () => {
    const leader = options.leader();
    const self = options.self();
    const starting = leader !== undefined && leader.id === self?.id;
    return {
      ok: true,
      leader: false,
      ...(starting ? { starting: true } : {}),
      leaderUrl: leader?.url ?? null,
      leaderHostname: leader?.hostname ?? null,
      instance: self?.id ?? null,
      message: starting ? 'elected; taking over' : leader ? `standby; requests are forwarded to the leader at ${leader.url}` : NO_LEADER_MESSAGE,
    };
  });

  // In-flight forwards per leader URL, to cut when that leader is replaced.
  const inFlight = new Map<string, Set<AbortController>>();
  options.onLeaderChange?.(() => {
    const current = options.leader()?.url;
    for (const [url, controllers] of inFlight) {
      if (url === current) continue;
      for (const controller of controllers) controller.abort();
      inFlight.delete(url);
    }
  });

  const unavailable = (reply: FastifyReply, text: string) => {
    reply.raw.writeHead(503, { 'content-type': 'text/plain; charset=utf-8', 'retry-after': '5' });
    reply.raw.end(text);
  };

  // Forwarded in onRequest, before Fastify reads the body: the body streams through untouched.
  const forward = (request: FastifyRequest, reply: FastifyReply, done: () => void) => {
    void done;
    reply.hijack();
    const leader = options.leader();
    const self = options.self();
    if (request.headers[FORWARDED_BY_HEADER]) {
      // The instance that forwarded it thinks we lead; we do not (yet): no second hop.
      return unavailable(reply, `${NO_LEADER_MESSAGE} (this instance is a standby; leadership is changing)`);
    }
    if (!leader || !self) return unavailable(reply, NO_LEADER_MESSAGE);
    if (leader.id === self.id) return unavailable(reply, 'this instance was just elected leader and is taking over; retry in a few seconds');
    const controller = new AbortController();
    const forwards = inFlight.get(leader.url) ?? new Set<AbortController>();
    forwards.add(controller);
    inFlight.set(leader.url, forwards);
    const forget = () => forwards.delete(controller);
    void forwardRequest(request.raw, reply.raw, { target: leader.url, forwardedBy: self.id, connectTimeoutMillis, idleTimeoutMillis, signal: controller.signal }).finally(forget).then(
      (outcome) => {
        if (outcome.kind === 'unreachable') {
          logger.debug({ leader: leader.url, reason: outcome.reason, url: request.url }, 'leader unreachable; answered 503');
          unavailable(reply, `the leader at ${leader.url} is unreachable (${outcome.reason}); ${NO_LEADER_MESSAGE.replace('no leader elected yet; ', '')}`);
        } else if (outcome.kind === 'broken') {
          logger.warn({ leader: leader.url, reason: outcome.reason, method: request.method, url: request.url }, 'forwarded request broke off');
          if (!outcome.responded && !reply.raw.headersSent) {
            reply.raw.writeHead(502, { 'content-type': 'text/plain; charset=utf-8' });
            reply.raw.end(`the connection to the leader at ${leader.url} broke during the request (${outcome.reason}); it may or may not have been applied`);
          }
        }
      },
      (err: unknown) => {
        logger.error({ err }, 'forwarding failed');
        if (!reply.raw.headersSent) unavailable(reply, NO_LEADER_MESSAGE);
        else reply.raw.destroy();
      },
    );
  };
  app.route({ method: [...METHODS], url: '/singularity/*', onRequest: forward, handler: async () => undefined });
  app.route({ method: [...METHODS], url: '/singularity', onRequest: forward, handler: async () => undefined });

  await app.listen({ host: options.host, port: options.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  logger.info({ port }, `standby scheduler listening on ${options.host}:${port}; it forwards to the leader`);
  return {
    port,
    close: async () => {
      const closing = app.close();
      // Closed when this instance takes over: the leader it forwarded to is gone (or leaving), so exchanges
      // still waiting for it are cut now rather than held until they time out; their clients retry.
      app.server.closeAllConnections();
      await Promise.race([closing, new Promise((resolve) => setTimeout(resolve, 2000).unref())]);
    },
  };
}
