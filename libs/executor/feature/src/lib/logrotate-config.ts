import { extname, join } from 'node:path';
import { LOGROTATE_FREQUENCIES, type LogrotateFrequency } from '@singularity/models';
import { shellQuote } from '@singularity/util';
import type { ExecutorConfig } from './executor-config';
import { TaskFailureError } from './executor-errors';

/**
 * The task's logrotate configuration (spec slave §1.9), as text. Pure: the
 * caller checks that additional-file patterns stay inside T and writes the
 * files (task-logs.ts).
 *
 * Where each file's stanza goes (every file is in exactly one config, or
 * logrotate refuses the duplicate):
 *
 *   <logrotateConfDirectory>/<taskId>                 service.log (olddir logs/), additional files
 *                                                     without an override or with DAILY/WEEKLY/MONTHLY
 *   <logrotateHourlyConfDirectory>/<taskId>.<FREQ>    additional files whose override is HOURLY,
 *                                                     EVERY_FIVE_MINUTES or EVERY_MINUTE
 *   <logrotateHourlyConfDirectory>/<taskId>.sizebased additional files with logrotateSizeOverride (size wins)
 *   <cronDirectory>/<taskId>.logrotate                the cron lines that force the faster ones
 *
 * logrotate knows no period below a day, so HOURLY and faster write `daily`
 * and a cron line runs `logrotate -f` on the config at that pace. A global
 * HOURLY-or-faster frequency forces the main config, and with it every
 * additional file in it.
 */

/** Cron schedules of the frequencies logrotate cannot express (spec slave §1.9). */
export const FORCED_ROTATION_SCHEDULES: Readonly<Partial<Record<LogrotateFrequency, string>>> = {
  HOURLY: '0 * * * *',
  EVERY_FIVE_MINUTES: '*/5 * * * *',
  EVERY_MINUTE: '* * * * *',
};

/** How often size-based configs are checked (without `-f`: logrotate decides by size). */
export const SIZE_BASED_SCHEDULE = '*/5 * * * *';

/** Appended to cron lines with `ignoreLogrotateOutput`. */
export const DISCARD_OUTPUT = '> /dev/null 2>&1';

/** The frequency directive logrotate reads: HOURLY and faster are `daily` plus a forced cron run. */
export function logrotateDirective(frequency: LogrotateFrequency): 'daily' | 'weekly' | 'monthly' {
  switch (frequency) {
    case 'WEEKLY':
      return 'weekly';
    case 'MONTHLY':
      return 'monthly';
    default:
      return 'daily';
  }
}

export function isForcedByCron(frequency: LogrotateFrequency): boolean {
  return FORCED_ROTATION_SCHEDULES[frequency] !== undefined;
}

/** One `logrotateAdditionalFiles` entry, its `filename` relative to T (globs allowed). */
export interface AdditionalLogFile {
  filename: string;
  extension?: string;
  dateformat?: string;
  logrotateFrequencyOverride?: LogrotateFrequency;
  logrotateSizeOverride?: string;
}

export type LogrotateSettings = Pick<
  ExecutorConfig['executor'],
  | 'logrotateStateFile'
  | 'logrotateConfDirectory'
  | 'logrotateHourlyConfDirectory'
  | 'cronDirectory'
  | 'logrotateToDirectory'
  | 'logrotateMaxageDays'
  | 'logrotateCount'
  | 'logrotateDateformat'
  | 'logrotateExtrasDateformat'
  | 'logrotateCompressionSettings'
  | 'ignoreLogrotateOutput'
>;

export interface LogrotatePlanInput {
  taskId: string;
  /** T, absolute. */
  sandboxDirectory: string;
  /** File name of the task's output in T (`service.log`). */
  serviceLog: string;
  /** The task's frequency: executorData's, else the configuration's. */
  frequency: LogrotateFrequency;
  additionalFiles: readonly AdditionalLogFile[];
  /** The program the cron lines run (absolute, so cron's short PATH does not matter). */
  logrotateCommand: string;
  settings: LogrotateSettings;
}

export interface ConfigFile {
  path: string;
  content: string;
}

export interface LogrotatePlan {
  /** `<logrotateConfDirectory>/<taskId>`, the config with the service-log stanza. */
  mainConf: ConfigFile;
  /** Configs in `logrotateHourlyConfDirectory` (per forced frequency, then `.sizebased`). */
  extraConfs: ConfigFile[];
  /** `<cronDirectory>/<taskId>.logrotate`, when anything needs a cron run. */
  cron?: ConfigFile;
  /** `T/<logrotateStateFile>`. */
  stateFile: string;
  /** Every config, the main one first: what teardown rotates. */
  confPaths: string[];
}

