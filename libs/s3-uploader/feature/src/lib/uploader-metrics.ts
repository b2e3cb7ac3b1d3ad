/**
 * The uploader's metrics under the spec's names (slave §2 "Metrics"), written
 * as JSON to `metricsFilePath` and served on `GET /metrics`.
 */
export interface S3UploaderMetricsSnapshot {
  'uploaders.total': number;
  'uploaders.immediate': number;
  /** Uploaders that are finished and retire once nothing is left to send. */
  'uploaders.expiring': number;
  /** Files sent since the current cycle began (reset per cycle). */
  'uploads.success': number;
  /** Failed file uploads since the current cycle began (reset per cycle). */
  'uploads.errors': number;
  /** Every successful file upload so far: how many, and how long they took. */
  'uploads.timer': { count: number; meanMillis: number; maxMillis: number };
  /** Since the last successful upload; -1 before the first. */
  'uploads.millissincelast': number;
  /** Duration of the last successful upload; -1 before the first. */
  'uploads.lastdurationmillis': number;
  /** Changes seen in the metadata directory. */
  'filesystem.events': number;
}

export class UploaderMetrics {
  success = 0;
  errors = 0;
  filesystemEvents = 0;
  private uploadCount = 0;
  private totalMillis = 0;
  private maxMillis = 0;
  private lastUploadAt: number | undefined;
  private lastDurationMillis = -1;

  constructor(private readonly now: () => number) {}

  cycleStarted(): void {
    this.success = 0;
    this.errors = 0;
  }

  uploaded(durationMillis: number): void {
    this.success++;
    this.uploadCount++;
    this.totalMillis += durationMillis;
    this.maxMillis = Math.max(this.maxMillis, durationMillis);
    this.lastDurationMillis = durationMillis;
    this.lastUploadAt = this.now();
  }

  failed(): void {
    this.errors++;
  }

  snapshot(uploaders: { total: number; immediate: number; expiring: number }): S3UploaderMetricsSnapshot {
    return {
      'uploaders.total': uploaders.total,
      'uploaders.immediate': uploaders.immediate,
      'uploaders.expiring': uploaders.expiring,
      'uploads.success': this.success,
      'uploads.errors': this.errors,
      'uploads.timer': {
        count: this.uploadCount,
        meanMillis: this.uploadCount ? Math.round(this.totalMillis / this.uploadCount) : 0,
        maxMillis: this.maxMillis,
      },
      'uploads.millissincelast': this.lastUploadAt === undefined ? -1 : this.now() - this.lastUploadAt,
      'uploads.lastdurationmillis': this.lastDurationMillis,
      'filesystem.events': this.filesystemEvents,
    };
  }
}
