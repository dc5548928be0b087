/**
 * The cursor of a list page (`next`, given back as `after`): base64url of JSON [sort, ...key],
 * where the key is the last item's sort key ending in a unique tie-break. Opaque to callers, so
 * a backend may change what is in it; one format for every store, so a `next` of one reads the
 * same in another (MemoryStore mirrors SqliteStore; PostgresStore uses the same keys).
 */
import { InvalidCursorError } from './store';

// What every store's lists share besides the cursor: where counting stops, and how a page's
// size in bytes is estimated (LIST_PAGE_BYTES), so that the stores answer the same pages.

/** Counting stops here: past it `total` is a lower bound (total_capped). */
export const COUNT_LIMIT = 10_000;
/**
 * How long list planning trusts what it found out: that a filter matches at least COUNT_LIMIT
 * rows (rows are not deleted, so it still does), or that walking a sort's index found no page
 * for a filter (its matches sit elsewhere in that order). Views are polled; a page asked for
 * again, or the next page, should not pay to find that out again.
 */
export const REMEMBER_MS = 30_000;
/** The JSON of an item beyond its variable-length fields (keys, numbers, timestamps, ids). */
export const ITEM_OVERHEAD_BYTES = 700;
/** The variable-length fields of a listed execution: its size estimate adds their lengths up. */
export const EXECUTION_SIZED_COLUMNS = [
  'input_value',
  'output_value',
  'script',
  'message',
  'name',
  'flow_name',
  'parent_execution_id',
  'schedule_id',
  'webhook_id',
] as const;

export type CursorValue = string | number;
/** What each key value is: text, or a safe integer. */
export type CursorType = 'text' | 'int';

export function encodeCursor(sort: string, key: readonly (CursorValue | null)[]): string {
  return Buffer.from(JSON.stringify([sort, ...key])).toString('base64url');
}

/** The key of `cursor`, made for `sort`; InvalidCursorError when it is not one of ours. */
export function decodeCursor(cursor: string, sort: string, types: readonly CursorType[]): CursorValue[] {
  const notOurs = () =>
    new InvalidCursorError('not a cursor of this list (use the `next` of a page as it was given)');
  let parsed: unknown;
  try {
    if (!/^[A-Za-z0-9_-]+$/.test(cursor)) throw new Error('not base64url');
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw notOurs();
  }
  if (!Array.isArray(parsed) || typeof parsed[0] !== 'string') throw notOurs();
  if (parsed[0] !== sort) {
    throw new InvalidCursorError(
      `the cursor was made for sort=${parsed[0].slice(0, 40)}, not sort=${sort}; ask with the same sort, or start over without after`,
    );
  }
  const key = parsed.slice(1) as unknown[];
  if (
    key.length !== types.length ||
    !types.every((t, i) => (t === 'int' ? Number.isSafeInteger(key[i]) : typeof key[i] === 'string'))
  ) {
    throw notOurs();
  }
  return key as CursorValue[];
}

/** The rows of a page's keys, in the keys' order (a query by key gives them in any order). */
export function inKeyOrder<R>(keys: readonly number[], rows: readonly R[], keyOf: (row: R) => number): R[] {
  const byKey = new Map(rows.map((r) => [keyOf(r), r]));
  return keys.flatMap((k) => byKey.get(k) ?? []);
}
