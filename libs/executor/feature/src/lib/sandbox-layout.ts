import { join } from 'node:path';

/**
 * Names of the files and directories the executor keeps in a task's sandbox
 * `T` (spec slave §1.3). `executor.log` takes the place of the original's
 * `executor.java.log`.
 */
export const SANDBOX_FILES = {
  executorLog: 'executor.log',
  bashLog: 'executor.bash.log',
  deployEnv: 'deploy.env',
  runnerScript: 'runner.sh',
  serviceLog: 'service.log',
  /** Default of `executor.serviceFinishedTailLog`: the last lines of service.log, kept at teardown. */
  serviceFinishedTailLog: 'tail_of_finished_service.log',
  /** Default of `executor.logrotateStateFile`: logrotate's state for this task's rotations. */
  logrotateStatus: 'logrotate.status',
  appDirectory: 'app',
  logsDirectory: 'logs',
  tmpDirectory: 'tmp',
} as const;

export type SandboxFile = keyof typeof SANDBOX_FILES;

export function sandboxPath(sandboxDirectory: string, file: SandboxFile): string {
  return join(sandboxDirectory, SANDBOX_FILES[file]);
}
