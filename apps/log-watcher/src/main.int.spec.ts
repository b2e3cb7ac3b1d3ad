import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FluentdStandIn } from '@singularity/log-watcher-feature';
import { eventually, spawnTs, tempDir, type SpawnedProcess, type TempDir } from '@singularity/testing';

jest.setTimeout(60_000);

/**
 * main.ts wiring: `--config FILE`, the start-up line, /health, lines reaching
 * a stand-in for fluentd (a forward-protocol server; fluentd cannot run
 * here), SIGTERM with the offset saved, and a bad key.
 */
describe('apps/log-watcher main', () => {
  let dir: TempDir;
  let fluentd: FluentdStandIn;
  let program: SpawnedProcess | undefined;
  const env = { LOG_FILE: undefined, SINGULARITY_LOG_WATCHER_CONFIG: undefined };

  beforeEach(async () => {
    dir = await tempDir('log-watcher-main-');
    fluentd = await new FluentdStandIn().start();
  });
  afterEach(async () => {
    await program?.stop('SIGKILL');
    program = undefined;
    await fluentd.stop();
    await dir.cleanup();
  });

  it('tails what the metadata names into fluentd, says where everything is, and stops on SIGTERM keeping its offset', async () => {
    const metadataDir = join(dir.path, 'metadata');
    const storeDir = join(dir.path, 'store');
    const log = join(dir.path, 'service.log');
    mkdirSync(metadataDir);
    writeFileSync(log, 'hello\nworld\n');
    writeFileSync(join(metadataDir, 't1.tail.json'), JSON.stringify({ filename: log, tag: 'app', extraFields: { requestId: 'r' }, finished: false }));
    const config = join(dir.path, 'node.yaml');
    writeFileSync(
      config,
      ['base:', `  logWatcherMetadataDirectory: ${metadataDir}`, 'executor: {ignored: true}', 'logWatcher:', `  storeDirectory: ${storeDir}`, `  fluentdHosts: 127.0.0.1:${fluentd.port}`, '  httpPort: 0', '  pollMillis: 100'].join('\n'),
    );
    program = spawnTs('apps/log-watcher/src/main.ts', ['--config', config], { env });

    const [, port] = await program.waitForOutput(/log watcher watching \S+\/metadata\/\*\.tail\.json \(1 file\(s\) now\); offsets in \S+\/store; sending to fluentd at 127\.0\.0\.1:\d+ as forward\.<tag>; listening on 127\.0\.0\.1:(\d+)/, {
      timeoutMs: 30000,
    });
    await eventually(() => fluentd.messages().length === 2, { timeoutMs: 10000, description: 'two lines at fluentd' });
    expect(fluentd.events.map((e) => [e.tag, e.record])).toEqual([
      ['forward.app', { requestId: 'r', message: 'hello' }],
      ['forward.app', { requestId: 'r', message: 'world' }],
    ]);
    expect(await (await fetch(`http://127.0.0.1:${port}/health`)).json()).toMatchObject({ ok: true, files: 1, linesSent: 2 });

    process.kill(program.pid, 'SIGTERM');
    expect(await program.exited).toEqual({ code: 0, signal: null });
    expect(program.stdout()).toMatch(/"msg":"log watcher stopped; offsets saved"/);
    expect(readdirSync(storeDir).filter((name) => name.endsWith('.store'))).toHaveLength(1);
  });

  it('stops at start naming the missing key', async () => {
    const config = join(dir.path, 'node.yaml');
    writeFileSync(config, ['base:', `  logWatcherMetadataDirectory: ${dir.path}`, 'logWatcher: {pollMillis: 100}'].join('\n'));
    program = spawnTs('apps/log-watcher/src/main.ts', ['--config', config], { env });
    expect(await program.exited).toEqual({ code: 1, signal: null });
    expect(program.stderr()).toMatch(/log-watcher failed to start: invalid configuration key 'logWatcher\.storeDirectory'/);
  });
});
