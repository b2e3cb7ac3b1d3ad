import { crc32 } from 'node:zlib';
import {
  applyOps,
  decodeJournalLine,
  decodeSnapshot,
  encodeJournalLine,
  encodeOps,
  encodeSnapshot,
  prepareOps,
  scanJournal,
  type JournalEntry,
  type StateRecords,
} from './state-files';
import { StateStoreCorruptError } from './state-store.errors';

const FILE = '/data/state/journal-3.jsonl';

/** A journal of `batches` (commit counts), each commit putting `items/k<seq>`; returns its lines, newline included. */
function journalLines(batches: number[], firstSeq = 1): string[] {
  const lines: string[] = [];
  let seq = firstSeq;
  for (const size of batches) {
    const batch = seq;
    for (let i = 0; i < size; i++, seq++) lines.push(encodeJournalLine(seq, batch, encodeOps(prepareOps([{ op: 'put', collection: 'items', key: `k${seq}`, value: { seq } }]))));
  }
  return lines;
}

const seqs = (entries: JournalEntry[]) => entries.map((e) => e.seq);
const buf = (lines: string[]) => Buffer.from(lines.join(''), 'utf8');

describe('journal lines', () => {
  it('round-trips a commit, with its checksum covering everything after it', () => {
    const ops = prepareOps([
      { op: 'put', collection: 'tasks', key: 'a "quoted"\nkey', value: { text: 'héllo 😀\u2028', n: [1, null] } },
      { op: 'delete', collection: 'pending-tasks', key: 'b' },
    ]);
    const line = encodeJournalLine(7, 5, encodeOps(ops));
    expect(line.endsWith('\n')).toBe(true);
    expect(line.indexOf('\n')).toBe(line.length - 1);
    expect(line).toMatch(/^\{"crc":"[0-9a-f]{8}","seq":7,"batch":5,"ops":\[/);
    const decoded = decodeJournalLine(Buffer.from(line.slice(0, -1)));
    expect(decoded).toEqual({ ok: true, entry: { seq: 7, batch: 5, ops } });
  });

  it.each([
    ['an empty line', '', 'empty line'],
    ['a short line', '{"crc":', 'line too short'],
    ['another prefix', '{"seq":1,"batch":1,"ops":[{"op":"delete","collection":"a","key":"b"}]}', 'line does not start with'],
    ['a flipped byte', encodeJournalLine(1, 1, '[{"op":"delete","collection":"a","key":"b"}]').replace('"b"', '"c"').trimEnd(), 'checksum mismatch'],
  ])('rejects %s', (_label, line, reason) => {
    const decoded = decodeJournalLine(Buffer.from(line));
    expect(decoded.ok).toBe(false);
    expect((decoded as { reason: string }).reason).toContain(reason);
  });

  it('rejects a line whose checksum matches but whose content breaks the rules', () => {
    const bad = (ops: string, seq = 1, batch = 1) => decodeJournalLine(Buffer.from(encodeJournalLine(seq, batch, ops).trimEnd()));
    expect(bad('[]')).toEqual({ ok: false, reason: 'no ops' });
    expect(bad('[{"op":"put","collection":"Bad","key":"k","value":1}]')).toEqual({ ok: false, reason: "invalid state collection name 'Bad'" });
    expect(bad('[{"op":"put","collection":"a","key":"k"}]')).toEqual({ ok: false, reason: 'undefined value for a/k' });
    expect(bad('[{"op":"delete","collection":"a","key":"k"}]', 3, 4)).toEqual({ ok: false, reason: 'bad batch' });
    expect(bad('[{"op":"delete","collection":"a","key":"k"}', 1, 1).ok).toBe(false);
  });
});

describe('prepareOps', () => {
  it('serializes values as JSON, dropping what JSON drops', () => {
    expect(prepareOps([{ op: 'put', collection: 'a', key: 'k', value: { x: undefined, d: new Date(0) } }])).toEqual([
      { collection: 'a', key: 'k', json: '{"d":"1970-01-01T00:00:00.000Z"}' },
    ]);
  });

  it('names the record whose value JSON cannot hold', () => {
    expect(() => prepareOps([{ op: 'put', collection: 'a', key: 'k', value: 1n }])).toThrow(/value for a\/k cannot be stored as JSON: .*BigInt/);
    expect(() => prepareOps([{ op: 'put', collection: 'a', key: 'k', value: Symbol('s') }])).toThrow('value for a/k cannot be stored as JSON (symbol)');
  });
});

describe('scanJournal', () => {
  it('reads a clean journal, continuing the sequence', () => {
    const lines = journalLines([3, 2], 11);
    const scan = scanJournal(buf(lines), { file: FILE, isLast: true, expectedSeq: 11 });
    expect(seqs(scan.entries)).toEqual([11, 12, 13, 14, 15]);
    expect(scan.validBytes).toBe(buf(lines).length);
    expect(scan.droppedTail).toBeUndefined();
  });

  it('reads an empty journal', () => {
    expect(scanJournal(Buffer.alloc(0), { file: FILE, isLast: true, expectedSeq: 1 })).toEqual({ entries: [], validBytes: 0 });
  });

  it('drops a last line cut short', () => {
    const lines = journalLines([2, 3]);
    const text = buf(lines);
    const scan = scanJournal(text.subarray(0, text.length - 5), { file: FILE, isLast: true, expectedSeq: 1 });
    expect(seqs(scan.entries)).toEqual([1, 2, 3, 4]);
    expect(scan.validBytes).toBe(buf(lines.slice(0, 4)).length);
    expect(scan.droppedTail).toEqual({ line: 5, lines: 1, bytes: Buffer.byteLength(lines[4]) - 5, reason: 'incomplete line (no newline)' });
  });

  it('drops damage inside the final batch, even with intact lines of that batch after it', () => {
    // A power loss that persisted only some pages of the last write: commit 5 garbled, 6 and 7 intact.
    const lines = journalLines([2, 2, 3]);
    lines[4] = 'x'.repeat(lines[4].length - 1) + '\n';
    const scan = scanJournal(buf(lines), { file: FILE, isLast: true, expectedSeq: 1 });
    expect(seqs(scan.entries)).toEqual([1, 2, 3, 4]);
    expect(scan.droppedTail).toMatchObject({ line: 5, lines: 3 });
  });

  it('refuses damage followed by an intact line of a later batch', () => {
    const lines = journalLines([2, 2, 3]);
    lines[2] = lines[2].replace('"seq"', '"seX"');
    expect(() => scanJournal(buf(lines), { file: FILE, isLast: true, expectedSeq: 1 })).toThrow(
      new StateStoreCorruptError(FILE, 3, 'checksum mismatch, and intact commits of later writes follow it'),
    );
  });

  it('refuses a garbled line in the middle, naming the file and the line', () => {
    const lines = journalLines([1, 1, 1, 1]);
    lines[1] = '{"crc":"this is not a journal line at all"}\n';
    expect(() => scanJournal(buf(lines), { file: FILE, isLast: true, expectedSeq: 1 })).toThrow(/^state file \/data\/state\/journal-3\.jsonl is corrupt at line 2: line does not start with/);
  });

  it('refuses any damage in a journal that is not the newest', () => {
    const text = buf(journalLines([2]));
    expect(() => scanJournal(text.subarray(0, text.length - 1), { file: FILE, isLast: false, expectedSeq: 1 })).toThrow(/at line 2: incomplete line/);
  });

  it('refuses a break in the sequence', () => {
    expect(() => scanJournal(buf(journalLines([2], 5)), { file: FILE, isLast: true, expectedSeq: 4 })).toThrow(
      'corrupt at line 1: commit sequence broken: expected seq 4, found 5',
    );
    const lines = journalLines([3]);
    expect(() => scanJournal(buf([lines[0], lines[2]]), { file: FILE, isLast: true, expectedSeq: 1 })).toThrow('at line 2: commit sequence broken: expected seq 2, found 3');
  });
});

describe('applyOps', () => {
  it('applies in order and forgets emptied collections', () => {
    const records: StateRecords = new Map();
    applyOps(
      records,
      prepareOps([
        { op: 'put', collection: 'a', key: 'k', value: 1 },
        { op: 'put', collection: 'b', key: 'k', value: 2 },
        { op: 'delete', collection: 'a', key: 'k' },
        { op: 'delete', collection: 'c', key: 'k' },
        { op: 'put', collection: 'b', key: 'k', value: 3 },
      ]),
    );
    expect(records).toEqual(new Map([['b', new Map([['k', '3']])]]));
  });
});

describe('snapshots', () => {
  const records: StateRecords = new Map([
    ['tasks', new Map([['t1', '{"state":"RUNNING"}'], ['t "2"', '"héllo 😀"']])],
    ['agents', new Map([['a', 'null']])],
    ['empty', new Map()],
  ]);

  it('round-trips, written in chunks', () => {
    const chunks = [...encodeSnapshot({ generation: 4, lastSeq: 99 }, records, 10)];
    expect(chunks.length).toBeGreaterThan(2);
    const bytes = Buffer.from(chunks.join(''));
    expect(JSON.parse(bytes.toString())).toMatchObject({ format: 'singularity-state-snapshot', version: 1, generation: 4, lastSeq: 99 });
    const decoded = decodeSnapshot(bytes, '/d/snapshot.json');
    expect(decoded).toEqual({ generation: 4, lastSeq: 99, records: new Map([...records].filter(([name]) => name !== 'empty')) });
  });

  it('refuses a snapshot that is cut short, altered or of another format, naming it', () => {
    const bytes = Buffer.from([...encodeSnapshot({ generation: 2, lastSeq: 1 }, records)].join(''));
    expect(() => decodeSnapshot(bytes.subarray(0, bytes.length - 10), '/d/snapshot.json')).toThrow('state file /d/snapshot.json is corrupt: no checksum trailer');
    expect(() => decodeSnapshot(Buffer.from(bytes.toString().replace('RUNNING', 'RUNNINg')), '/d/snapshot.json')).toThrow('corrupt: checksum mismatch');
    // Signed correctly, but of a version this code does not know.
    const unsigned = [...encodeSnapshot({ generation: 2, lastSeq: 1 }, new Map())].join('').replace('"version":1', '"version":9');
    const body = unsigned.slice(0, unsigned.lastIndexOf(',"crc"'));
    const signed = `${body},"crc":"${crc32(body).toString(16).padStart(8, '0')}"}\n`;
    expect(() => decodeSnapshot(Buffer.from(signed), '/d/snapshot.json')).toThrow('corrupt: unknown format "singularity-state-snapshot" version 9');
  });
});
