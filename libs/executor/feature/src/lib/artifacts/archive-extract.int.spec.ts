import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import pino from 'pino';
import { Header } from 'tar';
import { ArtifactArchiveError, UnsafeArchiveError } from '../executor-errors';
import { archiveKind, extractArchive, type ArchiveKind } from './archive-extract';

/** Archive members as a crafted archive holds them, whatever a well-behaved tar would write. */
interface Member {
  path: string;
  type?: 'File' | 'Directory' | 'SymbolicLink' | 'Link' | 'CharacterDevice' | 'BlockDevice' | 'FIFO';
  body?: string;
  linkpath?: string;
}

/** A tar file built header by header (ustar), so that it can hold anything an attacker could put there. */
function craftTar(members: Member[]): Buffer {
  const blocks: Buffer[] = [];
  for (const member of members) {
    const type = member.type ?? 'File';
    const body = Buffer.from(member.body ?? '');
    const header = new Header({
      path: member.path,
      type,
      size: type === 'File' ? body.length : 0,
      linkpath: member.linkpath,
      mode: type === 'Directory' ? 0o755 : 0o644,
      uid: 0,
      gid: 0,
      mtime: new Date(),
      devmaj: 1,
      devmin: 3,
    });
    const block = Buffer.alloc(512);
    header.encode(block, 0);
    blocks.push(block);
    if (type === 'File' && body.length > 0) blocks.push(body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

let root: string;
let sandbox: string;
let outside: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'archive-'));
  sandbox = join(root, 'T');
  outside = join(root, 'outside');
  mkdirSync(join(sandbox, 'app'), { recursive: true });
  mkdirSync(outside);
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

const logger = pino({ level: 'silent' });
/** An absolute path an archive member may name; must never be written. */
const ABSOLUTE_EVIL = join(tmpdir(), `archive-evil-${process.pid}`);

function writeArchive(members: Member[], kind: ArchiveKind = 'tar.gz'): string {
  const tar = craftTar(members);
  const file = join(root, kind === 'tar.gz' ? 'artifact.tar.gz' : 'artifact.tar');
  writeFileSync(file, kind === 'tar.gz' ? gzipSync(tar) : tar);
  return file;
}

function extract(archive: string, options: { target?: string; kind?: ArchiveKind; useCompressProgram?: string; signal?: AbortSignal } = {}) {
  return extractArchive({
    archive,
    kind: options.kind ?? 'tar.gz',
    sandboxDirectory: sandbox,
    targetDirectory: join(sandbox, options.target ?? 'app'),
    label: 'Artifact "app"',
    useCompressProgram: options.useCompressProgram,
    signal: options.signal ?? new AbortController().signal,
    logger,
  });
}

const good: Member[] = [
  { path: 'v1/', type: 'Directory' },
  { path: 'v1/bin/', type: 'Directory' },
  { path: 'v1/bin/run.sh', body: '#!/bin/sh\necho hi\n' },
  { path: 'current', type: 'SymbolicLink', linkpath: 'v1' },
  { path: 'v1/hard.sh', type: 'Link', linkpath: 'v1/bin/run.sh' },
  // Leaves the target folder but stays in T: allowed.
  { path: 'logs', type: 'SymbolicLink', linkpath: '../logs' },
];

describe('archiveKind', () => {
  it.each([
    ['app.tar.gz', 'tar.gz'],
    ['APP.TGZ', 'tar.gz'],
    ['app.tar', 'tar'],
    ['app.jar', undefined],
    ['app.gz', undefined],
  ])('%s → %s', (name, kind) => expect(archiveKind(name)).toBe(kind));
});

describe.each([
  ['the tar package', undefined],
  ['the tar program with useCompressProgram', 'gzip'],
])('extractArchive with %s', (_how, useCompressProgram) => {
  it('extracts files, directories, links inside the sandbox into the target folder', async () => {
    await extract(writeArchive(good), { useCompressProgram });
    const app = join(sandbox, 'app');
    expect(readFileSync(join(app, 'v1', 'bin', 'run.sh'), 'utf8')).toBe('#!/bin/sh\necho hi\n');
    expect(readlinkSync(join(app, 'current'))).toBe('v1');
    expect(readFileSync(join(app, 'current', 'bin', 'run.sh'), 'utf8')).toContain('echo hi');
    expect(statSync(join(app, 'v1', 'hard.sh')).ino).toBe(statSync(join(app, 'v1', 'bin', 'run.sh')).ino);
    expect(readlinkSync(join(app, 'logs'))).toBe('../logs');
  });

  it('extracts a plain .tar', async () => {
    await extract(writeArchive([{ path: 'a.txt', body: 'plain' }], 'tar'), { kind: 'tar', useCompressProgram });
    expect(readFileSync(join(sandbox, 'app', 'a.txt'), 'utf8')).toBe('plain');
  });

  it.each<[string, Member[], RegExp]>([
    ['a parent-directory path', [{ path: '../evil', body: 'x' }], /refusing archive member "\.\.\/evil": '\.\.' in its path/],
    ['a .. in the middle', [{ path: 'a/../../evil', body: 'x' }], /'\.\.' in its path/],
    ['an absolute path', [{ path: ABSOLUTE_EVIL, body: 'x' }], /: absolute path$/],
    ['a symlink to /etc', [{ path: 'etc', type: 'SymbolicLink', linkpath: '/etc' }], /symbolic link to "\/etc" points outside the task sandbox/],
    ['a symlink climbing out', [{ path: 'up', type: 'SymbolicLink', linkpath: '../../..' }], /points outside the task sandbox/],
    [
      'a symlink escaping through another archive symlink',
      [
        { path: 's', type: 'SymbolicLink', linkpath: 'd/../x' },
        { path: 'd', type: 'SymbolicLink', linkpath: '..' },
      ],
      /"s": symbolic link to "d\/\.\.\/x" points outside/,
    ],
    [
      'a file written through an archive symlink',
      [
        { path: 'sub/', type: 'Directory' },
        { path: 'link', type: 'SymbolicLink', linkpath: 'sub' },
        { path: 'link/file', body: 'x' },
      ],
      /"link\/file": it would be written through the symbolic link link/,
    ],
    ['a hard link out of the archive', [{ path: 'h', type: 'Link', linkpath: '../../etc/passwd' }], /hard link to "\.\.\/\.\.\/etc\/passwd" has '\.\.'/],
    ['a hard link to an absolute path', [{ path: 'h', type: 'Link', linkpath: '/etc/passwd' }], /hard link to "\/etc\/passwd" is not a path inside the archive/],
    ['a character device', [{ path: 'null', type: 'CharacterDevice' }], /"null": device file/],
    ['a block device', [{ path: 'disk', type: 'BlockDevice' }], /device file/],
    ['a FIFO', [{ path: 'pipe', type: 'FIFO' }], /named pipe/],
  ])('refuses %s and extracts nothing', async (_what, members, message) => {
    const archive = writeArchive([{ path: 'first.txt', body: 'harmless' }, ...members, { path: 'last.txt', body: 'harmless' }]);
    const promise = extract(archive, { useCompressProgram });
    await expect(promise).rejects.toBeInstanceOf(UnsafeArchiveError);
    await expect(promise).rejects.toThrow(/^Artifact "app": refusing archive member /);
    await expect(promise).rejects.toThrow(message);
    expect(readdirSync(join(sandbox, 'app'))).toEqual([]);
    expect(readdirSync(outside)).toEqual([]);
    expect(existsSync(join(root, 'evil'))).toBe(false);
    expect(existsSync(join(sandbox, 'evil'))).toBe(false);
    expect(existsSync(ABSOLUTE_EVIL)).toBe(false);
  });

  it('refuses to write through a symlink already in the sandbox', async () => {
    symlinkSync(outside, join(sandbox, 'app', 'out'));
    await expect(extract(writeArchive([{ path: 'out/file', body: 'x' }]), { useCompressProgram })).rejects.toThrow(
      /"out\/file": it would be written through the symbolic link out/,
    );
    expect(readdirSync(outside)).toEqual([]);
  });

  it('refuses a symlink that escapes through a symlink already on disk', async () => {
    symlinkSync('..', join(sandbox, 'app', 'parent')); // T/app/parent → T: inside
    await expect(extract(writeArchive([{ path: 'esc', type: 'SymbolicLink', linkpath: 'parent/../x' }]), { useCompressProgram })).rejects.toThrow(
      /points outside the task sandbox/,
    );
    expect(lstatSync(join(sandbox, 'app', 'parent')).isSymbolicLink()).toBe(true);
  });

  it('fails on a file that is not a tar archive', async () => {
    const file = join(root, 'junk.tar.gz');
    writeFileSync(file, gzipSync(Buffer.from('this is not a tar file at all, just text')));
    await expect(extract(file, { useCompressProgram })).rejects.toBeInstanceOf(ArtifactArchiveError);
    await expect(extract(file, { useCompressProgram })).rejects.toThrow(/^Artifact "app": not a readable tar archive/);
  });

  it('stops when aborted', async () => {
    const controller = new AbortController();
    controller.abort(new Error('killed'));
    await expect(extract(writeArchive(good), { useCompressProgram, signal: controller.signal })).rejects.toThrow('killed');
    expect(readdirSync(join(sandbox, 'app'))).toEqual([]);
  });
});

describe('extractArchive into T itself', () => {
  it('extracts into the sandbox root and still refuses links out of it', async () => {
    await extractArchive({
      archive: writeArchive([{ path: 'top.txt', body: 'top' }]),
      kind: 'tar.gz',
      sandboxDirectory: sandbox,
      targetDirectory: sandbox,
      label: 'Artifact "x"',
      signal: new AbortController().signal,
      logger,
    });
    expect(readFileSync(join(sandbox, 'top.txt'), 'utf8')).toBe('top');
    await expect(
      extractArchive({
        archive: writeArchive([{ path: 'up', type: 'SymbolicLink', linkpath: '..' }]),
        kind: 'tar.gz',
        sandboxDirectory: sandbox,
        targetDirectory: sandbox,
        label: 'Artifact "x"',
        signal: new AbortController().signal,
        logger,
      }),
    ).rejects.toThrow(/points outside the task sandbox/);
  });
});
