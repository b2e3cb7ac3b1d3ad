import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { ConfigError } from '@singularity/node-util';
import { tempDir, type TempDir } from '@singularity/testing';
import { agentConfig } from './agent-config';
import { checkExecutorConfig, executorDefaults, mergeExecutorConfig, writeExecutorConfig } from './executor-config-file';

describe('the executor configuration the agent hands out', () => {
  let dir: TempDir;
  beforeEach(async () => {
    dir = await tempDir('executor-config-file-');
  });
  afterEach(() => dir.cleanup());

  it("puts the operator's keys over the defaults under the data directory, section by section", () => {
    const merged = mergeExecutorConfig(executorDefaults('/data'), {
      s3: { s3Endpoint: 'http://127.0.0.1:4569' },
      executor: { cronDirectory: '/etc/cron.d' },
      logwatcher: { storeDirectory: '/x' },
    });
    expect(merged).toEqual({
      base: { s3UploaderMetadataDirectory: '/data/s3-uploader-metadata', logWatcherMetadataDirectory: '/data/log-watcher-metadata' },
      s3: { artifactCacheDirectory: '/data/artifact-cache', s3Endpoint: 'http://127.0.0.1:4569' },
      executor: {
        globalTaskDefinitionDirectory: '/data/task-definitions',
        logrotateConfDirectory: '/data/logrotate.d',
        logrotateHourlyConfDirectory: '/data/logrotate.d/hourly',
        cronDirectory: '/etc/cron.d',
      },
      logwatcher: { storeDirectory: '/x' },
    });
    expect(() => mergeExecutorConfig(executorDefaults('/data'), { s3: 'nope' })).toThrow("invalid configuration key 's3'");
  });

  it('writes <dataDir>/executor.yaml, which the real executor accepts', () => {
    const operator = join(dir.path, 'operator.yaml');
    writeFileSync(operator, 'executor:\n  defaultRunAsUser: nobody\n  logrotateCount: 5\n');
    const file = writeExecutorConfig(dir.path, operator);
    expect(file).toBe(join(dir.path, 'executor.yaml'));
    const written = parse(readFileSync(file, 'utf8')) as Record<string, Record<string, unknown>>;
    expect(written.executor).toMatchObject({ defaultRunAsUser: 'nobody', logrotateCount: 5, cronDirectory: join(dir.path, 'cron.d') });
    expect(() => checkExecutorConfig(agentConfig({ dataDir: dir.path }).executorCommand, file)).not.toThrow();
  });

  it('stops with a message naming the key when the real executor refuses a value', () => {
    const operator = join(dir.path, 'operator.yaml');
    writeFileSync(operator, 's3:\n  s3ChunkSize: -5\n');
    const file = writeExecutorConfig(dir.path, operator);
    const check = () => checkExecutorConfig(agentConfig({ dataDir: dir.path }).executorCommand, file);
    expect(check).toThrow(ConfigError);
    expect(check).toThrow(/invalid configuration key 's3\.s3ChunkSize'/);
  });

  it('says which file it could not read', () => {
    expect(() => writeExecutorConfig(dir.path, join(dir.path, 'missing.yaml'))).toThrow(/cannot read executor configuration .*missing\.yaml/);
  });
});
