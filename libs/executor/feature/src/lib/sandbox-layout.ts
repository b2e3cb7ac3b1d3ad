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
  appDirectory: 'app',
  logsDirectory: 'logs',
  tmpDirectory: 'tmp',
} as const;

export type SandboxFile = keyof typeof SANDBOX_FILES;

export function sandboxPath(sandboxDirectory: string, file: SandboxFile): string {
  return join(sandboxDirectory, SANDBOX_FILES[file]);
}
