import { aDeploy, aRequest, expectMatchesSchema } from '@singularity/testing';
import {
  buildDeployRequest,
  buildTaskRequest,
  isFinalLbState,
  lbRequestIdForDeploy,
  lbRequestIdForTask,
  lbServiceOf,
  lbWireId,
  nextTaskAttempt,
  preEnqueueUpdate,
  upstreamsOf,
} from './load-balancer-requests';
import { anLbTask } from './load-balancer.test-support';
import type { LoadBalancerState, SingularityLoadBalancerUpdate } from './load-balancer.types';

const NOW = 1_700_000_000_000;

describe('LB request ids (spec §1)', () => {
  it('a deploy step is {requestId}-{deployId}-{target}-{nowMs}, type DEPLOY', () => {
    const id = lbRequestIdForDeploy('my-req', 'd2', 3, NOW);
    expect(id).toEqual({ id: `my-req-d2-3-${NOW}`, requestType: 'DEPLOY', attemptNumber: 1 });
    expectMatchesSchema(id, 'LoadBalancerRequestId');
  });

  it('a task is its task id with type ADD or REMOVE and the attempt', () => {
    expect(lbRequestIdForTask('web-d1-1-1-h-r', 'ADD')).toEqual({ id: 'web-d1-1-1-h-r', requestType: 'ADD', attemptNumber: 1 });
    expect(lbRequestIdForTask('web-d1-1-1-h-r', 'REMOVE', 3)).toEqual({ id: 'web-d1-1-1-h-r', requestType: 'REMOVE', attemptNumber: 3 });
    expect(() => lbRequestIdForTask('t', 'ADD', 0)).toThrow(/attempt/);
  });

  it('the wire id names type and attempt, so each attempt is a distinct LB request', () => {
    expect(lbWireId(lbRequestIdForTask('t1', 'REMOVE', 2))).toBe('t1-REMOVE-2');
    expect(lbWireId(lbRequestIdForDeploy('r', 'd', 1, NOW))).toBe(`r-d-1-${NOW}-DEPLOY-1`);
  });

  it('numbers attempts: 1 first, +1 after FAILED or CANCELED, the same while WAITING/UNKNOWN/SUCCESS', () => {
    const last = (state: LoadBalancerState, attempt: number): SingularityLoadBalancerUpdate => ({
      loadBalancerState: state,
      loadBalancerRequestId: lbRequestIdForTask('t1', 'REMOVE', attempt),
      timestamp: NOW,
    });
    expect(nextTaskAttempt(undefined)).toBe(1);
    expect(nextTaskAttempt(last('FAILED', 1))).toBe(2);
    expect(nextTaskAttempt(last('CANCELED', 2))).toBe(3);
    for (const state of ['WAITING', 'UNKNOWN', 'SUCCESS', 'CANCELING', 'INVALID_REQUEST_NOOP'] as const) {
      expect(nextTaskAttempt(last(state, 2))).toBe(2);
    }
  });

  it('knows the final states', () => {
    expect(['SUCCESS', 'FAILED', 'CANCELED', 'INVALID_REQUEST_NOOP'].every((s) => isFinalLbState(s as LoadBalancerState))).toBe(true);
    expect(['WAITING', 'UNKNOWN', 'CANCELING'].some((s) => isFinalLbState(s as LoadBalancerState))).toBe(false);
  });

  it('a PRE_ENQUEUE update is UNKNOWN and matches the reference schema', () => {
    const update = preEnqueueUpdate(lbRequestIdForTask('t1', 'ADD'), 'http://lb/baragon/v2/request', NOW);
    expect(update).toMatchObject({ loadBalancerState: 'UNKNOWN', state: 'UNKNOWN', method: 'PRE_ENQUEUE', timestamp: NOW });
    expectMatchesSchema(update, 'SingularityLoadBalancerUpdate');
  });
});

describe('upstreams', () => {
  it('uses the offer hostname and the allocated port at loadBalancerPortIndex, counted over all ranges', () => {
    const task = anLbTask([
      { begin: 31000, end: 31001 },
      { begin: 31500, end: 31500 },
    ]);
    expect(upstreamsOf(task, 0)).toEqual([{ upstream: 'host1.example.com:31000', rackId: task.rackId, group: 'default' }]);
    expect(upstreamsOf(task, 1)[0].upstream).toBe('host1.example.com:31001');
    expect(upstreamsOf(task, 2, { lbRequestId: 'x-ADD-1', group: 'g' })).toEqual([
      { upstream: 'host1.example.com:31500', requestId: 'x-ADD-1', rackId: task.rackId, group: 'g' },
    ]);
  });

  it('prefers the offer hostname over the task id host and brackets IPv6 hosts', () => {
    const task = anLbTask([{ begin: 31000, end: 31000 }]);
    const offered = { ...task, offers: [{ ...task.offers[0], hostname: '10.0.0.7' }] };
    expect(upstreamsOf(offered, 0)[0].upstream).toBe('10.0.0.7:31000');
    const v6 = { ...task, offers: [{ ...task.offers[0], hostname: 'fe80::1' }] };
    expect(upstreamsOf(v6, 0)[0].upstream).toBe('[fe80::1]:31000');
  });

  it('leaves out a task without a port at that index', () => {
    expect(upstreamsOf(anLbTask([{ begin: 31000, end: 31000 }]), 1)).toEqual([]);
    expect(upstreamsOf(anLbTask([]), 0)).toEqual([]);
  });
});

