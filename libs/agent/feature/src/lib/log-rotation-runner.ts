import { execFile } from 'node:child_process';
import { constants } from 'node:fs';
import { access, readdir, readFile, stat } from 'node:fs/promises';
import { basename, delimiter, join } from 'node:path';
import type { Logger } from '@singularity/node-util';
import { systemClock, type Clock } from '@singularity/util';
import { writeFileAtomic } from './control-files';
import { isDue, parseCronFile, type CronLine } from './cron-lines';

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;
/** Minutes a late tick still catches up on (a line due in any of them runs once). */
const MAX_CATCH_UP_MINUTES = 5;
const COMMAND_TIMEOUT_MILLIS = 10 * MINUTE;

export interface LogRotationRunnerOptions {
  /** The executors' `cronDirectory`: `*.logrotate` files of `cron.d` lines. */
  cronDirectory: string;
  /** The executors' `logrotateConfDirectory`: one config per task, rotated once a day. */
  logrotateConfDirectory: string;
  /** The executors' `logrotateCommand`; cron lines may run only this program. */
  logrotateCommand: string;
  /** State file of the daily run. */
  dailyStateFile: string;
  /** When the daily run last ran (ms), so a restart does not run it again the same day. */
  dailyMarkerFile: string;
}

/** A program run: argv and how it ended. */
export interface RotationRun {
  source: string;
  argv: string[];
  exitCode: number | null;
  output: string;
}

/** Runs a program without a shell. */
export type CommandRunner = (argv: readonly string[]) => Promise<{ exitCode: number | null; output: string }>;

export const execFileRunner: CommandRunner = (argv) =>
  new Promise((resolve) => {
    const [program, ...args] = argv;
    execFile(program, args, { timeout: COMMAND_TIMEOUT_MILLIS, maxBuffer: 1024 * 1024 }, (err, stdout, stderr) => {
      const output = `${stdout}${stderr}`.trim();
      if (!err) return resolve({ exitCode: 0, output });
      const code = (err as NodeJS.ErrnoException & { code?: unknown }).code;
      resolve({ exitCode: typeof code === 'number' ? code : null, output: output || err.message });
    });
  });

/** Where system programs live even when PATH (a non-root user's, cron's) leaves them out. */
const SYSTEM_DIRECTORIES = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

/** The absolute path of `program` (PATH, then the system directories); as given when it has a slash or is nowhere. */
export async function resolveProgram(program: string, path = process.env.PATH ?? ''): Promise<string> {
  if (program.includes('/')) return program;
  for (const dir of [...path.split(delimiter).filter(Boolean), ...SYSTEM_DIRECTORIES]) {
    try {
      await access(join(dir, program), constants.X_OK);
      return join(dir, program);
    } catch {
      // Not here.
    }
  }
  return program;
}

/**
 * What host cron would do for the executors' rotation files (spec slave §1.9)
 * when they live under the agent's data directory, where no cron reads them:
 * every minute it runs the `<cronDirectory>/*.logrotate` lines due in that
 * minute (the forced HOURLY-and-faster rotations and the size-based checks),
 * and once a day `logrotate -s <state> <every config in logrotateConfDirectory>`
 * (the daily/weekly/monthly ones). Commands run one at a time, without a
 * shell, and only the configured logrotate program.
 */
export class LogRotationRunner {
  private timer?: NodeJS.Timeout;
  private running?: Promise<RotationRun[]>;
  private lastMinute?: number;
  private stopped = true;
  private logrotate?: string;
  /** Lines already reported as unusable (each is reported once, not every minute). */
  private readonly reported = new Set<string>();

  constructor(
    private readonly options: LogRotationRunnerOptions,
    private readonly logger: Logger,
    private readonly clock: Clock = systemClock,
    private readonly run: CommandRunner = execFileRunner,
  ) {}

