/**
 * The PostgreSQL store's list queries and row mapping.
 *
 * A page is read in two steps, as in SqliteStore: a key query walks an index from the cursor
 * and returns each item's sort key and its approximate JSON size (from column sizes:
 * octet_length of a TOASTed value reads its header, not the value); then the items that fit
 * LIST_PAGE_BYTES are read by seq. Unlike SQLite, PostgreSQL plans with statistics, so the query
 * names no index: every filter's (column, created_at, seq) index and every sort's index exist
 * (postgresMigrations.ts), and the planner picks among them.
 *
 * Totals: exact from the counters (delta rows, summed) when the filters are only status and
 * top-level (runs: status and execution_mode); else the matches are counted up to COUNT_LIMIT
 * (a bounded walk) and past it `total` is a lower bound with `total_capped` set — a COUNT(*) of
 * a million rows on every page of a polled view is what the counters are there to avoid.
 *
 * Cursors are SqliteStore's (listCursor.ts): the last item's sort key, ending in seq.
 */
import type { ExecutionStatus, ListExecutionsQuery, ListRunsQuery, MessageRecord } from '@flows/protocol';
import {
  COUNT_LIMIT,
  decodeCursor,
  encodeCursor,
  EXECUTION_SIZED_COLUMNS,
  ITEM_OVERHEAD_BYTES,
  type CursorType,
  type CursorValue,
} from './listCursor';
import {
  EXECUTION_COLUMNS,
  LIST_PAGE_BYTES,
  type RecordingEntry,
  type RecordingKind,
  type StoredExecution,
  type StoredRecord,
  type StoredRun,
} from './store';

export type Arg = string | number | boolean | null | readonly string[];
export type Row = Record<string, unknown>;

/** One SQL statement with its parameters ($1…). */
export interface Sql {
  text: string;
  values: Arg[];
}

/** Builds a statement whose parameters are numbered as they are added. */
class SqlBuilder {
  readonly values: Arg[] = [];
  arg(v: Arg): string {
    this.values.push(v);
    return `$${this.values.length}`;
  }
}

interface SortSpec {
  keys: readonly string[];
  types: readonly CursorType[];
}

interface Filter {
  /** SQL with its parameters bound through `b`. */
  sql(b: SqlBuilder): string;
  /** Counter dimensions that answer this filter's count exactly (all filters having them). */
  counter?: Record<string, readonly Arg[]>;
}

interface ListTable {
  from: string;
  sorts: Record<string, SortSpec>;
  bytes: string;
  counters: string;
}

const sizeOf = (cols: readonly string[]) =>
  `${ITEM_OVERHEAD_BYTES} + ${cols.map((c) => `coalesce(octet_length(${c}::text), 0)`).join(' + ')}`;

const EXECUTION_LIST: ListTable = {
  from: 'executions',
  sorts: {
    created_at: { keys: ['created_at', 'seq'], types: ['text', 'int'] },
    updated_at: { keys: ['updated_at', 'seq'], types: ['text', 'int'] },
    status: { keys: ['status', 'created_at', 'seq'], types: ['text', 'text', 'int'] },
    priority: { keys: ['priority', 'created_at', 'seq'], types: ['int', 'text', 'int'] },
    name: { keys: ['name', 'created_at', 'seq'], types: ['text', 'text', 'int'] },
  },
  bytes: sizeOf(EXECUTION_SIZED_COLUMNS),
  counters: 'execution_counts',
};

const RUN_LIST: ListTable = {
  from: 'runs r',
  sorts: {
    created_at: { keys: ['r.created_at', 'r.seq'], types: ['text', 'int'] },
    updated_at: { keys: ['r.updated_at', 'r.seq'], types: ['text', 'int'] },
    status: { keys: ['r.status', 'r.created_at', 'r.seq'], types: ['text', 'text', 'int'] },
  },
  // The run's execution's name and message are in the item too: one index probe per row walked.
  bytes: `${sizeOf(['r.action_name', 'r.callback', 'r.schedule_id'])} + coalesce((SELECT ${[
    'e.name',
    'e.message',
  ]
    .map((c) => `coalesce(octet_length(${c}), 0)`)
    .join(' + ')} FROM executions e WHERE e.id = r.id), 0)`,
  counters: 'run_counts',
};

/** `col = v` for one value, `col = ANY(…)` for several (one value keeps its index's order). */
function oneOf(column: string, values: readonly string[], counter?: string): Filter {
  const args = [...new Set(values)];
  return {
    sql: (b) => (args.length === 1 ? `${column} = ${b.arg(args[0])}` : `${column} = ANY(${b.arg(args)})`),
    counter: counter ? { [counter]: args } : undefined,
  };
}

function eq(column: string, value: string | boolean | null, counter?: Filter['counter']): Filter {
  return { sql: (b) => (value === null ? `${column} IS NULL` : `${column} = ${b.arg(value)}`), counter };
}

