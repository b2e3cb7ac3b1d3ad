import type { SandboxFiles } from './sandbox-files';
import { registerShellCommandRoutes } from './shell-commands';
import type { TaskStatisticsReader } from './task-statistics';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { AGENT_HTTP, type AgentKillRequest, type AgentLaunchRequest, type AgentTaskReport } from '@singularity/models';
import type { Logger } from '@singularity/node-util';
import { DomainError, InvalidRequestError } from '@singularity/util';
import { z } from 'zod';

/** What the HTTP server asks of the agent; `Agent` implements it. */
export interface AgentOperations {
  health(): AgentHealth;
  tasks(): AgentTaskReport[];
  /** `launched: false` for a task id the agent knows (nothing is started twice). */
  launch(request: AgentLaunchRequest): { launched: boolean; task?: AgentTaskReport };
  kill(taskId: string, request: AgentKillRequest): 'killing' | 'finished' | 'unknown';
}

export interface AgentHealth {
  ok: boolean;
  agentId: string;
  /** Tasks in the live table. */
  tasks: number;
  registered: boolean;
  stopping: boolean;
  version: string;
}

const number = z.number().refine(Number.isFinite, 'must be a finite number');

/** `POST /agent/tasks` body: the scheduler's ExecutorLaunchSpec (extra fields pass through to task.json). */
const launchRequestSchema = z.object({
  spec: z.looseObject({
    taskId: z
      .string()
      .min(1)
      .max(400)
      .refine((id) => id !== '.' && id !== '..' && !id.includes('\0'), 'is not usable as a directory name'),
    requestId: z.string().min(1),
    deployId: z.string().min(1),
    executorData: z.looseObject({
      cmd: z.string(),
      sigKillProcessesAfterMillis: z.number().int().min(0).optional(),
    }),
    env: z.record(z.string(), z.string()).default({}),
    resources: z.looseObject({
      cpus: number.min(0),
      memoryMb: number.min(0),
      diskMb: number.min(0),
      ports: z.array(z.number().int().min(0).max(65535)).default([]),
    }),
  }),
});

/** `POST /agent/tasks/{taskId}/kill` body (an empty body is an empty request). */
const killRequestSchema = z.looseObject({
  destroy: z.boolean().optional(),
  user: z.string().optional(),
  message: z.string().optional(),
  sigKillProcessesAfterMillis: z.number().int().min(0).optional(),
});

/** Per-request lines at debug level: launches and kills are logged by the agent itself, health polls are noise. */
class DebugRequestLogs extends LogController {
  override incomingRequest(request: FastifyRequest): void {
    request.log.debug({ method: request.method, url: request.url }, 'incoming request');
  }

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    reply.log.debug({ method: request.method, url: request.url, statusCode: reply.statusCode, err: error ?? undefined, responseTime: reply.elapsedTime }, 'request completed');
  }
}

function parse<T>(schema: z.ZodType<T>, body: unknown, what: string): T {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const field = issue.path.join('.');
  throw new InvalidRequestError(`${field || what}: ${issue.message}`, field || undefined);
}

/**
 * The agent's HTTP API (agent-protocol.ts `AGENT_HTTP`): health, the task
 * list, launch and kill, a task's usage statistics, sandboxes. Bad bodies get
 * a 400 whose message names the field.
 */
