import { crc32 } from 'node:zlib';
import { StateStoreClosedError, StateStoreCorruptError } from './state-store.errors';
import { assertValidOp, COLLECTION_NAME, type StateOp } from './state-store.port';

/**
 * The embedded store's file formats, as pure functions over strings and
 * buffers (the I/O lives in `EmbeddedStateStore`). See the lib README for the
 * layout and the crash-safety argument.
 *
 * Journal line (one per commit, UTF-8, `\n`-terminated, valid JSON):
 *
 *   {"crc":"1a2b3c4d","seq":42,"batch":40,"ops":[{"op":"put","collection":"tasks","key":"t1","value":{…}}]}
 *
 * `crc` is the CRC-32 of every byte after `{"crc":"xxxxxxxx",` up to the end
 * of the line; `seq` numbers commits 1, 2, 3, … across journals and snapshots;
 * `batch` is the `seq` of the first commit in the same group-commit write.
 */

/** Live state as the store keeps it: collection → key → the value's JSON text. */
export type StateRecords = Map<string, Map<string, string>>;

/** An op checked and serialized: `json` is the value's JSON text, absent for a delete. */
export interface PreparedOp {
  readonly collection: string;
  readonly key: string;
  readonly json: string | undefined;
}

export interface JournalEntry {
  readonly seq: number;
  readonly batch: number;
  readonly ops: readonly PreparedOp[];
}

export const JOURNAL_FILE = /^journal-([1-9][0-9]{0,14})\.jsonl$/;
export const SNAPSHOT_FILE = 'snapshot.json';
export const SNAPSHOT_TMP_FILE = 'snapshot.json.tmp';
export const LOCK_FILE = 'LOCK';
export const SNAPSHOT_FORMAT = 'singularity-state-snapshot';
export const SNAPSHOT_VERSION = 1;

export function journalFileName(generation: number): string {
  return `journal-${generation}.jsonl`;
}

/**
 * What a store checks before it queues a commit: it is open, it has not
 * failed, and every op is valid (prepared). Throws what the commit rejects with.
 */
export function admitCommit(status: string, failure: Error | undefined, ops: readonly StateOp[]): PreparedOp[] {
  if (status !== 'open') throw new StateStoreClosedError(status === 'new' || status === 'opening' ? 'not open' : 'closed');
  if (failure) throw failure;
  return prepareOps(ops);
}

/**
 * Checks every op (`assertValidOp`) and serializes every value, so that a bad
 * op rejects the whole commit before anything is queued or written. Values go
 * through `JSON.stringify`: what it drops (`undefined` members, functions)
 * is dropped, what it cannot encode (BigInt, cycles, a bare function) throws.
 */
export function prepareOps(ops: readonly StateOp[]): PreparedOp[] {
  if (!Array.isArray(ops)) throw new TypeError('commit expects an array of state ops');
  const prepared: PreparedOp[] = new Array(ops.length);
  for (let i = 0; i < ops.length; i++) {
    const op = ops[i];
    if (op === null || typeof op !== 'object' || (op.op !== 'put' && op.op !== 'delete')) {
      throw new Error(`invalid state op at index ${i}: expected {op: 'put' | 'delete', …}`);
    }
    assertValidOp(op);
    prepared[i] = { collection: op.collection, key: op.key, json: op.op === 'put' ? valueJson(op.collection, op.key, op.value) : undefined };
  }
  return prepared;
}

function valueJson(collection: string, key: string, value: unknown): string {
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch (err) {
    throw new Error(`value for ${collection}/${key} cannot be stored as JSON: ${(err as Error).message}`);
  }
  if (json === undefined) throw new Error(`value for ${collection}/${key} cannot be stored as JSON (${typeof value})`);
  return json;
}

/** The `ops` array of a journal line. */
export function encodeOps(ops: readonly PreparedOp[]): string {
  const parts: string[] = new Array(ops.length);
  for (let i = 0; i < ops.length; i++) {
    const op = ops[i];
    // Collection names match COLLECTION_NAME, so they need no escaping; keys may hold anything but '/' and NUL.
    parts[i] =
      op.json === undefined
        ? `{"op":"delete","collection":"${op.collection}","key":${JSON.stringify(op.key)}}`
        : `{"op":"put","collection":"${op.collection}","key":${JSON.stringify(op.key)},"value":${op.json}}`;
  }
  return `[${parts.join(',')}]`;
}

const CRC_PREFIX_LENGTH = '{"crc":"00000000",'.length;

/** One journal line, newline included. */
export function encodeJournalLine(seq: number, batch: number, opsJson: string): string {
  const body = `"seq":${seq},"batch":${batch},"ops":${opsJson}}`;
  return `{"crc":"${hex32(crc32(body))}",${body}\n`;
}

function hex32(n: number): string {
  return n.toString(16).padStart(8, '0');
}

export type DecodedLine = { ok: true; entry: JournalEntry } | { ok: false; reason: string };

