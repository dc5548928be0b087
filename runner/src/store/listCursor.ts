/**
 * The cursor of a list page (`next`, given back as `after`): base64url of JSON [sort, ...key],
 * where the key is the last item's sort key ending in a unique tie-break. Opaque to callers, so
 * a backend may change what is in it; one format for every store, so a `next` of one reads the
 * same in another (MemoryStore mirrors SqliteStore; PostgresStore uses the same keys).
 */
import { InvalidCursorError } from './store';

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
