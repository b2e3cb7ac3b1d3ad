import type { SingularityDeploy, SingularityRequest, SingularityTask } from '@singularity/models';
import { aDeploy, aRequest, aTask } from '@singularity/testing';

/** A launched task of an LB request with the given allocated port ranges (used by the specs here). */
export function anLbTask(
  ranges: Array<{ begin: number; end: number }>,
  overrides: { request?: SingularityRequest; deploy?: SingularityDeploy; instanceNo?: number; host?: string } = {},
): SingularityTask {
  const request = overrides.request ?? aRequest({ id: 'web', requestType: 'SERVICE', loadBalanced: true });
  const deploy = overrides.deploy ?? aDeploy({ requestId: request.id, id: 'd1', serviceBasePath: '/web', loadBalancerGroups: ['lb-a'] });
  const task = aTask({ request, deploy, taskId: { instanceNo: overrides.instanceNo ?? 1, ...(overrides.host ? { host: overrides.host } : {}) } });
  return {
    ...task,
    mesosTask: { ...task.mesosTask, resources: [...task.mesosTask.resources, { name: 'ports', type: 'RANGES', ranges: { range: ranges } }] },
  };
}
