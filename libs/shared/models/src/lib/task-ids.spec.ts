import { buildTaskId, parseTaskId } from './task-ids';

describe('task ids', () => {
  it('round-trips a request id that holds hyphens', () => {
    const id = buildTaskId({ requestId: 'my-web-app', deployId: 'd1', startedAt: 1700000000000, instanceNo: 2, host: 'agent-1.local', rackId: 'us-east-1a' });
    expect(id.id).toBe('my-web-app-d1-1700000000000-2-agent_1.local-us_east_1a');
    const parsed = parseTaskId(id.id);
    expect(parsed.requestId).toBe('my-web-app');
    expect(parsed.deployId).toBe('d1');
    expect(parsed.instanceNo).toBe(2);
    expect(parsed.sanitizedHost).toBe('agent_1.local');
  });
});
