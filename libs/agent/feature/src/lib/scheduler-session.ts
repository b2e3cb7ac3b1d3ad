import type { AgentRegistration, AgentTaskReport } from '@singularity/models';
import type { Logger } from '@singularity/node-util';
import { RetryBackoff, describeDelay } from './retry-backoff';
import type { SchedulerLink } from './scheduler-link';

export interface SchedulerSessionOptions {
  registerRetryMillis: number;
  maxRetryMillis: number;
  /** Used until the scheduler names its own interval in the registration answer. */
  defaultHeartbeatIntervalMillis?: number;
}

/**
 * The agent's membership in the cluster (spec scheduler §3.3): register,
 * retrying until the scheduler answers, then heartbeat with the task list at
 * the interval the scheduler asked for. A heartbeat answered `{known:false}`
 * (or 404) means the scheduler forgot this agent: register again, which also
 * hands it the task list for reconciliation (spec §3.2).
 */
export class SchedulerSession {
  private timer?: NodeJS.Timeout;
  private running = false;
  private inFlight?: Promise<void>;
  private registeredOnce = false;
  private heartbeatFailures = 0;
  private heartbeatIntervalMillis: number;
  private readonly backoff: RetryBackoff;
  private readonly registeredWaiters: Array<() => void> = [];
  /** Whether the last registration or heartbeat was accepted. */
  registered = false;

  constructor(
    private readonly link: SchedulerLink,
    private readonly registration: () => AgentRegistration,
    private readonly tasks: () => AgentTaskReport[],
    options: SchedulerSessionOptions,
    private readonly logger: Logger,
    /** Called after each successful (re-)registration, e.g. to retry waiting status updates at once. */
    private readonly onRegistered: () => void = () => undefined,
  ) {
    this.backoff = new RetryBackoff(options.registerRetryMillis, options.maxRetryMillis);
    this.heartbeatIntervalMillis = options.defaultHeartbeatIntervalMillis ?? 5000;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.schedule(() => this.register(), 0);
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.inFlight;
  }

  /** Resolves once the scheduler accepted a registration. */
  whenRegistered(): Promise<void> {
    if (this.registered) return Promise.resolve();
    return new Promise((resolve) => this.registeredWaiters.push(resolve));
  }

  private schedule(step: () => Promise<void>, delay: number): void {
    if (!this.running) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.inFlight = step().finally(() => {
        this.inFlight = undefined;
      });
    }, delay);
  }

  private async register(): Promise<void> {
    const registration = this.registration();
    try {
      const response = await this.link.register(registration);
      if (!this.running) return;
      this.heartbeatIntervalMillis = response.heartbeatIntervalMillis > 0 ? response.heartbeatIntervalMillis : this.heartbeatIntervalMillis;
      this.logger.info(
        { agentId: registration.agentId, tasks: registration.tasks.length, heartbeatIntervalMillis: this.heartbeatIntervalMillis, attempts: this.backoff.failures + 1 },
        `${this.registeredOnce ? 'registered again' : 'registered'} with the scheduler at ${this.link.baseUrl} as agent ${registration.agentId}`,
      );
      this.backoff.reset();
      this.registered = true;
      this.registeredOnce = true;
      this.heartbeatFailures = 0;
      for (const resolve of this.registeredWaiters.splice(0)) resolve();
      this.onRegistered();
      this.schedule(() => this.heartbeat(), this.heartbeatIntervalMillis);
    } catch (err) {
      if (!this.running) return;
      this.registered = false;
      const delay = this.backoff.next();
      this.logger.warn(
        { err: (err as Error).message, attempt: this.backoff.failures },
        `registering with the scheduler at ${this.link.baseUrl} failed (attempt ${this.backoff.failures}); retrying in ${describeDelay(delay)}`,
      );
      this.schedule(() => this.register(), delay);
    }
  }

  private async heartbeat(): Promise<void> {
    const agentId = this.registration().agentId;
    try {
      const response = await this.link.heartbeat(agentId, { tasks: this.tasks() });
      if (!this.running) return;
      if (!response.known) {
        this.logger.warn({ agentId }, 'the scheduler does not know this agent any more; registering again');
        this.registered = false;
        this.schedule(() => this.register(), 0);
        return;
      }
      if (this.heartbeatFailures > 0) this.logger.info({ failures: this.heartbeatFailures }, `heartbeats reach the scheduler at ${this.link.baseUrl} again`);
      this.heartbeatFailures = 0;
      this.registered = true;
    } catch (err) {
      if (!this.running) return;
      this.heartbeatFailures++;
      // The first failure of a streak is a warning; the rest would only repeat it every interval.
      const level = this.heartbeatFailures === 1 || this.heartbeatFailures % 60 === 0 ? 'warn' : 'debug';
      this.logger[level]({ err: (err as Error).message, failures: this.heartbeatFailures }, `heartbeat to the scheduler at ${this.link.baseUrl} failed; still trying every ${describeDelay(this.heartbeatIntervalMillis)}`);
    }
    this.schedule(() => this.heartbeat(), this.heartbeatIntervalMillis);
  }
}
