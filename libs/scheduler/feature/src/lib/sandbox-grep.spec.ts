import { InvalidRequestError } from '@singularity/util';
import { grepChunk, grepPattern } from './sandbox-grep';

describe('grep on sandbox reads', () => {
  it('keeps the matching lines, the offset, and where the unfiltered chunk ended', () => {
    const chunk = { data: 'INFO start\nERROR disk full\nINFO ok\nERROR again', offset: 100, nextOffset: 147 };
    expect(grepChunk(chunk, 'ERROR')).toEqual({ data: 'ERROR disk full\nERROR again\n', offset: 100, nextOffset: 147 });
    expect(grepChunk(chunk, '^INFO (start|ok)$')).toEqual({ data: 'INFO start\nINFO ok\n', offset: 100, nextOffset: 147 });
    expect(grepChunk(chunk, 'nothing')).toEqual({ data: '', offset: 100, nextOffset: 147 });
  });

  it('computes nextOffset in bytes when the agent gave none', () => {
    expect(grepChunk({ data: 'é\nx', offset: 10 }, 'x')).toEqual({ data: 'x\n', offset: 10, nextOffset: 14 });
  });

  it.each([
    ['(', 'not a valid regular expression'],
    ['(a+)+$', 'nested quantifiers'],
    ['(x*)*', 'nested quantifiers'],
    ['([a-z]{2,})+', 'nested quantifiers'],
    ['x'.repeat(201), 'at most 200 characters'],
  ])('refuses %j with a 400 naming grep', (grep, message) => {
    expect(() => grepPattern(grep)).toThrow(InvalidRequestError);
    expect(() => grepPattern(grep)).toThrow(new RegExp(`^grep: .*${message.replace(/[()]/g, '\\$&')}`));
  });

  it('accepts ordinary patterns, groups and escaped parentheses', () => {
    expect(grepPattern('(GET|POST) /api').test('POST /api/x')).toBe(true);
    expect(grepPattern('\\(a+\\)+').test('(aa))')).toBe(true);
  });
});
