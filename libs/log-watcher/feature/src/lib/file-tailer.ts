import { open } from 'node:fs/promises';
import type { Logger } from '@singularity/node-util';
import type { LogRecord, LogSink } from './fluentd-forward';
import type { OffsetStore } from './offset-store';

/** What a `*.tail.json` says about one file (spec slave §5), after de-duplication. */
export interface TailTarget {
  filename: string;
  tag: string;
  extraFields: Record<string, string>;
  finished: boolean;
}

export interface TailerSettings {
  fluentdTagPrefix: string;
  byteBufferCapacity: number;
  retryDelaySeconds: number;
}

export interface TailerCounters {
  linesSent: number;
  sendFailures: number;
}

/** What a pump ended with: `open` (more may come) or `done` (finished and drained: forget the file). */
export type PumpResult = 'open' | 'done';

/**
 * Tails one file into the sink (spec slave §5). Reads `byteBufferCapacity`
 * bytes at the saved offset, sends every whole line of them as one batch and
 * saves the offset after the last newline sent, so a restart resumes there
 * without duplicates or gaps. A saved offset past the end of the file means
 * it was truncated (logrotate's copytruncate): reading starts again at 0. A
 * buffer without any newline is sent as one record (a line longer than the
 * buffer is split rather than stalling the file). When the sink takes nothing
 * the file waits `retryDelaySeconds` and starts again from the saved offset.
 * Once the target is `finished`, the file is read to its end, the partial
 * last line is sent too, and `pump` answers `done`.
 */
export class FileTailer {
  private offset?: number;
  private retryAt = 0;

  constructor(
    public target: TailTarget,
    private readonly deps: { sink: LogSink; store: OffsetStore; settings: TailerSettings; logger: Logger; counters: TailerCounters; now?: () => number },
  ) {}

  private now(): number {
    return (this.deps.now ?? Date.now)();
  }

  async pump(): Promise<PumpResult> {
    if (this.now() < this.retryAt) return 'open';
    const { store, settings, logger } = this.deps;
    const { filename } = this.target;
    this.offset ??= await store.load(filename);

    let handle;
    try {
      handle = await open(filename, 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      // Not there (yet, or any more): a finished task has nothing left to send.
      return this.target.finished ? 'done' : 'open';
    }
    try {
      const size = (await handle.stat()).size;
      if (this.offset > size) {
        logger.info({ filename, offset: this.offset, size }, 'file is shorter than the saved offset (truncated, e.g. copytruncate): reading it again from the start');
        this.offset = 0;
        await store.save(filename, 0);
      }
      const buffer = Buffer.alloc(settings.byteBufferCapacity);
      for (;;) {
        const { bytesRead } = await handle.read(buffer, 0, buffer.length, this.offset);
        if (bytesRead === 0) return this.target.finished ? 'done' : 'open';
        const bytes = buffer.subarray(0, bytesRead);
        const lastNewline = bytes.lastIndexOf(0x0a);
        let consumed: number;
        if (lastNewline >= 0) consumed = lastNewline + 1;
        else if (bytesRead === buffer.length) consumed = bytesRead;
        else if (this.target.finished) consumed = bytesRead; // the partial last line of a finished file
        else return 'open'; // a line still being written: wait for its newline
        const lines = splitLines(bytes.subarray(0, consumed));
        if (!(await this.send(lines))) return 'open';
        this.offset += consumed;
        await store.save(filename, this.offset);
      }
    } finally {
      await handle.close();
    }
  }

  private async send(lines: string[]): Promise<boolean> {
    const { sink, settings, logger, counters } = this.deps;
    const records = lines.map((message): LogRecord => ({ ...this.target.extraFields, message }));
    try {
      await sink.send(`${settings.fluentdTagPrefix}.${this.target.tag}`, records);
      counters.linesSent += lines.length;
      return true;
    } catch (err) {
      counters.sendFailures++;
      this.retryAt = this.now() + settings.retryDelaySeconds * 1000;
      logger.warn({ err, filename: this.target.filename, offset: this.offset }, `could not send lines; trying again from the saved offset in ${settings.retryDelaySeconds} s`);
      return false;
    }
  }
}

/** `a\nb\r\n` → ['a', 'b']; a last piece without a newline is a line too. */
export function splitLines(bytes: Buffer): string[] {
  const text = bytes.toString('utf8');
  const parts = text.split('\n');
  if (parts[parts.length - 1] === '') parts.pop();
  return parts.map((line) => (line.endsWith('\r') ? line.slice(0, -1) : line));
}
