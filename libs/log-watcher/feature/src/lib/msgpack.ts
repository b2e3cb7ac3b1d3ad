/**
 * The part of MessagePack (https://github.com/msgpack/msgpack/blob/master/spec.md)
 * that fluentd's forward protocol needs: nil, booleans, integers, float64,
 * UTF-8 strings, binary, arrays, maps and the `EventTime` extension (type 0).
 * Written here rather than pulled in: it is small, and the encoder is all the
 * log watcher sends; the decoder reads fluentd's acks (and lets tests act as
 * fluentd).
 */

/** fluentd's EventTime: seconds and nanoseconds since the epoch (ext type 0, 8 bytes). */
export class EventTime {
  constructor(
    readonly seconds: number,
    readonly nanoseconds: number,
  ) {}

  static fromMillis(millis: number): EventTime {
    const seconds = Math.floor(millis / 1000);
    return new EventTime(seconds, Math.round((millis - seconds * 1000) * 1e6));
  }
}

export type MsgpackValue = null | boolean | number | string | Uint8Array | EventTime | MsgpackValue[] | { [key: string]: MsgpackValue };

/** Encodes `value`; throws a TypeError for what msgpack (this subset) cannot hold. */
export function encode(value: MsgpackValue): Buffer {
  const parts: Buffer[] = [];
  write(value, parts);
  return Buffer.concat(parts);
}

function header(bytes: number[]): Buffer {
  return Buffer.from(bytes);
}

function write(value: MsgpackValue, out: Buffer[]): void {
  if (value === null || value === undefined) return void out.push(header([0xc0]));
  if (value === true) return void out.push(header([0xc3]));
  if (value === false) return void out.push(header([0xc2]));
  if (typeof value === 'number') return writeNumber(value, out);
  if (typeof value === 'string') {
    const bytes = Buffer.from(value, 'utf8');
    const n = bytes.length;
    if (n < 32) out.push(header([0xa0 | n]));
    else if (n < 0x100) out.push(header([0xd9, n]));
    else if (n < 0x10000) out.push(header([0xda, n >> 8, n & 0xff]));
    else out.push(uint32Header(0xdb, n));
    return void out.push(bytes);
  }
  if (value instanceof EventTime) {
    const b = Buffer.alloc(10);
    b[0] = 0xd7; // fixext 8
    b[1] = 0x00; // EventTime
    b.writeUInt32BE(value.seconds >>> 0, 2);
    b.writeUInt32BE(value.nanoseconds >>> 0, 6);
    return void out.push(b);
  }
  if (value instanceof Uint8Array) {
    const n = value.length;
    if (n < 0x100) out.push(header([0xc4, n]));
    else if (n < 0x10000) out.push(header([0xc5, n >> 8, n & 0xff]));
    else out.push(uint32Header(0xc6, n));
    return void out.push(Buffer.from(value));
  }
  if (Array.isArray(value)) {
    const n = value.length;
    if (n < 16) out.push(header([0x90 | n]));
    else if (n < 0x10000) out.push(header([0xdc, n >> 8, n & 0xff]));
    else out.push(uint32Header(0xdd, n));
    for (const item of value) write(item, out);
    return;
  }
  if (typeof value === 'object') {
    const entries = Object.entries(value);
    const n = entries.length;
    if (n < 16) out.push(header([0x80 | n]));
    else if (n < 0x10000) out.push(header([0xde, n >> 8, n & 0xff]));
    else out.push(uint32Header(0xdf, n));
    for (const [k, v] of entries) {
      write(k, out);
      write(v, out);
    }
    return;
  }
  throw new TypeError(`cannot encode a ${typeof value} as msgpack`);
}

function uint32Header(code: number, n: number): Buffer {
  const b = Buffer.alloc(5);
  b[0] = code;
  b.writeUInt32BE(n, 1);
  return b;
}

function writeNumber(n: number, out: Buffer[]): void {
  if (!Number.isSafeInteger(n)) {
    const b = Buffer.alloc(9);
    b[0] = 0xcb;
    b.writeDoubleBE(n, 1);
    return void out.push(b);
  }
  if (n >= 0) {
    if (n < 0x80) return void out.push(header([n]));
    if (n < 0x100) return void out.push(header([0xcc, n]));
    if (n < 0x10000) return void out.push(header([0xcd, n >> 8, n & 0xff]));
    if (n < 0x100000000) return void out.push(uint32Header(0xce, n));
    const b = Buffer.alloc(9);
    b[0] = 0xcf;
    b.writeBigUInt64BE(BigInt(n), 1);
    return void out.push(b);
  }
  if (n >= -32) return void out.push(header([n & 0xff]));
  if (n >= -0x80) return void out.push(header([0xd0, n & 0xff]));
  if (n >= -0x8000) {
    const b = Buffer.alloc(3);
    b[0] = 0xd1;
    b.writeInt16BE(n, 1);
    return void out.push(b);
  }
  if (n >= -0x80000000) {
    const b = Buffer.alloc(5);
    b[0] = 0xd2;
    b.writeInt32BE(n, 1);
    return void out.push(b);
  }
  const b = Buffer.alloc(9);
  b[0] = 0xd3;
  b.writeBigInt64BE(BigInt(n), 1);
  out.push(b);
}

