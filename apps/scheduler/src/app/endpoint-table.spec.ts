import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLogger } from '@singularity/node-util';
import { FakeAgentGateway } from '@singularity/scheduler-feature';
import { InMemoryStateStore } from '@singularity/scheduler-state';
import { referenceDir, schemaErrors } from '@singularity/testing';
import { ManualClock } from '@singularity/util';
import { createSchedulerApp, type SchedulerApp } from './create-app';
import { schedulerConfigSchema } from './scheduler-config';

/**
 * Walks the P0/P1 rows of the spec's endpoint table (scheduler.md §4) over a populated scheduler
 * and checks each answer against the response schema the reference gives for that path: a
 * component, or an array of one. Rows whose reference response has no schema only have to be
 * JSON. The sandbox rows (`/sandbox/{taskId}/browse|read`, `/tasks/download|open`) need a real
 * agent and are checked against their schemas in e2e/src/one-machine.e2e.spec.ts; `/logs` rows are P2.
 */
type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';
interface Row {
  method: Method;
  /** The reference's path template, under /api. */
  template: string;
  /** The concrete URL, under /singularity/api. */
  url: (ids: Ids) => string;
  body?: (ids: Ids) => unknown;
}
interface Ids {
  taskId: string;
  cleaningTaskId: string;
  pendingTaskId: string;
  agentId: string;
}

const reference = JSON.parse(readFileSync(join(referenceDir(), 'singularity-openapi.json'), 'utf8')) as {
  paths: Record<string, Record<string, { responses?: Record<string, { content?: Record<string, { schema?: Schema }> }> }>>;
};
interface Schema {
  $ref?: string;
  type?: string;
  items?: Schema;
}

function responseSchema(method: Method, template: string): Schema | undefined {
  const operation = reference.paths[template]?.[method.toLowerCase()];
  if (!operation) throw new Error(`the reference has no ${method} ${template}`);
  const responses = operation.responses ?? {};
  return (responses['200'] ?? responses.default)?.content?.['application/json']?.schema;
}

const componentOf = (ref: string) => ref.split('/').pop() as string;

function problems(value: unknown, schema: Schema | undefined): string[] {
  if (!schema) return [];
  if (schema.$ref) return schemaErrors(value, componentOf(schema.$ref));
  if (schema.type === 'array') {
    if (!Array.isArray(value)) return ['not an array'];
    return value.flatMap((item, i) => problems(item, schema.items).map((p) => `[${i}] ${p}`));
  }
  if (schema.type === 'string') return typeof value === 'string' ? [] : ['not a string'];
  if (schema.type === 'object') return typeof value === 'object' && value !== null ? [] : ['not an object'];
  return [];
}

