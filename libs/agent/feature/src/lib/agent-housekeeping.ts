import { readFileSync } from 'node:fs';
import { join, relative, isAbsolute } from 'node:path';
import type { Logger } from '@singularity/node-util';
import { systemClock, type Clock } from '@singularity/util';
import { parse } from 'yaml';
import type { AgentConfig } from './agent-config';
import { LogRotationRunner } from './log-rotation-runner';
import { SandboxCleaner } from './sandbox-cleaner';
import type { TaskTable } from './task-table';

/** The executor settings the agent's housekeeping needs (defaults as the executor's, spec slave §1.10). */
export interface ExecutorHousekeepingSettings {
  cronDirectory: string;
  logrotateConfDirectory: string;
  logrotateCommand: string;
  taskAppDirectory: string;
  globalTaskDefinitionDirectory?: string;
  globalTaskDefinitionSuffix: string;
}

/** Reads them from the executor configuration the agent wrote (`<dataDir>/executor.yaml`). */
export function readExecutorHousekeepingSettings(file: string): ExecutorHousekeepingSettings {
  const parsed = parse(readFileSync(file, 'utf8')) as { executor?: Record<string, unknown> } | null;
  const executor = parsed?.executor ?? {};
  const text = (key: string, fallback: string) => (typeof executor[key] === 'string' && (executor[key] as string).trim() ? (executor[key] as string) : fallback);
  return {
    cronDirectory: text('cronDirectory', '/etc/cron.d'),
    logrotateConfDirectory: text('logrotateConfDirectory', '/etc/logrotate.d'),
    logrotateCommand: text('logrotateCommand', 'logrotate'),
    taskAppDirectory: text('taskAppDirectory', 'app'),
    globalTaskDefinitionDirectory: text('globalTaskDefinitionDirectory', '') || undefined,
    globalTaskDefinitionSuffix: text('globalTaskDefinitionSuffix', '.task.json'),
  };
}

const isInside = (root: string, path: string) => {
  const rel = relative(root, path);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
};

/**
 * What the agent does for finished tasks and their logs besides relaying:
 * the sandbox clean-up ({@link SandboxCleaner}) and, where no host cron reads
 * the executors' rotation files, the periodic rotation
 * ({@link LogRotationRunner}).
 */
export class AgentHousekeeping {
  readonly cleaner: SandboxCleaner;
  readonly rotation?: LogRotationRunner;

  constructor(config: AgentConfig, executorConfigFile: string, table: TaskTable, logger: Logger, clock: Clock = systemClock) {
    const settings = readExecutorHousekeepingSettings(executorConfigFile);
    this.cleaner = new SandboxCleaner(
      {
        dataDir: config.dataDir,
        appDirectory: settings.taskAppDirectory,
        appCleanupDelayMillis: config.sandboxAppCleanupDelayMillis,
        failedAppCleanupDelayMillis: config.cleanupAppDirectoryOfFailedTasksAfterMillis,
        retentionMillis: config.sandboxRetentionMillis,
        taskDefinitions: settings.globalTaskDefinitionDirectory
          ? { directory: settings.globalTaskDefinitionDirectory, suffix: settings.globalTaskDefinitionSuffix }
          : undefined,
      },
      logger.child({ component: 'sandbox-cleaner' }),
      clock,
    );
    table.onFinished((controlDirectory) => this.cleaner.taskFinished(controlDirectory));
    const rotate = config.periodicLogrotate === 'on' || (config.periodicLogrotate === 'auto' && isInside(config.dataDir, settings.cronDirectory));
    if (rotate) {
      this.rotation = new LogRotationRunner(
        {
          cronDirectory: settings.cronDirectory,
          logrotateConfDirectory: settings.logrotateConfDirectory,
          logrotateCommand: settings.logrotateCommand,
          dailyStateFile: join(config.dataDir, 'logrotate.status'),
          dailyMarkerFile: join(config.dataDir, 'logrotate-daily.last'),
        },
        logger.child({ component: 'log-rotation' }),
        clock,
      );
    } else {
      logger.info({ cronDirectory: settings.cronDirectory, periodicLogrotate: config.periodicLogrotate }, 'periodic log rotation is left to host cron');
    }
  }

  start(): void {
    this.cleaner.start();
    this.rotation?.start();
  }

  stop(): void {
    this.cleaner.stop();
    this.rotation?.stop();
  }
}
