import { aRequest, aTask, anAgent, runCheck, verdict } from '../placement.fixtures';
import { requiredAttributesCheck } from './required-attributes.check';

describe('requiredAttributesCheck', () => {
  const requiresZoneA = aRequest({ requiredAgentAttributes: { zone: 'a', disk: 'ssd' } });

  it.each([
    ['all required attributes', requiresZoneA, {}, { zone: 'a', disk: 'ssd', extra: 'x' }, 'fits'],
    ['a different value', requiresZoneA, {}, { zone: 'b', disk: 'ssd' }, 'never AGENT_ATTRIBUTES_DO_NOT_MATCH'],
    ['one attribute missing', requiresZoneA, {}, { zone: 'a' }, 'never AGENT_ATTRIBUTES_DO_NOT_MATCH'],
    ['legacy requiredSlaveAttributes', aRequest({ requiredSlaveAttributes: { zone: 'a' } }), {}, { zone: 'b' }, 'never AGENT_ATTRIBUTES_DO_NOT_MATCH'],
    ['a pending-task override wins (match)', requiresZoneA, { requiredAgentAttributeOverrides: { zone: 'b' } }, { zone: 'b' }, 'fits'],
    ['a pending-task override wins (miss)', requiresZoneA, { requiredAgentAttributeOverrides: { zone: 'b' } }, { zone: 'a', disk: 'ssd' }, 'never AGENT_ATTRIBUTES_DO_NOT_MATCH'],
    ['a legacy slave override wins', requiresZoneA, { requiredSlaveAttributeOverrides: { zone: 'c' } }, { zone: 'c' }, 'fits'],
    ['an empty override does not', requiresZoneA, { requiredAgentAttributeOverrides: {} }, { zone: 'c' }, 'never AGENT_ATTRIBUTES_DO_NOT_MATCH'],
  ])('%s → %s', (_name, request, pendingTask, attributes, wanted) => {
    const task = aTask({ request, pendingTask });
    expect(verdict(runCheck(requiredAttributesCheck, task, anAgent({ attributes })))).toBe(wanted);
  });
});
