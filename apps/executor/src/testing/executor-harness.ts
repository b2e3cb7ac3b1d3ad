import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { AgentKillRequest, ExecutorData, ExecutorTaskDefinition, TaskStatusRecord } from '@singularity/models';

/** The repository root, from this file's place in it (apps/executor/src/testing). */
export const REPO_ROOT = resolve(__dirname, '..', '..', '..', '..');
export const EXECUTOR_MAIN = join(REPO_ROOT, 'apps', 'executor', 'src', 'main.ts');
export const REGISTER = join(REPO_ROOT, 'tools', 'register.js');

/** Polls `probe` until it returns a value other than undefined. */
export async function eventually<T>(probe: () => T | undefined, what: string, timeoutMillis = 20000): Promise<T> {
  const deadline = Date.now() + timeoutMillis;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface ExecutorRunOptions {
  executorData: ExecutorData;
  env?: Record<string, string>;
  defaultSigKillProcessesAfterMillis?: number;
  /** Replaces task.json's text (for invalid definitions). */
  rawDefinition?: (definition: ExecutorTaskDefinition) => string;
  extraArgs?: string[];
  /** Sections of the executor configuration laid over the harness's (directories under its temp root). */
  config?: Record<string, Record<string, unknown>>;
}

/**
 * The executor configuration of a test run: every directory under `root`, as
 * the agent puts them under its data dir, so no test writes to /etc.
 */
export function testExecutorConfig(root: string, over: Record<string, Record<string, unknown>> = {}): Record<string, Record<string, unknown>> {
  const base = {
    base: { s3UploaderMetadataDirectory: join(root, 's3-uploader-metadata'), logWatcherMetadataDirectory: join(root, 'log-watcher-metadata') },
    s3: { artifactCacheDirectory: join(root, 'artifact-cache') },
    executor: {
      globalTaskDefinitionDirectory: join(root, 'task-definitions'),
      logrotateConfDirectory: join(root, 'logrotate.d'),
      logrotateHourlyConfDirectory: join(root, 'logrotate.d', 'hourly'),
      cronDirectory: join(root, 'cron.d'),
    },
  };
  const merged: Record<string, Record<string, unknown>> = { ...over };
  for (const [section, values] of Object.entries(base)) merged[section] = { ...values, ...(over[section] ?? {}) };
  return merged;
}

/**
 * Plays the agent for one task: writes task.json and the TASK_STAGING line,
 * starts the real executor (`node -r ./tools/register.js apps/executor/src/main.ts`)
 * detached in its own session, and reads the status file back.
 */
export class ExecutorRun {
  readonly root: string;
  readonly definition: ExecutorTaskDefinition;
  readonly taskFile: string;
  readonly executorOut: string;
  child?: ChildProcess;
  exitCode?: number | null;
  private exited?: Promise<number | null>;

  constructor(options: ExecutorRunOptions) {
    this.root = mkdtempSync(join(tmpdir(), 'executor-run-'));
    const control = join(this.root, 'control');
    mkdirSync(control);
    const taskId = `req-dep-${Date.now()}-0-host-rack`;
    this.definition = {
      taskId,
      requestId: 'req',
      deployId: 'dep',
      executorData: options.executorData,
      env: { TASK_ID: taskId, ...(options.env ?? {}) },
      resources: { cpus: 1, memoryMb: 128, diskMb: 128, ports: [] },
      sandboxDirectory: join(this.root, 'sandbox', taskId),
      controlDirectory: control,
      statusFile: join(control, 'status.jsonl'),
      killFile: join(control, 'kill.json'),
      defaultSigKillProcessesAfterMillis: options.defaultSigKillProcessesAfterMillis ?? 30000,
    };
    this.taskFile = join(control, 'task.json');
    this.executorOut = join(control, 'executor.out');
    mkdirSync(this.definition.sandboxDirectory, { recursive: true });
    writeFileSync(this.taskFile, options.rawDefinition ? options.rawDefinition(this.definition) : JSON.stringify(this.definition, null, 2));
    writeFileSync(this.definition.statusFile, `${JSON.stringify({ seq: 1, taskId, state: 'TASK_STAGING', timestamp: Date.now() })}\n`);
    this.configFile = join(this.root, 'executor.json');
    // JSON is YAML: the executor reads it as its configuration file.
    writeFileSync(this.configFile, JSON.stringify(testExecutorConfig(this.root, options.config), null, 2));
    this.extraArgs = options.extraArgs ?? [];
  }

  /** The executor configuration this run passes with `--config` (unless extraArgs has its own). */
  readonly configFile: string;

  private readonly extraArgs: string[];

  get sandbox(): string {
    return this.definition.sandboxDirectory;
  }

  /** The command line an agent uses. */
  commandLine(): string[] {
    const config = this.extraArgs.includes('--config') ? [] : ['--config', this.configFile];
    return [process.execPath, '-r', REGISTER, EXECUTOR_MAIN, '--task-definition', this.taskFile, ...config, ...this.extraArgs];
  }

  start(): void {
    const out = openSync(this.executorOut, 'a');
    const [command, ...args] = this.commandLine();
    const child = spawn(command, args, { cwd: this.root, detached: true, stdio: ['ignore', out, out] });
    closeSync(out);
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve((this.exitCode = code))));
  }

  statuses(): TaskStatusRecord[] {
    if (!existsSync(this.definition.statusFile)) return [];
    return readFileSync(this.definition.statusFile, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as TaskStatusRecord);
  }

  waitForState(state: TaskStatusRecord['state'], timeoutMillis = 20000): Promise<TaskStatusRecord> {
    return eventually(() => this.statuses().find((s) => s.state === state), `${state} in ${this.definition.statusFile}\n${this.diagnostics()}`, timeoutMillis);
  }

  /** Waits for the executor process to exit; returns its exit code. */
  async waitForExit(timeoutMillis = 20000): Promise<number | null> {
    if (!this.exited) throw new Error('executor not started');
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`executor did not exit\n${this.diagnostics()}`)), timeoutMillis);
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** The runner's pid (= its process group) from the TASK_RUNNING message. */
  async runnerPid(): Promise<number> {
    const running = await this.waitForState('TASK_RUNNING');
    const match = /\(pid: (\d+)\)$/.exec(running.message ?? '');
    if (!match) throw new Error(`no pid in ${running.message}`);
    return Number(match[1]);
  }

  /** Does what the agent does to kill: writes the kill file, then SIGTERMs the executor. */
  kill(request?: AgentKillRequest): void {
    if (request) writeFileSync(this.definition.killFile, JSON.stringify(request));
    if (!this.child?.pid) return;
    try {
      process.kill(this.child.pid, 'SIGTERM');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err; // the executor already exited
    }
  }

  /** Waits until the task created `name` in the sandbox (e.g. a marker written once its traps are set). */
  waitForFile(name: string, timeoutMillis = 20000): Promise<string> {
    return eventually(() => (existsSync(this.sandboxFile(name)) ? this.sandboxFile(name) : undefined), `${name} in the sandbox\n${this.diagnostics()}`, timeoutMillis);
  }

  /** How often the executor logged `msg` in executor.log. */
  logCount(msg: string): number {
    const log = existsSync(this.sandboxFile('executor.log')) ? readFileSync(this.sandboxFile('executor.log'), 'utf8') : '';
    return log.split('\n').filter((line) => line.includes(`"msg":${JSON.stringify(msg)}`)).length;
  }

  /**
   * What the task wrote to service.log, once the executor is done with it:
   * the log teardown rotates service.log away after the terminal update
   * (spec slave §1.8), keeping its last lines in tail_of_finished_service.log.
   * Waits for the executor to exit, then reads the tail (or service.log when
   * rotation was skipped).
   */
  async serviceOutput(): Promise<string> {
    if (this.exited) await this.waitForExit();
    else await this.waitForFile('tail_of_finished_service.log'); // started by someone else (an "agent" shell)
    for (const name of ['tail_of_finished_service.log', 'service.log']) {
      if (existsSync(this.sandboxFile(name))) return readFileSync(this.sandboxFile(name), 'utf8');
    }
    return '';
  }

  sandboxFile(name: string): string {
    return join(this.sandbox, name);
  }

  diagnostics(): string {
    const read = (path: string) => (existsSync(path) ? readFileSync(path, 'utf8').slice(-4000) : '(missing)');
    return [
      `status: ${read(this.definition.statusFile)}`,
      `executor.out: ${read(this.executorOut)}`,
      `executor.bash.log: ${read(this.sandboxFile('executor.bash.log'))}`,
      `executor.log: ${read(this.sandboxFile('executor.log'))}`,
    ].join('\n');
  }

  /** Ends everything this run started and removes its files. */
  async cleanup(): Promise<void> {
    const pid = this.child?.pid;
    if (pid && this.exitCode === undefined) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
      await this.exited;
    }
    const running = this.statuses().find((s) => s.state === 'TASK_RUNNING');
    const runner = /\(pid: (\d+)\)$/.exec(running?.message ?? '');
    if (runner) {
      try {
        process.kill(-Number(runner[1]), 'SIGKILL');
      } catch {
        // group already empty
      }
    }
    // A process of the run may still be finishing a write as it dies: retry ENOTEMPTY/EBUSY briefly.
    rmSync(this.root, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  }
}

/** Runs of one `describe`, all cleaned up after each of its tests. */
export interface ExecutorRuns {
  /** Writes the task files and starts the executor, as the agent does. */
  start(options: ExecutorRunOptions): ExecutorRun;
  /** Writes the task files only, for a test that starts the executor its own way. */
  prepare(options: ExecutorRunOptions): ExecutorRun;
}

/**
 * Call inside a `describe`: registers an `afterEach` that ends every executor
 * (and task process group) the test started and removes its files, so a
 * failing test leaves nothing running behind.
 */
export function useExecutorRuns(): ExecutorRuns {
  const runs: ExecutorRun[] = [];
  afterEach(async () => {
    await Promise.all(runs.splice(0).map((run) => run.cleanup()));
  });
  const prepare = (options: ExecutorRunOptions) => {
    const run = new ExecutorRun(options);
    runs.push(run);
    return run;
  };
  return {
    prepare,
    start: (options) => {
      const run = prepare(options);
      run.start();
      return run;
    },
  };
}