const ROWS: Row[] = [
  { method: 'GET', template: '/api/requests', url: () => '/requests' },
  { method: 'GET', template: '/api/requests/active', url: () => '/requests/active' },
  { method: 'GET', template: '/api/requests/paused', url: () => '/requests/paused' },
  { method: 'GET', template: '/api/requests/cooldown', url: () => '/requests/cooldown' },
  { method: 'GET', template: '/api/requests/finished', url: () => '/requests/finished' },
  { method: 'GET', template: '/api/requests/request/{requestId}', url: () => '/requests/request/web' },
  { method: 'GET', template: '/api/requests/request/{requestId}/simple', url: () => '/requests/request/web/simple' },
  { method: 'GET', template: '/api/requests/request/{requestId}/run/{runId}', url: () => '/requests/request/job/run/run-1' },
  { method: 'GET', template: '/api/requests/queued/pending', url: () => '/requests/queued/pending' },
  { method: 'GET', template: '/api/requests/queued/cleanup', url: () => '/requests/queued/cleanup' },
  { method: 'GET', template: '/api/requests/ids', url: () => '/requests/ids' },
  { method: 'GET', template: '/api/requests/lbcleanup', url: () => '/requests/lbcleanup' },
  { method: 'GET', template: '/api/requests/crashloops', url: () => '/requests/crashloops' },
  { method: 'GET', template: '/api/requests/request/{requestId}/crashloops', url: () => '/requests/request/web/crashloops' },
  { method: 'POST', template: '/api/requests', url: () => '/requests', body: () => ({ id: 'extra', requestType: 'WORKER', instances: 1 }) },
  { method: 'POST', template: '/api/requests/request/{requestId}/run', url: () => '/requests/request/job/run', body: () => ({ runId: 'run-2' }) },
  { method: 'PUT', template: '/api/requests/request/{requestId}/scale', url: () => '/requests/request/extra/scale', body: () => ({ instances: 2, durationMillis: 60000 }) },
  { method: 'DELETE', template: '/api/requests/request/{requestId}/scale', url: () => '/requests/request/extra/scale' },
  { method: 'POST', template: '/api/requests/request/{requestId}/bounce', url: () => '/requests/request/web/bounce', body: () => ({}) },
  { method: 'DELETE', template: '/api/requests/request/{requestId}/bounce', url: () => '/requests/request/web/bounce' },
  { method: 'POST', template: '/api/requests/request/{requestId}/pause', url: () => '/requests/request/extra/pause', body: () => ({ durationMillis: 60000 }) },
  { method: 'DELETE', template: '/api/requests/request/{requestId}/pause', url: () => '/requests/request/extra/pause' },
  { method: 'POST', template: '/api/requests/request/{requestId}/unpause', url: () => '/requests/request/extra/unpause', body: () => ({}) },
  { method: 'GET', template: '/api/deploys/pending', url: () => '/deploys/pending' },
  { method: 'POST', template: '/api/deploys', url: () => '/deploys', body: () => ({ deploy: { requestId: 'extra', id: 'e1', command: 'sleep 100' } }) },
  { method: 'POST', template: '/api/deploys/update', url: () => '/deploys/update', body: () => ({ requestId: 'extra', deployId: 'e1', targetActiveInstances: 1 }) },
  { method: 'DELETE', template: '/api/deploys/deploy/{deployId}/request/{requestId}', url: () => '/deploys/deploy/e1/request/extra' },
  { method: 'GET', template: '/api/tasks/scheduled', url: () => '/tasks/scheduled' },
  { method: 'GET', template: '/api/tasks/scheduled/request/{requestId}', url: () => '/tasks/scheduled/request/cron' },
  { method: 'GET', template: '/api/tasks/scheduled/ids', url: () => '/tasks/scheduled/ids' },
  { method: 'GET', template: '/api/tasks/scheduled/task/{pendingTaskId}', url: (i) => `/tasks/scheduled/task/${i.pendingTaskId}` },
  { method: 'GET', template: '/api/tasks/active', url: () => '/tasks/active' },
  { method: 'GET', template: '/api/tasks/active/ids', url: () => '/tasks/active/ids' },
  { method: 'GET', template: '/api/tasks/active/slave/{slaveId}', url: (i) => `/tasks/active/slave/${i.agentId}` },
  { method: 'GET', template: '/api/tasks/active/slave/{slaveId}/ids', url: (i) => `/tasks/active/slave/${i.agentId}/ids` },
  { method: 'GET', template: '/api/tasks/cleaning', url: () => '/tasks/cleaning' },
  { method: 'GET', template: '/api/tasks/lbcleanup', url: () => '/tasks/lbcleanup' },
  { method: 'GET', template: '/api/tasks/killed', url: () => '/tasks/killed' },
  { method: 'GET', template: '/api/tasks/task/{taskId}', url: (i) => `/tasks/task/${i.taskId}` },
  { method: 'GET', template: '/api/tasks/task/{taskId}/cleanup', url: (i) => `/tasks/task/${i.cleaningTaskId}/cleanup` },
  { method: 'GET', template: '/api/tasks/ids/request/{requestId}', url: () => '/tasks/ids/request/web' },
  { method: 'DELETE', template: '/api/tasks/task/{taskId}', url: (i) => `/tasks/task/${i.taskId}`, body: () => ({ message: 'table walk' }) },
  { method: 'GET', template: '/api/history/task/{taskId}', url: (i) => `/history/task/${i.taskId}` },
  { method: 'GET', template: '/api/history/tasks', url: () => '/history/tasks?count=10&page=1' },
  { method: 'GET', template: '/api/history/tasks/withmetadata', url: () => '/history/tasks/withmetadata' },
  { method: 'GET', template: '/api/history/request/{requestId}/tasks', url: () => '/history/request/job/tasks' },
  { method: 'GET', template: '/api/history/request/{requestId}/tasks/active', url: () => '/history/request/web/tasks/active' },
  { method: 'GET', template: '/api/history/request/{requestId}/tasks/withmetadata', url: () => '/history/request/job/tasks/withmetadata' },
  { method: 'GET', template: '/api/history/request/{requestId}/requests', url: () => '/history/request/web/requests' },
  { method: 'GET', template: '/api/history/requests/search', url: () => '/history/requests/search?requestIdLike=we' },
  { method: 'GET', template: '/api/history/request/{requestId}/deploys', url: () => '/history/request/web/deploys' },
  { method: 'GET', template: '/api/history/request/{requestId}/deploy/{deployId}', url: () => '/history/request/web/deploy/d1' },
  { method: 'GET', template: '/api/history/request/{requestId}/deploy/{deployId}/tasks/active', url: () => '/history/request/web/deploy/d1/tasks/active' },
  { method: 'GET', template: '/api/history/request/{requestId}/deploy/{deployId}/tasks/inactive', url: () => '/history/request/job/deploy/j1/tasks/inactive' },
  { method: 'GET', template: '/api/history/request/{requestId}/run/{runId}', url: () => '/history/request/job/run/run-0' },
  { method: 'GET', template: '/api/state', url: () => '/state?skipCache=true' },
  { method: 'GET', template: '/api/state/requests/under-provisioned', url: () => '/state/requests/under-provisioned' },
  { method: 'GET', template: '/api/state/requests/over-provisioned', url: () => '/state/requests/over-provisioned' },
  { method: 'GET', template: '/api/state/task-reconciliation', url: () => '/state/task-reconciliation' },
  { method: 'GET', template: '/api/slaves', url: () => '/slaves' },
  { method: 'GET', template: '/api/slaves/slave/{slaveId}', url: (i) => `/slaves/slave/${i.agentId}` },
  { method: 'GET', template: '/api/slaves/slave/{slaveId}/details', url: (i) => `/slaves/slave/${i.agentId}/details` },
  { method: 'GET', template: '/api/slaves/expiring', url: () => '/slaves/expiring' },
  { method: 'POST', template: '/api/slaves/slave/{slaveId}/freeze', url: () => '/slaves/slave/agent-2/freeze', body: () => ({ durationMillis: 60000 }) },
  { method: 'DELETE', template: '/api/slaves/slave/{slaveId}/expiring', url: () => '/slaves/slave/agent-2/expiring' },
  { method: 'POST', template: '/api/slaves/slave/{slaveId}/activate', url: () => '/slaves/slave/agent-2/activate', body: () => ({}) },
  { method: 'POST', template: '/api/slaves/slave/{slaveId}/decommission', url: () => '/slaves/slave/agent-2/decommission', body: () => ({}) },
  { method: 'DELETE', template: '/api/slaves/dead', url: () => '/slaves/dead' },
  { method: 'GET', template: '/api/racks', url: () => '/racks' },
  { method: 'GET', template: '/api/racks/rack/{rackId}', url: () => '/racks/rack/DEFAULT' },
  { method: 'GET', template: '/api/webhooks', url: () => '/webhooks' },
  { method: 'POST', template: '/api/webhooks', url: () => '/webhooks', body: () => ({ uri: 'http://127.0.0.1:9/hook', type: 'TASK' }) },
  { method: 'GET', template: '/api/webhooks/summary', url: () => '/webhooks/summary' },
  { method: 'GET', template: '/api/webhooks/task', url: () => `/webhooks/task?webhookId=${encodeURIComponent('TASK-http%3A%2F%2F127.0.0.1%3A9%2Fhook')}` },
  { method: 'GET', template: '/api/webhooks/request', url: () => `/webhooks/request?webhookId=${encodeURIComponent('TASK-http%3A%2F%2F127.0.0.1%3A9%2Fhook')}` },
  { method: 'GET', template: '/api/webhooks/deploy', url: () => `/webhooks/deploy?webhookId=${encodeURIComponent('TASK-http%3A%2F%2F127.0.0.1%3A9%2Fhook')}` },
  { method: 'DELETE', template: '/api/webhooks', url: () => `/webhooks?webhookId=${encodeURIComponent('TASK-http%3A%2F%2F127.0.0.1%3A9%2Fhook')}` },
  { method: 'GET', template: '/api/track/task/{taskId}', url: (i) => `/track/task/${i.taskId}` },
  { method: 'GET', template: '/api/track/run/{requestId}/{runId}', url: () => '/track/run/job/run-1' },
  { method: 'DELETE', template: '/api/requests/request/{requestId}', url: () => '/requests/request/extra', body: () => ({ message: 'table walk' }) },
];

