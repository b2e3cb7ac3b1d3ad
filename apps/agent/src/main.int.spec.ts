import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnTs, tempDir, type SpawnedProcess, type TempDir } from '@singularity/testing';

jest.setTimeout(60_000);

/** main.ts wiring: `--config FILE`, the start-up log line, the HTTP API and SIGTERM. */
describe('apps/agent main', () => {
  let dir: TempDir;
  let agent: SpawnedProcess | undefined;

  beforeEach(async () => {
    dir = await tempDir('agent-main-');
  });
  afterEach(async () => {
    await agent?.stop('SIGKILL');
    agent = undefined;
    await dir.cleanup();
  });

  it('starts from a config file, says where it listens, serves health, and stops on SIGTERM', async () => {
    const config = join(dir.path, 'agent.yaml');
    const dataDir = join(dir.path, 'data');
    // Port 1 refuses connections: the agent keeps trying to register and still serves its API.
    writeFileSync(config, [`dataDir: ${dataDir}`, 'httpPort: 0', 'listenHost: 127.0.0.1', 'schedulerUrl: http://127.0.0.1:1/singularity', 'rackId: r9'].join('\n'));
    agent = spawnTs('apps/agent/src/main.ts', ['--config', config], { env: { LOG_FILE: undefined, SINGULARITY_AGENT_CONFIG: undefined } });

    const [, agentId, port] = await agent.waitForOutput(/agent (\S+) listening on 127\.0\.0\.1:(\d+) .*data in (\S+); scheduler at http:\/\/127\.0\.0\.1:1\/singularity/, {
      timeoutMs: 30000,
    });
    expect(readFileSync(join(dataDir, 'agent-id'), 'utf8').trim()).toBe(agentId);
    const health = await (await fetch(`http://127.0.0.1:${port}/agent/health`)).json();
    expect(health).toMatchObject({ ok: true, agentId, tasks: 0, registered: false });
    await agent.waitForOutput(/registering with the scheduler at http:\/\/127\.0\.0\.1:1\/singularity failed \(attempt 1\); retrying in/);

    process.kill(agent.pid, 'SIGTERM');
    expect(await agent.exited).toEqual({ code: 0, signal: null });
    expect(agent.stdout()).toMatch(/"msg":"agent stopped"/);
  });
});
