import type { SingularityPendingRequest } from '@singularity/models';
import { aPendingDeploy, aRequest, aTaskRecord, T0 } from './core.fixtures';
import { drainPendingRequest, pendingRequestKey, type DrainInput } from './pending-queue';

const pr = (overrides: Partial<SingularityPendingRequest> = {}): SingularityPendingRequest => ({
  requestId: 'web',
  deployId: 'd1',
  timestamp: T0,
  pendingType: 'NEW_DEPLOY',
  ...overrides,
});

const input = (overrides: Partial<DrainInput> = {}): DrainInput => ({
  now: T0,
  pendingRequest: pr(),
  request: aRequest({ instances: 3 }),
  requestState: 'ACTIVE',
  activeDeployId: 'd1',
  tasks: [],
  pendingTasks: [],
  ...overrides,
});

describe('drainPendingRequest', () => {
  it('creates the missing instances with the lowest free instance numbers', () => {
    const running = aTaskRecord({ instanceNo: 2 });
    const decision = drainPendingRequest(input({ tasks: [running] }));
    expect(decision.kind).toBe('apply');
    if (decision.kind !== 'apply') return;
    expect(decision.create.map((p) => p.pendingTaskId.instanceNo)).toEqual([1, 3]);
    expect(decision.create[0].pendingTaskId.id).toBe(`web-d1-${T0}-1-NEW_DEPLOY-${T0}`);
  });

  it('scales down the highest instance numbers', () => {
    const tasks = [1, 2, 3, 4, 5].map((instanceNo) => aTaskRecord({ instanceNo }));
    const decision = drainPendingRequest(input({ request: aRequest({ instances: 2 }), tasks }));
    if (decision.kind !== 'apply') throw new Error('expected apply');
    expect(decision.cleanups.map((c) => [c.taskId.split('-')[3], c.cleanupType])).toEqual([
      ['5', 'SCALING_DOWN'],
      ['4', 'SCALING_DOWN'],
      ['3', 'SCALING_DOWN'],
    ]);
  });

  it('does not count leaving tasks, so a bounce starts replacements', () => {
    const bouncing = [1, 2].map((instanceNo) => ({
      ...aTaskRecord({ instanceNo }),
      cleanup: { cleanupType: 'BOUNCING' as const, timestamp: T0, taskId: aTaskRecord({ instanceNo }).task.taskId },
    }));
    const decision = drainPendingRequest(input({ request: aRequest({ instances: 2 }), tasks: bouncing, pendingRequest: pr({ pendingType: 'BOUNCE' }) }));
    if (decision.kind !== 'apply') throw new Error('expected apply');
    expect(decision.create.map((p) => p.pendingTaskId.instanceNo)).toEqual([3, 4]);
  });

  it('uses the pending deploy target for the new deploy', () => {
    const decision = drainPendingRequest(
      input({
        pendingRequest: pr({ deployId: 'd2' }),
        pendingDeploy: aPendingDeploy({ deployId: 'd2', target: 2 }),
        tasks: [aTaskRecord({ instanceNo: 1 })],
      }),
    );
    if (decision.kind !== 'apply') throw new Error('expected apply');
    expect(decision.create.map((p) => [p.pendingTaskId.deployId, p.pendingTaskId.instanceNo])).toEqual([
      ['d2', 1],
      ['d2', 2],
    ]);
  });

  it.each([
    ['PAUSED', 'request is PAUSED'],
    ['DELETING', 'request is DELETING'],
  ] as const)('drops entries of a %s request', (requestState, reason) => {
    expect(drainPendingRequest(input({ requestState }))).toEqual({ kind: 'drop', reason });
  });

  it('drops entries for a deploy that is neither active nor pending', () => {
    expect(drainPendingRequest(input({ pendingRequest: pr({ deployId: 'old' }) })).kind).toBe('drop');
  });

  it('gives an ON_DEMAND run exactly one task carrying its run id and arguments', () => {
    const decision = drainPendingRequest(
      input({
        request: aRequest({ requestType: 'ON_DEMAND', instances: 5 }),
        pendingRequest: pr({ pendingType: 'ONEOFF', runId: 'run-1', cmdLineArgsList: ['--x', 'a b'] }),
      }),
    );
    if (decision.kind !== 'apply') throw new Error('expected apply');
    expect(decision.create).toHaveLength(1);
    expect(decision.create[0]).toMatchObject({ runId: 'run-1', cmdLineArgsList: ['--x', 'a b'] });
  });

  it('runs RUN_ONCE only for a new deploy', () => {
    const once = aRequest({ requestType: 'RUN_ONCE' });
    expect(drainPendingRequest(input({ request: once })).kind).toBe('apply');
    expect(drainPendingRequest(input({ request: once, pendingRequest: pr({ pendingType: 'TASK_DONE' }) })).kind).toBe('drop');
  });

  it('delays replacements of a request in cool-down, but not a new deploy', () => {
    const cooling = input({ requestState: 'SYSTEM_COOLDOWN', cooldownDelayMillis: 120_000, pendingRequest: pr({ pendingType: 'TASK_DONE' }) });
    const delayed = drainPendingRequest(cooling);
    if (delayed.kind !== 'apply') throw new Error('expected apply');
    expect(delayed.create.every((p) => p.pendingTaskId.nextRunAt === T0 + 120_000)).toBe(true);
    const deploy = drainPendingRequest({ ...cooling, pendingRequest: pr({ pendingType: 'NEW_DEPLOY' }) });
    if (deploy.kind !== 'apply') throw new Error('expected apply');
    expect(deploy.create.every((p) => p.pendingTaskId.nextRunAt === T0)).toBe(true);
  });

  it('keys run-now entries by time and run id, others by request and deploy', () => {
    expect(pendingRequestKey(pr())).toBe('web:d1');
    expect(pendingRequestKey(pr({ pendingType: 'ONEOFF', runId: 'r', timestamp: 5 }))).toBe('web:d1:5:r');
  });
});
