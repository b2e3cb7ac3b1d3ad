import { createWriteStream } from 'node:fs';
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { pipeline } from 'node:stream/promises';
import type { Logger } from '@singularity/node-util';
import { ARTIFACT_FILE_MODE } from '../embedded-artifacts';
import { ArtifactDownloadError } from '../executor-errors';

/** Redirects followed before a download gives up. */
export const MAX_REDIRECTS = 10;

/** A URL fit for messages and logs: no user info, no query (it may hold a signature or token). */
export function displayUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}${parsed.pathname}${parsed.search ? '?…' : ''}`;
  } catch {
    return JSON.stringify(url);
  }
}

function httpUrl(url: string, label: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ArtifactDownloadError(`${label}: ${JSON.stringify(url)} is not a valid URL`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new ArtifactDownloadError(`${label}: ${displayUrl(url)} is not an http(s) URL`);
  }
  return parsed;
}

/** One GET; resolves with the response (status and headers read, body not yet). */
function get(url: URL, signal: AbortSignal): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const request = (url.protocol === 'https:' ? https : http).get(url, { signal, headers: { 'user-agent': 'singularity-executor' } }, resolve);
    request.once('error', reject);
  });
}

/**
 * GETs an external artifact (spec slave §1.5) into `destination` (a new
 * file) with Node's http/https: TLS certificates are verified (the original
 * ran `wget --no-check-certificate`), at most {@link MAX_REDIRECTS} redirects
 * are followed and only to http(s), any final status other than 2xx fails the
 * task naming the artifact and the status. No time limit of its own (the
 * original had none); a kill aborts it through `signal`. (Not `fetch`: it
 * refuses the "bad ports" of browsers, such as 6000, and servers listen there.)
 */
export async function downloadHttp(url: string, destination: string, label: string, signal: AbortSignal, logger: Logger): Promise<void> {
  let current = httpUrl(url, label);
  const started = Date.now();
  for (let redirects = 0; ; redirects++) {
    let response: IncomingMessage;
    try {
      response = await get(current, signal);
    } catch (err) {
      if (signal.aborted) throw signal.reason;
      const e = err as NodeJS.ErrnoException;
      throw new ArtifactDownloadError(`${label}: GET ${displayUrl(current.href)} failed: ${e.code ?? e.message}`);
    }
    const status = response.statusCode ?? 0;
    const location = response.headers.location;
    if (status >= 300 && status < 400 && location) {
      response.resume();
      if (redirects >= MAX_REDIRECTS) {
        throw new ArtifactDownloadError(`${label}: GET ${displayUrl(url)} was redirected more than ${MAX_REDIRECTS} times`);
      }
      current = httpUrl(new URL(location, current).href, label);
      logger.debug({ artifact: label, to: displayUrl(current.href) }, 'following a redirect');
      continue;
    }
    if (status < 200 || status >= 300) {
      response.resume();
      throw new ArtifactDownloadError(`${label}: GET ${displayUrl(current.href)} answered HTTP ${status}`);
    }
    const out = createWriteStream(destination, { flags: 'wx', mode: ARTIFACT_FILE_MODE });
    try {
      await pipeline(response, out, { signal });
    } catch (err) {
      if (signal.aborted) throw signal.reason;
      throw new ArtifactDownloadError(`${label}: GET ${displayUrl(current.href)} failed while reading the body: ${(err as Error).message}`);
    }
    logger.info({ artifact: label, url: displayUrl(current.href), bytes: out.bytesWritten, millis: Date.now() - started }, 'downloaded external artifact');
    return;
  }
}
