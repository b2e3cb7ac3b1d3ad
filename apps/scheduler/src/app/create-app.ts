import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { DEFAULT_VALIDATION_LIMITS, type SingularityHostState } from '@singularity/models';
import type { Logger } from '@singularity/node-util';
import type { StateStore } from '@singularity/scheduler-state';
import type { HistoryRepository } from '@singularity/scheduler-history';
import { HttpAgentGateway, HttpLoadBalancerClient, SchedulerRuntime, ZOOKEEPER_UNREACHABLE_MESSAGE, type AgentGateway } from '@singularity/scheduler-feature';
import { systemClock, type Clock } from '@singularity/util';
import { AppModule } from './app.module';
import { DomainErrorFilter } from './domain-error.filter';
import type { SchedulerConfig } from './scheduler-config';

export interface SchedulerApp {
  app: NestFastifyApplication;
  runtime: SchedulerRuntime;
}

/** What the app of an elected leader needs from the HA machinery (docs/high-availability.md). */
export interface SchedulerAppHa {
  /** False while live state cannot be written (ZooKeeper unreachable): writes get 503 and the loop pauses. */
  available(): boolean;
  /** `/state` `hostStates`: every scheduler instance, the leader marked `master`. */
  hostStates(): SingularityHostState[];
}

/** Reads never change live state; every other API call and every agent call (register, heartbeat, status updates) may. */
function isWrite(method: string, url: string): boolean {
  if (method === 'GET' || method === 'HEAD' || method === 'OPTIONS') return false;
  return url.startsWith('/singularity/api/') || url.startsWith('/singularity/internal/');
}

