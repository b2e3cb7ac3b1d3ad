import { spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { lstat, readlink, realpath } from 'node:fs/promises';
import { isAbsolute, posix, relative, resolve, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { Parser, Unpack, type ReadEntry } from 'tar';
import type { Logger } from '@singularity/node-util';
import { ArtifactArchiveError, UnsafeArchiveError } from '../executor-errors';
import { isWithin } from '../sandbox-paths';

/** How an artifact is unpacked, from its file name (spec slave §1.5): gzip'd tar, plain tar, or not an archive. */
export type ArchiveKind = 'tar.gz' | 'tar';

export function archiveKind(filename: string): ArchiveKind | undefined {
  const lower = filename.toLowerCase();
  if (lower.endsWith('.tar.gz') || lower.endsWith('.tgz')) return 'tar.gz';
  if (lower.endsWith('.tar')) return 'tar';
  return undefined;
}

export interface ExtractArchiveOptions {
  /** The archive file (a cache entry or temp file). */
  archive: string;
  kind: ArchiveKind;
  /** The task sandbox `T`: nothing may be written, or point, outside it. */
  sandboxDirectory: string;
  /** Where the archive goes: `T` or `T/<targetFolderRelativeToTask>`; exists, inside `T`. */
  targetDirectory: string;
  /** Names the artifact in failure messages. */
  label: string;
  /** `base.useCompressProgram`: extract with the `tar` program and this decompressor instead of the tar package. */
  useCompressProgram?: string;
  signal: AbortSignal;
  logger: Logger;
}

/** One archive member, as the header gives it. */
export interface ArchiveEntry {
  path: string;
  type: string;
  linkpath?: string;
}

/** Entry types that become ordinary files, directories or links. */
const ALLOWED_TYPES = new Set(['File', 'OldFile', 'ContiguousFile', 'Directory', 'GNUDumpDir', 'SymbolicLink', 'Link']);
/** Symlink hops followed when checking where a link points (Linux's own limit). */
const MAX_SYMLINK_HOPS = 40;

/**
 * Extracts a `.tar.gz`/`.tgz`/`.tar` artifact into its target (spec slave
 * §1.5), after checking every member first: an archive with a member that is
 * an absolute path, has a `..` component, is a device file or FIFO, would be
 * written through a symbolic link, or is a link (symbolic or hard) resolving
 * outside the sandbox `T` is refused as a whole, with a message naming the
 * artifact and the member, and nothing of it is extracted.
 *
 * Extraction uses the `tar` package (which refuses the same things again),
 * or with `useCompressProgram` the `tar` program:
 * `tar -o -x -f <archive> -C <target> --use-compress-program=<program>`.
 * A kill aborts either.
 */
export async function extractArchive(options: ExtractArchiveOptions): Promise<void> {
  const sandbox = resolve(options.sandboxDirectory);
  const target = resolve(options.targetDirectory);
  if (!isWithin(sandbox, target)) throw new UnsafeArchiveError(`${options.label}: target ${target} is outside the task sandbox`);
  const entries = await listArchive(options);
  options.signal.throwIfAborted();
  await checkArchiveEntries(entries, { sandboxDirectory: sandbox, targetDirectory: target, label: options.label });
  options.signal.throwIfAborted();
  if (options.useCompressProgram) await extractWithTarProgram({ ...options, targetDirectory: target });
  else await extractWithTarPackage({ ...options, sandboxDirectory: sandbox, targetDirectory: target });
  options.logger.info({ artifact: options.label, target, entries: entries.length, program: options.useCompressProgram ? 'tar' : undefined }, 'extracted archive');
}

function splitCommand(command: string): string[] {
  return command.trim().split(/\s+/);
}

/** The archive's bytes, decompressed by `useCompressProgram` when it is set (the tar package reads gzip itself). */
function archiveStream(options: ExtractArchiveOptions): { stream: Readable; done: Promise<void> } {
  if (!options.useCompressProgram || options.kind === 'tar') {
    const stream = createReadStream(options.archive);
    return { stream, done: Promise.resolve() };
  }
  const [program, ...args] = splitCommand(options.useCompressProgram);
  const child = spawn(program, [...args, '-d'], { stdio: ['pipe', 'pipe', 'pipe'], signal: options.signal });
  const input = createReadStream(options.archive);
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-2000)));
  const done = new Promise<void>((ok, fail) => {
    input.once('error', fail);
    child.once('error', fail);
    child.once('close', (code, signal) => {
      if (code === 0) ok();
      else fail(new ArtifactArchiveError(`${options.label}: ${program} -d failed (${code ?? signal}): ${stderr.trim()}`));
    });
  });
  done.catch(() => undefined); // observed by the caller
  // The decompressor may stop reading early (a bad archive): its exit code tells, not the broken pipe.
  child.stdin?.on('error', () => undefined);
  input.pipe(child.stdin as NodeJS.WritableStream);
  return { stream: child.stdout as Readable, done };
}

