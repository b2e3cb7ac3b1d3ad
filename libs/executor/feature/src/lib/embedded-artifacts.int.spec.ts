import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import type { EmbeddedArtifact } from '@singularity/models';
import type { StagingContext } from './artifact-stager';
import { EmbeddedArtifactStager } from './embedded-artifacts';
import { ArtifactVerificationError, SandboxEscapeError, TaskFailureError } from './executor-errors';
import { resolveInsideSandbox } from './sandbox-paths';

let root: string;
let sandbox: string;
let outside: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'embedded-'));
  sandbox = join(root, 'T');
  outside = join(root, 'outside');
  mkdirSync(sandbox);
  mkdirSync(outside);
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

const bytes = Buffer.from([0, 1, 2, 255, 254, 10, 13, 0x22, 0x27]);
const artifact = (over: Partial<EmbeddedArtifact> = {}): EmbeddedArtifact => ({
  name: 'blob',
  filename: 'blob.bin',
  content: bytes.toString('base64'),
  md5sum: createHash('md5').update(bytes).digest('hex'),
  ...over,
});

function stage(artifacts: EmbeddedArtifact[], signal = new AbortController().signal): Promise<void> {
  const context: StagingContext = { sandboxDirectory: sandbox, signal, logger: pino({ level: 'silent' }) };
  return new EmbeddedArtifactStager().stage({ cmd: 'x', embeddedArtifacts: artifacts }, context);
}

describe('EmbeddedArtifactStager', () => {
  it('writes the exact bytes with mode 0644, into the target folder', async () => {
    await stage([artifact(), artifact({ filename: 'in-app.bin', targetFolderRelativeToTask: 'app/conf', md5sum: undefined })]);
    expect(readFileSync(join(sandbox, 'blob.bin'))).toEqual(bytes);
    expect(readFileSync(join(sandbox, 'app', 'conf', 'in-app.bin'))).toEqual(bytes);
    expect(statSync(join(sandbox, 'blob.bin')).mode & 0o777).toBe(0o644);
    expect(statSync(join(sandbox, 'app', 'conf', 'in-app.bin')).mode & 0o777).toBe(0o644);
  });

  it('compares md5 sums case-insensitively', async () => {
    await stage([artifact({ md5sum: artifact().md5sum?.toUpperCase() })]);
    expect(existsSync(join(sandbox, 'blob.bin'))).toBe(true);
  });

  it('fails on a wrong md5 and writes nothing', async () => {
    const wrong = '0'.repeat(32);
    const promise = stage([artifact({ md5sum: wrong })]);
    await expect(promise).rejects.toBeInstanceOf(ArtifactVerificationError);
    await expect(promise).rejects.toThrow(`Artifact "blob": Md5sum ${artifact().md5sum} (${join(sandbox, 'blob.bin')}) does not match expected (${wrong})`);
    expect(readdirSync(sandbox)).toEqual([]);
  });

  it('refuses to overwrite an existing file', async () => {
    writeFileSync(join(sandbox, 'blob.bin'), 'old');
    await expect(stage([artifact()])).rejects.toThrow(new TaskFailureError('Artifact "blob": blob.bin already exists'));
    expect(readFileSync(join(sandbox, 'blob.bin'), 'utf8')).toBe('old');
  });

  it.each([
    ['../../x', 'is outside the task sandbox'],
    ['..', 'is outside the task sandbox'],
    ['app/../../outside', 'is outside the task sandbox'],
    ['/etc', 'is an absolute path'],
    ['/tmp/T/app', 'is an absolute path'],
  ])('refuses the target folder %j, naming the artifact', async (folder, reason) => {
    await expect(stage([artifact({ targetFolderRelativeToTask: folder })])).rejects.toThrow(new RegExp(`^Artifact "blob": .*${reason}`));
    expect(readdirSync(outside)).toEqual([]);
    expect(readdirSync(sandbox)).toEqual([]);
    expect(existsSync(join(root, 'x'))).toBe(false);
  });

  it('refuses a target folder that leaves the sandbox through a symlink', async () => {
    symlinkSync(outside, join(sandbox, 'link'));
    await expect(stage([artifact({ targetFolderRelativeToTask: 'link/deeper' })])).rejects.toBeInstanceOf(SandboxEscapeError);
    await expect(stage([artifact({ targetFolderRelativeToTask: 'link' })])).rejects.toThrow(/through a symlink/);
    expect(readdirSync(outside)).toEqual([]);
  });

  it('never writes through a symlink at the target file', async () => {
    symlinkSync(join(outside, 'victim'), join(sandbox, 'blob.bin'));
    await expect(stage([artifact()])).rejects.toThrow(/already exists/);
    expect(readdirSync(outside)).toEqual([]);
  });

  it.each(['a/b', '..', '.', 'x\\y', ''])('refuses the file name %j', async (filename) => {
    await expect(stage([artifact({ filename })])).rejects.toBeInstanceOf(SandboxEscapeError);
  });

  it('allows .. that stays inside the sandbox', async () => {
    await stage([artifact({ targetFolderRelativeToTask: 'app/../conf' })]);
    expect(readFileSync(join(sandbox, 'conf', 'blob.bin'))).toEqual(bytes);
  });

  it('refuses content that is not base64', async () => {
    await expect(stage([artifact({ content: 'not base64!', md5sum: undefined })])).rejects.toThrow('Artifact "blob": content is not valid base64');
  });

  it('stops when aborted', async () => {
    const controller = new AbortController();
    controller.abort(new Error('killed'));
    await expect(stage([artifact()], controller.signal)).rejects.toThrow('killed');
    expect(readdirSync(sandbox)).toEqual([]);
  });
});

describe('resolveInsideSandbox', () => {
  it('resolves the sandbox itself and paths below it', async () => {
    await expect(resolveInsideSandbox(sandbox, '', 'x')).resolves.toBe(sandbox);
    await expect(resolveInsideSandbox(sandbox, 'a/b/../c', 'x')).resolves.toBe(join(sandbox, 'a', 'c'));
  });

  it('allows a symlink that stays inside', async () => {
    mkdirSync(join(sandbox, 'real'));
    symlinkSync(join(sandbox, 'real'), join(sandbox, 'alias'));
    await expect(resolveInsideSandbox(sandbox, 'alias/file', 'x')).resolves.toBe(join(sandbox, 'alias', 'file'));
  });

  it('refuses a sibling whose name starts like the sandbox', async () => {
    mkdirSync(join(root, 'T2'));
    await expect(resolveInsideSandbox(sandbox, '../T2', 'x')).rejects.toBeInstanceOf(SandboxEscapeError);
  });
});
