import { extname } from 'node:path';

/** What the uploader knows about one file when it names its object (spec slave §2 "Keys"). */
export interface KeyFile {
  /** The name of the file uploaded (after compression, if any). */
  filename: string;
  /** Modification time, ms since the epoch. */
  mtimeMs: number;
  /** 0-based position of the file in this cycle's batch. */
  index: number;
}

export interface KeyContext {
  /** This machine's host name (`%host`). */
  host: string;
  /** A fresh unique id per call (`%guid`). */
  guid: () => string;
}

const PLACEHOLDERS = /%(filename|fileext|guid|host|index|Y|m|d|H|s)/g;

const twoDigits = (n: number) => String(n).padStart(2, '0');

/**
 * Expands the uploader's placeholders of a key format in one pass, so text
 * that a value brings along (a file named `a%Y`) is never expanded again.
 * The executor has already expanded the task's (`%requestId`, `%taskId`, …).
 * Dates are the file's mtime in local time, as the original did.
 * `%fileext` is the name from its last dot on (dot included) and stays as
 * written when the name has no dot.
 */
export function expandS3Key(format: string, file: KeyFile, context: KeyContext): string {
  const mtime = new Date(file.mtimeMs);
  const dot = file.filename.lastIndexOf('.');
  return format.replace(PLACEHOLDERS, (match, name: string) => {
    switch (name) {
      case 'filename':
        return file.filename;
      case 'fileext':
        return dot >= 0 ? file.filename.slice(dot) : match;
      case 'guid':
        return context.guid();
      case 'host':
        return context.host;
      case 'index':
        return String(file.index);
      case 'Y':
        return String(mtime.getFullYear());
      case 'm':
        return twoDigits(mtime.getMonth() + 1);
      case 'd':
        return twoDigits(mtime.getDate());
      case 'H':
        return twoDigits(mtime.getHours());
      default: // 's'
        return String(Math.trunc(file.mtimeMs));
    }
  });
}

/** Whether `filename` already is gzip output by its name (compressBeforeUpload leaves those alone). */
export function isGzipName(filename: string): boolean {
  return extname(filename) === '.gz';
}
