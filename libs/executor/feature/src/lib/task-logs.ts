import { access, appendFile, mkdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import execa from 'execa';
import type { ExecutorTaskDefinition, TailMetadata } from '@singularity/models';
import { writeFileAtomic, writeJsonAtomic, type Logger } from '@singularity/node-util';
import { resolveProgram } from './atomic-file';
import type { ExecutorConfig } from './executor-config';
import { SandboxEscapeError } from './executor-errors';
import { writeTail } from './log-tail';
import { planLogrotate, type LogrotatePlan } from './logrotate-config';
import { sandboxPath, SANDBOX_FILES } from './sandbox-layout';
import { resolveInsideSandbox } from './sandbox-paths';
import {
  planS3Metadata,
  s3AdditionalFiles,
  s3MetadataPath,
  tailMetadataPath,
  taskHost,
  unrotatedS3Metadata,
  type S3MetadataEntry,
  type S3MetadataInput,
} from './upload-metadata';

/** How often `maxServiceLogSizeMb` is checked (spec slave §1.9). */
export const SERVICE_LOG_SIZE_CHECK_MILLIS = 5 * 60 * 1000;

/** A logrotate run that takes longer than this is stopped and counts as failed. */
const LOGROTATE_TIMEOUT_MILLIS = 10 * 60 * 1000;

export interface TaskLogsContext {
  definition: ExecutorTaskDefinition;
  config: ExecutorConfig;
  logger: Logger;
  /** Period of the service-log size check; {@link SERVICE_LOG_SIZE_CHECK_MILLIS} unless a test shortens it. */
  sizeCheckEveryMillis?: number;
}

/**
 * The task's logs (spec slave §1.8, §1.9, §2 "From the executor", §5):
 * rotation configs and the metadata the S3 uploader and the log watcher read,
 * written before the runner starts; the teardown after the terminal update.
 *
 * The service log is `T/service.log`, the file runner.sh appends to.
 * `useFileAttributes` is not honoured: rotated files get no
 * `user.logstart`/`user.logend` attributes (docs/executor.md).
 */
export class TaskLogs {
  private readonly sandbox: string;
  private readonly serviceLog: string;
  private readonly skipRotation: boolean;
  private plan?: LogrotatePlan;
  private logrotateCommand = 'logrotate';
  private pid?: number;
  private sizeChecker?: NodeJS.Timeout;
  /** logrotate runs one at a time (size checks and the teardown share the state file). */
  private rotations: Promise<unknown> = Promise.resolve();
  /** Metadata rewrites in order (the one with the pid must not land after the finished one). */
  private metadataWrites: Promise<unknown> = Promise.resolve();
  private finishing?: Promise<boolean>;
  /** Teardown steps that failed (logged each). */
  private failedSteps = 0;

  private constructor(private readonly context: TaskLogsContext) {
    this.sandbox = context.definition.sandboxDirectory;
    this.serviceLog = sandboxPath(this.sandbox, 'serviceLog');
    this.skipRotation = context.definition.executorData.skipLogrotateAndCompress === true;
  }

  private get logger(): Logger {
    return this.context.logger;
  }

  private get settings(): ExecutorConfig['executor'] {
    return this.context.config.executor;
  }

  /**
   * Writes the rotation configs and the `finished:false` metadata (spec slave
   * §1.4 step 5). An additional file outside T fails the task
   * ({@link SandboxEscapeError}); whatever was written by then is removed.
   */
  static async prepare(context: TaskLogsContext): Promise<TaskLogs> {
    const logs = new TaskLogs(context);
    try {
      await logs.setUp();
    } catch (err) {
      await logs.removeRotationFiles();
      throw err;
    }
    return logs;
  }

  /**
   * The logs of a task whose executor is gone, for executor cleanup (spec
   * slave §4 step 6): the same plan as the executor made, without writing
   * anything, so that {@link finish} reruns the teardown. Rotation configs
   * that are gone already (a teardown that ran) are skipped, not an error.
   */
  static async forCleanup(context: TaskLogsContext): Promise<TaskLogs> {
    const logs = new TaskLogs(context);
    await logs.checkPathsInsideSandbox();
    if (!logs.skipRotation) logs.plan = await logs.makePlan();
    return logs;
  }

  private async makePlan(): Promise<LogrotatePlan> {
    this.logrotateCommand = await resolveProgram(this.settings.logrotateCommand);
    return planLogrotate({
      taskId: this.context.definition.taskId,
      sandboxDirectory: this.sandbox,
      serviceLog: SANDBOX_FILES.serviceLog,
      frequency: this.context.definition.executorData.logrotateFrequency ?? this.settings.logrotateFrequency,
      additionalFiles: this.settings.logrotateAdditionalFiles,
      logrotateCommand: this.logrotateCommand,
      settings: this.settings,
    });
  }

  private async setUp(): Promise<void> {
    await this.checkPathsInsideSandbox();
    if (this.skipRotation) {
      this.logger.info('skipLogrotateAndCompress: no rotation configs; service.log is uploaded as is at the end');
    } else {
      this.plan = await this.makePlan();
      for (const conf of [this.plan.mainConf, ...this.plan.extraConfs]) await writeFileAtomic(conf.path, conf.content, 0o644);
      if (this.plan.cron) await writeFileAtomic(this.plan.cron.path, this.plan.cron.content, 0o644);
      this.logger.info({ confs: this.plan.confPaths, cron: this.plan.cron?.path }, 'wrote the logrotate configuration');
      if (this.settings.useFileAttributes) this.logger.warn('useFileAttributes: rotated files are not stamped with user.logstart/user.logend by this executor');
    }
    await this.writeTailMetadata(false);
    const plan = this.s3Plan(false);
    if (plan && plan.withoutBucket.length > 0) {
      this.logger.warn({ files: plan.withoutBucket }, 'no S3 bucket for the task (defaultS3Bucket) or its files: no upload metadata written for them');
    }
    await this.writeS3Metadata(plan?.entries ?? []);
  }

  /** Called once the runner runs: the pid goes into the upload metadata, the size checker starts. */
  started(processPid: number): void {
    this.pid = processPid;
    this.queueMetadata(() => this.writeS3Metadata(this.s3Plan(false)?.entries ?? []));
    const maxMb = this.settings.maxServiceLogSizeMb;
    if (maxMb !== undefined && this.plan && !this.finishing) {
      const every = this.context.sizeCheckEveryMillis ?? SERVICE_LOG_SIZE_CHECK_MILLIS;
      this.logger.info({ maxServiceLogSizeMb: maxMb, everyMillis: every }, 'checking the size of service.log');
      this.sizeChecker = setInterval(() => void this.checkServiceLogSize(), every);
      this.sizeChecker.unref();
    }
  }

  /**
   * Forces a rotation of service.log when it is above `maxServiceLogSizeMb`
   * (spec slave §1.9). Returns whether it rotated.
   */
  async checkServiceLogSize(): Promise<boolean> {
    const maxMb = this.settings.maxServiceLogSizeMb;
    if (maxMb === undefined || !this.plan || this.finishing) return false;
    try {
      const { size } = await stat(this.serviceLog);
      if (size <= maxMb * 1024 * 1024) return false;
      this.logger.info({ sizeBytes: size, maxServiceLogSizeMb: maxMb }, 'service.log is over maxServiceLogSizeMb: rotating it');
      return await this.rotate([this.plan.mainConf.path]);
    } catch (err) {
      this.logger.warn({ err }, 'could not check the size of service.log');
      return false;
    }
  }

  /**
   * Teardown after the terminal update (spec slave §1.8); never throws, runs
   * once. Resolves with whether every step succeeded (executor cleanup keeps
   * the task for its next run otherwise).
   */
  finish(): Promise<boolean> {
    this.finishing ??= this.teardown().then(() => this.failedSteps === 0);
    return this.finishing;
  }

  private async teardown(): Promise<void> {
    if (this.sizeChecker) clearInterval(this.sizeChecker);
    this.sizeChecker = undefined;
    await this.metadataWrites;
    await this.step('finish the log-watcher metadata', () => this.writeTailMetadata(true));
    await this.step('create service.log', () => appendFile(this.serviceLog, '', { mode: 0o644 }));
    if (this.skipRotation) {
      await this.step('write the unrotated upload metadata', async () => {
        const entry = unrotatedS3Metadata(this.s3Input());
        if (entry) await this.writeS3Metadata([entry]);
      });
    } else {
      await this.step('save the tail of service.log', () => this.saveTail());
    }
    const rotated = this.plan ? await this.rotate(this.plan.confPaths) : true;
    await this.step('remove the rotation configs', () => this.removeRotationFiles());
    if (!rotated) {
      this.failedSteps += 1;
      return;
    }
    await this.step('remove the empty service.log', async () => {
      if ((await stat(this.serviceLog)).size === 0) await rm(this.serviceLog, { force: true });
    });
    await this.step('finish the upload metadata', () => this.writeS3Metadata(this.s3Plan(true)?.entries ?? []));
  }

  private async step(what: string, action: () => Promise<unknown>): Promise<void> {
    try {
      await action();
    } catch (err) {
      this.failedSteps += 1;
      this.logger.error({ err }, `log teardown: could not ${what}`);
    }
  }

  /** `tail -n tailLogLinesToSave service.log` into the tail file, unless it is there already. */
  private async saveTail(): Promise<void> {
    const lines = this.settings.tailLogLinesToSave;
    if (lines <= 0) return;
    const target = join(this.sandbox, plainFileName(this.context.definition.executorData.serviceFinishedTailLog) ?? this.settings.serviceFinishedTailLog);
    if (await exists(target)) {
      this.logger.info({ target }, 'the tail of service.log is there already');
      return;
    }
    const result = await writeTail(this.serviceLog, target, lines);
    this.logger.info({ target, ...result }, 'saved the tail of service.log');
  }

  /** `logrotate [-f] -s T/<state> <confs>`; returns whether it succeeded. Never throws. */
  private rotate(confs: readonly string[], force = true): Promise<boolean> {
    const run = this.rotations.then(() => this.runLogrotate(confs, force));
    this.rotations = run;
    return run;
  }

  private async runLogrotate(confs: readonly string[], force: boolean): Promise<boolean> {
    try {
      return await this.runLogrotateOnce(confs, force);
    } catch (err) {
      this.logger.error({ err }, 'could not run logrotate');
      return false;
    }
  }

  private async runLogrotateOnce(confs: readonly string[], force: boolean): Promise<boolean> {
    const plan = this.plan;
    if (!plan) return true;
    const present: string[] = [];
    for (const conf of confs) if (await exists(conf)) present.push(conf);
    if (present.length === 0) {
      this.logger.warn({ confs }, 'the rotation configs are gone: nothing to rotate');
      return true;
    }
    // olddir must exist; runner.sh creates it, but the runner may never have run.
    await mkdir(join(this.sandbox, this.settings.logrotateToDirectory), { recursive: true }).catch(() => undefined);
    const args = [...(force ? ['-f'] : []), '-s', plan.stateFile, ...present];
    const result = await execa(this.logrotateCommand, args, { reject: false, all: true, cwd: this.sandbox, timeout: LOGROTATE_TIMEOUT_MILLIS });
    const output = (result.all ?? '').trim().slice(0, 4000);
    if (result.exitCode === 0 && !result.failed) {
      this.logger.info({ command: this.logrotateCommand, args, output: output || undefined }, 'rotated the task logs');
      return true;
    }
    this.logger.error({ command: this.logrotateCommand, args, exitCode: result.exitCode, output, timedOut: result.timedOut || undefined, error: result.failed ? (result as Partial<Error>).message : undefined }, 'logrotate failed');
    return false;
  }

  private async removeRotationFiles(): Promise<void> {
    const plan = this.plan;
    if (!plan) return;
    const files = [...plan.confPaths, ...(plan.cron ? [plan.cron.path] : [])];
    await Promise.all(files.map((file) => rm(file, { force: true })));
    this.logger.info({ files }, 'removed the rotation configs');
  }

  private s3Input(): S3MetadataInput {
    const { definition, config } = this.context;
    const data = definition.executorData;
    return {
      task: {
        taskId: definition.taskId,
        requestId: definition.requestId,
        deployId: definition.deployId,
        host: taskHost(definition.taskId, definition.env['TASK_HOST'] ?? config.base.hostname ?? ''),
        group: data.requestGroup,
        tag: data.loggingTag,
      },
      sandboxDirectory: this.sandbox,
      serviceLog: SANDBOX_FILES.serviceLog,
      logrotateToDirectory: this.settings.logrotateToDirectory,
      executorData: data,
    };
  }

  /** Undefined when no metadata directory is configured. */
  private s3Plan(finished: boolean): ReturnType<typeof planS3Metadata> | undefined {
    if (!this.context.config.base.s3UploaderMetadataDirectory) return undefined;
    return planS3Metadata(this.s3Input(), { finished, pid: this.pid });
  }

  private async writeS3Metadata(entries: readonly S3MetadataEntry[]): Promise<void> {
    const { s3UploaderMetadataDirectory: dir, s3UploaderMetadataSuffix: suffix } = this.context.config.base;
    if (!dir) return;
    for (const { hint, metadata } of entries) await writeJsonAtomic(s3MetadataPath(dir, suffix, this.context.definition.taskId, hint), metadata);
  }

  private queueMetadata(write: () => Promise<void>): void {
    this.metadataWrites = this.metadataWrites.then(write).catch((err: unknown) => this.logger.error({ err }, 'could not write the upload metadata'));
  }

  /** The log watcher's `*.tail.json`, only with a `loggingTag` (spec slave §5). */
  private async writeTailMetadata(finished: boolean): Promise<void> {
    const data = this.context.definition.executorData;
    const { logWatcherMetadataDirectory: dir, logWatcherMetadataSuffix: suffix } = this.context.config.base;
    if (!data.loggingTag || !dir) return;
    const metadata: TailMetadata = { filename: this.serviceLog, tag: data.loggingTag, extraFields: data.loggingExtraFields ?? {}, finished };
    await writeJsonAtomic(tailMetadataPath(dir, suffix, this.serviceLog), metadata);
  }

  /**
   * Additional files (globs) and upload directories must stay inside T after
   * `..` and symlinks (spec slave §1.3); a `..` after a wildcard is refused,
   * since what it reaches depends on what the wildcard matches later.
   */
  private async checkPathsInsideSandbox(): Promise<void> {
    for (const file of this.settings.logrotateAdditionalFiles) {
      await checkPatternInsideSandbox(this.sandbox, file.filename, 'Additional log file');
    }
    for (const file of s3AdditionalFiles(this.context.definition.executorData)) {
      if (file.directory !== undefined) await checkPatternInsideSandbox(this.sandbox, file.directory, 'Upload directory');
    }
  }
}

const GLOB = /[*?[]/;

async function checkPatternInsideSandbox(sandbox: string, pattern: string, what: string): Promise<void> {
  const segments = pattern.split('/');
  const firstGlob = segments.findIndex((segment) => GLOB.test(segment));
  if (firstGlob >= 0 && segments.slice(firstGlob).includes('..')) {
    throw new SandboxEscapeError(`${what}: ${JSON.stringify(pattern)} has ".." after a wildcard`);
  }
  const fixed = firstGlob >= 0 ? segments.slice(0, firstGlob).join('/') : pattern;
  if (pattern.startsWith('/')) await resolveInsideSandbox(sandbox, pattern, what); // refused as absolute
  await resolveInsideSandbox(sandbox, fixed || '.', what);
}

/** `name` when it names a file directly in T (no directory part), else undefined. */
function plainFileName(name: string | undefined): string | undefined {
  return name && !name.includes('/') && name !== '.' && name !== '..' ? name : undefined;
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}
