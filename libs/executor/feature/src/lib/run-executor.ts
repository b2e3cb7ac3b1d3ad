import { mkdir, readFile } from 'node:fs/promises';
import type { ExecutorTaskDefinition } from '@singularity/models';
import { ConfigError, createLogger, type Logger } from '@singularity/node-util';
import { systemClock, type Clock } from '@singularity/util';
import type { ArtifactStager } from './artifact-stager';
import { TaskExecutor } from './executor';
import { loadExecutorConfig, type ExecutorConfig } from './executor-config';
import { errorLabel, errorMessage, InvalidTaskDefinitionError } from './executor-errors';
import { readKillRequest } from './kill-request';
import { sandboxPath } from './sandbox-layout';
import { StatusWriter } from './status-writer';
import { parseTaskDefinition, salvageStatusTarget } from './task-definition';
import { executorFailedUpdate, invalidDefinitionUpdate, stagingLostUpdate, type StatusUpdate } from './task-status-messages';

/**
 * Wait between the terminal update and the executor's exit. The spec's
 * `idleExecutorShutdownWaitMillis` (10 s, slave §1.4 step 7) gave Mesos time to
 * deliver the update; here the update is durable once fsync'd, so a short
 * pause for log flushing is enough. The idle wait is a later issue.
 */
export const DEFAULT_EXIT_DELAY_MILLIS = 500;

/** The executor's own exit codes; the task's outcome is in the status file, not here. */
export const EXECUTOR_EXIT_CODES = {
  /** A terminal update was written (whatever the task's outcome). */
  ok: 0,
  /** The task definition was unusable (reported TASK_LOST when the status file was known). */
  invalidDefinition: 1,
  /** The executor itself failed (e.g. it could not write the status file). */
  internalError: 2,
} as const;

export interface RunExecutorOptions {
  taskDefinitionFile: string;
  /** The executor's YAML configuration (spec slave §1.10); every default when left out. */
  configFile?: string;
  /** Environment with `SINGULARITY_EXECUTOR_<SECTION>` overrides; defaults to this process's. */
  env?: NodeJS.ProcessEnv;
  /**
   * Registers the listener for kill signals (SIGTERM from the agent). Each
   * call of the listener reads the kill file and passes it on as a kill request.
   */
  onKillSignal(listener: () => void): void;
  exitDelayMillis?: number;
  clock?: Clock;
  stagers?: readonly ArtifactStager[];
  /** Logger for what happens before the sandbox is known; defaults to stdout (the agent keeps it). */
  bootstrapLogger?: Logger;
}

/** A pino logger writing to `file` (the task's `executor.log`). */
export function createTaskLogger(file: string, bindings: Record<string, unknown>): Logger {
  // createLogger takes its destination from LOG_FILE; set it only for this call.
  const previous = process.env.LOG_FILE;
  process.env.LOG_FILE = file;
  try {
    return createLogger('executor', bindings);
  } finally {
    if (previous === undefined) delete process.env.LOG_FILE;
    else process.env.LOG_FILE = previous;
  }
}

function flush(logger: Logger): Promise<void> {
  return new Promise((resolve) => {
    try {
      logger.flush(() => resolve());
    } catch {
      resolve();
    }
  });
}

/** Writes a terminal update for a task that never got an executor of its own. */
async function reportEnd(target: { taskId: string; statusFile: string }, update: StatusUpdate, clock: Clock, logger: Logger): Promise<void> {
  try {
    const status = await StatusWriter.open(target.statusFile, target.taskId, { clock, logger });
    await status.send(update);
    await status.close();
  } catch (err) {
    logger.error({ err, update }, 'could not write the terminal status update');
  }
}

const sleep = (millis: number) => new Promise<void>((resolve) => setTimeout(resolve, millis));

/**
 * The executor program (spec slave §1): reads the task definition, runs the
 * task to its terminal update, waits `exitDelayMillis`, flushes the logs and
 * returns the exit code for the process.
 */
