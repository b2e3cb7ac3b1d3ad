import { EXECUTOR_CLEANUP_CONFIG_ENV_PREFIX, ExecutorCleanup, HttpCleanupScheduler, loadExecutorCleanupConfig } from '@singularity/executor-feature';
import { createLogger, readProgramConfig } from '@singularity/node-util';

/**
 * Executor cleanup (spec slave §4): one pass over the task definitions the
 * executors left on this machine, then exit. Run it hourly (cron or a
 * systemd timer):
 *
 *   node -r ./tools/register.js apps/executor-cleanup/src/main.ts --config /etc/singularity/node.yaml
 *
 * The file is the consolidated node configuration (sections base, s3,
 * executor, executorCleanup; the agent writes the executor's part to
 * `<agent dataDir>/executor.yaml`). Exit codes: 0 after a pass (also one that
 * cleaned nothing and says why in `errorMessage`), 1 on a crash, 64 for bad
 * arguments, 78 for an invalid configuration.
 */
async function main(): Promise<number> {
  const read = readProgramConfig('executor-cleanup', EXECUTOR_CLEANUP_CONFIG_ENV_PREFIX, loadExecutorCleanupConfig);
  if ('exitCode' in read) return read.exitCode;
  const { config, configFile } = read;
  const logger = createLogger('executor-cleanup');
  logger.info(
    {
      configFile,
      taskDefinitions: config.executor.globalTaskDefinitionDirectory,
      results: config.executorCleanup.executorCleanupResultsDirectory,
      schedulers: config.executorCleanup.singularityHosts,
    },
    'executor cleanup starting',
  );
  const result = await new ExecutorCleanup({ config, scheduler: new HttpCleanupScheduler(config.executorCleanup), logger }).run();
  // One line for cron mail and humans; the details are in the log lines above.
  process.stderr.write(`executor-cleanup: ${JSON.stringify(result)}\n`);
  await new Promise<void>((resolve) => logger.flush(() => resolve()));
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`executor-cleanup crashed: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
