import type { ValueTransformer } from 'typeorm';

/**
 * Times are epoch milliseconds in `bigint` columns: exact, and the API's own unit. `pg` returns int8 as a
 * string (it may exceed 2^53); ours never do, so they come back as numbers.
 */
export const epochMillis: ValueTransformer = {
  to: (value: number | null | undefined) => value,
  from: (value: string | number | null) => (value === null || value === undefined ? value : Number(value)),
};

/** Id columns sort and compare byte-wise ("C"): the same order everywhere, and LIKE 'prefix%' can use the index. */
export const ID_COLLATION = 'C';
