import { open, readFile, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { isTerminalTaskState, type TaskStatusRecord } from '@singularity/models';
import type { Logger } from '@singularity/node-util';
import { systemClock, type Clock } from '@singularity/util';
import { cutMessage, MAX_TASK_MESSAGE_LENGTH, type StatusUpdate } from './task-status-messages';

/**
 * Appends the executor's status updates to the task's status file, the
 * channel to the agent (see agent-protocol.ts): one `TaskStatusRecord` JSON
 * line each, seq = previous + 1, appended and fsync'd before `send` resolves.
 * The agent writes seq 1 (TASK_STAGING) before it starts the executor; from
 * then on the executor is the only writer.
 *
 * At most one terminal update is written; later updates are dropped (and
 * logged), so a race between an exit and a kill cannot report twice.
 */
export class StatusWriter {
  private queue: Promise<unknown> = Promise.resolve();
  private terminal?: TaskStatusRecord;

  private constructor(
    private readonly file: FileHandle,
    readonly path: string,
    readonly taskId: string,
    private lastSeq: number,
    /** A line left without its newline must be closed before ours. */
    private needsNewline: boolean,
    private readonly clock: Clock,
    private readonly logger?: Logger,
    private readonly maxMessageLength = MAX_TASK_MESSAGE_LENGTH,
  ) {}

  /** Opens `path` for appending after reading the last seq in it (0 when the file is missing or empty). */
  static async open(
    path: string,
    taskId: string,
    options: { clock?: Clock; logger?: Logger; maxMessageLength?: number } = {},
  ): Promise<StatusWriter> {
    let text = '';
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      options.logger?.warn({ statusFile: path }, 'status file does not exist yet (the agent writes seq 1); creating it');
    }
    const { lastSeq, terminal } = scanStatusLines(text);
    const file = await open(path, 'a');
    if (text === '') await syncDirectory(dirname(path));
    const writer = new StatusWriter(file, path, taskId, lastSeq, text.length > 0 && !text.endsWith('\n'), options.clock ?? systemClock, options.logger, options.maxMessageLength);
    writer.terminal = terminal;
    return writer;
  }

  get lastSequence(): number {
    return this.lastSeq;
  }

  /** The terminal record, once one was written (or found in the file). */
  get terminalRecord(): TaskStatusRecord | undefined {
    return this.terminal;
  }

  /** Appends and fsyncs one update; resolves with the record, or undefined when it was dropped after a terminal one. */
  send(update: StatusUpdate): Promise<TaskStatusRecord | undefined> {
    const next = this.queue.then(() => this.write(update));
    this.queue = next.catch(() => undefined);
    return next;
  }

  async close(): Promise<void> {
    await this.queue;
    await this.file.close();
  }

  private async write(update: StatusUpdate): Promise<TaskStatusRecord | undefined> {
    if (this.terminal) {
      this.logger?.warn({ update, terminal: this.terminal }, 'status update after the terminal one dropped');
      return undefined;
    }
    const record: TaskStatusRecord = {
      seq: this.lastSeq + 1,
      taskId: this.taskId,
      state: update.state,
      timestamp: this.clock.now(),
    };
    if (update.message !== undefined) {
      record.message = cutMessage(update.message, this.maxMessageLength);
      if (record.message !== update.message) this.logger?.info({ seq: record.seq, fullMessage: update.message }, 'status message cut');
    }
    if (update.reason !== undefined) record.reason = update.reason;
    if (update.exitCode !== undefined) record.exitCode = update.exitCode;
    if (update.forced !== undefined) record.forced = update.forced;
    const line = `${this.needsNewline ? '\n' : ''}${JSON.stringify(record)}\n`;
    await this.file.appendFile(line, 'utf8');
    await this.file.sync();
    this.needsNewline = false;
    this.lastSeq = record.seq;
    if (isTerminalTaskState(record.state)) this.terminal = record;
    this.logger?.info({ status: record, fullMessage: update.message }, 'status update sent');
    return record;
  }
}

function scanStatusLines(text: string): { lastSeq: number; terminal?: TaskStatusRecord } {
  let lastSeq = 0;
  let terminal: TaskStatusRecord | undefined;
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      const record = JSON.parse(line) as TaskStatusRecord;
      if (Number.isInteger(record.seq) && record.seq > lastSeq) lastSeq = record.seq;
      if (typeof record.state === 'string' && isTerminalTaskState(record.state)) terminal = record;
    } catch {
      // A torn line (its writer died mid-write) carries no seq.
    }
  }
  return { lastSeq, terminal };
}

/** Makes a newly created file's directory entry durable too. */
async function syncDirectory(directory: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(directory, 'r');
    await handle.sync();
  } catch {
    // Not every file system lets a directory be fsync'd; the file's own fsync still holds.
  } finally {
    await handle?.close();
  }
}
