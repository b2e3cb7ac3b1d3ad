import { chunkRanges } from './s3-download';

describe('chunkRanges', () => {
  it.each([
    [0, 10, []],
    [10, 10, [{ start: 0, end: 9 }]],
    [25, 10, [{ start: 0, end: 9 }, { start: 10, end: 19 }, { start: 20, end: 24 }]],
    [5, 100, [{ start: 0, end: 4 }]],
  ])('%i bytes in chunks of %i', (size, chunk, ranges) => expect(chunkRanges(size, chunk)).toEqual(ranges));
});
