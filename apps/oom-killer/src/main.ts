import { parseArgs } from 'node:util';
import { loadOomKillerConfig, OomKillerService } from '@singularity/oom-killer-feature';
import { createLogger, onShutdown } from '@singularity/node-util';

/** The OOM killer (spec slave §6): `node -r ./tools/register.js apps/oom-killer/src/main.ts [--config node.yaml]`. */
async function main(): Promise<void> {
  const { values } = parseArgs({ args: process.argv.slice(2), options: { config: { type: 'string' } }, strict: true });
  const config = loadOomKillerConfig(values.config);
  const logger = createLogger('oom-killer', { slaveHostname: config.oomKiller.slaveHostname });
  const service = new OomKillerService(config, { logger });
  await service.start();
  // It keeps no state on disk: a stop only ends the checks and the HTTP server.
  onShutdown(logger, () => service.stop());
}

main().catch((err) => {
  // Start-up failures (bad config key, no cgroup hierarchy, port in use) end the process naming the cause.
  process.stderr.write(`oom-killer failed to start: ${(err as Error).message}\n`);
  process.exit(1);
});
