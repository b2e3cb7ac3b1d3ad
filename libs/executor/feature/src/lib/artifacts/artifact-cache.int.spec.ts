import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { ArtifactVerificationError } from '../executor-errors';
import { ArtifactCache, type ArtifactDownload } from './artifact-cache';

const logger = pino({ level: 'silent' });
const never = new AbortController().signal;
const md5 = (bytes: Buffer) => createHash('md5').update(bytes).digest('hex');

let root: string;
let cacheDir: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'artifact-cache-'));
  cacheDir = join(root, 'cache');
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

/** A download of fixed bytes that counts its calls. */
function serving(bytes: Buffer): ArtifactDownload & { calls: number } {
  const download = Object.assign(
    async (destination: string) => {
      download.calls++;
      await writeFile(destination, bytes, { flag: 'wx' });
    },
    { calls: 0 },
  );
  return download;
}

const entries = () => (existsSync(cacheDir) ? readdirSync(cacheDir).filter((n) => !n.startsWith('.')).sort() : []);
const hidden = () => (existsSync(cacheDir) ? readdirSync(cacheDir).filter((n) => n.startsWith('.')) : []);

describe('ArtifactCache', () => {
  const bytes = randomBytes(3000);
  const artifact = { filename: 'app.jar', md5sum: md5(bytes), filesize: bytes.length };

  it('downloads a miss into <md5>-<filename> (0644) and serves the next fetch without a download', async () => {
    const cache = new ArtifactCache({ directory: cacheDir, maxBytes: 1e9 });
    const download = serving(bytes);
    const first = await cache.fetch(artifact, 'Artifact "app"', download, never, logger);
    expect(first.fromCache).toBe(false);
    expect(first.cachePath).toBe(join(cacheDir, `${artifact.md5sum}-app.jar`));
    expect(readFileSync(first.path).equals(bytes)).toBe(true);
    expect(statSync(first.cachePath).mode & 0o777).toBe(0o644);
    await first.release();
    expect(hidden()).toEqual([]);

    // Another executor (another cache object), md5 in upper case.
    const other = new ArtifactCache({ directory: cacheDir, maxBytes: 1e9 });
    utimesSync(first.cachePath, new Date(1000), new Date(1000));
    const second = await other.fetch({ ...artifact, md5sum: artifact.md5sum.toUpperCase() }, 'Artifact "app"', download, never, logger);
    expect(second.fromCache).toBe(true);
    expect(second.cachePath).toBe(first.cachePath);
    expect(download.calls).toBe(1);
    expect(statSync(first.cachePath).mtimeMs).toBeGreaterThan(1000 * 1000); // touched on use
    await second.release();
    expect(entries()).toEqual([`${artifact.md5sum}-app.jar`]);
  });

  it.each([
    ['filesize', { filesize: bytes.length + 1 }, /^Artifact "app": Filesize 3000 \(.*\) does not match expected \(3001\)$/],
    ['md5', { md5sum: 'a'.repeat(32) }, new RegExp(`^Artifact "app": Md5sum ${md5(bytes)} \\(.*\\) does not match expected \\(${'a'.repeat(32)}\\)$`)],
  ])('fails on a wrong %s and leaves no cache entry and no temp file', async (_what, override, message) => {
    const cache = new ArtifactCache({ directory: cacheDir, maxBytes: 1e9 });
    const promise = cache.fetch({ ...artifact, ...override }, 'Artifact "app"', serving(bytes), never, logger);
    await expect(promise).rejects.toBeInstanceOf(ArtifactVerificationError);
    await expect(promise).rejects.toThrow(message);
    expect(readdirSync(cacheDir)).toEqual([]);
  });

  it('checks the size before the md5 sum', async () => {
    const cache = new ArtifactCache({ directory: cacheDir, maxBytes: 1e9 });
    await expect(cache.fetch({ ...artifact, filesize: 1, md5sum: 'b'.repeat(32) }, 'A', serving(bytes), never, logger)).rejects.toThrow(/Filesize/);
  });

  it('notices a corrupted entry and downloads it again', async () => {
    const cache = new ArtifactCache({ directory: cacheDir, maxBytes: 1e9 });
    const download = serving(bytes);
    const first = await cache.fetch(artifact, 'A', download, never, logger);
    await first.release();
    const corrupted = Buffer.from(bytes);
    corrupted[10] ^= 0xff; // same size, other content
    writeFileSync(first.cachePath, corrupted);
    const again = await cache.fetch(artifact, 'A', download, never, logger);
    expect(again.fromCache).toBe(false);
    expect(download.calls).toBe(2);
    expect(readFileSync(again.cachePath).equals(bytes)).toBe(true);
    await again.release();
  });

  it('does not cache an artifact without md5 sum: a temp file, removed on release', async () => {
    const cache = new ArtifactCache({ directory: cacheDir, maxBytes: 1e9 });
    const download = serving(bytes);
    const fetched = await cache.fetch({ filename: 'app.jar', filesize: bytes.length }, 'A', download, never, logger);
    expect(fetched.fromCache).toBe(false);
    expect(readFileSync(fetched.path).equals(bytes)).toBe(true);
    expect(entries()).toEqual([]);
    await fetched.release();
    expect(existsSync(fetched.path)).toBe(false);
    await (await cache.fetch({ filename: 'app.jar' }, 'A', download, never, logger)).release();
    expect(download.calls).toBe(2);
  });

  it('never makes a cache path of an md5 sum that is not 32 hex digits', async () => {
    const cache = new ArtifactCache({ directory: cacheDir, maxBytes: 1e9 });
    await expect(cache.fetch({ filename: 'x', md5sum: '../../../../tmp/evil' }, 'A', serving(bytes), never, logger)).rejects.toThrow(/Md5sum/);
    expect(readdirSync(cacheDir)).toEqual([]);
  });

  it('works without a cache directory (temp files only)', async () => {
    const cache = new ArtifactCache({ maxBytes: 1e9 });
    const fetched = await cache.fetch(artifact, 'A', serving(bytes), never, logger);
    expect(fetched.path.startsWith(tmpdir())).toBe(true);
    await fetched.release();
    expect(existsSync(fetched.path)).toBe(false);
  });

  it('removes the temp file when the download is aborted', async () => {
    const cache = new ArtifactCache({ directory: cacheDir, maxBytes: 1e9 });
    const controller = new AbortController();
    const slow: ArtifactDownload = async (destination, signal) => {
      await writeFile(destination, 'partial');
      controller.abort(new Error('killed'));
      signal.throwIfAborted();
    };
    await expect(cache.fetch(artifact, 'A', slow, controller.signal, logger)).rejects.toThrow('killed');
    expect(readdirSync(cacheDir)).toEqual([]);
  });

  it('lets two executors fetch the same artifact at once: one entry, both get the bytes', async () => {
    const a = new ArtifactCache({ directory: cacheDir, maxBytes: 1e9 });
    const b = new ArtifactCache({ directory: cacheDir, maxBytes: 1e9 });
    const [x, y] = await Promise.all([a.fetch(artifact, 'A', serving(bytes), never, logger), b.fetch(artifact, 'A', serving(bytes), never, logger)]);
    expect(readFileSync(x.path).equals(bytes) && readFileSync(y.path).equals(bytes)).toBe(true);
    await Promise.all([x.release(), y.release()]);
    expect(readdirSync(cacheDir)).toEqual([`${artifact.md5sum}-app.jar`]);
  });

  describe('eviction', () => {
    const put = (name: string, size: number, mtimeSeconds: number) => {
      mkdirSync(cacheDir, { recursive: true });
      writeFileSync(join(cacheDir, name), Buffer.alloc(size));
      utimesSync(join(cacheDir, name), mtimeSeconds, mtimeSeconds);
    };

    it('removes least recently used entries until the cache fits, but never the entries in use', async () => {
      const now = 1_000_000_000_000;
      put(`${'1'.repeat(32)}-oldest`, 1000, 100);
      put(`${'2'.repeat(32)}-older`, 1000, 200);
      put(`${'3'.repeat(32)}-recent`, 1000, 300);
      const cache = new ArtifactCache({ directory: cacheDir, maxBytes: 4000, inUseGraceMillis: 0, now: () => now });
      // Adding 3000 bytes: 6000 in all, 2000 must go (the two oldest); the new entry is in use and stays.
      const fetched = await cache.fetch(artifact, 'A', serving(bytes), never, logger);
      expect(entries()).toEqual([`${'3'.repeat(32)}-recent`, `${artifact.md5sum}-app.jar`].sort());
      await fetched.release();
    });

    it("never evicts an entry the task fetched earlier, however old, while it still adds others", async () => {
      const cache = new ArtifactCache({ directory: cacheDir, maxBytes: 4000, inUseGraceMillis: 0, now: () => Date.now() + 3600_000 });
      const first = await cache.fetch(artifact, 'A', serving(bytes), never, logger);
      utimesSync(first.cachePath, 100, 100);
      put(`${'4'.repeat(32)}-other`, 1000, 200);
      const more = randomBytes(2000);
      const second = await cache.fetch({ filename: 'more.bin', md5sum: md5(more) }, 'B', serving(more), never, logger);
      expect(entries()).toEqual([`${artifact.md5sum}-app.jar`, `${md5(more)}-more.bin`].sort());
      await Promise.all([first.release(), second.release()]);
    });

    it('keeps entries another executor used within the grace period, and an entry larger than the cap', async () => {
      const now = Date.now();
      put(`${'1'.repeat(32)}-old`, 1000, 100);
      put(`${'2'.repeat(32)}-just-used`, 1000, now / 1000 - 5);
      const cache = new ArtifactCache({ directory: cacheDir, maxBytes: 100, inUseGraceMillis: 60_000 });
      await (await cache.fetch(artifact, 'A', serving(bytes), never, logger)).release();
      expect(entries()).toEqual([`${'2'.repeat(32)}-just-used`, `${artifact.md5sum}-app.jar`].sort());
    });

    it('removes temp files left by dead executors', async () => {
      put('.download-1-abc-x', 10, 100);
      put('.inuse-1-abc-x', 10, 100);
      put(`${'1'.repeat(32)}-keep`, 10, Date.now() / 1000);
      await new ArtifactCache({ directory: cacheDir, maxBytes: 1e9 }).evict();
      expect(readdirSync(cacheDir)).toEqual([`${'1'.repeat(32)}-keep`]);
    });
  });
});
