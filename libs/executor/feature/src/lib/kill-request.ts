import { readFile } from 'node:fs/promises';
import type { AgentKillRequest } from '@singularity/models';
import type { Logger } from '@singularity/node-util';

/**
 * Reads the kill file the agent writes before it sends SIGTERM. A SIGTERM
 * without one (or with one that cannot be read) is a plain graceful kill with
 * the task's own grace. Fields of the wrong type are ignored, not fatal: a
 * kill must never fail.
 */
export async function readKillRequest(file: string, logger: Logger): Promise<AgentKillRequest> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') logger.warn({ err, killFile: file }, 'cannot read the kill file; plain kill');
    return {};
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    logger.warn({ err, killFile: file }, 'kill file is not JSON; plain kill');
    return {};
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    logger.warn({ killFile: file }, 'kill file does not hold an object; plain kill');
    return {};
  }
  const r = raw as Record<string, unknown>;
  const request: AgentKillRequest = {};
  if (typeof r.destroy === 'boolean') request.destroy = r.destroy;
  if (typeof r.user === 'string') request.user = r.user;
  if (typeof r.message === 'string') request.message = r.message;
  if (typeof r.sigKillProcessesAfterMillis === 'number' && Number.isInteger(r.sigKillProcessesAfterMillis) && r.sigKillProcessesAfterMillis >= 0) {
    request.sigKillProcessesAfterMillis = r.sigKillProcessesAfterMillis;
  } else if (r.sigKillProcessesAfterMillis !== undefined) {
    logger.warn({ value: r.sigKillProcessesAfterMillis }, 'ignoring an invalid sigKillProcessesAfterMillis in the kill file');
  }
  return request;
}