export function executionFilters(q: ListExecutionsQuery): Filter[] {
  const filters: Filter[] = [];
  if (q.status?.length) filters.push(oneOf('status', q.status, 'status'));
  if (q.parent_execution_id !== undefined) {
    filters.push(
      q.parent_execution_id === 'none'
        ? eq('parent_execution_id', null, { top: [true] })
        : eq('parent_execution_id', q.parent_execution_id),
    );
  }
  if (q.type?.length) filters.push(oneOf('type', q.type));
  if (q.flow_name !== undefined) filters.push(eq('flow_name', q.flow_name));
  if (q.top_execution_id !== undefined) filters.push(eq('top_execution_id', q.top_execution_id));
  if (q.schedule_id !== undefined) filters.push(eq('schedule_id', q.schedule_id));
  if (q.is_productive !== undefined) filters.push(eq('is_productive', q.is_productive));
  return filters;
}

export function runFilters(q: ListRunsQuery): Filter[] {
  const filters: Filter[] = [];
  if (q.status?.length) filters.push(oneOf('r.status', q.status, 'status'));
  if (q.execution_mode?.length) filters.push(oneOf('r.execution_mode', q.execution_mode, 'execution_mode'));
  if (q.action_name !== undefined) filters.push(eq('r.action_name', q.action_name));
  if (q.uid !== undefined) filters.push(eq('r.id', q.uid));
  return filters;
}

/** Runs a query; lists use whichever connection the store gives them. */
export type Query = (sql: Sql) => Promise<Row[]>;

export interface KeyPage {
  /** seq of each item, in page order. */
  seqs: number[];
  total: number;
  capped: boolean;
  next: string | null;
}

/**
 * Which rows a page holds: the key query from the cursor, the byte budget, the total. `remember`
 * keeps, for a while, that a count reached COUNT_LIMIT (rows are not deleted: it still does), so
 * a view polled every second does not walk 10,000 index entries every time.
 */
export async function listKeys(
  query: Query,
  list: 'executions' | 'runs',
  filters: readonly Filter[],
  q: { sort: string; limit: number; offset: number; after?: string },
  remember: { has(key: string): boolean; add(key: string): void },
): Promise<KeyPage> {
  const t = list === 'executions' ? EXECUTION_LIST : RUN_LIST;
  const desc = q.sort.startsWith('-');
  const sort = t.sorts[desc ? q.sort.slice(1) : q.sort];
  const start = q.after === undefined ? undefined : decodeCursor(q.after, q.sort, sort.types);
  const want = q.limit + 1;

  const b = new SqlBuilder();
  const where = filters.map((f) => f.sql(b));
  if (start) {
    where.push(
      `(${sort.keys.join(', ')}) ${desc ? '<' : '>'} (${start.map((v) => b.arg(v as Arg)).join(', ')})`,
    );
  }
  const order = sort.keys.map((k) => `${k} ${desc ? 'DESC' : 'ASC'}`).join(', ');
  const keys = sort.keys.map((k, i) => `${k} AS k${i}`).join(', ');
  const rows = await query({
    text: `SELECT ${keys}, ${t.bytes} AS b FROM ${t.from} ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY ${order} LIMIT ${b.arg(want)} OFFSET ${b.arg(q.offset)}`,
    values: b.values,
  });
  const keyOf = (row: Row): CursorValue[] =>
    sort.keys.map((_, i) => (sort.types[i] === 'int' ? Number(row[`k${i}`]) : String(row[`k${i}`])));

  // The byte budget: items until their JSON passes LIST_PAGE_BYTES (at least one).
  const page: Row[] = [];
  let bytes = 0;
  for (const row of rows.slice(0, q.limit)) {
    const size = Number(row.b);
    if (page.length > 0 && bytes + size > LIST_PAGE_BYTES) break;
    bytes += size;
    page.push(row);
  }
  const more = rows.length > page.length;
  const next = more ? encodeCursor(q.sort, keyOf(page[page.length - 1])) : null;

  const { total: counted, exact } = await countMatches(query, t, filters, remember);
  // A capped total is still at least what was skipped, shown, and one more.
  const total = exact ? counted : Math.max(counted, (start ? 0 : q.offset) + page.length + (more ? 1 : 0));
  return {
    seqs: page.map((row) => Number(row[`k${sort.keys.length - 1}`])),
    total,
    capped: !exact,
    next,
  };
}