/** Decodes one line (without its newline); never throws. */
export function decodeJournalLine(line: Buffer): DecodedLine {
  if (line.length === 0) return { ok: false, reason: 'empty line' };
  if (line.length <= CRC_PREFIX_LENGTH) return { ok: false, reason: 'line too short' };
  const prefix = line.toString('latin1', 0, CRC_PREFIX_LENGTH);
  const match = /^\{"crc":"([0-9a-f]{8})",$/.exec(prefix);
  if (!match) return { ok: false, reason: 'line does not start with {"crc":"…",' };
  if (crc32(line.subarray(CRC_PREFIX_LENGTH)) !== parseInt(match[1], 16)) return { ok: false, reason: 'checksum mismatch' };
  let parsed: { seq?: unknown; batch?: unknown; ops?: unknown };
  try {
    parsed = JSON.parse(line.toString('utf8'));
  } catch (err) {
    return { ok: false, reason: `not JSON (${(err as Error).message})` };
  }
  const { seq, batch, ops } = parsed;
  if (!Number.isSafeInteger(seq) || (seq as number) < 1) return { ok: false, reason: 'bad seq' };
  if (!Number.isSafeInteger(batch) || (batch as number) < 1 || (batch as number) > (seq as number)) return { ok: false, reason: 'bad batch' };
  if (!Array.isArray(ops) || ops.length === 0) return { ok: false, reason: 'no ops' };
  const prepared: PreparedOp[] = new Array(ops.length);
  for (let i = 0; i < ops.length; i++) {
    const op = ops[i] as StateOp;
    try {
      if (op === null || typeof op !== 'object' || (op.op !== 'put' && op.op !== 'delete')) throw new Error(`op ${i} is neither put nor delete`);
      assertValidOp(op);
    } catch (err) {
      return { ok: false, reason: (err as Error).message };
    }
    prepared[i] = { collection: op.collection, key: op.key, json: op.op === 'put' ? JSON.stringify(op.value) : undefined };
  }
  return { ok: true, entry: { seq: seq as number, batch: batch as number, ops: prepared } };
}

export interface JournalScan {
  readonly entries: JournalEntry[];
  /** Bytes of the file that hold whole, valid commits; the rest is to be truncated away. */
  readonly validBytes: number;
  /** Set when a damaged tail was found (and is to be dropped). */
  readonly droppedTail?: { readonly line: number; readonly lines: number; readonly bytes: number; readonly reason: string };
}

/**
 * Reads a journal's commits, checking the sequence continues from
 * `expectedSeq`. Damage is tolerated only where a crash can leave it: at the
 * end of the newest journal (`isLast`), inside the last group-commit batch,
 * which was never acknowledged because its fsync had not returned. That is a
 * last line cut short, garbled or missing its newline, or (after a power loss
 * that persisted only some pages of the final write) any damaged lines
 * followed only by intact lines of that same batch. Everything else throws a
 * `StateStoreCorruptError` naming `file` and the 1-based line.
 */
export function scanJournal(buf: Buffer, options: { file: string; isLast: boolean; expectedSeq: number }): JournalScan {
  const { file, isLast } = options;
  interface Line {
    start: number;
    end: number;
    decoded: DecodedLine;
  }
  const lines: Line[] = [];
  for (let start = 0; start < buf.length; ) {
    const newline = buf.indexOf(0x0a, start);
    const end = newline === -1 ? buf.length : newline;
    const decoded: DecodedLine = newline === -1 ? { ok: false, reason: 'incomplete line (no newline)' } : decodeJournalLine(buf.subarray(start, end));
    lines.push({ start, end: newline === -1 ? end : end + 1, decoded });
    start = newline === -1 ? buf.length : newline + 1;
  }

  const entries: JournalEntry[] = [];
  let expectedSeq = options.expectedSeq;
  let firstBad = -1;
  for (let i = 0; i < lines.length; i++) {
    const { decoded } = lines[i];
    if (!decoded.ok) {
      firstBad = i;
      break;
    }
    if (decoded.entry.seq !== expectedSeq) {
      throw new StateStoreCorruptError(file, i + 1, `commit sequence broken: expected seq ${expectedSeq}, found ${decoded.entry.seq}`);
    }
    entries.push(decoded.entry);
    expectedSeq++;
  }
  if (firstBad === -1) return { entries, validBytes: buf.length };

  const bad = lines[firstBad];
  const reason = (bad.decoded as { reason: string }).reason;
  if (!isLast) throw new StateStoreCorruptError(file, firstBad + 1, `${reason} (only the newest journal may end in a torn write)`);
  const lastGoodSeq = expectedSeq - 1;
  const intactAfter = lines.slice(firstBad + 1).flatMap((l) => (l.decoded.ok ? [l.decoded.entry] : []));
  // Intact lines after the damage must all belong to one batch that began at or before the damage: the final,
  // unacknowledged write. An intact line of any other batch means damage in acknowledged data.
  const inFinalBatch =
    intactAfter.length === 0 ||
    intactAfter.every((e) => e.batch === intactAfter[0].batch && e.batch <= lastGoodSeq + 1 && e.seq > lastGoodSeq);
  if (!inFinalBatch) {
    throw new StateStoreCorruptError(file, firstBad + 1, `${reason}, and intact commits of later writes follow it`);
  }
  return {
    entries,
    validBytes: bad.start,
    droppedTail: { line: firstBad + 1, lines: lines.length - firstBad, bytes: buf.length - bad.start, reason },
  };
}

/** Applies ops in order; collections left empty disappear. */
export function applyOps(records: StateRecords, ops: readonly PreparedOp[]): void {
  for (const op of ops) {
    let collection = records.get(op.collection);
    if (op.json !== undefined) {
      if (!collection) records.set(op.collection, (collection = new Map()));
      collection.set(op.key, op.json);
    } else if (collection) {
      collection.delete(op.key);
      if (collection.size === 0) records.delete(op.collection);
    }
  }
}

export interface SnapshotHeader {
  /** Every journal below this generation is folded into the snapshot; replay starts at this one. */
  readonly generation: number;
  /** The seq of the last commit the snapshot holds; the next journal line has `lastSeq + 1`. */
  readonly lastSeq: number;
}

/**
 * The snapshot document in chunks of about `chunkChars`, so a large state is
 * written without building one huge string:
 *
 *   {"format":"singularity-state-snapshot","version":1,"generation":7,"lastSeq":1234,
 *    "collections":{"tasks":{"t1":{…},…},…},"crc":"1a2b3c4d"}
 *
 * `crc` is the CRC-32 of every byte before `,"crc":`.
 */
export function* encodeSnapshot(header: SnapshotHeader, records: StateRecords, chunkChars = 1 << 20): Generator<string> {
  let crc = 0;
  let chunk = `{"format":"${SNAPSHOT_FORMAT}","version":${SNAPSHOT_VERSION},"generation":${header.generation},"lastSeq":${header.lastSeq},"collections":{`;
  let firstCollection = true;
  for (const [name, collection] of records) {
    if (collection.size === 0) continue;
    chunk += `${firstCollection ? '' : ','}"${name}":{`;
    firstCollection = false;
    let firstKey = true;
    for (const [key, json] of collection) {
      chunk += `${firstKey ? '' : ','}${JSON.stringify(key)}:${json}`;
      firstKey = false;
      if (chunk.length >= chunkChars) {
        crc = crc32(chunk, crc);
        yield chunk;
        chunk = '';
      }
    }
    chunk += '}';
  }
  chunk += '}';
  crc = crc32(chunk, crc);
  yield `${chunk},"crc":"${hex32(crc)}"}\n`;
}

const SNAPSHOT_TRAILER = /,"crc":"([0-9a-f]{8})"\}\n?$/;

