import fc from 'fast-check';
import { decodeJournalLine, encodeJournalLine, encodeOps, type PreparedOp } from './state-files';
import { assertValidOp } from './state-store.port';
import {
  collapseOps,
  decodeCommitRecord,
  decodeKey,
  decodeRecord,
  encodeApplied,
  encodeChunkedHeader,
  encodeKey,
  encodeStagedHeader,
  normalizeRoot,
  splitBytes,
  targetsAsOps,
  ZooKeeperLayout,
} from './zookeeper-state-layout';

/** What ZooKeeper's PathUtils.validatePath refuses in a znode name (besides '/' and the names '.' and '..'). */
// eslint-disable-next-line no-control-regex
const REFUSED_BY_ZOOKEEPER = /[\u0000-\u001f\u007f-\u009f\ud800-\uf8ff\ufff0-\uffff]/;

const validKey = fc
  .string({ minLength: 1, maxLength: 60, unit: fc.oneof(fc.constantFrom('%', '.', '0', 'A', '-', ' ', 'é', '😀', '\u0001', '\ud800', '\uffff'), fc.integer({ min: 0, max: 0xffff }).map((code) => String.fromCharCode(code))) })
  .filter((key) => {
    try {
      assertValidOp({ op: 'delete', collection: 'c', key });
      return true;
    } catch {
      return false;
    }
  });

describe('key encoding', () => {
  it('passes Singularity-style ids through unchanged', () => {
    for (const id of ['my-request', 'my-request-deploy1-1700000000000-1-host1.example.com-us_east_1a', 'a:b@c+d=e,f', 'héllo wörld', 'zookeeper']) {
      expect(encodeKey(id)).toBe(id);
    }
  });

  it('escapes what ZooKeeper refuses, and %, as %XXXX', () => {
    expect(encodeKey('50%')).toBe('50%0025');
    expect(encodeKey('x😀')).toBe('x%D83D%DE00');
    expect(encodeKey('a\u0001b\u007f')).toBe('a%0001b%007F');
    expect(encodeKey('.')).toBe('%002E');
    expect(encodeKey('..')).toBe('%002E%002E');
    expect(encodeKey('...')).toBe('...');
  });

  it('round-trips every valid key to a name ZooKeeper accepts', () => {
    fc.assert(
      fc.property(validKey, (key) => {
        const name = encodeKey(key);
        expect(name).not.toMatch(REFUSED_BY_ZOOKEEPER);
        expect(name).not.toContain('/');
        expect(['.', '..']).not.toContain(name);
        expect(decodeKey(name)).toBe(key);
      }),
      { numRuns: 2000 },
    );
  });

  it('gives distinct keys distinct names', () => {
    fc.assert(fc.property(validKey, validKey, (a, b) => a === b || encodeKey(a) !== encodeKey(b)));
  });

  it('refuses names it cannot have written', () => {
    expect(decodeKey('')).toBeUndefined();
    expect(decodeKey('a%002E')).toBeUndefined(); // it would have written 'a.'
    expect(decodeKey('%0041')).toBeUndefined(); // 'A' is written as itself
    expect(decodeKey('%zz')).toBeUndefined(); // a bare '%' is always escaped
  });
});

describe('root', () => {
  it('normalises absolute paths', () => {
    expect(normalizeRoot('/singularity')).toBe('/singularity');
    expect(normalizeRoot('/a/b/')).toBe('/a/b');
    expect(normalizeRoot('/')).toBe('/');
  });

  it.each(['singularity', '', '/a//b', '/a/./b', '/a/../b', '/zookeeper', '/zookeeper/x', '/50%'])('refuses %j', (root) => {
    expect(() => normalizeRoot(root)).toThrow();
  });

  it('lays out the tree under the root', () => {
    const layout = new ZooKeeperLayout('/a/b');
    expect(layout.ancestors()).toEqual(['/a', '/a/b']);
    expect(layout.record('tasks', 'x😀')).toBe('/a/b/state/tasks/x%D83D%DE00');
    expect(layout.lastCommit).toBe('/a/b/last-commit');
    expect(new ZooKeeperLayout('/').state).toBe('/state');
    expect(new ZooKeeperLayout('/').ancestors()).toEqual([]);
  });
});

