import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expectMatchesSchema } from '@singularity/testing';
import { SandboxFiles } from './sandbox-files';

describe('SandboxFiles: browse, read, download, confined to the task sandbox', () => {
  const root = mkdtempSync(join(tmpdir(), 'sandboxes-'));
  const taskId = 'web-d1-1-1-host-DEFAULT';
  const T = join(root, taskId);
  const files = new SandboxFiles(root, 'host');
  beforeAll(() => {
    mkdirSync(join(T, 'logs'), { recursive: true });
    writeFileSync(join(T, 'service.log'), 'line one\nline two\n');
    writeFileSync(join(root, 'secret'), 'TOPSECRET');
    symlinkSync(join(root, 'secret'), join(T, 'escape'));
    symlinkSync('/etc', join(T, 'etc-link'));
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('lists a directory in the reference shape', async () => {
    const listing = await files.browse(taskId);
    expect(listing.files.map((f) => f.name)).toEqual(['escape', 'etc-link', 'logs', 'service.log']);
    expect(listing.files.find((f) => f.name === 'logs')?.mode).toMatch(/^d/);
    expectMatchesSchema(listing, 'SingularitySandbox');
  });

  it('reads a chunk by offset and length', async () => {
    const chunk = await files.read(taskId, 'service.log', 5, 3);
    expect(chunk).toEqual({ data: 'one', offset: 5, nextOffset: 8 });
    expectMatchesSchema(chunk, 'MesosFileChunkObject');
    expect((await files.read(taskId, 'service.log', 100, 10)).data).toBe('');
  });

  it.each(['../../etc/passwd', '../secret', '/etc/passwd', 'escape', 'etc-link/passwd'])('refuses %s', async (path) => {
    await expect(files.read(taskId, path)).rejects.toMatchObject({ status: expect.any(Number) });
    const err = (await files.read(taskId, path).catch((e: unknown) => e)) as { status: number; message: string };
    expect([400, 404]).toContain(err.status);
    expect(err.message).not.toContain('TOPSECRET');
  });

  it('says 400 before the task has a directory and 404 for a missing file', async () => {
    await expect(files.browse('other-d1-1-1-host-DEFAULT')).rejects.toMatchObject({ status: 400 });
    await expect(files.read(taskId, 'nope.log')).rejects.toMatchObject({ status: 404 });
  });

  it('finds a full path under the sandbox root, and refuses one outside', () => {
    expect(files.splitFullPath(join(T, 'logs', 'a.gz'))).toEqual({ taskDir: taskId, rest: join('logs', 'a.gz') });
    expect(() => files.splitFullPath('/etc/passwd')).toThrow(/not inside a task sandbox/);
  });

  it('streams a file for download', async () => {
    const file = await files.download(taskId, 'service.log');
    const chunks: Buffer[] = [];
    for await (const c of file.stream) chunks.push(c as Buffer);
    expect(Buffer.concat(chunks).toString()).toBe('line one\nline two\n');
  });
});
