/**
 * MemoryStore's rows and list pages. A page is computed as SqliteStore computes it (see "Lists"
 * there): the same order and tie-breaks, the same cursors, the same totals (capped where SQLite
 * caps them, at the same number) and the same byte budget, so that a test written against one
 * store holds for the other. SQLite picks among plans for speed; every plan gives the same page,
 * so one plan is enough here: filter, sort, cut. That is O(rows) a page: fine for tests.
 */
import type { ExecutionStatus, ListExecutionsQuery, ListRunsQuery } from '@flows/protocol';
import { COUNT_LIMIT, decodeCursor, encodeCursor, ITEM_OVERHEAD_BYTES } from './listCursor';
import {
  EXECUTION_COLUMNS,
  LIST_PAGE_BYTES,
  type ListPage,
  type StoredExecution,
  type StoredRun,
} from './store';

type KeyValue = string | number;

interface SortKey<R> {
  value(r: R): KeyValue;
  type: 'text' | 'int';
}

export interface Filter<R> {
  test(r: R): boolean;
  /**
   * SQLite answers its count from counters its triggers keep (status, top-level, run mode): exact
   * at any size. Other filters are counted up to COUNT_LIMIT.
   */
  counted: boolean;
  /**
   * The value its index leads with, where a filter takes several values (status IN …): SQLite
   * counts a capped total along that index, so which rows fall under the cap depends on it.
   */
  column?(r: R): KeyValue;
}

export interface Table<R> {
  /** The columns of each sort, before the unique tie-break (seq). */
  sorts: Record<string, readonly SortKey<R>[]>;
  /** Unique and ever-increasing: SQLite's seq (executions) or rowid (runs). */
  seq(r: R): number;
  created(r: R): string;
  /** SQLite's estimate of an item's JSON size: overhead plus its variable-length fields. */
  bytes(r: R): number;
}

interface PageQuery {
  sort?: string;
  limit?: number;
  offset?: number;
  after?: string;
}

/** Bytes of a text column as SQLite's octet_length counts them (UTF-8; NULL counts 0). */
const octets = (s: string | null | undefined): number => (s ? Buffer.byteLength(s) : 0);

/**
 * SQLite orders text by its UTF-8 bytes (code point order). JavaScript's `<` compares UTF-16
 * units, which puts U+E000–U+FFFF after astral characters (surrogates); swapping those two
 * ranges gives a string that `<` orders as SQLite does. Most text has neither: left as it is.
 */
const ABOVE_D800 = /[\uD800-\uFFFF]/;
function sortable(v: KeyValue): KeyValue {
  if (typeof v !== 'string' || !ABOVE_D800.test(v)) return v;
  return v.replace(/[\uD800-\uFFFF]/g, (c) => {
    const u = c.charCodeAt(0);
    return String.fromCharCode(u >= 0xe000 ? u - 0x800 : u + 0x2000);
  });
}

export function compareText(a: string, b: string): number {
  if (a === b) return 0;
  return sortable(a) < sortable(b) ? -1 : 1;
}

/** Keys of sortable values, position by position of one type. */
function compareKeys(a: readonly KeyValue[], b: readonly KeyValue[]): number {
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1;
  }
  return 0;
}

/**
 * The first `k` of `items` in `cmp` order. A page wants few of many rows: keeping the best k
 * in one pass costs far less than sorting them all.
 */
function firstK<T>(items: T[], k: number, cmp: (a: T, b: T) => number): T[] {
  if (items.length <= k * 4) return items.sort(cmp).slice(0, k);
  const out: T[] = [];
  for (const item of items) {
    if (out.length === k && cmp(item, out[k - 1]) >= 0) continue;
    let lo = 0;
    let hi = out.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cmp(out[mid], item) < 0) lo = mid + 1;
      else hi = mid;
    }
    out.splice(lo, 0, item);
    if (out.length > k) out.pop();
  }
  return out;
}

/**
 * The total as SqliteStore counts it: exact when every filter has counters, or when the
 * filter that matches least matches fewer than COUNT_LIMIT; else the matches among the first
 * COUNT_LIMIT rows of that filter's index (its column, created_at, seq), flagged as capped.
 */
function countTotal<R>(
  rows: readonly R[],
  matches: number,
  filters: readonly Filter<R>[],
  counts: readonly number[],
  t: Table<R>,
): { total: number; exact: boolean } {
  if (filters.every((f) => f.counted)) return { total: matches, exact: true };
  const capped = counts.map((n, i) => (filters[i].counted ? n : Math.min(n, COUNT_LIMIT)));
  if (filters.length === 1) return { total: capped[0], exact: capped[0] < COUNT_LIMIT };
  // The first of the least-matching filters, as SQLite's planner picks it.
  let best = 0;
  for (let i = 1; i < filters.length; i++) if (capped[i] < capped[best]) best = i;
  if (counts[best] < COUNT_LIMIT) return { total: matches, exact: true };
  const f = filters[best];
  const walked = firstK(
    rows
      .filter((r) => f.test(r))
      .map((r) => ({ r, key: [f.column?.(r) ?? 0, t.created(r), t.seq(r)].map(sortable) })),
    COUNT_LIMIT,
    (a, b) => compareKeys(a.key, b.key),
  );
  const total = walked.filter(({ r }) => filters.every((g) => g.test(r))).length;
  return { total, exact: false };
}

