import { writeFileSync } from 'node:fs';
import { cpus, hostname } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '@singularity/node-util';
import { tempDir, type TempDir } from '@singularity/testing';
import { agentConfig, defaultAddress, loadAgentConfig } from './agent-config';

describe('agent configuration', () => {
  let dir: TempDir;
  beforeEach(async () => {
    dir = await tempDir('agent-config-');
  });
  afterEach(() => dir.cleanup());

  it('derives the machine-dependent defaults', () => {
    const config = agentConfig({ dataDir: join(dir.path, 'data') });
    expect(config).toMatchObject({
      schedulerUrl: 'http://localhost:7099/singularity',
      httpPort: 5051,
      hostname: hostname(),
      address: '127.0.0.1',
      rackId: 'DEFAULT',
      attributes: {},
      cpus: cpus().length,
      portRange: { begin: 31000, end: 32000 },
      dataDir: join(dir.path, 'data'),
      sandboxRoot: join(dir.path, 'data', 'sandboxes'),
      defaultSigKillProcessesAfterMillis: 120000,
      killTasksOnShutdown: false,
    });
    expect(config.memoryMb).toBeGreaterThan(0);
    expect(config.diskMb).toBeGreaterThan(0);
    expect(config.executorCommand).toEqual([process.execPath, '-r', expect.stringMatching(/tools\/register\.js$/), expect.stringMatching(/apps\/executor\/src\/main\.ts$/)]);
  });

  it('reads the file named by --config, then SINGULARITY_AGENT_* variables', () => {
    const file = join(dir.path, 'agent.yaml');
    writeFileSync(file, ['httpPort: 6000', 'rackId: r1', 'attributes: {zone: a, gpu: 1}', 'portRange: {begin: 40000, end: 40100}', `dataDir: ${join(dir.path, 'd')}`].join('\n'));
    const config = loadAgentConfig(['--config', file], {
      SINGULARITY_AGENT_HTTP_PORT: '0',
      SINGULARITY_AGENT_CPUS: '1.5',
      SINGULARITY_AGENT_KILL_TASKS_ON_SHUTDOWN: 'true',
      SINGULARITY_AGENT_EXECUTOR_COMMAND: '[/bin/executor, --verbose]',
    });
    expect(config).toMatchObject({
      httpPort: 0,
      rackId: 'r1',
      attributes: { zone: 'a', gpu: '1' },
      portRange: { begin: 40000, end: 40100 },
      cpus: 1.5,
      killTasksOnShutdown: true,
      executorCommand: ['/bin/executor', '--verbose'],
    });
  });

  it('defaults the sandbox clean-up and periodic rotation keys, and rejects bad values naming the key', () => {
    expect(agentConfig({ dataDir: dir.path })).toMatchObject({
      sandboxAppCleanupDelayMillis: 15 * 60 * 1000,
      cleanupAppDirectoryOfFailedTasksAfterMillis: 24 * 60 * 60 * 1000,
      sandboxRetentionMillis: 7 * 24 * 60 * 60 * 1000,
      periodicLogrotate: 'auto',
    });
    const config = loadAgentConfig([], { SINGULARITY_AGENT_DATA_DIR: dir.path, SINGULARITY_AGENT_SANDBOX_RETENTION_MILLIS: '1000', SINGULARITY_AGENT_PERIODIC_LOGROTATE: 'off' });
    expect(config).toMatchObject({ sandboxRetentionMillis: 1000, periodicLogrotate: 'off' });
    expect(() => agentConfig({ dataDir: dir.path, sandboxAppCleanupDelayMillis: -1 })).toThrow(/'sandboxAppCleanupDelayMillis'/);
    expect(() => agentConfig({ dataDir: dir.path, periodicLogrotate: 'sometimes' as 'on' })).toThrow(/'periodicLogrotate'/);
  });

  it('takes the rack from the rackid attribute when rackId is not set', () => {
    expect(agentConfig({ dataDir: dir.path, attributes: { rackid: 'east' } }).rackId).toBe('east');
  });

  it('accepts "begin-end" port ranges and rejects bad values naming the key', () => {
    expect(agentConfig({ dataDir: dir.path, portRange: '42000-42999' }).portRange).toEqual({ begin: 42000, end: 42999 });
    expect(() => agentConfig({ dataDir: dir.path, portRange: '42999-42000' })).toThrow(/'portRange'/);
    expect(() => loadAgentConfig([], { SINGULARITY_AGENT_DATA_DIR: dir.path, SINGULARITY_AGENT_HTTP_PORT: 'abc' })).toThrow(ConfigError);
    expect(() => loadAgentConfig([], { SINGULARITY_AGENT_DATA_DIR: dir.path, SINGULARITY_AGENT_HTTP_PORT: 'abc' })).toThrow(/'httpPort'/);
    expect(() => loadAgentConfig([], { SINGULARITY_AGENT_DATA_DIR: dir.path, SINGULARITY_AGENT_NO_SUCH_KEY: '1' })).toThrow(/noSuchKey/);
  });

  it('reaches a local scheduler over loopback and a remote one over an external address', () => {
    expect(defaultAddress('http://localhost:7099/singularity')).toBe('127.0.0.1');
    expect(defaultAddress('http://127.0.0.1:7099/singularity')).toBe('127.0.0.1');
    expect(defaultAddress('http://[::1]:7099/singularity')).toBe('127.0.0.1');
    expect(defaultAddress('http://scheduler.example.com/singularity')).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
  });
});
