import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildTaskId, type AgentLaunchRequest, type ExecutorLaunchSpec, type TaskStatusRecord } from '@singularity/models';
import { createLogger, type Logger } from '@singularity/node-util';
import { agentConfig, type AgentConfig, type AgentConfigInput } from '../lib/agent-config';

/** Path of the FakeExecutor script (plain node, no TypeScript: it starts in ~50 ms). */
export const FAKE_EXECUTOR = join(__dirname, 'fake-executor.js');

/** `executorCommand` that runs the FakeExecutor and logs each start to `launchLog`. */
export function fakeExecutorCommand(launchLog: string): string[] {
  return [process.execPath, FAKE_EXECUTOR, '--launch-log', launchLog];
}

/** Executor starts recorded by the FakeExecutor: one `{pid, taskId}` per process started. */
export function launchesIn(launchLog: string): Array<{ pid: number; taskId: string }> {
  if (!existsSync(launchLog)) return [];
  return readFileSync(launchLog, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [pid, taskId] = line.split(' ');
      return { pid: Number(pid), taskId };
    });
}

/** SIGKILLs the process group of every executor in the launch log (each leads its own group). */
export function killLaunchedExecutors(launchLog: string): void {
  for (const { pid } of launchesIn(launchLog)) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
}

/**
 * SIGKILLs what an agent with data dir `dataDir` left running: every
 * executor's process group (running or finished control directories; they
 * linger briefly after a task's end) and the task process group each one
 * reported in TASK_RUNNING (`… (pid: N)`).
 */
export function killExecutorsUnder(dataDir: string): void {
  const kill = (group: number) => {
    try {
      process.kill(-group, 'SIGKILL');
    } catch {
      // Already gone.
    }
  };
  for (const root of ['executors', 'executors-finished']) {
    const parent = join(dataDir, root);
    for (const name of existsSync(parent) ? readdirSync(parent) : []) {
      const file = join(parent, name, 'executor.json');
      if (!existsSync(file)) continue;
      for (const status of statusRecordsIn(join(parent, name, 'status.jsonl'))) {
        const runner = /\(pid: (\d+)\)$/.exec(status.message ?? '');
        if (runner) kill(Number(runner[1]));
      }
      kill((JSON.parse(readFileSync(file, 'utf8')) as { pid: number }).pid);
    }
  }
}

/** Status records of a status file, in order. */
export function statusRecordsIn(statusFile: string): TaskStatusRecord[] {
  if (!existsSync(statusFile)) return [];
  return readFileSync(statusFile, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as TaskStatusRecord);
}

/** A logger for tests: silent unless TEST_LOG_LEVEL is set (e.g. TEST_LOG_LEVEL=debug). */
export function testLogger(): Logger {
  return createLogger('agent-test', {}, process.env['TEST_LOG_LEVEL'] ?? 'silent');
}

/** Agent configuration for a test: its own data dir, port 0, fast loops, the FakeExecutor. */
export function testAgentConfig(dataDir: string, schedulerUrl: string, overrides: AgentConfigInput = {}): AgentConfig {
  return agentConfig({
    schedulerUrl,
    listenHost: '127.0.0.1',
    httpPort: 0,
    dataDir,
    cpus: 4,
    memoryMb: 8192,
    diskMb: 20000,
    rackId: 'rack-a',
    attributes: { zone: 'z1' },
    portRange: '42000-42999',
    executorCommand: fakeExecutorCommand(join(dataDir, '..', 'launches.log')),
    statusPollMillis: 50,
    statusRetryMillis: 50,
    registerRetryMillis: 50,
    maxRetryMillis: 300,
    executorCheckMillis: 100,
    defaultSigKillProcessesAfterMillis: 2000,
    executorKillMarginMillis: 1000,
    ...overrides,
  });
}

let counter = 0;

/** A valid launch request for a fresh task id; `env` picks the FakeExecutor's behaviour. */
export function aLaunchRequest(overrides: Partial<ExecutorLaunchSpec> & { requestId?: string } = {}): AgentLaunchRequest {
  const requestId = overrides.requestId ?? 'test-request';
  const taskId = buildTaskId({ requestId, deployId: 'd1', startedAt: 1_700_000_000_000 + counter++, instanceNo: 1, host: 'local-host', rackId: 'rack-a' }).id;
  return {
    spec: {
      taskId,
      requestId,
      deployId: 'd1',
      executorData: { cmd: 'sleep 600' },
      env: {},
      resources: { cpus: 0.1, memoryMb: 64, diskMb: 0, ports: [42001] },
      ...overrides,
    },
  };
}

/** POSTs JSON; resolves the status and the parsed body. */
export async function postJson(url: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const text = await response.text();
  return { status: response.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}