/** The buffer ends inside a value: more bytes are needed (a stream reader waits for them). */
export class IncompleteMsgpackError extends Error {
  constructor() {
    super('msgpack value is incomplete');
    this.name = 'IncompleteMsgpackError';
  }
}

/**
 * Decodes the value at `offset`; returns it with the offset after it. Throws
 * IncompleteMsgpackError when the buffer ends first, and an Error for bytes
 * this subset does not know.
 */
export function decode(buf: Buffer, offset = 0): { value: MsgpackValue; offset: number } {
  let pos = offset;
  const need = (n: number) => {
    if (pos + n > buf.length) throw new IncompleteMsgpackError();
  };
  const read = (): MsgpackValue => {
    need(1);
    const code = buf[pos++];
    if (code < 0x80) return code;
    if (code >= 0xe0) return code - 0x100;
    if ((code & 0xf0) === 0x80) return readMap(code & 0x0f);
    if ((code & 0xf0) === 0x90) return readArray(code & 0x0f);
    if ((code & 0xe0) === 0xa0) return readStr(code & 0x1f);
    switch (code) {
      case 0xc0:
        return null;
      case 0xc2:
        return false;
      case 0xc3:
        return true;
      case 0xc4:
        return readBin(uint(1));
      case 0xc5:
        return readBin(uint(2));
      case 0xc6:
        return readBin(uint(4));
      case 0xca:
        need(4);
        return advance(4, buf.readFloatBE(pos));
      case 0xcb:
        need(8);
        return advance(8, buf.readDoubleBE(pos));
      case 0xcc:
        return uint(1);
      case 0xcd:
        return uint(2);
      case 0xce:
        return uint(4);
      case 0xcf:
        need(8);
        return advance(8, Number(buf.readBigUInt64BE(pos)));
      case 0xd0:
        need(1);
        return advance(1, buf.readInt8(pos));
      case 0xd1:
        need(2);
        return advance(2, buf.readInt16BE(pos));
      case 0xd2:
        need(4);
        return advance(4, buf.readInt32BE(pos));
      case 0xd3:
        need(8);
        return advance(8, Number(buf.readBigInt64BE(pos)));
      case 0xd7: {
        need(9);
        const type = buf[pos];
        if (type !== 0) throw new Error(`unknown msgpack extension type ${type}`);
        return advance(9, new EventTime(buf.readUInt32BE(pos + 1), buf.readUInt32BE(pos + 5)));
      }
      case 0xd9:
        return readStr(uint(1));
      case 0xda:
        return readStr(uint(2));
      case 0xdb:
        return readStr(uint(4));
      case 0xdc:
        return readArray(uint(2));
      case 0xdd:
        return readArray(uint(4));
      case 0xde:
        return readMap(uint(2));
      case 0xdf:
        return readMap(uint(4));
      default:
        throw new Error(`unsupported msgpack type 0x${code.toString(16)}`);
    }
  };
  function advance<T>(n: number, value: T): T {
    pos += n;
    return value;
  }
  function uint(bytes: 1 | 2 | 4): number {
    need(bytes);
    return advance(bytes, buf.readUIntBE(pos, bytes));
  }
  function readStr(n: number): string {
    need(n);
    return advance(n, buf.toString('utf8', pos, pos + n));
  }
  function readBin(n: number): Uint8Array {
    need(n);
    return advance(n, Uint8Array.prototype.slice.call(buf, pos, pos + n));
  }
  function readArray(n: number): MsgpackValue[] {
    const items: MsgpackValue[] = [];
    for (let i = 0; i < n; i++) items.push(read());
    return items;
  }
  function readMap(n: number): { [key: string]: MsgpackValue } {
    const map: { [key: string]: MsgpackValue } = {};
    for (let i = 0; i < n; i++) {
      const key = read();
      map[String(key)] = read();
    }
    return map;
  }
  const value = read();
  return { value, offset: pos };
}