describe('records', () => {
  it('reads a value held inline as its JSON text', () => {
    expect(decodeRecord(Buffer.from('{"a":1}'))).toEqual({ kind: 'inline', json: '{"a":1}' });
    expect(decodeRecord(Buffer.from('"#not a header"'))).toEqual({ kind: 'inline', json: '"#not a header"' });
  });

  it('round-trips a chunked header', () => {
    const header = { chunks: ['7-0', '7-1'], bytes: 1234567 };
    expect(decodeRecord(encodeChunkedHeader(header))).toEqual({ kind: 'chunked', header });
  });

  it.each(['#chunked {"chunks":"x","bytes":1}', '#chunked {"chunks":["a/b"],"bytes":1}', '#chunked {"chunks":[],"bytes":-1}', '#other', '#chunked nope'])(
    'refuses the header %j',
    (data) => {
      expect(() => decodeRecord(Buffer.from(data))).toThrow();
    },
  );

  it('splits bytes into pieces that concatenate back', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.integer({ min: 1, max: 64 }), (bytes, size) => {
        const pieces = splitBytes(Buffer.from(bytes), size);
        expect(pieces.length).toBeGreaterThanOrEqual(1);
        for (const piece of pieces) expect(piece.length).toBeLessThanOrEqual(size);
        expect(Buffer.concat(pieces).equals(Buffer.from(bytes))).toBe(true);
      }),
    );
  });
});

describe('commit record', () => {
  it('reads the four kinds', () => {
    const line = Buffer.from(encodeJournalLine(3, 3, encodeOps([{ collection: 'tasks', key: 't', json: '1' }])).slice(0, -1));
    expect(decodeCommitRecord(null)).toEqual({ kind: 'none' });
    expect(decodeCommitRecord(Buffer.alloc(0))).toEqual({ kind: 'none' });
    expect(decodeCommitRecord(line)).toEqual({ kind: 'inline', line });
    expect(decodeJournalLine(line)).toMatchObject({ ok: true, entry: { seq: 3 } });
    const staged = { seq: 9, parts: ['9-0', '9-1'], bytes: 2000000 };
    expect(decodeCommitRecord(encodeStagedHeader(staged))).toEqual({ kind: 'staged', header: staged });
    expect(decodeCommitRecord(encodeApplied(12))).toEqual({ kind: 'applied', seq: 12 });
  });

  it.each(['#staged {"seq":0,"parts":["x"],"bytes":1}', '#staged {"seq":1,"parts":[],"bytes":1}', '#applied {}', 'garbage', '#staged'])('refuses %j', (data) => {
    expect(() => decodeCommitRecord(Buffer.from(data))).toThrow();
  });
});

describe('collapsing a batch', () => {
  const put = (collection: string, key: string, json: string): PreparedOp => ({ collection, key, json });
  const del = (collection: string, key: string): PreparedOp => ({ collection, key, json: undefined });

  it('keeps the last op of each key', () => {
    const targets = collapseOps([put('a', 'k', '1'), put('a', 'k', '2'), del('a', 'j'), put('b', 'k', '3'), put('a', 'j', '4'), del('a', 'k')]);
    expect(targetsAsOps(targets)).toEqual([put('a', 'j', '4'), del('a', 'k'), put('b', 'k', '3')]);
    expect(targets.get('a')).toEqual(new Map([['j', '4'], ['k', undefined]]));
    expect(targets.get('b')).toEqual(new Map([['k', '3']]));
  });

  it('ends in the same state as the ops one by one, also when re-applied over a half-applied batch', () => {
    const op = fc.record({ collection: fc.constantFrom('a', 'b'), key: fc.constantFrom('k1', 'k2', 'k3'), json: fc.option(fc.constantFrom('1', '2', '"x"'), { nil: undefined }) });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 30 }), fc.array(op, { maxLength: 10 }), fc.nat(), (ops, before, cut) => {
        const oneByOne = new Map<string, string | undefined>();
        for (const o of [...before, ...ops]) oneByOne.set(`${o.collection}/${o.key}`, o.json);
        // From what `before` left: a writer applies part of the collapsed batch and dies; open() applies all of it.
        const state = new Map<string, string | undefined>();
        for (const o of before) state.set(`${o.collection}/${o.key}`, o.json);
        const collapsed = targetsAsOps(collapseOps(ops));
        for (const o of collapsed.slice(0, cut % (collapsed.length + 1))) state.set(`${o.collection}/${o.key}`, o.json);
        for (const o of collapsed) state.set(`${o.collection}/${o.key}`, o.json);
        const present = (m: Map<string, string | undefined>) => [...m].filter(([, v]) => v !== undefined).sort();
        expect(present(state)).toEqual(present(oneByOne));
      }),
    );
  });
});