  /** Ticks at the start of every minute until `stop()`. */
  start(): void {
    this.stopped = false;
    this.arm();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private arm(): void {
    if (this.stopped) return;
    const now = this.clock.now();
    // A second into the next minute, so the tick lands inside it.
    const delay = MINUTE - (now % MINUTE) + 1000;
    this.timer = setTimeout(() => {
      void this.tick().finally(() => this.arm());
    }, delay);
    this.timer.unref();
  }

  /**
   * Runs what is due at `clock.now()`: cron lines due in this minute (or in a
   * minute a late tick skipped), then the daily run when a day has passed
   * since the last. A tick while one is running waits for it and does nothing.
   */
  async tick(): Promise<RotationRun[]> {
    if (this.running) {
      await this.running;
      return [];
    }
    this.running = this.doTick().finally(() => (this.running = undefined));
    return this.running;
  }

  private async doTick(): Promise<RotationRun[]> {
    const now = this.clock.now();
    const minute = Math.floor(now / MINUTE);
    const runs: RotationRun[] = [];
    if (this.lastMinute === undefined || minute > this.lastMinute) {
      const first = this.lastMinute === undefined ? minute : Math.max(this.lastMinute + 1, minute - MAX_CATCH_UP_MINUTES + 1);
      this.lastMinute = minute;
      const minutes: number[] = [];
      for (let m = first; m <= minute; m++) minutes.push(m * MINUTE);
      runs.push(...(await this.runCronLines(minutes)));
    }
    const daily = await this.runDailyIfDue(now);
    if (daily) runs.push(daily);
    return runs;
  }

  private async logrotateProgram(): Promise<string> {
    this.logrotate ??= await resolveProgram(this.options.logrotateCommand);
    return this.logrotate;
  }

  private async runCronLines(minutes: readonly number[]): Promise<RotationRun[]> {
    const dir = this.options.cronDirectory;
    let names: string[];
    try {
      names = (await readdir(dir)).filter((name) => name.endsWith('.logrotate') && !name.startsWith('.')).sort();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.logger.warn({ err, dir }, 'cannot read the cron directory');
      return [];
    }
    const runs: RotationRun[] = [];
    for (const name of names) {
      const file = join(dir, name);
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch {
        continue; // The task's teardown removed it meanwhile.
      }
      for (const entry of parseCronFile(text)) {
        const source = `${file}:${entry.lineNumber}`;
        if ('error' in entry) {
          this.reportOnce(source, `skipping cron line ${source}: ${entry.error}`);
          continue;
        }
        if (!minutes.some((m) => isDue(entry.line.schedule, m))) continue;
        if (!(await this.allowed(entry.line))) {
          this.reportOnce(source, `skipping cron line ${source}: it runs ${entry.line.argv[0]}, not the logrotate command ${this.options.logrotateCommand}`);
          continue;
        }
        runs.push(await this.execute(source, entry.line.argv, entry.line.discardOutput));
      }
    }
    return runs;
  }

  /** Only the configured logrotate program (same path, or same name when the configuration gives a bare name). */
  private async allowed(line: CronLine): Promise<boolean> {
    const program = line.argv[0];
    if (program === this.options.logrotateCommand || program === (await this.logrotateProgram())) return true;
    return !this.options.logrotateCommand.includes('/') && basename(program) === this.options.logrotateCommand;
  }

  private async runDailyIfDue(now: number): Promise<RotationRun | undefined> {
    const last = await this.lastDailyRun();
    if (last !== undefined && now - last < DAY && now >= last) return undefined;
    await writeFileAtomic(this.options.dailyMarkerFile, `${now}\n`, false);
    const dir = this.options.logrotateConfDirectory;
    const confs: string[] = [];
    try {
      for (const name of (await readdir(dir)).sort()) {
        if (name.startsWith('.')) continue; // temp files of atomic writes
        const path = join(dir, name);
        if ((await stat(path).catch(() => undefined))?.isFile()) confs.push(path);
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.logger.warn({ err, dir }, 'cannot read the logrotate config directory');
    }
    if (confs.length === 0) return undefined;
    return this.execute('daily', [await this.logrotateProgram(), '-s', this.options.dailyStateFile, ...confs], false);
  }

  private async lastDailyRun(): Promise<number | undefined> {
    try {
      const value = Number((await readFile(this.options.dailyMarkerFile, 'utf8')).trim());
      return Number.isFinite(value) && value > 0 ? value : undefined;
    } catch {
      return undefined;
    }
  }

  private async execute(source: string, argv: string[], quiet: boolean): Promise<RotationRun> {
    const { exitCode, output } = await this.run(argv);
    const run = { source, argv, exitCode, output: output.slice(0, 4000) };
    if (exitCode === 0) this.logger.debug({ ...run, output: quiet ? undefined : run.output || undefined }, 'ran a log rotation');
    else this.logger.warn(run, 'a log rotation failed');
    return run;
  }

  private reportOnce(key: string, message: string): void {
    if (this.reported.has(key)) return;
    this.reported.add(key);
    this.logger.warn({ source: key }, message);
  }
}
