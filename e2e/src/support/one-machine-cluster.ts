import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, createWriteStream, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { SingularityClient } from '@singularity/client';
import { freePort } from '@singularity/node-util';
import { until } from './until';

const ROOT = resolve(__dirname, '..', '..', '..');

/**
 * The real system on one machine: a scheduler and an agent as separate
 * processes (each in its own process group), with their data in a temp dir.
 * Logs go to files in that dir; on failure the test prints where.
 */
export interface OneMachineClusterOptions {
  /** Extra environment of the agent (e.g. `SINGULARITY_AGENT_EXECUTOR_CONFIG_FILE`). */
  agentEnv?: Record<string, string>;
  /** Extra environment of the scheduler. */
  schedulerEnv?: Record<string, string>;
}

export class OneMachineCluster {
  readonly dir = OneMachineCluster.makeDir();

  constructor(private readonly options: OneMachineClusterOptions = {}) {}

  /** The embedded PostgreSQL runs as the `postgres` user when we are root: it must be able to enter the data dir. */
  private static makeDir(): string {
    const dir = mkdtempSync(join(tmpdir(), 'singularity-e2e-'));
    chmodSync(dir, 0o755);
    return dir;
  }

  /** The last lines of a program's log, for failure messages. */
  logTail(name: 'scheduler' | 'agent', lines = 15): string {
    const file = join(this.dir, `${name}.log`);
    return existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n').slice(-lines).join('\n') : '(no log)';
  }
  schedulerPort = 0;
  agentPort = 0;
  private scheduler?: ChildProcess;
  private agent?: ChildProcess;

  get baseUrl(): string {
    return `http://127.0.0.1:${this.schedulerPort}/singularity`;
  }

  /** `<baseUrl>/api`, for calls the typed client has no method for. */
  get apiUrl(): string {
    return `${this.baseUrl}/api`;
  }

  /** A typed client of the scheduler, once started. */
  get client(): SingularityClient {
    return new SingularityClient({ baseUrl: this.baseUrl });
  }

  async start(): Promise<void> {
    this.schedulerPort = await freePort();
    this.agentPort = await freePort();
    await this.startScheduler();
    await this.startAgent();
    await until('the agent to register', async () => {
      const res = await fetch(`${this.baseUrl}/api/slaves`);
      const agents = (await res.json()) as unknown[];
      return agents.length > 0 ? true : undefined;
    });
  }

  /** Starts the agent (again, after `killAgent`: same data dir and port) and waits for its HTTP API. */
  async startAgent(): Promise<void> {
    this.agent = this.spawn('agent', 'apps/agent/src/main.ts', {
      SINGULARITY_AGENT_SCHEDULER_URL: this.baseUrl,
      SINGULARITY_AGENT_HTTP_PORT: String(this.agentPort),
      SINGULARITY_AGENT_DATA_DIR: join(this.dir, 'agent'),
      SINGULARITY_AGENT_KILL_TASKS_ON_SHUTDOWN: 'true',
      SINGULARITY_AGENT_PORT_RANGE: '42000-42999',
      SINGULARITY_AGENT_DEFAULT_SIG_KILL_PROCESSES_AFTER_MILLIS: '3000',
      ...this.options.agentEnv,
    });
    await until('the agent API', async () => {
      const res = await fetch(`http://127.0.0.1:${this.agentPort}/agent/tasks`).catch(() => undefined);
      return res?.ok ? true : undefined;
    }).catch((err: Error) => {
      throw new Error(`${err.message}\nagent log:\n${this.logTail('agent')}`);
    });
  }

  /** `kill -9` of the agent process alone; its executors (their own sessions) keep running. */
  async killAgent(): Promise<void> {
    const child = this.agent!;
    const exited = new Promise((r) => child.once('exit', r));
    process.kill(child.pid!, 'SIGKILL');
    await exited;
  }

  async startScheduler(): Promise<void> {
    this.scheduler = this.spawn('scheduler', 'apps/scheduler/src/main.ts', {
      SINGULARITY_SCHEDULER_HTTP_PORT: String(this.schedulerPort),
      SINGULARITY_SCHEDULER_DATA_DIR: join(this.dir, 'scheduler'),
      SINGULARITY_SCHEDULER_CHECK_SCHEDULER_EVERY_SECONDS: '1',
      SINGULARITY_SCHEDULER_CONSIDER_TASK_HEALTHY_AFTER_RUNNING_FOR_SECONDS: '1',
      ...this.options.schedulerEnv,
    });
    await until('the scheduler API', async () => ((await fetch(`${this.baseUrl}/api/state`)).ok ? true : undefined)).catch((err: Error) => {
      throw new Error(`${err.message}\nscheduler log:\n${this.logTail('scheduler')}`);
    });
  }

  /** `kill -9` of the scheduler process. */
  async killScheduler(): Promise<void> {
    const child = this.scheduler!;
    const exited = new Promise((r) => child.once('exit', r));
    process.kill(-child.pid!, 'SIGKILL');
    await exited;
  }

  async stop(): Promise<void> {
    // The agent first (it kills its tasks and relays their end), then the scheduler.
    await this.terminate(this.agent, 30_000);
    await this.terminate(this.scheduler, 15_000);
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  }

  private async terminate(child: ChildProcess | undefined, graceMs: number): Promise<void> {
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    process.kill(-child.pid!, 'SIGTERM');
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        /* gone */
      }
    }, graceMs);
    await exited;
    clearTimeout(timer);
  }

  private spawn(name: string, entry: string, env: Record<string, string>): ChildProcess {
    const log = createWriteStream(join(this.dir, `${name}.log`), { flags: 'a' });
    const child = spawn(process.execPath, ['-r', join(ROOT, 'tools/register.js'), join(ROOT, entry)], {
      cwd: this.dir,
      env: { ...process.env, LOG_LEVEL: 'debug', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    child.stdout!.pipe(log);
    child.stderr!.pipe(log);
    return child;
  }
}

export { until };

/**
 * Call inside a `describe`: a cluster started before its tests and stopped
 * after them. Its directory (data and logs) is removed only when every test
 * passed, so a failure can be looked into.
 */
export function useOneMachineCluster(options: OneMachineClusterOptions = {}): OneMachineCluster {
  const cluster = new OneMachineCluster(options);
  beforeAll(() => cluster.start());
  afterAll(async () => {
    await cluster.stop();
    if (!expect.getState().suppressedErrors?.length) cluster.cleanup();
  });
  return cluster;
}
