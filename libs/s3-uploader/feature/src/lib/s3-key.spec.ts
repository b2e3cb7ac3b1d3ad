import { expandS3Key } from './s3-key';

describe('expandS3Key', () => {
  const mtimeMs = new Date(2023, 0, 5, 7, 8, 9).getTime(); // local time, as the uploader reads it
  const context = { host: 'node-1', guid: () => 'G' };

  it('expands every placeholder from the file, the host and the batch position', () => {
    expect(expandS3Key('r/%Y/%m/%d/%H/t_%index-%s-%filename|%fileext|%guid|%host', { filename: 'service.log-1.gz', mtimeMs, index: 3 }, context)).toBe(
      `r/2023/01/05/07/t_3-${mtimeMs}-service.log-1.gz|.gz|G|node-1`,
    );
  });

  it('leaves %fileext as written when the name has no dot', () => {
    expect(expandS3Key('%filename%fileext', { filename: 'README', mtimeMs, index: 0 }, context)).toBe('README%fileext');
  });

  it('expands once: placeholders inside values stay literal', () => {
    expect(expandS3Key('%filename/%Y', { filename: 'a%Y%host', mtimeMs, index: 0 }, context)).toBe('a%Y%host/2023');
  });

  it('asks for a new guid at each %guid', () => {
    let n = 0;
    expect(expandS3Key('%guid-%guid', { filename: 'f', mtimeMs, index: 0 }, { host: 'h', guid: () => String(++n) })).toBe('1-2');
  });
});
