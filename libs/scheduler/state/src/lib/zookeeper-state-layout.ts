import type { PreparedOp } from './state-files';

/**
 * Where the ZooKeeper store keeps what, and how it encodes it: pure functions
 * over strings and buffers (the I/O is in `ZooKeeperStateStore`). See the lib
 * README ("ZooKeeperStateStore") for the protocol that uses them.
 *
 *   <root>/state/<collection>/<key>       one record: the value's JSON (UTF-8), or a chunked header
 *   <root>/state/<collection>/<key>/<c>   the chunks of a value too large for one znode
 *   <root>/last-commit                    the commit record of the last batch (the write-ahead point)
 *   <root>/staged/<part>                  the parts of a commit record too large for one znode
 */

export const STATE_DIR = 'state';
export const STAGED_DIR = 'staged';
export const LAST_COMMIT = 'last-commit';

/** Data of a record whose value is split over child znodes: `#chunked {"chunks":["7-0","7-1"],"bytes":1234567}`. */
export const CHUNKED_PREFIX = '#chunked ';
/** Data of `last-commit` when the record is split over `staged/` parts. */
export const STAGED_PREFIX = '#staged ';
/** Data of `last-commit` once its batch is fully applied (written by `close()`). */
export const APPLIED_PREFIX = '#applied ';

/**
 * ZooKeeper refuses these characters in a znode name (PathUtils.validatePath); the C client sends names as
 * UTF-8, so lone surrogates would not survive either. `%` is escaped so that escapes are unambiguous.
 */
// eslint-disable-next-line no-control-regex
const ESCAPED_CHARS = /[%\u0000-\u001f\u007f-\u009f\ud800-\uf8ff\ufff0-\uffff]/g;
const ESCAPE = /%([0-9A-F]{4})/g;

/**
 * A key as a znode name. Keys are 1–1024 characters without `/` or NUL (assertValidOp); the characters
 * ZooKeeper refuses, and `%`, become `%XXXX` (the UTF-16 code unit in hex), as do the dots of the names
 * `.` and `..`. Task and request ids pass through unchanged, so the tree reads like Singularity's.
 */
