/** Asks the scheduler to kill a task (`DELETE /api/tasks/task/{taskId}`, the normal graceful kill). */
export interface SchedulerKillClient {
  /** Resolves once a scheduler accepted the request; rejects with the reason otherwise. */
  killTask(taskId: string, message: string): Promise<void>;
}

/**
 * Over HTTP to the scheduler URLs in order (leader and standbys, which
 * forward writes): the first that answers 2xx ends it. A non-2xx answer or
 * no answer moves on to the next; when none accepted, the last reason is
 * thrown.
 */
export class HttpSchedulerKillClient implements SchedulerKillClient {
  constructor(
    private readonly schedulerUrls: readonly string[],
    private readonly timeoutMillis: number,
  ) {
    if (schedulerUrls.length === 0) throw new Error('no scheduler URL given');
  }

  async killTask(taskId: string, message: string): Promise<void> {
    let lastError: Error | undefined;
    for (const base of this.schedulerUrls) {
      const url = `${base}/api/tasks/task/${encodeURIComponent(taskId)}`;
      try {
        const response = await fetch(url, {
          method: 'DELETE',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ message }),
          signal: AbortSignal.timeout(this.timeoutMillis),
        });
        const text = await response.text().catch(() => '');
        if (response.ok) return;
        lastError = new Error(`DELETE ${url} answered ${response.status}: ${text.slice(0, 300)}`);
      } catch (err) {
        const cause = (err as Error & { cause?: { code?: string } }).cause;
        lastError = new Error(`DELETE ${url} failed: ${cause?.code ?? (err as Error).message}`);
      }
    }
    throw lastError as Error;
  }
}