/** Parses and checks a snapshot file's bytes; throws `StateStoreCorruptError` naming `file`. */
export function decodeSnapshot(buf: Buffer, file: string): SnapshotHeader & { records: StateRecords } {
  const tail = buf.toString('latin1', Math.max(0, buf.length - 24));
  const trailer = SNAPSHOT_TRAILER.exec(tail);
  if (!trailer) throw new StateStoreCorruptError(file, undefined, 'no checksum trailer (the file is cut short or not a snapshot)');
  const bodyLength = buf.length - trailer[0].length;
  if (crc32(buf.subarray(0, bodyLength)) !== parseInt(trailer[1], 16)) throw new StateStoreCorruptError(file, undefined, 'checksum mismatch');
  let doc: { format?: unknown; version?: unknown; generation?: unknown; lastSeq?: unknown; collections?: unknown };
  try {
    doc = JSON.parse(buf.toString('utf8'));
  } catch (err) {
    throw new StateStoreCorruptError(file, undefined, `not JSON (${(err as Error).message})`);
  }
  if (doc.format !== SNAPSHOT_FORMAT || doc.version !== SNAPSHOT_VERSION) {
    throw new StateStoreCorruptError(file, undefined, `unknown format ${JSON.stringify(doc.format)} version ${JSON.stringify(doc.version)}`);
  }
  const { generation, lastSeq, collections } = doc;
  if (!Number.isSafeInteger(generation) || (generation as number) < 1) throw new StateStoreCorruptError(file, undefined, 'bad generation');
  if (!Number.isSafeInteger(lastSeq) || (lastSeq as number) < 0) throw new StateStoreCorruptError(file, undefined, 'bad lastSeq');
  if (!isPlainObject(collections)) throw new StateStoreCorruptError(file, undefined, 'collections is not an object');
  const records: StateRecords = new Map();
  for (const [name, entries] of Object.entries(collections)) {
    if (!COLLECTION_NAME.test(name) || !isPlainObject(entries)) throw new StateStoreCorruptError(file, undefined, `bad collection '${name}'`);
    const collection = new Map<string, string>();
    for (const [key, value] of Object.entries(entries)) collection.set(key, JSON.stringify(value));
    if (collection.size > 0) records.set(name, collection);
  }
  return { generation: generation as number, lastSeq: lastSeq as number, records };
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
