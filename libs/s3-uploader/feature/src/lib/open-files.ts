import { execFile } from 'node:child_process';

/**
 * Whether another process holds a file open (spec slave §2 "Cycle": a log
 * still being written is not shipped). `undefined` means the check could not
 * be made; the caller keeps such a file for the next cycle rather than ship
 * something half-written.
 */
export interface OpenFileChecker {
  isOpenElsewhere(absolutePath: string): Promise<boolean | undefined>;
}

export interface ProgramOpenFileCheckerOptions {
  /** `lsof` (default) or `fuser`. */
  tool: 'lsof' | 'fuser';
  /** The program to run, found through PATH when it has no slash. */
  command: string;
  /** The run is abandoned after this long (counts as "cannot tell"). */
  timeoutMillis?: number;
}

/**
 * Asks lsof (`lsof -t -- PATH`) or fuser (`fuser PATH`) with the path as a
 * separate argument, never through a shell. Both print the pids holding the
 * file on stdout; this process's own pid does not count. fuser's complaints
 * about processes it may not inspect (stderr) are ignored.
 */
export class ProgramOpenFileChecker implements OpenFileChecker {
  constructor(private readonly options: ProgramOpenFileCheckerOptions) {}

  isOpenElsewhere(absolutePath: string): Promise<boolean | undefined> {
    if (!absolutePath.startsWith('/')) return Promise.reject(new Error(`open-file check needs an absolute path, got ${JSON.stringify(absolutePath)}`));
    // An absolute path cannot be taken for an option, which matters for fuser (it has no `--`).
    const args = this.options.tool === 'lsof' ? ['-t', '--', absolutePath] : [absolutePath];
    return new Promise((resolve) => {
      execFile(this.options.command, args, { timeout: this.options.timeoutMillis ?? 30000, maxBuffer: 1024 * 1024 }, (err, stdout) => {
        const pids = String(stdout)
          .split(/[^0-9]+/)
          .filter((pid) => pid !== '' && Number(pid) !== process.pid);
        if (pids.length > 0) return resolve(true);
        if (!err) return resolve(false);
        // Both exit 1 when nobody holds the file; anything else (missing program, killed by the timeout) is unknown.
        const code: unknown = (err as { code?: unknown }).code;
        resolve(code === 1 ? false : undefined);
      });
    });
  }
}
