import { aDeploy, aPendingDeploy, aRequest, aTaskRecord, T0 } from './core.fixtures';
import { checkPendingDeploy, type DeployCheckInput, type PendingDeployRecord } from './deploy-check';
import { DEFAULT_SCHEDULER_SETTINGS } from './settings';

const pending = (overrides: Partial<PendingDeployRecord> = {}) => aPendingDeploy(overrides);

const deploy = aDeploy({ id: 'd2' });
const running = (instanceNo: number, since: number) =>
  aTaskRecord({ deploy, instanceNo, states: [['TASK_LAUNCHED', T0], ['TASK_RUNNING', since]] });

const check = (overrides: Partial<DeployCheckInput>) =>
  checkPendingDeploy({ now: T0, request: aRequest({ instances: 2 }), deploy, pendingDeploy: pending(), tasks: [], settings: DEFAULT_SCHEDULER_SETTINGS, ...overrides });

describe('checkPendingDeploy', () => {
  it('waits while the new tasks are not yet healthy', () => {
    expect(check({ now: T0 + 2000, tasks: [running(1, T0), running(2, T0)] })).toMatchObject({ kind: 'waiting', currentActiveInstances: 2 });
  });

  it('succeeds once every target task has run for the healthy period', () => {
    expect(check({ now: T0 + 5000, tasks: [running(1, T0), running(2, T0)] })).toMatchObject({ kind: 'finished', deployState: 'SUCCEEDED' });
  });

  it('fails when a new task failed, naming it', () => {
    const failed = aTaskRecord({ deploy, instanceNo: 1 }).task.taskId;
    const result = check({ pendingDeploy: pending({ failures: [{ reason: 'TASK_FAILED_ON_STARTUP', taskId: failed, message: 'TASK_FAILED: Process failed with code 1' }] }) });
    expect(result).toMatchObject({ kind: 'finished', deployState: 'FAILED' });
    if (result.kind === 'finished') expect(result.message).toContain('Process failed with code 1');
  });

  it('absorbs failures up to maxTaskRetries', () => {
    const failed = aTaskRecord({ deploy, instanceNo: 1 }).task.taskId;
    const result = check({
      deploy: aDeploy({ id: 'd2', maxTaskRetries: 1 }),
      pendingDeploy: pending({ failures: [{ reason: 'TASK_FAILED_ON_STARTUP', taskId: failed }] }),
    });
    expect(result.kind).toBe('waiting');
  });

  it('is overdue after deployHealthTimeoutSeconds plus the healthy period', () => {
    const result = check({ now: T0 + 126_000, tasks: [aTaskRecord({ deploy, instanceNo: 1 })] });
    expect(result).toMatchObject({ kind: 'finished', deployState: 'OVERDUE' });
    if (result.kind === 'finished') expect(result.failures[0].reason).toBe('TASK_NEVER_ENTERED_RUNNING');
  });

  it('honours a cancel', () => {
    expect(check({ pendingDeploy: pending({ cancelRequested: { user: 'ann', timestamp: T0 } }) })).toMatchObject({
      kind: 'finished',
      deployState: 'CANCELED',
    });
  });

  it('lets non-deployable types succeed at once', () => {
    expect(check({ request: aRequest({ requestType: 'ON_DEMAND' }) })).toMatchObject({ kind: 'finished', deployState: 'SUCCEEDED' });
  });
});
