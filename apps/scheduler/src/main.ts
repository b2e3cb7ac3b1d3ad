import { createLogger, onShutdown } from '@singularity/node-util';
import { EmbeddedStateStore } from '@singularity/scheduler-state';
import { openSqlHistoryRepository } from '@singularity/scheduler-history';
import { createSchedulerApp } from './app/create-app';
import { startHighlyAvailableScheduler } from './app/ha-scheduler';
import { loadSchedulerConfig } from './app/scheduler-config';

async function main(): Promise<void> {
  const logger = createLogger('scheduler');
  const config = loadSchedulerConfig();
  if (config.zookeeper.quorum) {
    // Several schedulers (docs/high-availability.md): a standby until elected; live state in ZooKeeper.
    const scheduler = await startHighlyAvailableScheduler(config, logger, (code) => process.exit(code));
    logger.info({ port: scheduler.port, zookeeper: config.zookeeper.quorum, instance: scheduler.election.self.id }, 'scheduler started as a standby; joining the leader election');
    onShutdown(logger, () => scheduler.stop());
    return;
  }
  const store = new EmbeddedStateStore({ directory: `${config.dataDir}/state`, logger });
  // History in PostgreSQL: the configured server, or an embedded one under the data directory.
  const history = await openSqlHistoryRepository({
    url: config.databaseUrl,
    embedded: config.databaseUrl ? undefined : { dataDir: `${config.dataDir}/history-db` },
    logger,
  });
  const { app, runtime } = await createSchedulerApp({ config, store, logger, history });
  await app.listen({ host: config.host, port: config.httpPort });
  const address = app.getHttpServer().address();
  const port = typeof address === 'object' && address ? address.port : config.httpPort;
  runtime.start();
  logger.info(
    { api: `http://localhost:${port}/singularity/api`, docs: `http://localhost:${port}/singularity/api-docs`, dataDir: config.dataDir, store: store.describe() },
    `scheduler listening on ${config.host}:${port}; live state in ${store.describe()}`,
  );
  onShutdown(logger, async () => {
    await app.close();
    await runtime.stop();
  });
}

main().catch((err) => {
  // Start-up failures (bad config, locked data directory) end the process with a message naming the cause.
  process.stderr.write(`scheduler failed to start: ${(err as Error).message}\n`);
  process.exit(1);
});
