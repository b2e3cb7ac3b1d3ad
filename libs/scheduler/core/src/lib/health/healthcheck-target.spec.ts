import type { HealthcheckOptions, MesosResourceObject, SingularityDeploy, SingularityRequest, SingularityTask } from '@singularity/models';
import { aDeploy, aRequest, aTaskRecord } from '../core.fixtures';
import { healthcheckTarget, healthcheckUrl, shouldHealthcheck, type ShouldHealthcheckContext } from './healthcheck-target';

describe('healthcheckUrl', () => {
  it.each<[string, Pick<HealthcheckOptions, 'protocol' | 'uri'>, string, string]>([
    ['a leading slash is dropped', { protocol: 'HTTP', uri: '/health' }, 'host1', 'http://host1:8080/health'],
    ['no leading slash', { protocol: 'HTTP', uri: 'health?deep=1' }, 'host1', 'http://host1:8080/health?deep=1'],
    ['only one slash is dropped', { protocol: 'HTTP', uri: '//x' }, 'host1', 'http://host1:8080//x'],
    ['HTTPS', { protocol: 'HTTPS', uri: '/h' }, 'host1', 'https://host1:8080/h'],
    ['HTTP2 is checked over http', { protocol: 'HTTP2', uri: '/h' }, 'host1', 'http://host1:8080/h'],
    ['HTTPS2 is checked over https', { protocol: 'HTTPS2', uri: '/h' }, 'host1', 'https://host1:8080/h'],
    ['an IPv6 host is bracketed', { protocol: 'HTTP', uri: '/h' }, '::1', 'http://[::1]:8080/h'],
  ])('%s', (_name, options, host, url) => {
    expect(healthcheckUrl({ protocol: options.protocol ?? 'HTTP', uri: options.uri ?? '' }, { host, port: 8080 })).toBe(url);
  });
});

const portsResource = (...ranges: Array<[number, number]>): MesosResourceObject => ({
  name: 'ports',
  type: 'RANGES',
  ranges: { range: ranges.map(([begin, end]) => ({ begin, end })) },
});

function aTask(options: { request?: Partial<SingularityRequest>; deploy?: Partial<SingularityDeploy>; skipHealthchecks?: boolean; ports?: MesosResourceObject[] } = {}): SingularityTask {
  const request = aRequest(options.request);
  const task = aTaskRecord({ request, deploy: aDeploy({ healthcheck: { uri: '/health' }, ...options.deploy }) }).task;
  task.mesosTask.resources = options.ports ?? [portsResource([31000, 31000])];
  if (options.skipHealthchecks !== undefined) task.taskRequest.pendingTask.skipHealthchecks = options.skipHealthchecks;
  return task;
}

describe('healthcheckTarget', () => {
  it('uses the agent host and the allocated port at portIndex, counted across ranges', () => {
    const task = aTask({ ports: [{ name: 'cpus', type: 'SCALAR', scalar: { value: 1 } }, portsResource([31000, 31001], [32000, 32000])] });
    expect(healthcheckTarget(task, { portIndex: 0 })).toEqual({ host: 'host1', port: 31000 });
    expect(healthcheckTarget(task, { portIndex: 1 })).toEqual({ host: 'host1', port: 31001 });
    expect(healthcheckTarget(task, { portIndex: 2 })).toEqual({ host: 'host1', port: 32000 });
  });

  it('prefers the offer hostname, then the task id host', () => {
    const task = aTask();
    task.offers = [{ id: { value: 'o1' }, agentId: { value: 'a1' }, slaveId: { value: 'a1' }, hostname: 'agent-1.example.com' }];
    expect(healthcheckTarget(task, { portIndex: 0 })?.host).toBe('agent-1.example.com');
  });

  it('uses portNumber when set', () => {
    expect(healthcheckTarget(aTask({ ports: [] }), { portIndex: 0, portNumber: 8080 })).toEqual({ host: 'host1', port: 8080 });
  });

  it('is undefined when the port does not exist', () => {
    expect(healthcheckTarget(aTask({ ports: [] }), { portIndex: 0 })).toBeUndefined();
    expect(healthcheckTarget(aTask(), { portIndex: 1 })).toBeUndefined();
    expect(healthcheckTarget(aTask(), { portIndex: 0, portNumber: 0 })).toBeUndefined();
  });
});

describe('shouldHealthcheck (spec §3.4)', () => {
  it.each<[string, Parameters<typeof aTask>[0], ShouldHealthcheckContext, boolean]>([
    ['a SERVICE task with a check uri', {}, {}, true],
    ['a WORKER task with a check uri', { request: { requestType: 'WORKER' } }, {}, true],
    ['no check', { deploy: { healthcheck: undefined } }, {}, false],
    ['a result-file check', { deploy: { healthcheck: { healthcheckResultFilePath: 'ok' } } }, {}, false],
    ['a result-file check with a uri', { deploy: { healthcheck: { uri: '/h', healthcheckResultFilePath: 'ok' } } }, {}, false],
    ['not long-running (SCHEDULED)', { request: { requestType: 'SCHEDULED', schedule: '* * * * *' } }, {}, false],
    ['not long-running (ON_DEMAND)', { request: { requestType: 'ON_DEMAND' } }, {}, false],
    ['skipped by the request at launch', { request: { skipHealthchecks: true } }, {}, false],
    ['skipped by the request now', {}, { request: { skipHealthchecks: true } }, false],
    ['no longer skipped by the request now', { request: { skipHealthchecks: true } }, { request: { skipHealthchecks: false } }, true],
    ['skipped by the pending task (run-now, bounce, …)', { skipHealthchecks: true }, {}, false],
    ['skipHealthchecksOnDeploy while the deploy is pending', { deploy: { skipHealthchecksOnDeploy: true } }, { pendingDeployId: 'd1' }, false],
    ['skipHealthchecksOnDeploy after the deploy', { deploy: { skipHealthchecksOnDeploy: true } }, {}, true],
    ['skipHealthchecksOnDeploy while another deploy is pending', { deploy: { skipHealthchecksOnDeploy: true } }, { pendingDeployId: 'd2' }, true],
  ])('%s → %s', (_name, task, context, expected) => {
    expect(shouldHealthcheck(aTask(task), context)).toBe(expected);
  });
});
