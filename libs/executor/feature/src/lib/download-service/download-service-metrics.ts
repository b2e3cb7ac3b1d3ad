/**
 * The download service's metrics under the spec's names (slave §3), served on
 * `GET /metrics` and written as JSON to `s3.metricsFilePath`.
 */
export interface DownloadServiceMetricsSnapshot {
  /** Requests answered 200 so far: how many, and how long they took from arrival to answer. */
  'downloads.timer': { count: number; meanMillis: number; maxMillis: number };
  /** Artifact fetches under way now (cache check plus S3 download); requests sharing one count once. */
  'downloads.active': number;
  /** Every HTTP request received, on any path. */
  'server.requests': number;
  /** Requests answered 4xx (wrong path, method or body). */
  'server.clientErrors': number;
  /** Requests answered 5xx (the download or placement failed, or timed out). */
  'server.serverErrors': number;
}

export class DownloadServiceMetrics {
  active = 0;
  private requests = 0;
  private clientErrors = 0;
  private serverErrors = 0;
  private delivered = 0;
  private totalMillis = 0;
  private maxMillis = 0;

  requestReceived(): void {
    this.requests++;
  }

  answered(status: number): void {
    if (status >= 500) this.serverErrors++;
    else if (status >= 400) this.clientErrors++;
  }

  downloadDelivered(millis: number): void {
    this.delivered++;
    this.totalMillis += millis;
    this.maxMillis = Math.max(this.maxMillis, millis);
  }

  snapshot(): DownloadServiceMetricsSnapshot {
    return {
      'downloads.timer': {
        count: this.delivered,
        meanMillis: this.delivered ? Math.round(this.totalMillis / this.delivered) : 0,
        maxMillis: this.maxMillis,
      },
      'downloads.active': this.active,
      'server.requests': this.requests,
      'server.clientErrors': this.clientErrors,
      'server.serverErrors': this.serverErrors,
    };
  }
}
