import { isLongRunning, type SingularityRequest, type SingularityTask } from '@singularity/models';
import type { ResolvedHealthcheck } from './healthcheck-options';

/** Where a task's check goes: the agent's host and the checked port. */
export interface HealthcheckTarget {
  host: string;
  port: number;
}

/**
 * `{protocol}://{host}:{port}/{uri}` (spec §3.4), with one leading `/` of the
 * uri dropped and IPv6 literals bracketed.
 *
 * HTTP2 and HTTPS2 map to `http` and `https`: Node's `fetch` speaks HTTP/1.1
 * (an HTTP/2-only server would need an undici agent with `allowH2`), and every
 * HTTP/2 server we check also accepts HTTP/1.1 on the same port.
 */
export function healthcheckUrl(options: Pick<ResolvedHealthcheck, 'protocol' | 'uri'>, target: HealthcheckTarget): string {
  const scheme = options.protocol === 'HTTPS' || options.protocol === 'HTTPS2' ? 'https' : 'http';
  const host = target.host.includes(':') && !target.host.startsWith('[') ? `[${target.host}]` : target.host;
  const path = options.uri.startsWith('/') ? options.uri.slice(1) : options.uri;
  return `${scheme}://${host}:${target.port}/${path}`;
}

/**
 * The task's check target: the agent host it was launched on and
 * `portNumber`, or its allocated port number `portIndex` (ports counted across
 * all `ports` ranges in order). `undefined` when that port does not exist;
 * Singularity then records a failed check ("Invalid healthcheck uri or ports
 * not present").
 */
export function healthcheckTarget(
  task: Pick<SingularityTask, 'taskId' | 'mesosTask' | 'offers'>,
  options: Pick<ResolvedHealthcheck, 'portIndex' | 'portNumber'>,
): HealthcheckTarget | undefined {
  const host = task.offers[0]?.hostname ?? task.taskId.host;
  const port = options.portNumber ?? allocatedPorts(task)[options.portIndex];
  if (port === undefined || !Number.isInteger(port) || port < 1) return undefined;
  return { host, port };
}

function allocatedPorts(task: Pick<SingularityTask, 'mesosTask'>): number[] {
  const ports: number[] = [];
  for (const resource of task.mesosTask.resources) {
    if (resource.name !== 'ports') continue;
    for (const { begin, end } of resource.ranges.range) for (let port = begin; port <= end; port++) ports.push(port);
  }
  return ports;
}

/** What decides whether a task is HTTP-checked besides the task itself. */
export interface ShouldHealthcheckContext {
  /** The request as it is now (its `skipHealthchecks` may have changed since launch); default: the task's copy. */
  request?: Pick<SingularityRequest, 'skipHealthchecks'>;
  /** Id of the request's pending deploy, if one is in progress. */
  pendingDeployId?: string;
}

/**
 * Whether the scheduler runs HTTP checks for `task` (spec §3.4): long-running
 * tasks whose deploy has a check `uri` (and no `healthcheckResultFilePath`,
 * for which RUNNING = healthy), unless skipped by the request, the pending
 * task, or `skipHealthchecksOnDeploy` while the task's deploy is the pending
 * one. A task that is not checked is healthy per the non-HTTP rules.
 */
export function shouldHealthcheck(task: Pick<SingularityTask, 'taskId' | 'taskRequest'>, context: ShouldHealthcheckContext = {}): boolean {
  const { request, deploy, pendingTask } = task.taskRequest;
  if (!isLongRunning(request.requestType)) return false;
  if (!deploy.healthcheck?.uri || deploy.healthcheck.healthcheckResultFilePath !== undefined) return false;
  if (pendingTask.skipHealthchecks === true) return false;
  if (context.pendingDeployId === task.taskId.deployId && deploy.skipHealthchecksOnDeploy === true) return false;
  return (context.request ?? request).skipHealthchecks !== true;
}
