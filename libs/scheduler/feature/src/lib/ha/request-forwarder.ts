import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from 'node:http';

/** Marks a request a standby forwarded, so that no request is forwarded twice (a loop between stale standbys). */
export const FORWARDED_BY_HEADER = 'x-singularity-forwarded-by';

/** Hop-by-hop headers (RFC 9110 §7.6.1) are the connection's, never the request's: not forwarded either way. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

export interface ForwardOptions {
  /** The leader's base URL, `http://host:port`. */
  target: string;
  /** This instance's id, sent in {@link FORWARDED_BY_HEADER}. */
  forwardedBy: string;
  /** How long to wait for the leader to accept the connection. */
  connectTimeoutMillis: number;
  /** Longest silence (no bytes either way) once connected; a slow sandbox read streams, so it is not cut. */
  idleTimeoutMillis: number;
  /** Aborts the exchange (the leader changed: whatever still waits for the old one is cut). */
  signal?: AbortSignal;
}

/**
 * What became of a forwarded request:
 * - `forwarded`: the leader's answer (status, headers, body) was streamed back;
 * - `unreachable`: the leader could not be reached before anything was sent, so it did nothing; the
 *   caller answers (503) itself;
 * - `broken`: the connection broke after the request went out, so it may or may not have been applied;
 *   the caller answers (502) if nothing was written yet.
 */
export type ForwardOutcome = { kind: 'forwarded'; status: number } | { kind: 'unreachable'; reason: string } | { kind: 'broken'; reason: string; responded: boolean };

/**
 * Forwards one HTTP request to the leader as it came (method, path and query, headers, body streamed)
 * and streams the leader's answer back. A standby scheduler uses it for every API and agent call
 * (spec §3.6: "others … proxy writes to the leader").
 */
export function forwardRequest(req: IncomingMessage, res: ServerResponse, options: ForwardOptions): Promise<ForwardOutcome> {
  const target = new URL(options.target);
  const headers: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(req.headers as IncomingHttpHeaders)) {
    if (value !== undefined && !HOP_BY_HOP.has(name)) headers[name] = value;
  }
  headers['host'] = target.host;
  headers[FORWARDED_BY_HEADER] = options.forwardedBy;
  const remote = req.socket.remoteAddress;
  if (remote) headers['x-forwarded-for'] = [headers['x-forwarded-for'], remote].filter(Boolean).join(', ');
  if (req.headers.host) headers['x-forwarded-host'] ??= req.headers.host;

  return new Promise((resolve) => {
    let settled = false;
    let sent = false;
    const settle = (outcome: ForwardOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(connectTimer);
      resolve(outcome);
    };
    const upstream = httpRequest({
      protocol: target.protocol,
      hostname: target.hostname,
      port: target.port,
      method: req.method,
      path: req.url,
      headers,
    });
    const connectTimer = setTimeout(() => upstream.destroy(new Error(`no connection within ${options.connectTimeoutMillis} ms`)), options.connectTimeoutMillis);
    upstream.on('socket', (socket) => {
      socket.once('connect', () => {
        clearTimeout(connectTimer);
        sent = true;
      });
      // A reused keep-alive socket is connected already.
      if (!socket.connecting) {
        clearTimeout(connectTimer);
        sent = true;
      }
    });
    upstream.setTimeout(options.idleTimeoutMillis, () => upstream.destroy(new Error(`the leader was silent for ${options.idleTimeoutMillis} ms`)));
    const onAbort = () => upstream.destroy(new Error('the leader changed meanwhile'));
    if (options.signal?.aborted) onAbort();
    else options.signal?.addEventListener('abort', onAbort, { once: true });
    upstream.once('close', () => options.signal?.removeEventListener('abort', onAbort));
    upstream.on('response', (answer) => {
      const out: OutgoingHttpHeaders = {};
      for (const [name, value] of Object.entries(answer.headers)) if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value;
      res.writeHead(answer.statusCode ?? 502, out);
      answer.pipe(res);
      answer.on('end', () => settle({ kind: 'forwarded', status: answer.statusCode ?? 502 }));
      answer.on('error', (err) => {
        res.destroy(err);
        settle({ kind: 'broken', reason: err.message, responded: true });
      });
    });
    upstream.on('error', (err) => {
      if (settled) return;
      if (res.headersSent) {
        res.destroy(err);
        settle({ kind: 'broken', reason: err.message, responded: true });
      } else settle(sent ? { kind: 'broken', reason: err.message, responded: false } : { kind: 'unreachable', reason: (err as NodeJS.ErrnoException).code ?? err.message });
    });
    // The client went away: so does our request to the leader.
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    req.pipe(upstream);
  });
}
