import { createReadStream, type ReadStream } from 'node:fs';
import { open, readdir, realpath, stat } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { safeTaskId } from '@singularity/models';
import { InvalidRequestError, NotFoundError } from '@singularity/util';

/** `SingularitySandbox` (spec §1 read models). */
export interface SandboxListing {
  files: Array<{ name: string; mtime: number; size: number; mode: string }>;
  fullPathToRoot: string;
  currentDirectory: string;
  slaveHostname: string;
  agentHostname: string;
}

/** `MesosFileChunkObject`: a piece of a file. */
export interface SandboxChunk {
  data: string;
  offset: number;
  nextOffset: number;
}

const MAX_READ = 1024 * 1024;

/** `drwxr-xr-x`-style mode text. */
function modeText(mode: number, isDir: boolean): string {
  const bits = 'rwxrwxrwx';
  let out = isDir ? 'd' : '-';
  for (let i = 0; i < 9; i++) out += mode & (1 << (8 - i)) ? bits[i] : '-';
  return out;
}

/**
 * Serves task sandboxes (spec slave §1.3 layout, scheduler §4 sandbox rows):
 * browse, read a chunk, download. Every path a user gives is resolved against
 * the task's sandbox and, after following symlinks, must stay inside it.
 */
export class SandboxFiles {
  constructor(
    private readonly sandboxRoot: string,
    private readonly hostname: string,
  ) {}

  /** The task's sandbox directory, or a 400 when it does not exist (yet). */
  private async sandboxOf(taskId: string): Promise<string> {
    return this.sandboxDir(safeTaskId(taskId), taskId);
  }

  private async sandboxDir(dirName: string, taskId = dirName): Promise<string> {
    if (!dirName || dirName.includes('/') || dirName === '..' || dirName === '.') throw new InvalidRequestError(`taskId: '${taskId}' is not a task`, 'taskId');
    const dir = join(this.sandboxRoot, dirName);
    try {
      return await realpath(dir);
    } catch {
      throw new InvalidRequestError(`task ${taskId} has no sandbox directory on ${this.hostname} (yet)`, 'taskId');
    }
  }

  /** Resolves a user path inside `root`; refuses anything that leaves it. */
  private async confined(root: string, path: string | undefined): Promise<string> {
    const wanted = path ?? '';
    if (wanted.includes('\0')) throw new InvalidRequestError('path: must not contain NUL', 'path');
    const candidate = resolve(root, isAbsolute(wanted) ? `.${wanted}` : wanted);
    let real: string;
    try {
      real = await realpath(candidate);
    } catch {
      throw new NotFoundError(`${wanted || '.'} does not exist in the sandbox`);
    }
    const rel = relative(root, real);
    if (rel.startsWith('..') || isAbsolute(rel) || (rel !== '' && rel.split(sep)[0] === '..')) {
      throw new InvalidRequestError(`path: ${wanted} is outside the task's sandbox`, 'path');
    }
    return real;
  }

  async browse(taskId: string, path?: string): Promise<SandboxListing> {
    const root = await this.sandboxOf(taskId);
    const dir = await this.confined(root, path);
    const info = await stat(dir);
    if (!info.isDirectory()) throw new InvalidRequestError(`path: ${path} is not a directory`, 'path');
    const files: SandboxListing['files'] = [];
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      try {
        const s = await stat(join(dir, entry.name));
        files.push({ name: entry.name, mtime: Math.floor(s.mtimeMs / 1000), size: s.size, mode: modeText(s.mode, s.isDirectory()) });
      } catch {
        // A file that vanished between readdir and stat is simply not listed.
      }
    }
    files.sort((a, b) => a.name.localeCompare(b.name));
    return { files, fullPathToRoot: root, currentDirectory: relative(root, dir), slaveHostname: this.hostname, agentHostname: this.hostname };
  }

  async read(taskId: string, path: string | undefined, offset = 0, length = 64 * 1024): Promise<SandboxChunk> {
    if (!path) throw new InvalidRequestError('path: required', 'path');
    if (!Number.isInteger(offset) || offset < 0) throw new InvalidRequestError(`offset: must be a non-negative integer (got ${offset})`, 'offset');
    if (!Number.isInteger(length) || length < 0) throw new InvalidRequestError(`length: must be a non-negative integer (got ${length})`, 'length');
    const root = await this.sandboxOf(taskId);
    const file = await this.confined(root, path);
    const handle = await open(file, 'r');
    try {
      const info = await handle.stat();
      if (!info.isFile()) throw new InvalidRequestError(`path: ${path} is not a file`, 'path');
      const size = Math.min(length, MAX_READ, Math.max(0, info.size - offset));
      const buffer = Buffer.alloc(size);
      const { bytesRead } = size > 0 ? await handle.read(buffer, 0, size, offset) : { bytesRead: 0 };
      return { data: buffer.subarray(0, bytesRead).toString('utf8'), offset, nextOffset: offset + bytesRead };
    } finally {
      await handle.close();
    }
  }

  /** Splits a full path under the sandbox root into the task's directory and the rest. */
  splitFullPath(path: string | undefined): { taskDir: string; rest: string } {
    if (!path) throw new InvalidRequestError('path: required', 'path');
    const rel = relative(resolve(this.sandboxRoot), resolve('/', path));
    if (!rel || rel.startsWith('..') || isAbsolute(rel)) throw new InvalidRequestError(`path: ${path} is not inside a task sandbox`, 'path');
    const [taskDir, ...rest] = rel.split(sep);
    return { taskDir, rest: rest.join(sep) };
  }

  /** A file of a sandbox to stream; `path` is relative to the task's sandbox. */
  async download(taskId: string, path: string | undefined): Promise<{ stream: ReadStream; name: string; size: number }> {
    return this.downloadFromDir(safeTaskId(taskId), path, taskId);
  }

  async downloadFromDir(dirName: string, path: string | undefined, taskId = dirName): Promise<{ stream: ReadStream; name: string; size: number }> {
    if (!path) throw new InvalidRequestError('path: required', 'path');
    const root = await this.sandboxDir(dirName, taskId);
    const file = await this.confined(root, path);
    const info = await stat(file);
    if (!info.isFile()) throw new InvalidRequestError(`path: ${path} is not a file`, 'path');
    return { stream: createReadStream(file), name: file.split(sep).pop() ?? 'file', size: info.size };
  }
}
