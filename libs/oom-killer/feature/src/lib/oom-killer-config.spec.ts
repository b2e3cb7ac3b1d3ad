import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir, type TempDir } from '@singularity/testing';
import { loadOomKillerConfig, oomKillerConfig } from './oom-killer-config';

describe('oom killer configuration', () => {
  let dir: TempDir;
  beforeEach(async () => {
    dir = await tempDir('oom-config-');
  });
  afterEach(() => dir.cleanup());

  it('has the spec defaults', () => {
    expect(oomKillerConfig().oomKiller).toEqual({
      checkForOOMEveryMillis: 100,
      killProcessDirectlyThresholdRatio: 1.2,
      requestKillThresholdRatio: 1.0,
      slaveHostname: 'localhost',
      schedulerUrl: ['http://localhost:7099/singularity'],
      schedulerTimeoutMillis: 10000,
      cgroupRoot: '/sys/fs/cgroup',
      cgroupParent: 'singularity',
      listenHost: '127.0.0.1',
      httpPort: 7075,
    });
  });

  it('reads its section from the consolidated file, ignoring the other daemons’ sections', () => {
    const file = join(dir.path, 'node.yaml');
    writeFileSync(
      file,
      [
        'base: {logWatcherMetadataDirectory: /tmp/x}',
        'executor: {cgroupParent: elsewhere, somethingElse: 1}',
        'oomKiller:',
        '  checkForOOMEveryMillis: 250',
        '  schedulerUrl: "http://a:1/singularity, http://b:2/singularity/"',
        '  unknownKey: ignored',
      ].join('\n'),
    );
    const config = loadOomKillerConfig(file, {});
    expect(config.oomKiller.checkForOOMEveryMillis).toBe(250);
    expect(config.oomKiller.schedulerUrl).toEqual(['http://a:1/singularity', 'http://b:2/singularity']);
    expect(config.oomKiller.cgroupParent).toBe('singularity');
  });

  it('takes the spec’s lowercase section name `oomkiller` too', () => {
    expect(oomKillerConfig({ oomkiller: { slaveHostname: 'node7' } } as never).oomKiller.slaveHostname).toBe('node7');
  });

  it('merges the lowercase section from the file with a camelCase environment override', () => {
    const file = join(dir.path, 'node.yaml');
    writeFileSync(file, 'oomkiller: {slaveHostname: node8, httpPort: 9000}');
    expect(loadOomKillerConfig(file, { SINGULARITY_OOM_KILLER_OOM_KILLER__HTTP_PORT: '0' }).oomKiller).toMatchObject({ slaveHostname: 'node8', httpPort: 0 });
  });

  it('takes environment overrides with the SINGULARITY_OOM_KILLER prefix', () => {
    const config = loadOomKillerConfig(undefined, { SINGULARITY_OOM_KILLER_OOM_KILLER__HTTP_PORT: '0', SINGULARITY_OOM_KILLER_OOM_KILLER__SCHEDULER_URL: '[http://s:7099/singularity]' });
    expect(config.oomKiller.httpPort).toBe(0);
    expect(config.oomKiller.schedulerUrl).toEqual(['http://s:7099/singularity']);
  });

  it.each([
    [{ requestKillThresholdRatio: 0.8 }, 'oomKiller.requestKillThresholdRatio'],
    [{ killProcessDirectlyThresholdRatio: 0.5 }, 'oomKiller.killProcessDirectlyThresholdRatio'],
    [{ requestKillThresholdRatio: 1.5, killProcessDirectlyThresholdRatio: 1.2 }, 'oomKiller.requestKillThresholdRatio'],
    [{ checkForOOMEveryMillis: 0 }, 'oomKiller.checkForOOMEveryMillis'],
    [{ schedulerUrl: 'not a url' }, 'oomKiller.schedulerUrl.0'],
  ])('refuses %j naming the key', (section, key) => {
    expect(() => oomKillerConfig({ oomKiller: section } as never)).toThrow(`invalid configuration key '${key}'`);
  });
});
