import { aRequest, aTask, anAgent, runCheck, verdict } from '../placement.fixtures';
import { reservedAttributesCheck } from './reserved-attributes.check';

describe('reservedAttributesCheck', () => {
  const reserved = anAgent({ attributes: { team: 'ml' }, reservedAttributes: { team: 'ml' } });

  it.each([
    ['a task asking for nothing, reserved agent', aRequest(), reserved, 'never AGENT_RESERVED'],
    ['a task requiring the attribute', aRequest({ requiredAgentAttributes: { team: 'ml' } }), reserved, 'fits'],
    ['a task allowing the attribute', aRequest({ allowedAgentAttributes: { team: 'ml' } }), reserved, 'fits'],
    ['a task asking for another value', aRequest({ allowedAgentAttributes: { team: 'web' } }), reserved, 'never AGENT_RESERVED'],
    ['any task, unreserved agent', aRequest(), anAgent(), 'fits'],
  ])('%s → %s', (_name, request, agent, wanted) => {
    expect(verdict(runCheck(reservedAttributesCheck, aTask({ request }), agent, { agents: [agent, reserved] }))).toBe(wanted);
  });
});
