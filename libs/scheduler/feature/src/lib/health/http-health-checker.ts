import type { SingularityTask } from '@singularity/models';
import type { Logger } from '@singularity/node-util';
import {
  DEFAULT_HEALTHCHECK_SETTINGS,
  HealthcheckTracker,
  healthcheckUrl,
  type HealthcheckResultFacts,
  type HealthcheckTarget,
  type HealthVerdict,
  type ResolvedHealthcheck,
  type SingularityTaskHealthcheckResult,
} from '@singularity/scheduler-core';
import { systemClock, type Clock } from '@singularity/util';
import { systemTimers, type TimerPort } from './timers.port';

/** Receives every result of a task's checks with the verdict after it. */
export type HealthcheckListener = (result: SingularityTaskHealthcheckResult, verdict: HealthVerdict) => void;

/** `fetch` as the checker uses it; replaceable where no real HTTP is wanted. */
export type FetchLike = (url: string, init: { method: string; signal: AbortSignal; redirect: 'follow' }) => Promise<Response>;

export interface HttpHealthCheckerOptions {
  clock?: Clock;
  timers?: TimerPort;
  /** Checks in flight at once over all tasks (default 100); due checks beyond it wait in order. */
  maxConcurrentChecks?: number;
  /** `maxHealthcheckResponseBodyBytes` (8192): how much of a body a result keeps. */
  maxResponseBodyBytes?: number;
  fetch?: FetchLike;
  logger?: Pick<Logger, 'warn' | 'debug'>;
}

export interface StartHealthcheckOptions {
  /** When the task became RUNNING (default: now). Startup timeout and budgets count from it. */
  runningSince?: number;
  /** Results stored earlier (e.g. before a leader change), oldest first; checking resumes after them. */
  results?: readonly HealthcheckResultFacts[];
  /** Asked at each verdict: is the task's deploy the pending one (total budget applies)? Default: no. */
  duringDeploy?: () => boolean;
}

export const DEFAULT_MAX_CONCURRENT_HEALTHCHECKS = 100;

type TaskRef = Pick<SingularityTask, 'taskId'>;

interface Entry {
  task: TaskRef;
  url: string;
  options: ResolvedHealthcheck;
  onResult: HealthcheckListener;
  tracker: HealthcheckTracker;
  duringDeploy: () => boolean;
  timer?: unknown;
  /** Set while a check is in flight; aborting it ends the check without a result. */
  abort?: AbortController;
}

/**
 * Runs the HTTP health checks of running tasks (spec §3.4) and reports each
 * result with the verdict of the pure rules (`HealthcheckTracker`).
 *
 * Per task there is at most one timer or one check in flight: the next check is
 * scheduled only after the previous one ended, at the tracker's `nextCheckAt`.
 * Over all tasks at most `maxConcurrentChecks` checks are in flight; due checks
 * beyond that wait in a FIFO queue. Checking stops on a final verdict (HEALTHY
 * or UNHEALTHY), `stop(taskId)` or `stopAll()`; a stopped check reports
 * nothing.
 *
 * A check is one `fetch` of `healthcheckUrl` with the deploy's method,
 * redirects followed and default TLS verification, aborted after
 * `responseTimeoutSeconds` (an abort with a `TimeoutError`, as
 * `AbortSignal.timeout` gives, but timed by the timer port). A refused
 * connection is a "startup" result; a timeout or any other error is a failure
 * with an `errorMessage`; a response keeps its status and the first
 * `maxResponseBodyBytes` of its body.
 */
export class HttpHealthChecker {
  private readonly clock: Clock;
  private readonly timers: TimerPort;
  private readonly maxConcurrent: number;
  private readonly maxBodyBytes: number;
  private readonly fetch: FetchLike;
  private readonly logger?: Pick<Logger, 'warn' | 'debug'>;

  private readonly entries = new Map<string, Entry>();
  private readonly waiting: Entry[] = [];
  private readonly inFlight = new Set<Promise<void>>();

