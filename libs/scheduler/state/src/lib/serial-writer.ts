/**
 * The single writer of a store's commit queue: `schedule()` starts `drain` on
 * the next microtask (so commits issued together in one synchronous run share
 * the first batch) unless it already runs, and runs it again while `hasWork()`
 * says something is left. `idle()` resolves once no drain runs.
 * `drain` must never reject.
 */
export class SerialWriter {
  private running: Promise<void> | undefined;

  constructor(
    private readonly drain: () => Promise<void>,
    private readonly hasWork: () => boolean,
  ) {}

  get busy(): boolean {
    return this.running !== undefined;
  }

  schedule(): void {
    if (this.running) return;
    this.running = Promise.resolve()
      .then(() => this.drain())
      .finally(() => {
        this.running = undefined;
        if (this.hasWork()) this.schedule();
      });
  }

  async idle(): Promise<void> {
    while (this.running) await this.running;
  }
}