/** One page of `rows` (in seq order) under `filters`, as SqliteStore's listKeys pages them. */
export function listPage<R>(
  rows: Iterable<R>,
  t: Table<R>,
  filters: readonly Filter<R>[],
  q: PageQuery,
): ListPage<R> {
  const sort = q.sort ?? '-created_at';
  const limit = q.limit ?? 50;
  const offset = q.offset ?? 0;
  const desc = sort.startsWith('-');
  const columns = t.sorts[desc ? sort.slice(1) : sort];
  if (!columns) throw new Error(`no sort ${sort}`);
  const types = [...columns.map((c) => c.type), 'int' as const];
  const start = q.after === undefined ? undefined : decodeCursor(q.after, sort, types);
  const keyOf = (r: R): KeyValue[] => [...columns.map((c) => c.value(r)), t.seq(r)];
  const dir = desc ? -1 : 1;
  const from = start?.map(sortable);

  // One pass: what each filter matches (for the total), and the matches after the cursor.
  const all = [...rows];
  const counts = filters.map(() => 0);
  let matched = 0;
  const keyed: Array<{ r: R; key: KeyValue[] }> = [];
  for (const r of all) {
    let ok = true;
    for (let i = 0; i < filters.length; i++) {
      if (filters[i].test(r)) counts[i]++;
      else ok = false;
    }
    if (!ok) continue;
    matched++;
    const key = keyOf(r);
    for (let i = 0; i < key.length; i++) key[i] = sortable(key[i]);
    if (!from || compareKeys(key, from) * dir > 0) keyed.push({ r, key });
  }
  const { total: counted, exact } = countTotal(all, matched, filters, counts, t);
  const rowsWanted = firstK(keyed, offset + limit + 1, (a, b) => compareKeys(a.key, b.key) * dir).slice(
    offset,
  );

  // The byte budget: items until their JSON passes LIST_PAGE_BYTES (at least one).
  const page: typeof keyed = [];
  let bytes = 0;
  for (const k of rowsWanted.slice(0, limit)) {
    const b = t.bytes(k.r);
    if (page.length > 0 && bytes + b > LIST_PAGE_BYTES) break;
    bytes += b;
    page.push(k);
  }
  const more = rowsWanted.length > page.length;
  // A capped total is at least what was skipped, shown, and one more.
  const total = exact ? counted : Math.max(counted, (start ? 0 : offset) + page.length + (more ? 1 : 0));
  return {
    items: page.map((k) => k.r),
    total,
    total_capped: !exact,
    next: more ? encodeCursor(sort, keyOf(page[page.length - 1].r)) : null,
  };
}

// ---- The rows of MemoryStore, as its lists see them -------------------------------------------

/** JSON columns hold text: undefined is no value (NULL), which reads back as null. */
export const toJson = (v: unknown): string | null => (v === undefined ? null : (JSON.stringify(v) ?? null));
export const fromJson = (v: string | null): unknown => (v === null ? null : JSON.parse(v));

/**
 * An execution as kept: `rec` holds the columns (input and output as null) and is never handed
 * out; the values stay as JSON text, parsed into fresh objects on every read.
 */
export interface ExecutionRow {
  seq: number;
  rec: StoredExecution;
  input: string | null;
  output: string | null;
}

export interface RunRow {
  rowid: number;
  run: StoredRun;
  /** The top execution's, as SQLite's trigger copies them (the list sorts and filters on them). */
  status: ExecutionStatus;
  updated_at: string;
}

export function executionRow(r: StoredExecution, seq: number): ExecutionRow {
  const rec: Record<string, unknown> = {};
  for (const c of EXECUTION_COLUMNS)
    if (c !== 'virtual') rec[c] = (r as unknown as Record<string, unknown>)[c] ?? null;
  rec.input_value = null;
  rec.output_value = null;
  rec.is_productive = Boolean(r.is_productive);
  rec.priority = Number(r.priority);
  rec.max_runtime_minutes = Number(r.max_runtime_minutes);
  if (r.virtual) rec.virtual = true;
  return {
    seq,
    rec: rec as unknown as StoredExecution,
    input: toJson(r.input_value),
    output: toJson(r.output_value),
  };
}

