import { readFile } from 'node:fs/promises';
import { probeCgroups, type CgroupProbe, type Logger } from '@singularity/node-util';
import { parse } from 'yaml';

/** The executor's cgroup settings (`executor.cgroups`, `cgroupRoot`, `cgroupParent`; defaults as the executor has them). */
export interface CgroupSettings {
  mode: 'auto' | 'off' | 'required';
  root: string;
  parent: string;
}

export const DEFAULT_CGROUP_SETTINGS: CgroupSettings = { mode: 'auto', root: '/sys/fs/cgroup', parent: 'singularity' };

/** The cgroup settings of the executor configuration the agent wrote (`<dataDir>/executor.yaml`). */
export async function cgroupSettingsOf(executorConfigFile: string): Promise<CgroupSettings> {
  const parsed = parse(await readFile(executorConfigFile, 'utf8')) as { executor?: Record<string, unknown> } | null;
  const section = parsed?.executor ?? {};
  const text = (value: unknown, fallback: string) => (typeof value === 'string' && value.trim() ? value : fallback);
  const mode = section['cgroups'];
  return {
    mode: mode === 'off' || mode === 'required' ? mode : 'auto',
    root: text(section['cgroupRoot'], DEFAULT_CGROUP_SETTINGS.root),
    parent: text(section['cgroupParent'], DEFAULT_CGROUP_SETTINGS.parent),
  };
}

/**
 * At agent start: whether the executors can give tasks cgroups. When they
 * cannot, one warning says so (and what that means) instead of one line per
 * task. Never throws: an agent without cgroups still runs tasks.
 */
export async function reportTaskCgroups(executorConfigFile: string, logger: Logger): Promise<CgroupProbe | undefined> {
  let settings: CgroupSettings;
  try {
    settings = await cgroupSettingsOf(executorConfigFile);
  } catch (err) {
    logger.warn({ err, executorConfigFile }, 'could not read the cgroup settings of the executor configuration');
    return undefined;
  }
  if (settings.mode === 'off') {
    logger.info('task cgroups are off (executor.cgroups: off): tasks run without memory limits, cgroup kills or usage statistics');
    return undefined;
  }
  const probe = await probeCgroups(settings.root, settings.parent);
  if (probe.ok) {
    logger.info({ cgroupVersion: probe.hierarchy.version, cgroupRoot: settings.root, cgroupParent: settings.parent }, `task cgroups available (${probe.hierarchy.version}) under ${settings.root}`);
  } else if (settings.mode === 'required') {
    logger.warn({ reason: probe.reason, cgroupRoot: settings.root }, `cgroups are not writable (${probe.reason}): every task will fail (executor.cgroups: required)`);
  } else {
    logger.warn(
      { reason: probe.reason, cgroupRoot: settings.root },
      `cgroups are not writable (${probe.reason}): tasks run without them (no memory limits, no kill of processes that leave the task's group, no usage statistics)`,
    );
  }
  return probe;
}