describe('the spec endpoint table, against the reference schemas', () => {
  let s: SchedulerApp;
  const ids = {} as Ids;

  beforeAll(async () => {
    const clock = new ManualClock();
    s = await createSchedulerApp({
      config: schedulerConfigSchema.parse({ httpPort: 0, hostname: 'test-host' }),
      store: new InMemoryStateStore(),
      logger: createLogger('endpoint-table', {}, 'warn'),
      clock,
      gateway: new FakeAgentGateway(),
    });
    const rt = s.runtime;
    for (const agentId of ['agent-1', 'agent-2']) {
      await rt.agents.register({
        agentId, hostname: agentId, address: '127.0.0.1', port: 5051, rackId: 'DEFAULT', attributes: {},
        resources: { cpus: 16, memoryMb: 32000, diskMb: 100000 }, portRange: { begin: 31000, end: 31999 }, version: 't', tasks: [],
      });
    }
    ids.agentId = 'agent-1';
    await rt.requests.createOrUpdate({ id: 'web', requestType: 'SERVICE', instances: 2 });
    await rt.deploys.deploy({ deploy: { requestId: 'web', id: 'd1', command: 'serve', resources: { cpus: 1, memoryMb: 64, numPorts: 1, diskMb: 0 } } });
    await rt.requests.createOrUpdate({ id: 'job', requestType: 'ON_DEMAND' });
    await rt.deploys.deploy({ deploy: { requestId: 'job', id: 'j1', command: 'work' } });
    await rt.requests.createOrUpdate({ id: 'cron', requestType: 'SCHEDULED', schedule: '0 * * * *' });
    await rt.deploys.deploy({ deploy: { requestId: 'cron', id: 'c1', command: 'report' } });
    await rt.scheduler.tick();
    // A finished run of the job, moved to the history store, then a running one.
    await rt.requests.run('job', { runId: 'run-0' }, 'ann');
    await rt.scheduler.tick();
    const [done] = rt.tasks.active().filter((t) => t.taskId.requestId === 'job');
    await rt.agents.statusUpdates(done.mesosTask.agentId.value, { updates: [{ seq: 1, taskId: done.taskId.id, state: 'TASK_FINISHED', timestamp: clock.now() }] });
    await rt.historyPersister.persistOnce();
    clock.advance(1000);
    await rt.requests.run('job', { runId: 'run-1' }, 'ann');
    await rt.scheduler.tick();
    for (const t of rt.tasks.active()) {
      await rt.agents.statusUpdates(t.mesosTask.agentId.value, { updates: [{ seq: 1, taskId: t.taskId.id, state: 'TASK_RUNNING', timestamp: clock.now() }] });
    }
    clock.advance(6000);
    await rt.scheduler.tick();
    await rt.scheduler.tick();
    const webTasks = rt.tasks.active().filter((t) => t.taskId.requestId === 'web');
    ids.taskId = webTasks[0].taskId.id;
    ids.cleaningTaskId = webTasks[1].taskId.id;
    await rt.tasks.kill(ids.cleaningTaskId, { waitForReplacementTask: true }, 'ann');
    ids.pendingTaskId = rt.tasks.scheduled('cron')[0].pendingTask.pendingTaskId.id;
  });
  afterAll(async () => {
    await s.app.close();
    await s.runtime.stop();
  });

  it.each(ROWS.map((row) => [`${row.method} ${row.template}`, row] as const))('%s', async (_name, row) => {
    const schema = responseSchema(row.method, row.template);
    const body = row.body?.(ids);
    const res = await s.app.inject({
      method: row.method,
      url: `/singularity/api${row.url(ids)}`,
      payload: body === undefined ? undefined : JSON.stringify(body),
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
    });
    expect({ status: res.statusCode, body: res.statusCode >= 300 ? res.body : '' }).toEqual({ status: expect.any(Number), body: '' });
    expect(res.statusCode).toBeLessThan(300);
    if (res.body.length === 0) return;
    const value = JSON.parse(res.body) as unknown;
    expect(problems(value, schema)).toEqual([]);
  });

  it("GET /api/requests/request/{requestId}/crashloops is a 404 for an unknown request, like the request's other routes", async () => {
    const res = await s.app.inject({ method: 'GET', url: '/singularity/api/requests/request/nope/crashloops' });
    expect(res.statusCode).toBe(404);
  });
});
