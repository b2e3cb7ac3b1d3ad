import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { DEFAULT_VALIDATION_LIMITS } from '@singularity/models';
import type { Logger } from '@singularity/node-util';
import type { StateStore } from '@singularity/scheduler-state';
import type { HistoryRepository } from '@singularity/scheduler-history';
import { HttpAgentGateway, HttpLoadBalancerClient, SchedulerRuntime, type AgentGateway } from '@singularity/scheduler-feature';
import { systemClock, type Clock } from '@singularity/util';
import { AppModule } from './app.module';
import { DomainErrorFilter } from './domain-error.filter';
import type { SchedulerConfig } from './scheduler-config';

export interface SchedulerApp {
  app: NestFastifyApplication;
  runtime: SchedulerRuntime;
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
}): Promise<SchedulerApp> {
  const { config, logger } = options;
  const runtime = await SchedulerRuntime.open({
    store: options.store,
    clock: options.clock ?? systemClock,
    logger,
    gateway: options.gateway ?? new HttpAgentGateway(),
    history: options.history,
    loadBalancer: config.loadBalancerUri ? new HttpLoadBalancerClient({ uri: config.loadBalancerUri, timeoutMillis: config.loadBalancerRequestTimeoutMillis }) : undefined,
    historyPurging: config.historyPurging,
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