async function countMatches(
  query: Query,
  t: ListTable,
  filters: readonly Filter[],
  remember: { has(key: string): boolean; add(key: string): void },
): Promise<{ total: number; exact: boolean }> {
  const b = new SqlBuilder();
  if (filters.every((f) => f.counter)) {
    const dims: Record<string, readonly Arg[]> = {};
    for (const f of filters) Object.assign(dims, f.counter);
    const where = Object.entries(dims).map(([col, values]) => `${col} = ANY(${b.arg(values as string[])})`);
    const rows = await query({
      text: `SELECT coalesce(sum(n), 0) AS n FROM ${t.counters}${where.length ? ` WHERE ${where.join(' AND ')}` : ''}`,
      values: b.values,
    });
    return { total: Number(rows[0].n), exact: true };
  }
  const text = `SELECT count(*) AS n FROM (SELECT 1 FROM ${t.from} WHERE ${filters
    .map((f) => f.sql(b))
    .join(' AND ')} LIMIT ${COUNT_LIMIT}) m`;
  const key = `${text}\u0000${JSON.stringify(b.values)}`;
  if (remember.has(key)) return { total: COUNT_LIMIT, exact: false };
  const n = Number((await query({ text, values: b.values }))[0].n);
  if (n >= COUNT_LIMIT) remember.add(key);
  return { total: n, exact: n < COUNT_LIMIT };
}

// ---- Rows ------------------------------------------------------------------------------------

/** The columns of an execution row, in EXECUTION_COLUMNS order. */
export const EXECUTION_SELECT = EXECUTION_COLUMNS.join(', ');

/** JSON columns arrive as their text (the store's clients do not parse json: see PG_TYPES). */
export const fromJson = (v: unknown): unknown => (typeof v === 'string' ? JSON.parse(v) : null);
export const toJson = (v: unknown): string | null => (v === undefined ? null : (JSON.stringify(v) ?? null));

export function rowToExecution(row: Row): StoredExecution {
  const r: Record<string, unknown> = {};
  for (const c of EXECUTION_COLUMNS) if (c !== 'virtual') r[c] = row[c] ?? null;
  r.input_value = fromJson(row.input_value);
  r.output_value = fromJson(row.output_value);
  r.priority = Number(row.priority);
  r.max_runtime_minutes = Number(row.max_runtime_minutes);
  if (row.virtual === true) r.virtual = true;
  return r as unknown as StoredExecution;
}

/**
 * An execution as the REST API lists it (no paused_from, no virtual, plus has_children), built
 * by the server as one string: the API sends it on without parsing and serializing it again.
 */
export const PUBLIC_EXECUTION_JSON = `json_build_object(${EXECUTION_COLUMNS.filter(
  (c) => c !== 'virtual' && c !== 'paused_from',
)
  .map((c) => `'${c}', ${c}`)
  .join(
    ', ',
  )}, 'has_children', EXISTS (SELECT 1 FROM executions c WHERE c.parent_execution_id = executions.id))::text`;

const RUN_COLUMNS = `r.action_name AS run_action_name, r.execution_mode AS run_execution_mode,
  r.inputs_count AS run_inputs_count, r.schedule_id AS run_schedule_id, r.callback AS run_callback,
  r.created_at AS run_created_at, r.seq AS run_seq`;
export const RUN_SELECT = `SELECT ${EXECUTION_COLUMNS.map((c) => `e.${c}`).join(', ')}, ${RUN_COLUMNS}
  FROM runs r JOIN executions e ON e.id = r.id`;
/** A list of runs shows neither input nor output, and they may be megabytes each: not read. */
export const RUN_LIST_SELECT = `SELECT ${EXECUTION_COLUMNS.map((c) =>
  c === 'input_value' || c === 'output_value' ? `NULL AS ${c}` : `e.${c}`,
).join(', ')}, ${RUN_COLUMNS} FROM runs r JOIN executions e ON e.id = r.id`;

export function rowToRun(row: Row): StoredRun {
  return {
    id: String(row.id),
    action_name: String(row.run_action_name),
    execution_mode: String(row.run_execution_mode) as StoredRun['execution_mode'],
    inputs_count: Number(row.run_inputs_count),
    schedule_id: (row.run_schedule_id as string | null) ?? null,
    callback: (row.run_callback as string | null) ?? null,
    created_at: String(row.run_created_at),
  };
}

export function rowToRecord(row: Row): StoredRecord {
  return {
    id: String(row.id),
    type: String(row.type),
    name: String(row.name),
    data: (fromJson(row.data) ?? {}) as Record<string, unknown>,
    archived: row.archived === true,
    created_at: String(row.created_at),
    modified_at: String(row.modified_at),
  };
}

export function rowToMessage(row: Row): MessageRecord {
  return {
    id: String(row.id),
    execution_id: String(row.execution_id),
    subject: String(row.subject),
    body: fromJson(row.body),
    message_type: String(row.message_type),
    response: fromJson(row.response),
    created_at: String(row.created_at),
    responded_at: (row.responded_at as string | null) ?? null,
  };
}

export function rowToRecording(row: Row): RecordingEntry {
  return {
    execution_id: String(row.execution_id),
    seq: Number(row.seq),
    kind: row.kind as RecordingKind,
    name: String(row.name),
    value: fromJson(row.value),
    ts: String(row.ts),
  };
}

export type ChildCounts = Partial<Record<ExecutionStatus, number>>;
