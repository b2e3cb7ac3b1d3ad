import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir, type TempDir } from '@singularity/testing';
import { loadLogWatcherConfig, logWatcherConfig } from './log-watcher-config';

const base = { logWatcherMetadataDirectory: '/var/lib/singularity/log-watcher-metadata' };

describe('log watcher configuration', () => {
  let dir: TempDir;
  beforeEach(async () => {
    dir = await tempDir('log-watcher-config-');
  });
  afterEach(() => dir.cleanup());

  it('has the spec defaults', () => {
    expect(logWatcherConfig({ base, logWatcher: { storeDirectory: '/s' } }).logWatcher).toEqual({
      fluentdHosts: [{ host: 'localhost', port: 24224 }],
      fluentdTagPrefix: 'forward',
      retryDelaySeconds: 60,
      pollMillis: 1000,
      byteBufferCapacity: 8192,
      storeDirectory: '/s',
      storeSuffix: '.store',
      fluentdTimeoutMillis: 10000,
      listenHost: '127.0.0.1',
      httpPort: 7074,
    });
  });

  it('reads the comma list of fluentd hosts (port 24224 when left out) or a YAML list', () => {
    expect(logWatcherConfig({ base, logWatcher: { storeDirectory: '/s', fluentdHosts: 'a:1, b ,[::1]:3' } }).logWatcher.fluentdHosts).toEqual([
      { host: 'a', port: 1 },
      { host: 'b', port: 24224 },
      { host: '::1', port: 3 },
    ]);
    expect(logWatcherConfig({ base, logWatcher: { storeDirectory: '/s', fluentdHosts: ['c:2'] } }).logWatcher.fluentdHosts).toEqual([{ host: 'c', port: 2 }]);
  });

  it('reads its section (or the spec’s lowercase `logwatcher`) from the consolidated file, with env overrides', () => {
    const file = join(dir.path, 'node.yaml');
    writeFileSync(file, ['base:', `  logWatcherMetadataDirectory: ${base.logWatcherMetadataDirectory}`, 'executor: {anything: 1}', 'logwatcher:', '  storeDirectory: /store', '  pollMillis: 250'].join('\n'));
    const config = loadLogWatcherConfig(file, { SINGULARITY_LOG_WATCHER_LOG_WATCHER__HTTP_PORT: '0' });
    expect(config.logWatcher).toMatchObject({ storeDirectory: '/store', pollMillis: 250, httpPort: 0 });
  });

  it.each([
    [{ base, logWatcher: {} }, 'logWatcher.storeDirectory'],
    [{ base }, 'logWatcher.storeDirectory'],
    [{ logWatcher: { storeDirectory: '/s' } }, 'base.logWatcherMetadataDirectory'],
    [{ base, logWatcher: { storeDirectory: '/s', fluentdHosts: 'a:99999' } }, 'logWatcher.fluentdHosts.0'],
    [{ base, logWatcher: { storeDirectory: '/s', fluentdHosts: '' } }, 'logWatcher.fluentdHosts'],
    [{ base, logWatcher: { storeDirectory: '/s', byteBufferCapacity: 0 } }, 'logWatcher.byteBufferCapacity'],
    [{ base, logWatcher: { storeDirectory: '/s', retryDelaySeconds: -1 } }, 'logWatcher.retryDelaySeconds'],
  ])('refuses %j naming the key', (input, key) => {
    expect(() => logWatcherConfig(input)).toThrow(`invalid configuration key '${key}'`);
  });
});