  constructor(options: HttpHealthCheckerOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.timers = options.timers ?? systemTimers;
    this.maxConcurrent = Math.max(1, options.maxConcurrentChecks ?? DEFAULT_MAX_CONCURRENT_HEALTHCHECKS);
    this.maxBodyBytes = Math.max(0, options.maxResponseBodyBytes ?? DEFAULT_HEALTHCHECK_SETTINGS.maxHealthcheckResponseBodyBytes);
    this.fetch = options.fetch ?? ((url, init) => fetch(url, init));
    this.logger = options.logger;
  }

  /**
   * Starts checking `task` at `target` and returns the verdict so far: PENDING
   * with the first check's time, or final when `results` already decide it
   * (then nothing is scheduled). Starting a task that is being checked replaces
   * its checks (an in-flight one is abandoned).
   */
  start(task: TaskRef, target: HealthcheckTarget, options: ResolvedHealthcheck, onResult: HealthcheckListener, extra: StartHealthcheckOptions = {}): HealthVerdict {
    this.stop(task.taskId.id);
    const entry: Entry = {
      task,
      url: healthcheckUrl(options, target),
      options,
      onResult,
      tracker: new HealthcheckTracker(options, extra.runningSince ?? this.clock.now(), extra.results),
      duringDeploy: extra.duringDeploy ?? (() => false),
    };
    const verdict = entry.tracker.verdict(this.clock.now(), entry.duringDeploy());
    if (verdict.status === 'PENDING') {
      this.entries.set(task.taskId.id, entry);
      this.schedule(entry, verdict.nextCheckAt);
    }
    return verdict;
  }

  /** Stops checking the task; returns whether it was being checked. */
  stop(taskId: string): boolean {
    const entry = this.entries.get(taskId);
    if (!entry) return false;
    this.entries.delete(taskId);
    this.release(entry);
    return true;
  }

  /** Stops every check and resolves once the in-flight ones have ended. */
  async stopAll(): Promise<void> {
    for (const entry of this.entries.values()) this.release(entry);
    this.entries.clear();
    await this.idle();
  }

  /** Whether the task has a check scheduled, queued or in flight. */
  isChecking(taskId: string): boolean {
    return this.entries.has(taskId);
  }

  /** Ids of the tasks being checked. */
  checkedTaskIds(): string[] {
    return [...this.entries.keys()];
  }

  /** Checks in flight right now. */
  get inFlightCount(): number {
    return this.inFlight.size;
  }

  /** Resolves when no check is in flight (results of those checks delivered). */
  async idle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  private release(entry: Entry): void {
    if (entry.timer !== undefined) this.timers.clearTimeout(entry.timer);
    entry.timer = undefined;
    entry.abort?.abort();
    const queued = this.waiting.indexOf(entry);
    if (queued >= 0) this.waiting.splice(queued, 1);
  }

  private current(entry: Entry): boolean {
    return this.entries.get(entry.task.taskId.id) === entry;
  }

  private schedule(entry: Entry, at: number): void {
    entry.timer = this.timers.setTimeout(
      () => {
        entry.timer = undefined;
        if (!this.current(entry)) return;
        if (this.inFlight.size < this.maxConcurrent) this.run(entry);
        else this.waiting.push(entry);
      },
      Math.max(0, at - this.clock.now()),
    );
  }

  private run(entry: Entry): void {
    const check = this.check(entry).finally(() => {
      this.inFlight.delete(check);
      this.runWaiting();
    });
    this.inFlight.add(check);
  }

  private runWaiting(): void {
    while (this.inFlight.size < this.maxConcurrent && this.waiting.length > 0) {
      const next = this.waiting.shift();
      if (next && this.current(next)) this.run(next);
    }
  }

