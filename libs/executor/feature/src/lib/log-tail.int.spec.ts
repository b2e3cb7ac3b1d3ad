import { appendFileSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir, type TempDir } from '@singularity/testing';
import { writeTail } from './log-tail';

const lines = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => `line ${from + i}\n`).join('');

describe('writeTail (tail -n of service.log, spec slave §1.8)', () => {
  let dir: TempDir;
  beforeEach(async () => {
    dir = await tempDir('log-tail-');
  });
  afterEach(() => dir.cleanup());

  const tail = async (content: string, n: number) => {
    const source = join(dir.path, 'service.log');
    const target = join(dir.path, 'tail.log');
    writeFileSync(source, content);
    const result = await writeTail(source, target, n);
    return { ...result, text: readFileSync(target, 'utf8') };
  };

  it('keeps the last n lines, like tail -n', async () => {
    expect(await tail(lines(1, 3000), 2500)).toMatchObject({ lines: 2500, text: lines(501, 3000) });
    expect(await tail('a\nb\nc', 2)).toMatchObject({ lines: 2, text: 'b\nc' });
    expect(await tail('a\nb\n', 5)).toMatchObject({ lines: 2, text: 'a\nb\n' });
    expect(await tail('', 5)).toMatchObject({ lines: 0, text: '' });
    expect(await tail('\n\n\n', 2)).toMatchObject({ lines: 2, text: '\n\n' });
    expect(await tail('a\nb\n', 0)).toMatchObject({ lines: 0, text: '' });
  });

  it('finds line starts across read chunks', async () => {
    const long = `${'x'.repeat(100_000)}\n`;
    expect(await tail(`${long}${long}${long}short\n`, 3)).toMatchObject({ lines: 3, text: `${long}${long}short\n` });
  });

  it('reads a 2500-line tail of a 1 GB log from its end only', async () => {
    const source = join(dir.path, 'big.log');
    writeFileSync(source, '');
    truncateSync(source, 1024 * 1024 * 1024); // sparse: costs no disk
    appendFileSync(source, lines(1, 3000));
    expect(statSync(source).size).toBeGreaterThan(1024 * 1024 * 1024);
    const result = await writeTail(source, join(dir.path, 'tail.log'), 2500);
    expect(result.lines).toBe(2500);
    expect(readFileSync(join(dir.path, 'tail.log'), 'utf8')).toBe(lines(501, 3000));
    // The tail itself plus at most one chunk of look-back, not the gigabyte in front of it.
    expect(result.bytesRead).toBeLessThan(200 * 1024);
  });
});