/** Builds the HTTP application around a runtime; used by main.ts and by tests (with port 0). */
export async function createSchedulerApp(options: {
  config: SchedulerConfig;
  store: StateStore;
  logger: Logger;
  clock?: Clock;
  gateway?: AgentGateway;
  /** The history store; in-memory when absent (tests). */
  history?: HistoryRepository;
  /** High availability (a leader elected through ZooKeeper); absent: a single scheduler, always writable. */
  ha?: SchedulerAppHa;
}): Promise<SchedulerApp> {
  const { config, logger, ha } = options;
  const runtime = await SchedulerRuntime.open({
    store: options.store,
    clock: options.clock ?? systemClock,
    logger,
    gateway: options.gateway ?? new HttpAgentGateway(),
    history: options.history,
    loadBalancer: config.loadBalancerUri ? new HttpLoadBalancerClient({ uri: config.loadBalancerUri, timeoutMillis: config.loadBalancerRequestTimeoutMillis }) : undefined,
    historyPurging: config.historyPurging,
    paused: ha ? () => !ha.available() : undefined,
    hostStates: ha ? () => ha.hostStates() : undefined,
    settings: {
      checkSchedulerEverySeconds: config.checkSchedulerEverySeconds,
      considerTaskHealthyAfterRunningForSeconds: config.considerTaskHealthyAfterRunningForSeconds,
      deployHealthyBySeconds: config.deployHealthyBySeconds,
      askDriverToKillTasksAgainAfterMillis: config.askDriverToKillTasksAgainAfterMillis,
      reconcileLaunchAfterMillis: config.reconcileLaunchAfterMillis,
      killNonLongRunningTasksInCleanupAfterSeconds: config.killNonLongRunningTasksInCleanupAfterSeconds,
      defaultBounceExpirationMinutes: config.defaultBounceExpirationMinutes,
      maxScaleDownWithoutAcknowledgement: config.maxScaleDownWithoutAcknowledgement,
      deltaAfterWhichTasksAreLateMillis: config.deltaAfterWhichTasksAreLateMillis,
      defaultSigKillProcessesAfterMillis: config.defaultSigKillProcessesAfterMillis,
      heartbeatIntervalMillis: config.heartbeatIntervalMillis,
      agentHeartbeatTimeoutSeconds: config.agentHeartbeatTimeoutSeconds,
      startNewReconcileEverySeconds: config.startNewReconcileEverySeconds,
      deleteDeadAgentsAfterHours: config.deleteDeadAgentsAfterHours,
      persistHistoryEverySeconds: config.persistHistoryEverySeconds,
      logUpload: config.s3,
      loadBalancerRemovalGracePeriodMillis: config.loadBalancerRemovalGracePeriodMillis,
      agentReregisterTimeoutSeconds: config.agentReregisterTimeoutSeconds,
      healthcheckIntervalSeconds: config.healthcheckIntervalSeconds,
      healthcheckTimeoutSeconds: config.healthcheckTimeoutSeconds,
      startupTimeoutSeconds: config.startupTimeoutSeconds,
      startupIntervalSeconds: config.startupIntervalSeconds,
      startupDelaySeconds: config.startupDelaySeconds,
      healthcheckMaxRetries: config.healthcheckMaxRetries,
      healthcheckFailureStatusCodes: config.healthcheckFailureStatusCodes,
      maxHealthcheckResponseBodyBytes: config.maxHealthcheckResponseBodyBytes,
      cooldownFailureThreshold: config.cooldownFailureThreshold,
      evaluateCooldownOverMinutes: config.evaluateCooldownOverMinutes,
      cooldownMinScheduleSeconds: config.cooldownMinScheduleSeconds,
      evaluateStartupLoopOverMinutes: config.evaluateStartupLoopOverMinutes,
      startupFailureThreshold: config.startupFailureThreshold,
      evaluateOomsOverMinutes: config.evaluateOomsOverMinutes,
      oomFailureThreshold: config.oomFailureThreshold,
      singleInstanceFailureBucketSizeMinutes: config.singleInstanceFailureBucketSizeMinutes,
      singleInstanceFailureBuckets: config.singleInstanceFailureBuckets,
      singleInstanceFailureThreshold: config.singleInstanceFailureThreshold,
      multiInstanceFailureBucketSizeMinutes: config.multiInstanceFailureBucketSizeMinutes,
      multiInstanceFailureBuckets: config.multiInstanceFailureBuckets,
      multiInstanceFailureThreshold: config.multiInstanceFailureThreshold,
      slowFailureBucketSizeMinutes: config.slowFailureBucketSizeMinutes,
      slowFailureBuckets: config.slowFailureBuckets,
      slowFailureThreshold: config.slowFailureThreshold,
      tickDebounceMillis: config.tickDebounceMillis,
    },
    webhooks: {
      settings: {
        checkWebhooksEveryMillis: config.checkWebhooksEveryMillis,
        maxConcurrentWebhooks: config.maxConcurrentWebhooks,
        maxQueuedUpdatesPerWebhook: config.maxQueuedUpdatesPerWebhook,
        deleteUndeliverableWebhooksAfterHours: config.deleteUndeliverableWebhooksAfterHours,
      },
    },
    limits: {
      ...DEFAULT_VALIDATION_LIMITS,
      maxRequestIdSize: config.maxRequestIdSize,
      maxDeployIdSize: config.maxDeployIdSize,
      maxNumInstancesPerRequest: config.maxNumInstancesPerRequest,
    },
  });

  const adapter = new FastifyAdapter({ bodyLimit: 32 * 1024 * 1024 });
  if (ha) {
    // Before routing and body parsing: a refused write never reaches a service, so memory stays as stored.
    adapter.getInstance().addHook('onRequest', (request, reply, done) => {
      if (ha.available() || !isWrite(request.method, request.url)) return done();
      void reply.code(503).header('retry-after', '5').type('text/plain; charset=utf-8').send(ZOOKEEPER_UNREACHABLE_MESSAGE);
    });
  }
  // Clients send JSON, sometimes without a content type or with an empty body (e.g. POST …/pause).
  adapter.getInstance().removeAllContentTypeParsers();
  adapter.getInstance().addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => {
    const text = String(body ?? '').trim();
    if (!text) return done(null, undefined);
    try {
      done(null, JSON.parse(text));
    } catch (err) {
      const error = new Error(`body: not valid JSON (${(err as Error).message})`) as Error & { statusCode: number };
      error.statusCode = 400;
      done(error, undefined);
    }
  });
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.with(runtime, config), adapter, { logger: false });
  app.setGlobalPrefix('singularity');
  app.useGlobalFilters(new DomainErrorFilter(logger));
  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('Singularity')
      .setDescription('Deploy-centric cluster scheduler: requests, deploys, tasks. Wire-compatible with HubSpot Singularity.')
      .setVersion('0.1.0')
      .build(),
  );
  SwaggerModule.setup('singularity/api-docs', app, document, { jsonDocumentUrl: 'singularity/api-docs/openapi.json' });
  await app.init();
  return { app, runtime };
}
