import { aPlacedTask, aRequest, aTask, anAgent, contextFor, runCheck, verdict } from '../placement.fixtures';
import { onDemandInstancesCheck } from './on-demand-instances.check';

describe('onDemandInstancesCheck', () => {
  const agent = anAgent();
  const onDemand = aRequest({ requestType: 'ON_DEMAND', instances: 2 });

  it.each([
    ['1 of 2 running', [aPlacedTask(agent)], 'fits'],
    ['2 of 2 running', [aPlacedTask(agent), aPlacedTask(agent)], 'notNow ON_DEMAND_INSTANCES_REACHED'],
    ['a cleaning task still runs', [aPlacedTask(agent), aPlacedTask(agent, { cleaning: true })], 'notNow ON_DEMAND_INSTANCES_REACHED'],
  ])('%s → %s', (_name, placed, wanted) => {
    expect(verdict(runCheck(onDemandInstancesCheck, aTask({ request: onDemand }), agent, { placed }))).toBe(wanted);
  });

  it.each([
    ['a SERVICE', aRequest({ instances: 1 })],
    ['an ON_DEMAND without instances', aRequest({ requestType: 'ON_DEMAND', instances: undefined })],
  ])('does not apply to %s', (_name, request) => {
    const task = aTask({ request });
    const ctx = contextFor(task, [agent]);
    expect(onDemandInstancesCheck.appliesTo?.(ctx.dueTask(task), ctx)).toBe(false);
  });
});