export function encodeKey(key: string): string {
  if (key === '.' || key === '..') return key.replace(/\./g, '%002E');
  return key.replace(ESCAPED_CHARS, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`);
}

/** The key of a znode name written by `encodeKey`, or undefined for a name it cannot have written. */
export function decodeKey(name: string): string | undefined {
  if (name.length === 0) return undefined;
  const key = name.replace(ESCAPE, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
  return encodeKey(key) === name ? key : undefined;
}

/**
 * Checks and normalises the `root` option: an absolute znode path such as `/singularity`, without a
 * trailing slash, outside `/zookeeper`. `/` is allowed (the store then owns `/state`, `/last-commit`, …).
 */
export function normalizeRoot(root: string): string {
  if (typeof root !== 'string' || !root.startsWith('/')) throw new Error(`ZooKeeper root must be an absolute znode path, got '${root}'`);
  const trimmed = root.replace(/\/+$/, '');
  if (trimmed === '') return '/';
  for (const part of trimmed.slice(1).split('/')) {
    if (part === '' || part === '.' || part === '..' || encodeKey(part) !== part) {
      throw new Error(`ZooKeeper root '${root}' has an invalid path component '${part}'`);
    }
  }
  if (trimmed === '/zookeeper' || trimmed.startsWith('/zookeeper/')) throw new Error(`ZooKeeper root '${root}' is inside ZooKeeper's own /zookeeper tree`);
  return trimmed;
}

export function childPath(parent: string, name: string): string {
  return parent === '/' ? `/${name}` : `${parent}/${name}`;
}

/** The paths the store uses under `root` (normalised). */
export class ZooKeeperLayout {
  readonly state: string;
  readonly staged: string;
  readonly lastCommit: string;

  constructor(readonly root: string) {
    this.state = childPath(root, STATE_DIR);
    this.staged = childPath(root, STAGED_DIR);
    this.lastCommit = childPath(root, LAST_COMMIT);
  }

  collection(name: string): string {
    return childPath(this.state, name);
  }

  record(collection: string, key: string): string {
    return `${this.state}/${collection}/${encodeKey(key)}`;
  }

  /** Every znode from the ZooKeeper root down to `root`, parents first. */
  ancestors(): string[] {
    if (this.root === '/') return [];
    const parts = this.root.slice(1).split('/');
    return parts.map((_, i) => `/${parts.slice(0, i + 1).join('/')}`);
  }
}

// ---- records ----

export interface ChunkedHeader {
  /** Child znode names holding the value's UTF-8 bytes, in order. */
  readonly chunks: readonly string[];
  /** Total bytes; a reader checks it. */
  readonly bytes: number;
}

export type DecodedRecord = { kind: 'inline'; json: string } | { kind: 'chunked'; header: ChunkedHeader };

export function encodeChunkedHeader(header: ChunkedHeader): Buffer {
  return Buffer.from(`${CHUNKED_PREFIX}${JSON.stringify({ chunks: header.chunks, bytes: header.bytes })}`, 'utf8');
}

/**
 * Reads a record znode's data. JSON text never starts with `#`, so a chunked header cannot be mistaken
 * for a value. Throws (with the reason) on a header it cannot read.
 */
export function decodeRecord(data: Buffer): DecodedRecord {
  if (data.length > 0 && data[0] === 0x23 /* # */) {
    const text = data.toString('utf8');
    if (!text.startsWith(CHUNKED_PREFIX)) throw new Error(`unknown record header '${text.slice(0, 40)}'`);
    const parsed = JSON.parse(text.slice(CHUNKED_PREFIX.length)) as { chunks?: unknown; bytes?: unknown };
    if (!Array.isArray(parsed.chunks) || !parsed.chunks.every((c) => typeof c === 'string' && c.length > 0 && !c.includes('/'))) {
      throw new Error('chunked header without a list of chunk names');
    }
    if (!Number.isSafeInteger(parsed.bytes) || (parsed.bytes as number) < 0) throw new Error('chunked header without a byte count');
    return { kind: 'chunked', header: { chunks: parsed.chunks as string[], bytes: parsed.bytes as number } };
  }
  return { kind: 'inline', json: data.toString('utf8') };
}

/** Names of the chunks of a value written by batch `seq`: `<seq>-0`, `<seq>-1`, … */
export function chunkNames(seq: number, count: number): string[] {
  return Array.from({ length: count }, (_, i) => `${seq}-${i}`);
}

/** Splits `buf` into pieces of at most `size` bytes (at least one piece, possibly empty). */
export function splitBytes(buf: Buffer, size: number): Buffer[] {
  if (buf.length <= size) return [buf];
  const pieces: Buffer[] = [];
  for (let offset = 0; offset < buf.length; offset += size) pieces.push(buf.subarray(offset, Math.min(offset + size, buf.length)));
  return pieces;
}

// ---- the commit record ----

export interface StagedHeader {
  readonly seq: number;
  /** Names under `<root>/staged`, in order; their bytes concatenated are the commit record's journal line. */
  readonly parts: readonly string[];
  readonly bytes: number;
}

/**
 * `last-commit` holds one of:
 * - nothing (never written);
 * - a journal line in the embedded store's format (`{"crc":…,"seq":s,"batch":s,"ops":[…]}`): batch s, inline;
 * - `#staged {"seq":s,"parts":[…],"bytes":n}`: batch s, its journal line split over `staged/` parts;
 * - `#applied {"seq":s}`: batch s was fully applied (so `open()` has nothing to finish).
 */
export type CommitRecord =
  | { kind: 'none' }
  | { kind: 'inline'; line: Buffer }
  | { kind: 'staged'; header: StagedHeader }
  | { kind: 'applied'; seq: number };

export function encodeStagedHeader(header: StagedHeader): Buffer {
  return Buffer.from(`${STAGED_PREFIX}${JSON.stringify({ seq: header.seq, parts: header.parts, bytes: header.bytes })}`, 'utf8');
}

export function encodeApplied(seq: number): Buffer {
  return Buffer.from(`${APPLIED_PREFIX}${JSON.stringify({ seq })}`, 'utf8');
}

/** Throws (with the reason) on data the store cannot have written. */
export function decodeCommitRecord(data: Buffer | null): CommitRecord {
  if (!data || data.length === 0) return { kind: 'none' };
  if (data[0] === 0x7b /* { */) return { kind: 'inline', line: data };
  const text = data.toString('utf8');
  if (text.startsWith(STAGED_PREFIX)) {
    const parsed = JSON.parse(text.slice(STAGED_PREFIX.length)) as { seq?: unknown; parts?: unknown; bytes?: unknown };
    if (!Number.isSafeInteger(parsed.seq) || (parsed.seq as number) < 1) throw new Error('staged commit record without a seq');
    if (!Array.isArray(parsed.parts) || parsed.parts.length === 0 || !parsed.parts.every((p) => typeof p === 'string' && p.length > 0 && !p.includes('/'))) {
      throw new Error('staged commit record without its part names');
    }
    if (!Number.isSafeInteger(parsed.bytes)) throw new Error('staged commit record without a byte count');
    return { kind: 'staged', header: { seq: parsed.seq as number, parts: parsed.parts as string[], bytes: parsed.bytes as number } };
  }
  if (text.startsWith(APPLIED_PREFIX)) {
    const parsed = JSON.parse(text.slice(APPLIED_PREFIX.length)) as { seq?: unknown };
    if (!Number.isSafeInteger(parsed.seq) || (parsed.seq as number) < 0) throw new Error('applied marker without a seq');
    return { kind: 'applied', seq: parsed.seq as number };
  }
  throw new Error(`unknown commit record '${text.slice(0, 40)}'`);
}

/** Names of the parts of batch `seq`'s commit record: `<seq>-0`, `<seq>-1`, … */
export function partNames(seq: number, count: number): string[] {
  return Array.from({ length: count }, (_, i) => `${seq}-${i}`);
}

// ---- batches ----

/** collection → key → the value's JSON text after the batch, or undefined when the batch deletes it. */
export type BatchTargets = Map<string, Map<string, string | undefined>>;

/**
 * The net effect of ops applied in order: per key, only the last op counts. A batch is applied as
 * "make each key hold this" (or "be absent"), which gives the same end state as the ops one by one,
 * and can be repeated from any half-applied state with the same result: that is what lets `open()`
 * finish a batch whose writer died.
 */
export function collapseOps(ops: Iterable<PreparedOp>, into: BatchTargets = new Map()): BatchTargets {
  for (const op of ops) {
    let collection = into.get(op.collection);
    if (!collection) into.set(op.collection, (collection = new Map()));
    collection.delete(op.key); // re-insert: the order of a batch's targets follows the last op of each key
    collection.set(op.key, op.json);
  }
  return into;
}

export function targetsAsOps(targets: BatchTargets): PreparedOp[] {
  const ops: PreparedOp[] = [];
  for (const [collection, keys] of targets) for (const [key, json] of keys) ops.push({ collection, key, json });
  return ops;
}

export function countTargets(targets: BatchTargets): number {
  let n = 0;
  for (const keys of targets.values()) n += keys.size;
  return n;
}
