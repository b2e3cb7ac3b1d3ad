import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnTs, tempDir, type TempDir } from '@singularity/testing';

jest.setTimeout(120_000);

/**
 * Issue 5, configuration: a bad value in a program's YAML file stops it at
 * start with a message naming the key (and the file), instead of running
 * with a default or failing later. The real programs, started as in production.
 */
describe('a bad configuration file stops the program, naming the key', () => {
  let dir: TempDir;
  beforeEach(async () => {
    dir = await tempDir('config-errors-');
  });
  afterEach(() => dir.cleanup());

  const run = async (script: string, env: Record<string, string | undefined>, args: string[]) => {
    const child = spawnTs(script, args, { env: { LOG_FILE: undefined, ...env } });
    const exit = await child.exited;
    return { exit, stderr: child.stderr() };
  };

  it('scheduler: a nested key of the wrong type', async () => {
    const file = join(dir.path, 'scheduler.yaml');
    writeFileSync(file, `dataDir: ${join(dir.path, 'data')}\nhttpPort: 0\nzookeeper:\n  sessionTimeoutMillis: soon\n`);
    const { exit, stderr } = await run('apps/scheduler/src/main.ts', { SINGULARITY_SCHEDULER_CONFIG: undefined }, ['--config', file]);
    expect(exit.code).toBe(1);
    expect(stderr).toMatch(/^scheduler failed to start: invalid configuration key 'zookeeper\.sessionTimeoutMillis': .*\(file .*scheduler\.yaml/m);
  });

  it('scheduler: an unknown key (a typo) is refused rather than ignored', async () => {
    const file = join(dir.path, 'scheduler.yaml');
    writeFileSync(file, `dataDir: ${join(dir.path, 'data')}\nhttpPort: 0\ncheckSchedulerEverySecond: 5\n`);
    const { exit, stderr } = await run('apps/scheduler/src/main.ts', { SINGULARITY_SCHEDULER_CONFIG: undefined }, ['--config', file]);
    expect(exit.code).toBe(1);
    expect(stderr).toMatch(/invalid configuration key 'checkSchedulerEverySecond'/);
  });

  it('agent: its own key, and a key of the executor configuration it hands out', async () => {
    const agentFile = join(dir.path, 'agent.yaml');
    writeFileSync(agentFile, `dataDir: ${join(dir.path, 'agent')}\nhttpPort: 70000\n`);
    const bad = await run('apps/agent/src/main.ts', { SINGULARITY_AGENT_CONFIG: undefined }, ['--config', agentFile]);
    expect(bad.exit.code).toBe(1);
    expect(bad.stderr).toMatch(/^agent failed to start: invalid configuration key 'httpPort'/m);

    const executorFile = join(dir.path, 'executor.yaml');
    writeFileSync(executorFile, 'executor:\n  logrotateCount: -1\n');
    writeFileSync(agentFile, `dataDir: ${join(dir.path, 'agent')}\nhttpPort: 0\nlistenHost: 127.0.0.1\nexecutorConfigFile: ${executorFile}\n`);
    const badExecutor = await run('apps/agent/src/main.ts', { SINGULARITY_AGENT_CONFIG: undefined }, ['--config', agentFile]);
    expect(badExecutor.exit.code).toBe(1);
    expect(badExecutor.stderr).toMatch(/^agent failed to start: the executor refused its configuration .*: invalid configuration key 'executor\.logrotateCount'/m);
  });
});