export function createAgentHttpServer(agent: AgentOperations, logger: Logger, sandbox?: SandboxFiles, statistics?: Pick<TaskStatisticsReader, 'statistics'>): FastifyInstance {
  const loggerInstance = logger.child({ component: 'http' }) as FastifyBaseLogger;
  const app = Fastify({ loggerInstance, logController: new DebugRequestLogs(), bodyLimit: 16 * 1024 * 1024 });

  // Accept an empty JSON body (curl -X POST …/kill) and answer 400 with a message for malformed JSON.
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (!text.trim()) return done(null, {});
    try {
      done(null, JSON.parse(text));
    } catch (err) {
      done(new InvalidRequestError(`body: not valid JSON (${(err as Error).message})`), undefined);
    }
  });

  app.setErrorHandler((err, request, reply) => {
    if (err instanceof DomainError) return reply.status(err.status).send({ message: err.message });
    const status = (err as { statusCode?: number }).statusCode;
    if (status && status >= 400 && status < 500) return reply.status(status).send({ message: (err as Error).message });
    request.log.error({ err, url: request.url }, 'request failed');
    return reply.status(500).send({ message: `internal error: ${(err as Error).message}` });
  });

  app.get(AGENT_HTTP.health, async () => agent.health());

  app.get(AGENT_HTTP.tasks, async () => agent.tasks());

  app.post(AGENT_HTTP.tasks, async (request, reply) => {
    const body = parse(launchRequestSchema, request.body, 'body') as unknown as AgentLaunchRequest;
    const outcome = agent.launch(body);
    return reply.status(outcome.launched ? 202 : 200).send({ taskId: body.spec.taskId, launched: outcome.launched, ...(outcome.task ? { task: outcome.task } : {}) });
  });

  app.post<{ Params: { taskId: string } }>('/agent/tasks/:taskId/kill', async (request, reply) => {
    const body = parse(killRequestSchema, request.body ?? {}, 'body') as AgentKillRequest;
    const taskId = request.params.taskId;
    const outcome = agent.kill(taskId, body);
    if (outcome === 'unknown') return reply.status(404).send({ message: `Task ${taskId} is not known to this agent` });
    if (outcome === 'finished') return reply.status(200).send({ taskId, message: 'Task already finished; nothing to kill' });
    return reply.status(202).send({ taskId, message: 'Kill sent to the executor' });
  });

  registerShellCommandRoutes(app, agent, logger); // POST/GET /agent/tasks/{taskId}/commands (shell-commands.ts)

  if (statistics) {
    app.get<{ Params: { taskId: string } }>('/agent/tasks/:taskId/statistics', async (request) => statistics.statistics(request.params.taskId));
  }

  if (sandbox) {
    type SandboxQuery = { Params: { taskId: string }; Querystring: { path?: string; offset?: string; length?: string } };
    const int = (v: string | undefined, name: string) => {
      if (v === undefined || v === '') return undefined;
      if (!/^\d+$/.test(v)) throw new InvalidRequestError(`${name}: must be a non-negative integer (got '${v}')`, name);
      return Number(v);
    };
    app.get<SandboxQuery>('/agent/sandbox/:taskId/browse', async (request) => sandbox.browse(request.params.taskId, request.query.path));
    app.get<SandboxQuery>('/agent/sandbox/:taskId/read', async (request) =>
      sandbox.read(request.params.taskId, request.query.path, int(request.query.offset, 'offset'), int(request.query.length, 'length')),
    );
    // `/tasks/download` gives a full path (fullPathToRoot + …): it must lie in this agent's sandboxes.
    app.get<{ Querystring: { path?: string } }>('/agent/files/download', async (request, reply) => {
      const { taskDir, rest } = sandbox.splitFullPath(request.query.path);
      const file = await sandbox.downloadFromDir(taskDir, rest);
      return reply
        .header('content-type', 'application/octet-stream')
        .header('content-length', String(file.size))
        .header('content-disposition', `attachment; filename="${file.name.replace(/["\\]/g, '_')}"`)
        .send(file.stream);
    });
    app.get<SandboxQuery>('/agent/sandbox/:taskId/download', async (request, reply) => {
      const file = await sandbox.download(request.params.taskId, request.query.path);
      return reply
        .header('content-type', 'application/octet-stream')
        .header('content-length', String(file.size))
        .header('content-disposition', `attachment; filename="${file.name.replace(/["\\]/g, '_')}"`)
        .send(file.stream);
    });
  }

  return app;
}
