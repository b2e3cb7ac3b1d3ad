import { execFileSync } from 'node:child_process';
import { aDeploy, aRequest, T0 } from './core.fixtures';
import { buildLaunch, executorDataFor } from './task-launch';

const pendingTask = {
  pendingTaskId: { requestId: 'web', deployId: 'd1', nextRunAt: T0, instanceNo: 2, pendingType: 'NEW_DEPLOY' as const, createdAt: T0, id: 'p' },
};

describe('buildLaunch', () => {
  it('gives the task its id, ports and environment in spec order', () => {
    const { task, spec } = buildLaunch({
      request: aRequest(),
      deploy: aDeploy({ env: { A: '1', PORT0: 'overridden-by-deploy' }, taskEnv: { '2': { B: '2' } } }),
      pendingTask: { ...pendingTask, envOverrides: { A: 'run' }, user: 'ann' },
      placement: { agentId: 'ag', host: 'my-host', rackId: 'r-1', ports: [31000, 31001] },
      startedAt: T0 + 1,
      estimatedInstanceCount: 3,
    });
    expect(task.taskId.id).toBe(`web-d1-${T0 + 1}-2-my_host-r_1`);
    expect(spec.env).toMatchObject({
      TASK_ID: task.taskId.id,
      INSTANCE_NO: '2',
      PORT: '31000',
      PORT1: '31001',
      PORT0: 'overridden-by-deploy',
      A: 'run',
      B: '2',
      ESTIMATED_INSTANCE_COUNT: '3',
      DEPLOY_MEM: '64',
      STARTED_BY_USER: 'ann',
    });
    expect(task.mesosTask.resources).toContainEqual({ name: 'ports', type: 'RANGES', ranges: { range: [{ begin: 31000, end: 31000 }, { begin: 31001, end: 31001 }] } });
  });

  it("fills the executor's log upload fields from the scheduler's settings and the request's group", () => {
    const launch = (upload?: Parameters<typeof buildLaunch>[0]['upload'], group?: string) =>
      buildLaunch({
        request: aRequest({ group }),
        deploy: aDeploy({ executorData: { cmd: 'run', loggingTag: 'web' }, customExecutorCmd: 'x' }),
        pendingTask,
        placement: { agentId: 'ag', host: 'h', rackId: 'r', ports: [] },
        startedAt: T0,
        estimatedInstanceCount: 1,
        upload,
      }).spec.executorData;
    expect(launch()).toEqual({
      cmd: 'run',
      loggingTag: 'web',
      s3UploaderKeyPattern: '%requestId/%Y/%m/%taskId_%index-%s-%filename',
      s3UploaderAdditionalFiles: [],
      serviceLog: 'service.log',
      serviceFinishedTailLog: 'tail_of_finished_service.log',
    });
    expect(
      launch({ s3Bucket: 'logs', s3KeyFormat: '%requestId/%taskId-%filename', s3StorageClass: 'STANDARD_IA', applyS3StorageClassAfterBytes: 1024, s3UploaderAdditionalFiles: ['gc.log'] }, 'team-a'),
    ).toMatchObject({
      defaultS3Bucket: 'logs',
      s3UploaderKeyPattern: '%requestId/%taskId-%filename',
      s3StorageClass: 'STANDARD_IA',
      applyS3StorageClassAfterBytes: 1024,
      s3UploaderAdditionalFiles: ['gc.log'],
      requestGroup: 'team-a',
    });
  });
});

describe('executorDataFor', () => {
  it('runs a command with arguments word for word, without the shell interpreting them', () => {
    const data = executorDataFor(aDeploy({ command: 'printf', arguments: ['<%s>', '$HOME `id` a b'] }), pendingTask);
    expect(execFileSync('bash', ['-c', data.cmd]).toString()).toBe('<$HOME `id` a b>');
  });

  it('keeps a shell command as shell text and appends run arguments separately', () => {
    const data = executorDataFor(aDeploy({ command: 'echo $((1+1))' }), { ...pendingTask, cmdLineArgsList: ['x y'] });
    expect(data.cmd).toBe('echo $((1+1))');
    expect(data.extraCmdLineArgs).toEqual(['x y']);
  });
});