export const readExecution = (row: ExecutionRow): StoredExecution => ({
  ...row.rec,
  input_value: fromJson(row.input),
  output_value: fromJson(row.output),
});

export const byCreated = (a: ExecutionRow, b: ExecutionRow): number =>
  compareText(a.rec.created_at, b.rec.created_at) || a.seq - b.seq;

export const EXECUTIONS: Table<ExecutionRow> = {
  sorts: {
    created_at: [{ value: (r) => r.rec.created_at, type: 'text' }],
    updated_at: [{ value: (r) => r.rec.updated_at, type: 'text' }],
    status: [
      { value: (r) => r.rec.status, type: 'text' },
      { value: (r) => r.rec.created_at, type: 'text' },
    ],
    priority: [
      { value: (r) => r.rec.priority, type: 'int' },
      { value: (r) => r.rec.created_at, type: 'text' },
    ],
    name: [
      { value: (r) => r.rec.name, type: 'text' },
      { value: (r) => r.rec.created_at, type: 'text' },
    ],
  },
  seq: (r) => r.seq,
  created: (r) => r.rec.created_at,
  bytes: (r) =>
    ITEM_OVERHEAD_BYTES +
    octets(r.input) +
    octets(r.output) +
    octets(r.rec.script) +
    octets(r.rec.message) +
    octets(r.rec.name) +
    octets(r.rec.flow_name) +
    octets(r.rec.parent_execution_id) +
    octets(r.rec.schedule_id) +
    octets(r.rec.webhook_id),
};

/** A filter on one column, for one value or any of several. */
function oneOf<R>(get: (r: R) => unknown, values: readonly unknown[], counted = false): Filter<R> {
  const set = new Set(values);
  return {
    test: (r) => set.has(get(r)),
    counted,
    column: set.size > 1 ? (r) => get(r) as string : undefined,
  };
}

/** The filters SqliteStore builds, in its order, counted exactly where it has counters. */
export function executionFilters(q: ListExecutionsQuery): Filter<ExecutionRow>[] {
  const filters: Filter<ExecutionRow>[] = [];
  const status = q.status?.length ? [...new Set(q.status)] : undefined;
  if (q.parent_execution_id !== undefined) {
    const top = q.parent_execution_id === 'none';
    const parent = top ? null : q.parent_execution_id;
    if (status?.length === 1) {
      // One filter in SQLite (one index holds both), counted only for top-level executions.
      filters.push({
        test: (r) => r.rec.parent_execution_id === parent && r.rec.status === status[0],
        counted: top,
      });
    } else {
      filters.push({ test: (r) => r.rec.parent_execution_id === parent, counted: top });
      if (status) filters.push(oneOf((r) => r.rec.status, status, true));
    }
  } else if (status) filters.push(oneOf((r) => r.rec.status, status, true));
  if (q.type?.length) filters.push(oneOf((r) => r.rec.type, q.type));
  if (q.flow_name !== undefined) filters.push(oneOf((r) => r.rec.flow_name, [q.flow_name]));
  if (q.top_execution_id !== undefined)
    filters.push(oneOf((r) => r.rec.top_execution_id, [q.top_execution_id]));
  if (q.schedule_id !== undefined) filters.push(oneOf((r) => r.rec.schedule_id, [q.schedule_id]));
  if (q.is_productive !== undefined) filters.push(oneOf((r) => r.rec.is_productive, [q.is_productive]));
  return filters;
}

export function runFilters(q: ListRunsQuery): Filter<RunRow>[] {
  const filters: Filter<RunRow>[] = [];
  if (q.status?.length) filters.push(oneOf((r) => r.status, q.status, true));
  if (q.execution_mode?.length) filters.push(oneOf((r) => r.run.execution_mode, q.execution_mode, true));
  if (q.action_name !== undefined) filters.push(oneOf((r) => r.run.action_name, [q.action_name]));
  if (q.uid !== undefined) filters.push(oneOf((r) => r.run.id, [q.uid]));
  return filters;
}

/** Runs as their list sees them; an item's size includes its top execution's name and message. */
export function runTable(top: (r: RunRow) => ExecutionRow | undefined): Table<RunRow> {
  return {
    sorts: {
      created_at: [{ value: (r) => r.run.created_at, type: 'text' }],
      updated_at: [{ value: (r) => r.updated_at, type: 'text' }],
      status: [
        { value: (r) => r.status, type: 'text' },
        { value: (r) => r.run.created_at, type: 'text' },
      ],
    },
    seq: (r) => r.rowid,
    created: (r) => r.run.created_at,
    bytes: (r) =>
      ITEM_OVERHEAD_BYTES +
      octets(r.run.action_name) +
      octets(r.run.callback) +
      octets(r.run.schedule_id) +
      octets(top(r)?.rec.name) +
      octets(top(r)?.rec.message),
  };
}
