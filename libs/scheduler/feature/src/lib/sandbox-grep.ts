import { InvalidRequestError } from '@singularity/util';

/** Longest `grep` pattern accepted. */
export const MAX_GREP_LENGTH = 200;

// A quantified group that itself holds a quantifier, e.g. `(a+)+` or `(x*)*`: the shape behind
// catastrophic backtracking. The scheduler runs the pattern on its own event loop, so such
// patterns are refused rather than risked.
const NESTED_QUANTIFIER = /\((?:[^()\\]|\\.)*[+*}](?:[^()\\]|\\.)*\)\s*(?:[+*]|\{\d)/;

/** Compiles the `grep` query of `/sandbox/{taskId}/read`; a 400 names what is wrong. */
export function grepPattern(grep: string): RegExp {
  if (grep.length > MAX_GREP_LENGTH) throw new InvalidRequestError(`grep: at most ${MAX_GREP_LENGTH} characters`, 'grep');
  if (NESTED_QUANTIFIER.test(grep)) throw new InvalidRequestError('grep: nested quantifiers such as (a+)+ are not allowed', 'grep');
  try {
    return new RegExp(grep);
  } catch (err) {
    throw new InvalidRequestError(`grep: not a valid regular expression (${(err as Error).message})`, 'grep');
  }
}

export interface FileChunk {
  data: string;
  offset: number;
  nextOffset?: number;
}

/**
 * Keeps the lines of a chunk that match `grep`, as Singularity's sandbox read
 * does: each kept line ends with a newline, `offset` stays, and `nextOffset`
 * is where the unfiltered chunk ended, so paging goes on from there.
 */
export function grepChunk(chunk: FileChunk, grep: string): FileChunk {
  const pattern = grepPattern(grep);
  const kept = chunk.data
    .split('\n')
    .filter((line) => pattern.test(line))
    .map((line) => `${line}\n`)
    .join('');
  return { data: kept, offset: chunk.offset, nextOffset: chunk.nextOffset ?? chunk.offset + Buffer.byteLength(chunk.data) };
}
