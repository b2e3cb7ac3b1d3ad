import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir, type TempDir } from '@singularity/testing';
import { testAgentConfig, testLogger } from '../testing/agent-test-kit';
import { AgentHousekeeping, readExecutorHousekeepingSettings } from './agent-housekeeping';
import type { AgentConfigInput } from './agent-config';
import { writeExecutorConfig } from './executor-config-file';
import { TaskTable } from './task-table';

describe('AgentHousekeeping', () => {
  let dir: TempDir;
  let dataDir: string;
  beforeEach(async () => {
    dir = await tempDir('agent-housekeeping-');
    dataDir = join(dir.path, 'agent');
  });
  afterEach(() => dir.cleanup());

  const housekeeping = (executorYaml: string | undefined, overrides: AgentConfigInput = {}) => {
    const config = testAgentConfig(dataDir, 'http://127.0.0.1:1/singularity', overrides);
    let operatorFile: string | undefined;
    if (executorYaml !== undefined) {
      operatorFile = join(dir.path, 'operator.yaml');
      writeFileSync(operatorFile, executorYaml);
    }
    const file = writeExecutorConfig(dataDir, operatorFile);
    return { file, housekeeping: new AgentHousekeeping(config, file, new TaskTable(dataDir, testLogger()), testLogger()) };
  };

  it('reads the executor settings the agent wrote, with the executor defaults', () => {
    const { file } = housekeeping('executor: {logrotateCommand: /usr/sbin/logrotate, taskAppDirectory: application}');
    expect(readExecutorHousekeepingSettings(file)).toEqual({
      cronDirectory: join(dataDir, 'cron.d'),
      logrotateConfDirectory: join(dataDir, 'logrotate.d'),
      logrotateCommand: '/usr/sbin/logrotate',
      taskAppDirectory: 'application',
      globalTaskDefinitionDirectory: join(dataDir, 'task-definitions'),
      globalTaskDefinitionSuffix: '.task.json',
    });
    const bare = join(dir.path, 'bare.yaml');
    writeFileSync(bare, 'base: {}\n');
    expect(readExecutorHousekeepingSettings(bare)).toEqual({
      cronDirectory: '/etc/cron.d',
      logrotateConfDirectory: '/etc/logrotate.d',
      logrotateCommand: 'logrotate',
      taskAppDirectory: 'app',
      globalTaskDefinitionDirectory: undefined,
      globalTaskDefinitionSuffix: '.task.json',
    });
  });

  it('runs the rotation cron lines itself only where no host cron reads them (periodicLogrotate auto), or when told', () => {
    expect(housekeeping(undefined).housekeeping.rotation).toBeDefined();
    expect(housekeeping('executor: {cronDirectory: /etc/cron.d}').housekeeping.rotation).toBeUndefined();
    expect(housekeeping('executor: {cronDirectory: /etc/cron.d}', { periodicLogrotate: 'on' }).housekeeping.rotation).toBeDefined();
    expect(housekeeping(undefined, { periodicLogrotate: 'off' }).housekeeping.rotation).toBeUndefined();
  });
});
