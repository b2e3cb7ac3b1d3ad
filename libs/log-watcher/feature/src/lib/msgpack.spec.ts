import { decode, encode, EventTime, IncompleteMsgpackError, type MsgpackValue } from './msgpack';

describe('msgpack subset', () => {
  it.each<[string, MsgpackValue, string]>([
    ['nil', null, 'c0'],
    ['true', true, 'c3'],
    ['positive fixint', 5, '05'],
    ['uint8', 200, 'ccc8'],
    ['uint16', 0x1234, 'cd1234'],
    ['uint32', 0x12345678, 'ce12345678'],
    ['negative fixint', -3, 'fd'],
    ['int8', -100, 'd09c'],
    ['int16', -1000, 'd1fc18'],
    ['fixstr', 'abc', 'a3616263'],
    ['fixarray', [1, 'a'], '9201a161'],
    ['fixmap', { a: 1 }, '81a16101'],
    ['EventTime', new EventTime(1700000000, 123000000), 'd700' + '6553f100' + '0754d4c0'],
  ])('%s encodes to the spec bytes', (_what, value, hex) => {
    expect(encode(value).toString('hex')).toBe(hex);
  });

  it.each<[string, MsgpackValue]>([
    ['str8', 'x'.repeat(40)],
    ['str16', 'é'.repeat(300)],
    ['str32', 'y'.repeat(70000)],
    ['uint64', 2 ** 40],
    ['int32', -70000],
    ['int64', -(2 ** 40)],
    ['float64', 1.5],
    ['array16', Array.from({ length: 20 }, (_, i) => i)],
    ['map16', Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${i}`, i]))],
    ['bin', new Uint8Array([1, 2, 3])],
    ['nested forward message', ['forward.tag', [[EventTime.fromMillis(1700000000123), { message: 'hello', app: 'x' }]], { chunk: 'abc' }]],
  ])('%s round-trips', (_what, value) => {
    const bytes = encode(value);
    expect(decode(bytes)).toEqual({ value, offset: bytes.length });
  });

  it('EventTime keeps milliseconds as nanoseconds', () => {
    expect(EventTime.fromMillis(1700000000123)).toEqual(new EventTime(1700000000, 123000000));
  });

  it('says when a value is cut short, so a stream reader can wait for more', () => {
    const bytes = encode({ ack: 'abcdef' });
    expect(() => decode(bytes.subarray(0, bytes.length - 2))).toThrow(IncompleteMsgpackError);
    const two = Buffer.concat([encode(1), encode('b')]);
    const first = decode(two);
    expect(first).toEqual({ value: 1, offset: 1 });
    expect(decode(two, first.offset).value).toBe('b');
  });
});