describe('Baragon requests', () => {
  const request = aRequest({ id: 'web', requestType: 'SERVICE', loadBalanced: true, owners: ['a@x.io'] });

  it('the service comes from the request and deploy, other loadBalancer* fields passing through', () => {
    const deploy = aDeploy({
      requestId: 'web',
      id: 'd1',
      serviceBasePath: '/web',
      loadBalancerGroups: ['lb-a', 'lb-b'],
      loadBalancerOptions: { nginxExtraConfigs: ['x'] },
      loadBalancerTemplate: 'tpl',
      loadBalancerDomains: ['web.example.com'],
      loadBalancerAdditionalRoutes: ['/alt'],
    });
    expect(lbServiceOf(request, deploy)).toEqual({
      serviceId: 'web',
      owners: ['a@x.io'],
      serviceBasePath: '/web',
      loadBalancerGroups: ['lb-a', 'lb-b'],
      options: { nginxExtraConfigs: ['x'] },
      templateName: 'tpl',
      domains: ['web.example.com'],
      additionalPaths: ['/alt'],
    });
    expect(lbServiceOf(request, { ...deploy, loadBalancerServiceIdOverride: 'svc' }).serviceId).toBe('svc');
  });

  it('a deploy request adds the new tasks and removes the old ones, each on its deploy’s port index', () => {
    const oldDeploy = aDeploy({ requestId: 'web', id: 'd1', serviceBasePath: '/web', loadBalancerGroups: ['lb-a'] });
    const newDeploy = aDeploy({ requestId: 'web', id: 'd2', serviceBasePath: '/web', loadBalancerGroups: ['lb-a'], loadBalancerPortIndex: 1 });
    const old = anLbTask([{ begin: 31000, end: 31001 }], { request, deploy: oldDeploy });
    const fresh1 = anLbTask([{ begin: 32000, end: 32001 }], { request, deploy: newDeploy, instanceNo: 1 });
    const fresh2 = anLbTask([{ begin: 33000, end: 33001 }], { request, deploy: newDeploy, instanceNo: 2, host: 'host2' });
    const id = lbRequestIdForDeploy('web', 'd2', 2, NOW);
    const built = buildDeployRequest(request, newDeploy, [fresh1, fresh2], [old], id);
    expect(built.id).toEqual(id);
    expect(built.body.loadBalancerRequestId).toBe(`web-d2-2-${NOW}-DEPLOY-1`);
    expect(built.body.loadBalancerService).toMatchObject({ serviceId: 'web', serviceBasePath: '/web', loadBalancerGroups: ['lb-a'] });
    expect(built.body.addUpstreams.map((u) => u.upstream)).toEqual(['host1.example.com:32001', 'host2:33001']);
    expect(built.body.removeUpstreams.map((u) => u.upstream)).toEqual(['host1.example.com:31000']);
    expect(built.body.addUpstreams.every((u) => u.requestId === built.body.loadBalancerRequestId)).toBe(true);
  });

  it('a task request adds or removes that task alone, as the given attempt', () => {
    const task = anLbTask([{ begin: 31000, end: 31000 }]);
    const add = buildTaskRequest(task, 'ADD');
    expect(add.id).toEqual({ id: task.taskId.id, requestType: 'ADD', attemptNumber: 1 });
    expect(add.body).toMatchObject({
      loadBalancerRequestId: `${task.taskId.id}-ADD-1`,
      addUpstreams: [{ upstream: 'host1.example.com:31000', requestId: `${task.taskId.id}-ADD-1` }],
      removeUpstreams: [],
    });
    const remove = buildTaskRequest(task, 'REMOVE', 2);
    expect(remove.body.loadBalancerRequestId).toBe(`${task.taskId.id}-REMOVE-2`);
    expect(remove.body.addUpstreams).toEqual([]);
    expect(remove.body.removeUpstreams.map((u) => u.upstream)).toEqual(['host1.example.com:31000']);
    expectMatchesSchema(remove.id, 'LoadBalancerRequestId');
  });
});
