import { parsePendingTaskId, parseTaskId, validateDeploy, validateRequest, type SingularityRequest } from '@singularity/models';
import {
  DEFAULT_DEPLOY_ID,
  DEFAULT_REQUEST_ID,
  aDeploy,
  aPendingTask,
  aPendingTaskId,
  aRequest,
  aRequestParent,
  aTask,
  aTaskId,
  anAgentRegistration,
} from './factories';

describe('factories', () => {
  it('aRequest is valid and takes overrides', () => {
    expect(validateRequest(aRequest())).toEqual(aRequest());
    expect(aRequest({ instances: 3 })).toMatchObject({ id: DEFAULT_REQUEST_ID, instances: 3 });
  });

  it.each(['SERVICE', 'WORKER', 'SCHEDULED', 'ON_DEMAND', 'RUN_ONCE'] as const)('aRequest({requestType: %s}) is valid', (requestType) => {
    expect(validateRequest(aRequest({ requestType })).requestType).toBe(requestType);
  });

  it('keeps a schedule the test brings', () => {
    expect(aRequest({ requestType: 'SCHEDULED', schedule: '0 0 * * *' }).schedule).toBe('0 0 * * *');
  });

  it('aDeploy is a valid deploy of aRequest', () => {
    const deploy = aDeploy();
    expect(validateDeploy(deploy, aRequest())).toMatchObject(deploy);
    expect(deploy.requestId).toBe(DEFAULT_REQUEST_ID);
  });

  it('aDeploy drops its default command for another execution mode', () => {
    const custom = aDeploy({ executorData: { cmd: 'run' }, customExecutorCmd: '/exec' });
    expect(custom).not.toHaveProperty('command');
    expect(validateDeploy(custom, aRequest()).executorData).toEqual({ cmd: 'run' });
    const container = aDeploy({ containerInfo: { type: 'DOCKER', docker: { image: 'busybox' } } });
    expect(validateDeploy(container, aRequest()).containerInfo?.type).toBe('DOCKER');
  });

  it('aDeploy fits a request of another id', () => {
    const request: SingularityRequest = aRequest({ id: 'other' });
    expect(validateDeploy(aDeploy({ requestId: request.id }), request).requestId).toBe('other');
  });

  it('anAgentRegistration takes overrides', () => {
    const agent = anAgentRegistration({ agentId: 'a2', attributes: { rackid: 'r2' } });
    expect(agent).toMatchObject({ agentId: 'a2', attributes: { rackid: 'r2' }, tasks: [] });
    expect(agent.portRange.end).toBeGreaterThan(agent.portRange.begin);
  });

  it('aTaskId derives the id string from its parts', () => {
    const id = aTaskId({ requestId: 'my-app', instanceNo: 3, host: 'my-host' });
    expect(id.id).toBe(`my-app-${DEFAULT_DEPLOY_ID}-${id.startedAt}-3-my_host-DEFAULT`);
    expect(parseTaskId(id.id)).toMatchObject({ requestId: 'my-app', instanceNo: 3, sanitizedHost: 'my_host' });
  });

  it('aPendingTask derives its id and keeps the run overrides', () => {
    const task = aPendingTask({ pendingTaskId: { pendingType: 'ONEOFF', instanceNo: 2 }, runId: 'r1', cmdLineArgsList: ['--x'] });
    expect(parsePendingTaskId(task.pendingTaskId.id)).toEqual(task.pendingTaskId);
    expect(task).toMatchObject({ runId: 'r1', cmdLineArgsList: ['--x'], pendingTaskId: { pendingType: 'ONEOFF', instanceNo: 2 } });
    expect(aPendingTaskId().pendingType).toBe('NEW_DEPLOY');
  });

  it('aRequestParent and aTask fit together', () => {
    const request = aRequest({ id: 'svc', requestType: 'SERVICE' });
    expect(aRequestParent({ request }).requestDeployState?.requestId).toBe('svc');
    const task = aTask({ request, taskId: { instanceNo: 2 } });
    expect(task.taskId).toMatchObject({ requestId: 'svc', instanceNo: 2 });
    expect(task.taskRequest.deploy.requestId).toBe('svc');
    expect(task.mesosTask.taskId.value).toBe(task.taskId.id);
  });

  it('returns fresh objects', () => {
    const a = aRequest();
    a.owners?.push('x');
    expect(aRequest().owners).toEqual(['owner@example.com']);
  });
});
