import type { Logger } from '@singularity/node-util';
import { decideOom, type OomThresholds } from './oom-decision';
import type { SchedulerKillClient } from './scheduler-kill-client';
import type { TaskMemorySource } from './task-memory';

/** The spec's meters (slave §6), counted since start; `GET /metrics` shows them. */
export interface OomKillerMeters {
  /** Task readings over `requestKillThresholdRatio`, one per task per check. */
  eligibleForKill: number;
  /** Processes SIGKILLed here (one per pid). */
  hardKills: number;
  /** Kill requests the scheduler accepted. */
  softKills: number;
  /** Checks that found a task over the request threshold that the scheduler was already asked to kill. */
  singularityAlreadyKilling: number;
  /** Kill requests no scheduler accepted (tried again on the next check). */
  singularityFailures: number;
  /** Task cgroups without a limit or a memory reading: no ratio, nothing done. */
  unknownExecutors: number;
  /** Completed checks, and checks that could not read the task cgroups (ours). */
  checks: number;
  checkErrors: number;
}

export interface OomKillerOptions extends OomThresholds {
  checkForOOMEveryMillis: number;
  /** This node's name, in the kill message. */
  slaveHostname: string;
}

export interface OomKillerDeps {
  source: TaskMemorySource;
  scheduler: SchedulerKillClient;
  logger: Logger;
  now?: () => number;
}

/**
 * Every `checkForOOMEveryMillis`, reads each task's resident memory against
 * its limit and acts on the ratio (spec slave §6): over
 * `killProcessDirectlyThresholdRatio` every process in the task cgroup is
 * SIGKILLed; over `requestKillThresholdRatio` the scheduler is asked once to
 * kill the task gracefully. A task is asked about once: it stays remembered
 * while its cgroup is there, and later checks count `singularityAlreadyKilling`.
 * A request that failed is not remembered, so the next check asks again.
 * Checks never overlap.
 */
export class OomKiller {
  readonly meters: OomKillerMeters = {
    eligibleForKill: 0,
    hardKills: 0,
    softKills: 0,
    singularityAlreadyKilling: 0,
    singularityFailures: 0,
    unknownExecutors: 0,
    checks: 0,
    checkErrors: 0,
  };
  /** Tasks the scheduler accepted a kill request for. */
  private readonly askedToKill = new Set<string>();
  /** Tasks whose last request failed, so the failure is logged once per streak. */
  private readonly failing = new Set<string>();
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private stopped = true;
  private lastCheckError?: string;
  lastCheckAt?: number;

  constructor(
    private readonly options: OomKillerOptions,
    private readonly deps: OomKillerDeps,
  ) {}

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.schedule(0);
  }

  /** Stops the checks; resolves once a check under way has finished. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  private schedule(delay: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.checkOnce().finally(() => {
        this.running = undefined;
        this.schedule(this.options.checkForOOMEveryMillis);
      });
    }, delay);
  }

  /** One pass over the tasks on this node; never rejects (a failed reading is logged and counted). */
  async checkOnce(): Promise<void> {
    let readings;
    try {
      readings = await this.deps.source.read();
    } catch (err) {
      this.meters.checkErrors++;
      const message = (err as Error).message;
      // Every 100 ms the same failure would flood the log: say it when it changes.
      if (message !== this.lastCheckError) this.deps.logger.error({ err }, 'cannot read the task cgroups');
      this.lastCheckError = message;
      return;
    }
    if (this.lastCheckError !== undefined) this.deps.logger.info('reading the task cgroups works again');
    this.lastCheckError = undefined;

    const present = new Set(readings.map((r) => r.taskId));
    for (const taskId of [...this.askedToKill]) if (!present.has(taskId)) this.askedToKill.delete(taskId);
    for (const taskId of [...this.failing]) if (!present.has(taskId)) this.failing.delete(taskId);

    for (const reading of readings) {
      const { verdict, ratio } = decideOom(reading, this.options);
      const figures = { taskId: reading.taskId, ratio, residentBytes: reading.residentBytes, limitBytes: reading.limitBytes };
      switch (verdict) {
        case 'unknown':
          this.meters.unknownExecutors++;
          break;
        case 'ok':
          break;
        case 'killDirectly': {
          this.meters.eligibleForKill++;
          const pids = await reading.killAll().catch((err: unknown) => {
            this.deps.logger.error({ err, ...figures }, 'could not SIGKILL the processes of the task cgroup');
            return [] as number[];
          });
          this.meters.hardKills += pids.length;
          if (pids.length > 0) this.deps.logger.warn({ ...figures, pids }, `task ${reading.taskId} at ${ratio?.toFixed(2)}x its memory limit: SIGKILLed ${pids.length} process(es)`);
          break;
        }
        case 'requestKill':
          this.meters.eligibleForKill++;
          await this.requestKill(reading.taskId, ratio as number, figures);
          break;
      }
    }
    this.meters.checks++;
    this.lastCheckAt = (this.deps.now ?? Date.now)();
  }

  private async requestKill(taskId: string, ratio: number, figures: Record<string, unknown>): Promise<void> {
    if (this.askedToKill.has(taskId)) {
      this.meters.singularityAlreadyKilling++;
      return;
    }
    const message = `OOM killer on ${this.options.slaveHostname}: resident memory at ${ratio.toFixed(2)}x the memory limit (over ${this.options.requestKillThresholdRatio})`;
    try {
      await this.deps.scheduler.killTask(taskId, message);
      this.askedToKill.add(taskId);
      this.failing.delete(taskId);
      this.meters.softKills++;
      this.deps.logger.warn(figures, `task ${taskId} at ${ratio.toFixed(2)}x its memory limit: asked the scheduler to kill it`);
    } catch (err) {
      this.meters.singularityFailures++;
      if (!this.failing.has(taskId)) this.deps.logger.error({ err, ...figures }, `could not ask the scheduler to kill task ${taskId}; trying again on the next check`);
      this.failing.add(taskId);
    }
  }
}