/** Runs a tar parser (or unpacker) over the archive; resolves when it is done, rejects on the first error. */
async function runParser(options: ExtractArchiveOptions, parser: Parser, doneEvent: 'end' | 'close', failure: string): Promise<void> {
  const { signal } = options;
  signal.throwIfAborted();
  const { stream, done } = archiveStream(options);
  const parsed = new Promise<void>((ok, fail) => {
    const onAbort = () => {
      stream.destroy();
      parser.abort(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
      fail(signal.reason);
    };
    parser.on('error', (err: Error) => {
      stream.destroy();
      fail(err);
    });
    stream.on('error', (err: Error) => fail(err));
    parser.on(doneEvent, () => {
      signal.removeEventListener('abort', onAbort);
      ok();
    });
    signal.addEventListener('abort', onAbort, { once: true });
    stream.pipe(parser as unknown as NodeJS.WritableStream);
  });
  try {
    await Promise.all([parsed, done]);
  } catch (err) {
    if (signal.aborted) throw signal.reason;
    if (err instanceof ArtifactArchiveError) throw err;
    // The machine's trouble (ENOSPC, EACCES, …) is not the artifact's: reported as is (TASK_LOST).
    if (/^E[A-Z]+$/.test(String((err as NodeJS.ErrnoException).code))) throw err;
    throw new ArtifactArchiveError(`${options.label}: ${failure}: ${(err as Error).message}`);
  }
}

/** Every member's path, type and link target, without extracting anything. */
export async function listArchive(options: ExtractArchiveOptions): Promise<ArchiveEntry[]> {
  const entries: ArchiveEntry[] = [];
  const parser = new Parser({
    strict: true,
    onReadEntry: (entry: ReadEntry) => {
      entries.push({ path: entry.path, type: entry.type, linkpath: entry.linkpath });
      entry.resume();
    },
  });
  await runParser(options, parser, 'end', 'not a readable tar archive');
  return entries;
}

interface CheckContext {
  /** `T`, resolved. */
  sandboxDirectory: string;
  /** The extraction directory, resolved, inside `T`. */
  targetDirectory: string;
  label: string;
}

/**
 * Refuses an archive with a member that could write or point outside `T`
 * (see {@link extractArchive}). Links are followed the way the kernel will:
 * component by component, through the archive's own links (all of them,
 * whatever their order) and the ones already on disk, so a link cannot reach
 * outside through another link either.
 */
export async function checkArchiveEntries(entries: readonly ArchiveEntry[], context: CheckContext): Promise<void> {
  const { sandboxDirectory: sandbox, label } = context;
  const realSandbox = await realpath(sandbox);
  const targetParts = splitParts(relative(sandbox, context.targetDirectory).split(sep).join('/'));
  const refuse = (entry: ArchiveEntry, reason: string) =>
    new UnsafeArchiveError(`${label}: refusing archive member ${JSON.stringify(entry.path)}: ${reason}`);

  /** Archive members by sandbox-relative path: their type, and every path that is a symlink at some point. */
  const types = new Map<string, string>();
  const symlinks = new Map<string, string>();
  const checked: Array<{ entry: ArchiveEntry; parts: string[] }> = [];
  for (const entry of entries) {
    const path = entry.path;
    if (path.includes('\0')) throw refuse(entry, 'its path holds a NUL byte');
    if (path.startsWith('/') || /^[A-Za-z]:/.test(path)) throw refuse(entry, 'absolute path');
    const memberParts = splitParts(path);
    if (memberParts.includes('..')) throw refuse(entry, "'..' in its path");
    if (entry.type === 'CharacterDevice' || entry.type === 'BlockDevice') throw refuse(entry, 'device file');
    if (entry.type === 'FIFO') throw refuse(entry, 'named pipe (FIFO)');
    if (!ALLOWED_TYPES.has(entry.type)) throw refuse(entry, `unsupported member type ${entry.type}`);
    if (memberParts.length === 0 && entry.type !== 'Directory' && entry.type !== 'GNUDumpDir') throw refuse(entry, 'it would replace the target directory');
    const parts = [...targetParts, ...memberParts];
    const key = parts.join('/');
    types.set(key, entry.type);
    if (entry.type === 'SymbolicLink') symlinks.set(key, entry.linkpath ?? '');
    checked.push({ entry, parts });
  }

  /** The link target at a sandbox-relative path: the archive's, else the disk's, else undefined (not a link). */
  const linkAt = async (key: string): Promise<string | undefined> => {
    if (symlinks.has(key)) return symlinks.get(key);
    if (types.has(key)) return undefined;
    try {
      const stats = await lstat(posix.join(sandbox, key));
      return stats.isSymbolicLink() ? await readlink(posix.join(sandbox, key)) : undefined;
    } catch {
      return undefined;
    }
  };
  const throughLink = async (parts: string[]): Promise<string | undefined> => {
    for (let i = targetParts.length + 1; i < parts.length; i++) {
      const prefix = parts.slice(0, i).join('/');
      if ((await linkAt(prefix)) !== undefined) return prefix;
    }
    return undefined;
  };
  /** Where `linkpath`, seen from the directory `from`, leads: sandbox-relative parts, or undefined when outside `T`. */
  const follow = async (from: string[], linkpath: string, hops: number): Promise<string[] | undefined> => {
    if (hops > MAX_SYMLINK_HOPS) return undefined;
    let parts: string[];
    let rest: string[];
    if (isAbsolute(linkpath)) {
      const absolute = posix.normalize(linkpath);
      const base = isWithin(realSandbox, absolute) ? realSandbox : isWithin(sandbox, absolute) ? sandbox : undefined;
      if (!base) return undefined;
      parts = [];
      rest = splitParts(relative(base, absolute).split(sep).join('/'));
    } else {
      parts = [...from];
      rest = linkpath.split('/');
    }
    for (const component of rest) {
      if (component === '' || component === '.') continue;
      if (component === '..') {
        if (parts.length === 0) return undefined;
        parts.pop();
        continue;
      }
      parts.push(component);
      const next = await linkAt(parts.join('/'));
      if (next !== undefined) {
        parts.pop();
        const resolved = await follow(parts, next, hops + 1);
        if (!resolved) return undefined;
        parts = resolved;
      }
    }
    return parts;
  };

  for (const { entry, parts } of checked) {
    const via = await throughLink(parts);
    if (via !== undefined) throw refuse(entry, `it would be written through the symbolic link ${posix.relative(targetParts.join('/'), via)}`);
    if (entry.type === 'SymbolicLink') {
      const linkpath = entry.linkpath ?? '';
      if (!linkpath) throw refuse(entry, 'symbolic link without a target');
      if (!(await follow(parts.slice(0, -1), linkpath, 0))) throw refuse(entry, `symbolic link to ${JSON.stringify(linkpath)} points outside the task sandbox`);
    }
    if (entry.type === 'Link') {
      const linkpath = entry.linkpath ?? '';
      if (!linkpath || linkpath.startsWith('/')) throw refuse(entry, `hard link to ${JSON.stringify(linkpath)} is not a path inside the archive`);
      const linkParts = splitParts(linkpath);
      if (linkParts.includes('..')) throw refuse(entry, `hard link to ${JSON.stringify(linkpath)} has '..' in its path`);
      const linkVia = await throughLink([...targetParts, ...linkParts]);
      if (linkVia !== undefined) throw refuse(entry, `hard link to ${JSON.stringify(linkpath)} goes through the symbolic link ${linkVia}`);
    }
  }
}

function splitParts(path: string): string[] {
  return path.split('/').filter((part) => part !== '' && part !== '.');
}

/**
 * The tar package, unpacking into `T` with each member's path (and hard link
 * target) prefixed by the target folder: its own checks (no `..`, no writing
 * through symlinks, links must stay inside the extraction root) then hold for
 * `T` itself, the same boundary as ours. Owners are not restored (`tar -o`).
 */
async function extractWithTarPackage(options: ExtractArchiveOptions): Promise<void> {
  const prefix = relative(options.sandboxDirectory, options.targetDirectory).split(sep).join('/');
  const unpack = new Unpack({
    cwd: options.sandboxDirectory,
    strict: true,
    preserveOwner: false,
    filter: (_path: string, entry: unknown) => {
      const member = entry as ReadEntry;
      if (prefix) {
        member.path = posix.join(prefix, member.path);
        if (member.type === 'Link' && member.linkpath) member.linkpath = posix.join(prefix, member.linkpath);
      }
      return true;
    },
  });
  await runParser(options, unpack, 'close', 'could not extract the archive');
}

/** `tar -o -x -f <archive> -C <target>` with `--use-compress-program` for compressed archives (spec slave §1.5). */
async function extractWithTarProgram(options: ExtractArchiveOptions): Promise<void> {
  const args = ['-o', '-x', '-f', options.archive, '-C', options.targetDirectory];
  if (options.kind === 'tar.gz') args.push(`--use-compress-program=${options.useCompressProgram}`);
  let stderr = '';
  const code = await new Promise<number | string>((ok, fail) => {
    const child = spawn('tar', args, { stdio: ['ignore', 'ignore', 'pipe'], signal: options.signal });
    child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-2000)));
    child.once('error', fail);
    child.once('close', (exitCode, signal) => ok(exitCode ?? signal ?? 'unknown'));
  }).catch((err: unknown) => {
    if (options.signal.aborted) throw options.signal.reason;
    throw err;
  });
  options.signal.throwIfAborted();
  if (code !== 0) throw new ArtifactArchiveError(`${options.label}: tar exited with ${code}: ${stderr.trim()}`);
}
