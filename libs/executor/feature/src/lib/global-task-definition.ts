import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { safeTaskId, type ExecutorTaskDefinition } from '@singularity/models';
import { processStartTime, writeJsonAtomic } from '@singularity/node-util';
import type { ExecutorConfig } from './executor-config';
import { parseTaskDefinition } from './task-definition';

/**
 * The task definition the executor leaves in `globalTaskDefinitionDirectory`
 * (spec slave §1.3, §1.4 step 2): the definition the agent handed it plus the
 * executor's pid. It outlives the executor, so that executor cleanup (§4)
 * can find tasks whose executor died before its teardown, and it goes only
 * when executor cleanup has finished with the task.
 */
export interface GlobalTaskDefinition extends ExecutorTaskDefinition {
  executorPid: number;
  /** The executor's start time (clock ticks since boot, /proc), so that a reused pid is not taken for it. */
  executorStartTime?: number;
  /**
   * Set by the executor once its log teardown succeeded (ours): executor
   * cleanup then does not run it again, which would hand the log watcher
   * and the S3 uploader metadata they had already finished with, and the
   * log watcher would ship service.log a second time.
   */
  teardownCompleted?: boolean;
}

export function globalTaskDefinitionPath(directory: string, suffix: string, taskId: string): string {
  return join(directory, `${safeTaskId(taskId)}${suffix}`);
}

/**
 * Writes the definition (atomically); nothing when no directory is
 * configured. A definition already there for the same task is left as it is
 * (spec: a duplicate id is ignored), and `false` says so.
 */
export async function writeGlobalTaskDefinition(config: ExecutorConfig, definition: ExecutorTaskDefinition, executorPid: number): Promise<boolean> {
  const { globalTaskDefinitionDirectory: directory, globalTaskDefinitionSuffix: suffix } = config.executor;
  if (!directory) return false;
  const path = globalTaskDefinitionPath(directory, suffix, definition.taskId);
  if (await readFile(path).then(() => true, () => false)) return false;
  const record: GlobalTaskDefinition = { ...definition, executorPid, executorStartTime: processStartTime(executorPid) };
  await writeJsonAtomic(path, record);
  return true;
}

/** Records that the teardown succeeded ({@link GlobalTaskDefinition.teardownCompleted}). */
export async function markTeardownCompleted(config: ExecutorConfig, taskId: string): Promise<void> {
  const { globalTaskDefinitionDirectory: directory, globalTaskDefinitionSuffix: suffix } = config.executor;
  if (!directory) return;
  const path = globalTaskDefinitionPath(directory, suffix, taskId);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return; // never written (logged then)
    throw err;
  }
  await writeJsonAtomic(path, { ...(JSON.parse(text) as GlobalTaskDefinition), teardownCompleted: true });
}

/** One `*.task.json` as executor cleanup finds it. */
export type GlobalTaskDefinitionEntry =
  | { file: string; definition: GlobalTaskDefinition }
  | { file: string; error: string };

/** Every definition in the directory, each parsed on its own so one bad file does not hide the others. */
export async function readGlobalTaskDefinitions(directory: string, suffix: string): Promise<GlobalTaskDefinitionEntry[]> {
  let names: string[];
  try {
    names = await readdir(directory);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const entries: GlobalTaskDefinitionEntry[] = [];
  for (const name of names.filter((n) => n.endsWith(suffix)).sort()) {
    const file = join(directory, name);
    try {
      const text = await readFile(file, 'utf8');
      const definition = parseTaskDefinition(text);
      const { executorPid, executorStartTime, teardownCompleted } = JSON.parse(text) as { executorPid?: unknown; executorStartTime?: unknown; teardownCompleted?: unknown };
      if (typeof executorPid !== 'number' || !Number.isInteger(executorPid) || executorPid <= 0) throw new Error('executorPid: expected a positive integer');
      entries.push({
        file,
        definition: {
          ...definition,
          executorPid,
          executorStartTime: typeof executorStartTime === 'number' ? executorStartTime : undefined,
          teardownCompleted: teardownCompleted === true,
        },
      });
    } catch (err) {
      entries.push({ file, error: (err as Error).message });
    }
  }
  return entries;
}

export async function removeGlobalTaskDefinition(file: string): Promise<void> {
  await rm(file, { force: true });
}