const BARE_LOGROTATE_PATH = /^[A-Za-z0-9_@%+=:,./*?[\]-]+$/;

/**
 * A path as logrotate's config parser reads it: bare when it can be, else in
 * double quotes (logrotate splits the line like a shell and still expands
 * globs). Characters its parser cannot carry fail the task.
 */
export function logrotatePath(path: string): string {
  if (BARE_LOGROTATE_PATH.test(path)) return path;
  // eslint-disable-next-line no-control-regex
  if (/["\\{}\u0000-\u001f\u007f]/.test(path)) {
    throw new TaskFailureError(`Cannot rotate ${JSON.stringify(path)}: logrotate cannot read a path with quotes, backslashes, braces or control characters`);
  }
  return `"${path}"`;
}

/** One word of a cron line: shell-quoted for the `sh -c` cron runs it in, `%` escaped for cron itself. */
export function cronWord(word: string): string {
  return shellQuote(word).replace(/%/g, '\\%');
}

function globalDirectives(settings: LogrotateSettings, frequency: string | undefined): string[] {
  const compression = settings.logrotateCompressionSettings;
  const lines = ['dateext', 'compress'];
  if (compression.compressCmd) lines.push(`compresscmd ${compression.compressCmd}`);
  if (compression.uncompressCmd) lines.push(`uncompresscmd ${compression.uncompressCmd}`);
  if (compression.compressOptions) lines.push(`compressoptions ${compression.compressOptions}`);
  if (compression.compressExt) lines.push(`compressext ${compression.compressExt}`);
  if (frequency) lines.push(frequency);
  lines.push('copytruncate', 'nomail', 'nosharedscripts', `rotate ${settings.logrotateCount}`, `maxage ${settings.logrotateMaxageDays}`, 'notifempty');
  return lines;
}

function stanza(path: string, body: string[]): string[] {
  return ['', `${logrotatePath(path)} {`, ...body.map((line) => `  ${line}`), '}'];
}

function dateformat(format: string, extension: string | undefined): string {
  return `dateformat -${format}${extension ? `.${extension}` : ''}`;
}

type Placement = { kind: 'main' } | { kind: 'forced'; frequency: LogrotateFrequency } | { kind: 'size'; size: string };

function placementOf(file: AdditionalLogFile): Placement {
  if (file.logrotateSizeOverride && file.logrotateSizeOverride.trim()) return { kind: 'size', size: file.logrotateSizeOverride.trim() };
  const override = file.logrotateFrequencyOverride;
  if (override && isForcedByCron(override)) return { kind: 'forced', frequency: override };
  return { kind: 'main' };
}

function additionalStanza(input: LogrotatePlanInput, file: AdditionalLogFile, first: string[]): string[] {
  const format = file.dateformat || input.settings.logrotateExtrasDateformat;
  return stanza(join(input.sandboxDirectory, file.filename), [...first, dateformat(format, file.extension), 'missingok']);
}

/** Renders every rotation file of the task (spec slave §1.9). */
export function planLogrotate(input: LogrotatePlanInput): LogrotatePlan {
  const { settings, taskId } = input;
  if (!/^[^\s"'\\{}]+$/.test(settings.logrotateToDirectory)) {
    throw new TaskFailureError(`Cannot rotate into ${JSON.stringify(settings.logrotateToDirectory)}: logrotate's olddir takes no spaces, quotes or braces`);
  }
  const stateFile = join(input.sandboxDirectory, settings.logrotateStateFile);
  const serviceExtension = extname(input.serviceLog).slice(1);

  const main = [
    ...globalDirectives(settings, logrotateDirective(input.frequency)),
    ...stanza(join(input.sandboxDirectory, input.serviceLog), [dateformat(settings.logrotateDateformat, serviceExtension), `olddir ${settings.logrotateToDirectory}`]),
  ];
  const forced = new Map<LogrotateFrequency, string[]>();
  const sizeBased: string[] = [];
  for (const file of input.additionalFiles) {
    const placement = placementOf(file);
    if (placement.kind === 'size') {
      sizeBased.push(...additionalStanza(input, file, [`size ${placement.size}`]));
    } else if (placement.kind === 'forced') {
      const lines = forced.get(placement.frequency) ?? [];
      lines.push(...additionalStanza(input, file, []));
      forced.set(placement.frequency, lines);
    } else {
      const override = file.logrotateFrequencyOverride;
      main.push(...additionalStanza(input, file, override ? [logrotateDirective(override)] : []));
    }
  }

  const mainConf = { path: join(settings.logrotateConfDirectory, taskId), content: text(main) };
  const extraConfs: ConfigFile[] = [];
  const cronLines: string[] = [];
  const redirect = settings.ignoreLogrotateOutput ? ` ${DISCARD_OUTPUT}` : '';
  const command = (force: boolean, conf: string) =>
    `root ${[input.logrotateCommand, ...(force ? ['-f'] : []), '-s', stateFile, conf].map(cronWord).join(' ')}${redirect}`;

  const globalSchedule = FORCED_ROTATION_SCHEDULES[input.frequency];
  if (globalSchedule) cronLines.push(`${globalSchedule} ${command(true, mainConf.path)}`);
  // In the enum's order, so the output does not depend on the order of the configuration.
  for (const frequency of LOGROTATE_FREQUENCIES) {
    const stanzas = forced.get(frequency);
    if (!stanzas) continue;
    const conf = { path: join(settings.logrotateHourlyConfDirectory, `${taskId}.${frequency}`), content: text([...globalDirectives(settings, 'daily'), ...stanzas]) };
    extraConfs.push(conf);
    cronLines.push(`${FORCED_ROTATION_SCHEDULES[frequency]} ${command(true, conf.path)}`);
  }
  if (sizeBased.length > 0) {
    const conf = { path: join(settings.logrotateHourlyConfDirectory, `${taskId}.sizebased`), content: text([...globalDirectives(settings, undefined), ...sizeBased]) };
    extraConfs.push(conf);
    cronLines.push(`${SIZE_BASED_SCHEDULE} ${command(false, conf.path)}`);
  }

  return {
    mainConf,
    extraConfs,
    cron: cronLines.length > 0 ? { path: join(settings.cronDirectory, `${taskId}.logrotate`), content: text(cronLines) } : undefined,
    stateFile,
    confPaths: [mainConf.path, ...extraConfs.map((c) => c.path)],
  };
}

function text(lines: string[]): string {
  return `${lines.join('\n')}\n`;
}
