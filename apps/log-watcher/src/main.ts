import { parseArgs } from 'node:util';
import { loadLogWatcherConfig, LogWatcher } from '@singularity/log-watcher-feature';
import { createLogger, onShutdown } from '@singularity/node-util';

/** The log watcher (spec slave §5): `node -r ./tools/register.js apps/log-watcher/src/main.ts [--config node.yaml]`. */
async function main(): Promise<void> {
  const { values } = parseArgs({ args: process.argv.slice(2), options: { config: { type: 'string' } }, strict: true });
  const config = loadLogWatcherConfig(values.config);
  const logger = createLogger('log-watcher');
  const watcher = new LogWatcher(config, { logger });
  await watcher.start();
  // Offsets are saved after every batch sent; stopping lets the batch under way finish first.
  onShutdown(logger, () => watcher.stop());
}

main().catch((err) => {
  // Start-up failures (bad config key, unwritable store directory, port in use) end the process naming the cause.
  process.stderr.write(`log-watcher failed to start: ${(err as Error).message}\n`);
  process.exit(1);
});
