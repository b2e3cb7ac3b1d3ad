import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnTs, tempDir, type SpawnedProcess, type TempDir } from '@singularity/testing';

jest.setTimeout(60_000);

/** main.ts wiring: `--config FILE`, the start-up line, /health and /metrics, SIGTERM, and a bad key. */
describe('apps/oom-killer main', () => {
  let dir: TempDir;
  let program: SpawnedProcess | undefined;
  const env = { LOG_FILE: undefined, SINGULARITY_OOM_KILLER_CONFIG: undefined };

  beforeEach(async () => {
    dir = await tempDir('oom-killer-main-');
  });
  afterEach(async () => {
    await program?.stop('SIGKILL');
    program = undefined;
    await dir.cleanup();
  });

  it('starts from the consolidated config file, says what it watches and where it listens, serves metrics, stops on SIGTERM', async () => {
    const config = join(dir.path, 'node.yaml');
    // A parent no executor made: there are no tasks to look at, which is what an idle node looks like.
    const parent = `singularity-oom-main-test-${process.pid}`;
    writeFileSync(config, ['executor: {cgroupParent: ignored-here}', 'oomKiller:', '  httpPort: 0', `  cgroupParent: ${parent}`, '  schedulerUrl: http://127.0.0.1:1/singularity'].join('\n'));
    program = spawnTs('apps/oom-killer/src/main.ts', ['--config', config], { env });

    const [, port] = await program.waitForOutput(new RegExp(`oom killer watching task cgroups under \\S+/${parent} \\(cgroup v[12]\\) every 100 ms .*keeps no data on disk; listening on 127\\.0\\.0\\.1:(\\d+)`), {
      timeoutMs: 30000,
    });
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).json();
    expect(metrics).toMatchObject({ eligibleForKill: 0, hardKills: 0, softKills: 0, singularityAlreadyKilling: 0, singularityFailures: 0, unknownExecutors: 0 });
    const health = await (await fetch(`http://127.0.0.1:${port}/health`)).json();
    expect(health).toMatchObject({ ok: true });

    process.kill(program.pid, 'SIGTERM');
    expect(await program.exited).toEqual({ code: 0, signal: null });
    expect(program.stdout()).toMatch(/"msg":"oom killer stopped"/);
  });

  it('stops at start naming the bad key', async () => {
    const config = join(dir.path, 'node.yaml');
    writeFileSync(config, ['oomKiller:', '  requestKillThresholdRatio: 0.5'].join('\n'));
    program = spawnTs('apps/oom-killer/src/main.ts', ['--config', config], { env });
    expect(await program.exited).toEqual({ code: 1, signal: null });
    expect(program.stderr()).toMatch(/oom-killer failed to start: invalid configuration key 'oomKiller\.requestKillThresholdRatio': must be at least 1/);
  });
});