  private async check(entry: Entry): Promise<void> {
    const controller = new AbortController();
    entry.abort = controller;
    const timeoutSeconds = entry.options.responseTimeoutSeconds;
    const timeout = this.timers.setTimeout(
      () => controller.abort(new DOMException(`no response within ${timeoutSeconds} s`, 'TimeoutError')),
      timeoutSeconds * 1000,
    );
    const timestamp = this.clock.now();
    let statusCode: number | undefined;
    let responseBody: string | undefined;
    let failure: { startup: boolean; message: string } | undefined;
    try {
      const response = await this.fetch(entry.url, { method: entry.options.method, signal: controller.signal, redirect: 'follow' });
      statusCode = response.status;
      responseBody = await readExcerpt(response, this.maxBodyBytes);
    } catch (error) {
      failure = classifyFailure(controller.signal.aborted ? controller.signal.reason : error);
    } finally {
      this.timers.clearTimeout(timeout);
      entry.abort = undefined;
    }
    // Stopped or replaced while in flight: nobody wants this result.
    if (!this.current(entry)) return;

    const result: SingularityTaskHealthcheckResult = {
      taskId: entry.task.taskId,
      timestamp,
      durationMillis: this.clock.now() - timestamp,
      startup: failure?.startup ?? false,
    };
    if (statusCode !== undefined) result.statusCode = statusCode;
    if (responseBody !== undefined) result.responseBody = responseBody;
    if (failure) result.errorMessage = `Healthcheck (${entry.url}) failed due to exception: ${failure.message}`;

    entry.tracker.record(result);
    const verdict = entry.tracker.verdict(this.clock.now(), entry.duringDeploy());
    if (verdict.status === 'PENDING') this.schedule(entry, verdict.nextCheckAt);
    else this.entries.delete(entry.task.taskId.id);

    try {
      entry.onResult(result, verdict);
    } catch (error) {
      this.logger?.warn({ err: error, taskId: entry.task.taskId.id }, 'health-check listener failed');
    }
  }
}

/** Up to `maxBytes` of the body as UTF-8 (a character cut at the limit is dropped); undefined when empty. */
async function readExcerpt(response: Response, maxBytes: number): Promise<string | undefined> {
  if (!response.body) return undefined;
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  let done = false;
  try {
    while (size < maxBytes) {
      const next = await reader.read();
      if (next.done) {
        done = true;
        break;
      }
      chunks.push(next.value);
      size += next.value.byteLength;
    }
  } finally {
    // Not read to the end: drop the rest so the connection is released.
    if (!done) await reader.cancel().catch(() => undefined);
  }
  const bytes = new Uint8Array(Math.min(size, maxBytes));
  let offset = 0;
  for (const chunk of chunks) {
    const part = chunk.subarray(0, bytes.length - offset);
    bytes.set(part, offset);
    offset += part.length;
  }
  const text = new TextDecoder('utf-8', { fatal: false }).decode(bytes, { stream: true });
  return text.length > 0 ? text : undefined;
}

// Errors are read by shape, not `instanceof`: fetch's errors may come from another realm (e.g. under jest).
interface ErrorLike {
  name?: unknown;
  message?: unknown;
  code?: unknown;
  cause?: unknown;
  errors?: unknown;
}

function asErrorLike(error: unknown): ErrorLike | undefined {
  return error !== null && typeof error === 'object' ? (error as ErrorLike) : undefined;
}

function isTimeout(reason: unknown): boolean {
  return asErrorLike(reason)?.name === 'TimeoutError';
}

function classifyFailure(error: unknown): { startup: boolean; message: string } {
  if (isTimeout(error)) return { startup: false, message: messageOf(error) };
  const refused = findCause(error, (e) => e.code === 'ECONNREFUSED');
  if (refused) return { startup: true, message: messageOf(refused) };
  // fetch reports "fetch failed" and puts the reason (DNS, TLS, reset, …) in `cause`.
  const cause = asErrorLike(error)?.cause;
  return { startup: false, message: messageOf(cause ?? error) };
}

/** The first error in `error`'s cause chain (and AggregateError members) matching `test`. */
function findCause(error: unknown, test: (error: ErrorLike) => boolean, depth = 0): ErrorLike | undefined {
  const e = asErrorLike(error);
  if (!e || depth > 8) return undefined;
  if (test(e)) return e;
  const nested = [e.cause, ...(Array.isArray(e.errors) ? e.errors : [])];
  for (const inner of nested) {
    const found = findCause(inner, test, depth + 1);
    if (found) return found;
  }
  return undefined;
}

function messageOf(error: unknown): string {
  const e = asErrorLike(error);
  if (!e) return String(error);
  for (const text of [e.message, e.code, e.name]) if (typeof text === 'string' && text.length > 0) return text;
  return String(error);
}