export async function runExecutor(options: RunExecutorOptions): Promise<number> {
  const clock = options.clock ?? systemClock;
  const bootstrap = options.bootstrapLogger ?? createLogger('executor');
  let killSignals = 0;
  let onKill: (() => void) | undefined;
  options.onKillSignal(() => {
    killSignals++;
    onKill?.();
  });

  let text: string | undefined;
  let definition: ExecutorTaskDefinition;
  let config: ExecutorConfig;
  try {
    text = await readFile(options.taskDefinitionFile, 'utf8');
    definition = parseTaskDefinition(text);
    config = loadExecutorConfig(options.configFile, options.env ?? process.env);
  } catch (err) {
    const message =
      err instanceof InvalidTaskDefinitionError
        ? err.message
        : err instanceof ConfigError
          ? `executor configuration: ${err.message}`
          : `cannot read task definition: ${errorMessage(err)}`;
    bootstrap.error({ err, taskDefinitionFile: options.taskDefinitionFile }, 'unusable task definition');
    const target = salvageStatusTarget(text);
    if (target) await reportEnd(target, invalidDefinitionUpdate(target.taskId, message), clock, bootstrap);
    await flush(bootstrap);
    return EXECUTOR_EXIT_CODES.invalidDefinition;
  }

  try {
    // The agent normally creates the sandbox; the task log lives in it.
    await mkdir(definition.sandboxDirectory, { recursive: true });
  } catch (err) {
    bootstrap.error({ err, sandbox: definition.sandboxDirectory }, 'cannot create the sandbox');
    await reportEnd(definition, stagingLostUpdate(errorLabel(err), errorMessage(err)), clock, bootstrap);
    await flush(bootstrap);
    return EXECUTOR_EXIT_CODES.internalError;
  }
  const logFile = sandboxPath(definition.sandboxDirectory, 'executorLog');
  bootstrap.info({ taskId: definition.taskId, log: logFile }, 'task definition read');
  const logger = createTaskLogger(logFile, { taskId: definition.taskId });
  const code = await runTask(definition, logger);
  await sleep(options.exitDelayMillis ?? config.executor.idleExecutorShutdownWaitMillis ?? DEFAULT_EXIT_DELAY_MILLIS);
  logger.info({ code }, 'executor exiting');
  await flush(logger);
  await flush(bootstrap);
  return code;

  async function runTask(definition: ExecutorTaskDefinition, logger: Logger): Promise<number> {
    const embedded = definition.executorData.embeddedArtifacts?.map(({ content, ...rest }) => ({ ...rest, bytesBase64: content.length }));
    logger.info({ executorPid: process.pid, definition: { ...definition, executorData: { ...definition.executorData, embeddedArtifacts: embedded } } }, 'executor started');
    let status: StatusWriter;
    try {
      status = await StatusWriter.open(definition.statusFile, definition.taskId, { clock, logger });
    } catch (err) {
      logger.error({ err }, 'cannot open the status file');
      return EXECUTOR_EXIT_CODES.internalError;
    }
    const executor = new TaskExecutor({ definition, status, logger, clock, config, stagers: options.stagers });
    onKill = () => {
      readKillRequest(definition.killFile, logger)
        .then((request) => executor.kill(request))
        .catch((err: unknown) => logger.error({ err }, 'kill handling failed'));
    };
    // Signals that arrived before the executor existed.
    for (let i = 0; i < killSignals; i++) onKill();
    try {
      const terminal = await executor.run();
      logger.info({ terminal }, 'task done');
      return EXECUTOR_EXIT_CODES.ok;
    } catch (err) {
      logger.error({ err }, 'executor failed');
      // Best effort: end the task rather than leave it running unreported.
      if (executor.processPid !== undefined) {
        try {
          process.kill(-executor.processPid, 'SIGKILL');
        } catch {
          // Already gone.
        }
      }
      await status.send(executorFailedUpdate(errorMessage(err))).catch(() => undefined);
      return EXECUTOR_EXIT_CODES.internalError;
    } finally {
      await status.close().catch(() => undefined);
    }
  }
}
