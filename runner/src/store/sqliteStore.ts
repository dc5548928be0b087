/**
 * The default store: one SQLite file, through node-sqlite3-wasm (SQLite compiled to WebAssembly
 * with a Node fs VFS). WASM rather than a native addon because the runner must start the same in
 * plain Node 20 and in VS Code's Electron extension host, with nothing to compile or download.
 *
 * Each autocommit costs ~1 ms in this build, so writes are queued and written in one transaction
 * at most every FLUSH_INTERVAL_MS (group commit); an execution that changes status three times
 * in that time is written once. Reads commit the queue first, so they always see earlier writes
 * and never return anything a crash could still take back. Whoever must not go on before a write
 * is committed (an acknowledgement, a worker about to start, an end about to be announced) awaits
 * durable(): it resolves with the commit of the group that holds the write.
 *
 * Everything runs on the main thread (the WASM build is synchronous), so no statement may take
 * long: the list queries are planned to walk a bounded number of index entries (see
 * "Lists" below), and a bulk insert is written in slices of BULK_SLICE_MS with the event loop
 * free in between.
 */
import { Database, type Statement } from 'node-sqlite3-wasm';
import fs from 'node:fs';
import path from 'node:path';
import {
  ENDED_STATUSES,
  EXECUTION_STATUSES,
  type ExecutionRecord,
  type ExecutionStatus,
  type ListExecutionsQuery,
  type ListRunsQuery,
  type LogLine,
  type MessageRecord,
} from '@flows/protocol';
import { countBulkRows, expectBulkRows, type BulkParents } from './bulkParents';
import {
  COUNT_LIMIT,
  decodeCursor,
  encodeCursor,
  EXECUTION_SIZED_COLUMNS,
  inKeyOrder,
  ITEM_OVERHEAD_BYTES,
  REMEMBER_MS,
} from './listCursor';
import { MIGRATIONS } from './migrations';
import {
  LIST_PAGE_BYTES,
  type FlowSummary,
  type ListPage,
  type RecordingEntry,
  type RecordingKind,
  type RecordLookup,
  type RunWithExecution,
  type ExecutionField,
  type Store,
  type StoredRecord,
  type StoredExecution,
  type StoredFlow,
  type StoredRun,
  type StoredSchedule,
  type StoredWebhook,
  type StoredUserToken,
  type UserTokenInfo,
  EXECUTION_COLUMNS,
} from './store';

type Row = Record<string, string | number | null | bigint | Uint8Array>;
type Arg = string | number | null;

/** Rows per statement of a bulk insert: one call binds 100 rows, which is what makes it fast. */
const BULK_ROWS = 100;

/**
 * How long one slice of a bulk insert writes before it commits and lets the event loop run:
 * a 100,000-row insert takes seconds in all, and a request that arrives meanwhile waits for at
 * most one slice (plus its commit), not for the whole insert.
 */
const BULK_SLICE_MS = 5;

/** Shortest time between two commits of queued writes. */
const FLUSH_INTERVAL_MS = 10;
/**
 * Below FLUSH_INTERVAL_MS, a commit follows the last one after this many times the last one's
 * duration: a lightly loaded store commits a waiting write at once (a start waits for its
 * RUNNING commit, and a fixed spacing added up to 10 ms to each), while commits never take more
 * than a fifth of the store's thread; a busy store's bigger commits space themselves out again.
 */
const COMMIT_SPACING_FACTOR = 4;

/**
 * SQLite's page cache, in KiB (its default is 2 MB). At a million executions the indexes are
 * hundreds of MB; a list walks a few of their pages, and each page not in the cache is a read
 * through the VFS. 32 MB keeps the hot upper levels and recent leaves of every index.
 */
const CACHE_KIB = 32 * 1024;

// ---- Lists ------------------------------------------------------------------------------------
//
// A list is answered in two steps: a key query walks an index and returns, for each item of the
// page, its sort key and its size in bytes (from the record header: no input or output is read);
// then the items that fit the byte budget are read by rowid, each as one JSON document SQLite
// builds. The key query's index is chosen here (INDEXED BY), from how many rows each filter
// matches (counters, or a count of at most COUNT_LIMIT index entries):
//
// - no filter: the sort's own index, in order: O(limit).
// - a filter whose (column, created_at, seq) index is in the sort's order (one value, default
//   sort; or a sort on the filtered column) and matches least: walk it. Alone that is O(limit);
//   the other filters, if any, are checked along the way.
// - else the cheaper of two: sort the matches of the filter that matches least (O(its count),
//   when it is known to be small), or walk the sort's index checking the filters (about
//   want × rows / count entries if matches are spread evenly). A walk that finds no full page in
//   WALK_ROWS entries (the filter is correlated with the sort: a run's children all share its
//   priority) gives up and sorts the smallest filter's matches instead.
//
// Every filter and every sort alone is thus a range walk of O(limit) entries. A combination of
// a filter and another sort costs at most the filter's matches; that is the one case that can
// reach tens of milliseconds at a million rows (25,000 children of one flow, sorted by priority).
//
// Totals: exact from counters (execution_counts, run_counts: kept by triggers) when the filters
// are only status and parent_execution_id=none (runs: status and execution_mode) — the views
// asked for most. Otherwise the matches are counted up to COUNT_LIMIT along the most selective
// filter's index (a walk of at most COUNT_LIMIT entries); past it `total` is a lower bound and
// `total_capped` says so. A COUNT(*) of 700,000 matches takes ~50 ms here, one of a million
// ~100 ms: no list may cost that on every page.
//
// Paging: `after` is a cursor holding the last item's sort key (its sort column, created_at and
// the unique seq/rowid), so the next page is a range that starts there: it costs the same at any
// depth, and rows added meanwhile are neither repeated nor skipped. `offset` still works (after
// the cursor when both are given); a deep offset walks the index, from whichever end is nearer
// when the total is exact.

/** Rows a page walks in its sort's order, checking filters, before it changes plan. */
const WALK_ROWS = 5_000;

/** One sort of a list: the index in its order and the columns of its key (unique together). */
interface SortSpec {
  index: string;
  keys: readonly string[];
  /** What each key value is in a cursor: text or an integer. */
  types: readonly ('text' | 'int')[];
}

/** One filter of a list query. */
interface ListFilter {
  sql: string;
  args: Arg[];
  /** The index whose leading columns are this filter's (null: the primary key; SQLite finds it). */
  index: string | null;
  /** The column it constrains: a sort on that column keeps the index's order. */
  column: string;
  /** One value (= or IS NULL): its index holds the matches in (created_at, seq) order. */
  eq: boolean;
  /** Counter dimensions that answer this filter's count exactly. */
  counter?: Record<string, Arg[]>;
  /** How many rows match (exact when below COUNT_LIMIT, or when from counters). */
  count?: number;
  exact?: boolean;
}

/** A table that lists: its sorts, how its key query reads, and its counters. */
interface ListTable {
  /** FROM clause that walks `index`. */
  from(index: string | null): string;
  sorts: Record<string, SortSpec>;
  /** SQL: the approximate JSON size of an item, from column sizes only. */
  bytes: string;
  /**
   * SQL (`?` = the unique keys) for what `bytes` leaves out because it lives in another table,
   * as rows (k, b): read for the items of a page only, not for every row a sort goes through.
   */
  moreBytes?: (n: number) => string;
  counters: string;
}

interface KeyRow {
  key: Arg[];
  bytes: number;
}

const EXECUTION_LIST: ListTable = {
  from: (index) => `executions${index ? ` INDEXED BY ${index}` : ''}`,
  sorts: {
    created_at: { index: 'executions_created', keys: ['created_at', 'seq'], types: ['text', 'int'] },
    updated_at: { index: 'executions_updated', keys: ['updated_at', 'seq'], types: ['text', 'int'] },
    status: {
      index: 'executions_status_created',
      keys: ['status', 'created_at', 'seq'],
      types: ['text', 'text', 'int'],
    },
    priority: {
      index: 'executions_priority_created',
      keys: ['priority', 'created_at', 'seq'],
      types: ['int', 'text', 'int'],
    },
    name: {
      index: 'executions_name_created',
      keys: ['name', 'created_at', 'seq'],
      types: ['text', 'text', 'int'],
    },
  },
  bytes: `${ITEM_OVERHEAD_BYTES} + ${EXECUTION_SIZED_COLUMNS.map(
    (c) => `coalesce(octet_length(${c}), 0)`,
  ).join(' + ')}`,
  counters: 'execution_counts',
};

const RUN_LIST: ListTable = {
  from: (index) => `runs r${index ? ` INDEXED BY ${index}` : ''}`,
  sorts: {
    created_at: { index: 'runs_created', keys: ['r.created_at', 'r.rowid'], types: ['text', 'int'] },
    updated_at: { index: 'runs_updated', keys: ['r.updated_at', 'r.rowid'], types: ['text', 'int'] },
    status: {
      index: 'runs_status_created',
      keys: ['r.status', 'r.created_at', 'r.rowid'],
      types: ['text', 'text', 'int'],
    },
  },
  bytes: `${ITEM_OVERHEAD_BYTES} + ${['r.action_name', 'r.callback', 'r.schedule_id']
    .map((c) => `coalesce(octet_length(${c}), 0)`)
    .join(' + ')}`,
  moreBytes: (n) =>
    `SELECT r.rowid AS k, coalesce(octet_length(e.name), 0) + coalesce(octet_length(e.message), 0) AS b
     FROM runs r CROSS JOIN executions e ON e.id = r.id WHERE r.rowid IN (${placeholders(n)})`,
  counters: 'run_counts',
};

/** The (column, created_at, seq) index of each single-value filter of executions. */
const FILTER_INDEX = {
  parent_execution_id: 'executions_parent_created',
  top_execution_id: 'executions_top_created',
  schedule_id: 'executions_schedule_created',
  flow_name: 'executions_flow_created',
  is_productive: 'executions_productive_created',
} as const;

const placeholders = (n: number): string => Array(n).fill('?').join(', ');

/** `col = ?` for one value, `col IN (?, …)` for several. */
function oneOf(col: string, values: readonly Arg[]): string {
  return values.length === 1 ? `${col} = ?` : `${col} IN (${placeholders(values.length)})`;
}

/** A filter of `sqlColumn` on any of `values` (deduplicated), walked along `index`. */
function oneOfFilter(
  sqlColumn: string,
  column: string,
  values: readonly Arg[],
  index: string,
  counter?: string,
): ListFilter {
  const args = [...new Set(values)];
  return {
    sql: oneOf(sqlColumn, args),
    args,
    index,
    column,
    eq: args.length === 1,
    counter: counter ? { [counter]: args } : undefined,
  };
}

const ENDED_SQL = [...ENDED_STATUSES].map((s) => `'${s}'`).join(',');
const UNENDED_SQL = EXECUTION_STATUSES.filter((s) => !ENDED_STATUSES.has(s))
  .map((s) => `'${s}'`)
  .join(',');

const toJson = (v: unknown): string | null => (v === undefined ? null : JSON.stringify(v));
const fromJson = (v: unknown): unknown => (typeof v === 'string' ? JSON.parse(v) : null);

/** An execution's column values in EXECUTION_COLUMNS order, for positional binding. */
function executionValues(r: StoredExecution, out: Row[keyof Row][]): void {
  for (const c of EXECUTION_COLUMNS) out.push(executionValue(r, c));
}

/** One field as its column holds it. */
function executionValue(r: StoredExecution, c: ExecutionField): Row[keyof Row] {
  if (c === 'input_value' || c === 'output_value') return toJson(r[c]);
  if (c === 'is_productive' || c === 'virtual') return r[c] ? 1 : 0;
  return (r[c] as string | number | null | undefined) ?? null;
}

function rowToExecution(row: Row): StoredExecution {
  const r: Record<string, unknown> = {};
  for (const c of EXECUTION_COLUMNS) if (c !== 'virtual') r[c] = row[c] ?? null;
  r.input_value = fromJson(row.input_value);
  r.output_value = fromJson(row.output_value);
  r.is_productive = row.is_productive === 1;
  r.priority = Number(row.priority);
  r.max_runtime_minutes = Number(row.max_runtime_minutes);
  if (row.virtual === 1) r.virtual = true;
  return r as unknown as StoredExecution;
}

/**
 * An execution as one JSON document built by SQLite: a page reads one string per row through
 * the WASM boundary instead of 25 columns, and JSON.parse makes the record (inputs and outputs
 * included) in one native call — the columns one by one cost the list API half its time.
 */
function jsonObject(columns: readonly string[]): string {
  return `json_object(${columns
    .map((c) =>
      c === 'input_value' || c === 'output_value'
        ? `'${c}', json(${c})`
        : c === 'is_productive'
          ? `'${c}', json(CASE WHEN ${c} THEN 'true' ELSE 'false' END)`
          : `'${c}', ${c}`,
    )
    .join(', ')}) AS j`;
}
const EXECUTION_JSON = `${jsonObject(EXECUTION_COLUMNS.filter((c) => c !== 'virtual'))}, virtual`;
/**
 * As the REST API lists an execution: without what only the runner needs (see publicRecord), and
 * whether it has children (one lookup in the parent index per row), so a client draws no expand
 * arrow on a row that opens to nothing.
 */
const PUBLIC_EXECUTION_JSON = jsonObject(
  EXECUTION_COLUMNS.filter((c) => c !== 'virtual' && c !== 'paused_from'),
).replace(
  /\) AS j$/,
  `, 'has_children', json(CASE WHEN EXISTS (SELECT 1 FROM executions AS c WHERE c.parent_execution_id = executions.id) THEN 'true' ELSE 'false' END)) AS j`,
);

function jsonToExecution(row: Row): StoredExecution {
  const r = JSON.parse(String(row.j)) as StoredExecution;
  if (row.virtual === 1) r.virtual = true;
  return r;
}

function rowToRun(row: Row): StoredRun {
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

const RUN_COLUMNS = `r.action_name AS run_action_name, r.execution_mode AS run_execution_mode,
  r.inputs_count AS run_inputs_count, r.schedule_id AS run_schedule_id, r.callback AS run_callback,
  r.created_at AS run_created_at`;
const RUN_SELECT = `SELECT e.*, ${RUN_COLUMNS} FROM runs r JOIN executions e ON e.id = r.id`;
/** A list of runs shows neither input nor output, and they may be megabytes each: not read. */
const RUN_LIST_SELECT = `SELECT ${EXECUTION_COLUMNS.map((c) =>
  c === 'input_value' || c === 'output_value' ? `NULL AS ${c}` : `e.${c}`,
).join(', ')}, r.rowid AS run_rowid, ${RUN_COLUMNS} FROM runs r CROSS JOIN executions e ON e.id = r.id`;

function rowToRecord(row: Row): StoredRecord {
  return {
    id: String(row.id),
    type: String(row.type),
    name: String(row.name),
    data: (fromJson(row.data) ?? {}) as Record<string, unknown>,
    archived: row.archived === 1,
    created_at: String(row.created_at),
    modified_at: String(row.modified_at),
  };
}

function rowToMessage(row: Row): MessageRecord {
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

/**
 * node-sqlite3-wasm (0.8.60) sizes the buffer of a bound string with emscripten's
 * lengthBytesUTF8, which counts any surrogate as half of a pair, while the encoder writes a lone
 * one as 3 bytes: text with a lone surrogate followed by a non-ASCII character lost its tail.
 * JSON.parse makes lone surrogates from "\udc80" escapes, so a name or a log line can hold one.
 * Every string is bound well-formed (a lone surrogate becomes U+FFFD) at the one place all
 * bindings pass; well-formed strings, nearly all of them, are passed on as they are.
 */
let boundWellFormed = false;
function bindWellFormedText(): void {
  if (boundWellFormed) return;
  boundWellFormed = true;
  const db = new Database(':memory:');
  const stmt = db.prepare('SELECT 1');
  const proto = Object.getPrototypeOf(stmt) as { _bindValue?: (v: unknown, pos: number) => unknown };
  stmt.finalize();
  db.close();
  const bind = proto._bindValue;
  if (!bind || (bind as { wellFormed?: boolean }).wellFormed) return;
  const wrapped = function (this: unknown, value: unknown, position: number) {
    return bind.call(
      this,
      typeof value === 'string' && !value.isWellFormed() ? value.toWellFormed() : value,
      position,
    );
  };
  (wrapped as { wellFormed?: boolean }).wellFormed = true;
  proto._bindValue = wrapped;
}

export class SqliteStore implements Store {
  private readonly db: Database;
  /** `changed`: the fields that differ from the row as stored, or null when not known (all). */
  private readonly pendingExecutions = new Map<
    string,
    { rec: StoredExecution; changed: Set<ExecutionField> | null }
  >();
  /** UPDATE statements by the fields they set (a few shapes: start, end, pause, ...). */
  private readonly narrowUpdates = new Map<string, { stmt: Statement; fields: ExecutionField[] }>();
  private pendingLogs: LogLine[] = [];
  private pendingRecordings: RecordingEntry[] = [];
  private pendingRecords = new Map<string, StoredRecord>();
  private pendingMessages = new Map<string, MessageRecord>();
  /** Rows of bulk inserts not written yet start at bulkHead (see writeBulkSlice). */
  private bulk: StoredExecution[] = [];
  private bulkHead = 0;
  /** Bulk rows ever queued and ever committed: a durable() caller waits for those queued before it. */
  private bulkQueued = 0;
  private bulkCommitted = 0;
  /**
   * Parents of bulk rows still being written, with how many are left; `marked`: in bulk_inserts;
   * `expected`: the count was given up front (expectBulk), so later rows do not add to it.
   */
  private readonly bulkParents: BulkParents = new Map();
  /** Schedules as JSON without their inputs (which change rarely and can be large); null = delete. */
  private pendingSchedules = new Map<string, { data: string; created_at: string } | null>();
  private pendingScheduleInputs = new Map<string, string | null>();
  private pendingWebhooks = new Map<string, StoredWebhook | null>();
  private pendingRuns = new Map<string, StoredRun>();
  private bulkInsert?: Statement;
  private readonly insertExecution: Statement;
  private flushScheduled = false;
  private lastFlush = 0;
  private lastCommitMs = 0;
  private closed = false;
  /** durable() callers waiting for a commit, and for the bulk rows queued before them. */
  private durableWaiters: Array<{
    bulk: number;
    resolve: () => void;
    reject: (err: unknown) => void;
  }> = [];
  private readonly upsertExecution: Statement;
  private readonly insertLog: Statement;
  /** Prepared statements of the list queries, by SQL (their shapes are few). */
  private readonly statements = new Map<string, Statement>();
  /** While explain() runs: the query plans of the statements the list runs. */
  private plans?: string[];
  /**
   * What list planning learnt, until when: filters that match at least COUNT_LIMIT rows (see
   * countFilter), and filter-and-sort pairs whose walk found no page (see listKeys).
   */
  private readonly remembered = new Map<string, number>();

  /**
   * `file` must be owned by this process alone (see dataDirLock.ts): the database is opened in
   * exclusive locking mode, which is what lets it use a write-ahead log through a VFS without
   * shared memory. With WAL and synchronous = NORMAL a commit is an append with no fsync (only
   * checkpoints sync): a killed runner loses nothing, a power cut may lose the last commits but
   * never corrupts the file. The rollback journal it replaces synced twice per commit, which
   * blocked the event loop for a quarter of the time under load.
   */
  constructor(readonly file: string) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    // The VFS locks with a `<file>.lock` folder, which a killed owner leaves behind; the data
    // folder's lock says nobody else has the file, so such a folder is stale.
    fs.rmSync(`${file}.lock`, { recursive: true, force: true });
    bindWellFormedText();
    this.db = new Database(file);
    this.db.exec(
      `PRAGMA locking_mode = EXCLUSIVE; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = OFF; PRAGMA cache_size = -${CACHE_KIB};`,
    );
    const mode = this.db.get('PRAGMA journal_mode = WAL')?.journal_mode;
    if (mode !== 'wal') this.db.exec('PRAGMA journal_mode = TRUNCATE');
    this.migrate();
    const cols = EXECUTION_COLUMNS.join(', ');
    const params = placeholders(EXECUTION_COLUMNS.length);
    const updates = EXECUTION_COLUMNS.filter((c) => c !== 'id')
      .map((c) => `${c} = excluded.${c}`)
      .join(', ');
    this.upsertExecution = this.db.prepare(
      `INSERT INTO executions (${cols}) VALUES (${params}) ON CONFLICT(id) DO UPDATE SET ${updates}`,
    );
    this.insertExecution = this.db.prepare(
      `INSERT INTO executions (${cols}) VALUES (${placeholders(EXECUTION_COLUMNS.length)}) ON CONFLICT(id) DO NOTHING`,
    );
    this.recoverBulkInserts();
    this.insertLog = this.db.prepare(
      'INSERT OR IGNORE INTO logs (execution_id, seq, ts, stream, text) VALUES (?, ?, ?, ?, ?)',
    );
  }

  private migrate(): void {
    const version = Number(this.db.get('PRAGMA user_version')?.user_version ?? 0);
    if (version > MIGRATIONS.length) {
      throw new Error(
        `${this.file} was written by a newer version of Flows (schema ${version}, this runner knows ${MIGRATIONS.length})`,
      );
    }
    for (let v = version; v < MIGRATIONS.length; v++) {
      this.db.exec('BEGIN');
      try {
        this.db.exec(MIGRATIONS[v]);
        this.db.exec(`PRAGMA user_version = ${v + 1}`);
        this.db.exec('COMMIT');
      } catch (err) {
        this.db.exec('ROLLBACK');
        throw err;
      }
    }
  }

  /**
   * A runner that stopped while an async run's children were being written left a mark: the
   * run was never acknowledged (the 202 waits for the last slice), so it must not go on with
   * part of its inputs — a client that retries would run those twice. The run and its unended
   * children end here, before the engine reads what is unfinished.
   */
  private recoverBulkInserts(): void {
    const marks = this.db.all('SELECT parent_id, rows FROM bulk_inserts') as Row[];
    if (marks.length === 0) return;
    const ts = new Date().toISOString();
    this.db.exec('BEGIN');
    try {
      for (const m of marks) {
        const stored = Number(
          (
            this.db.get(
              'SELECT COUNT(*) AS n FROM executions WHERE parent_execution_id = ?',
              m.parent_id,
            ) as Row
          ).n,
        );
        const why = `the runner stopped while the inputs of this run were being stored (${stored} of ${Number(m.rows)}); the run was not accepted`;
        this.db.run(
          `UPDATE executions SET status = 'FAILED', message = ?, ended_at = ?, updated_at = ?, paused_from = NULL
           WHERE id = ? AND status NOT IN (${ENDED_SQL})`,
          [why, ts, ts, m.parent_id],
        );
        this.db.run(
          `UPDATE executions SET status = 'STOPPED', message = ?, ended_at = ?, updated_at = ?, paused_from = NULL
           WHERE parent_execution_id = ? AND status NOT IN (${ENDED_SQL})`,
          ['its run was not accepted: the runner stopped while storing its inputs', ts, ts, m.parent_id],
        );
      }
      this.db.exec('DELETE FROM bulk_inserts; COMMIT');
    } catch (err) {
      this.db.exec('ROLLBACK');
      throw err;
    }
  }

  private schedule(): void {
    if (this.flushScheduled || this.closed) return;
    this.flushScheduled = true;
    // Each commit syncs the file, which took half the main thread under load; commits at most
    // every FLUSH_INTERVAL_MS group more writes, at the cost of a few milliseconds of durability
    // (less when commits are quick: see COMMIT_SPACING_FACTOR).
    // The slices of a bulk insert follow each other at once, with only the event loop between.
    const spacing = Math.min(FLUSH_INTERVAL_MS, COMMIT_SPACING_FACTOR * this.lastCommitMs);
    const wait = this.bulkLeft() > 0 ? 0 : this.lastFlush + spacing - performance.now();
    const flush = () => {
      this.flushScheduled = false;
      this.flushSync();
    };
    if (wait > 0) setTimeout(flush, wait);
    else setImmediate(flush);
  }

  putExecution(rec: StoredExecution, changed?: readonly ExecutionField[]): void {
    const before = this.pendingExecutions.get(rec.id);
    // Unknown once any put of the row in this group did not say what it changed.
    let fields: Set<ExecutionField> | null = null;
    if (changed && (!before || before.changed)) {
      fields = new Set(before?.changed);
      for (const f of changed) if (f !== 'id') fields.add(f);
    }
    this.pendingExecutions.set(rec.id, { rec: { ...rec }, changed: fields });
    this.schedule();
  }

  appendLog(line: LogLine): void {
    this.pendingLogs.push(line);
    this.schedule();
  }

  appendRecording(entry: RecordingEntry): void {
    // As JSON now: the caller may go on changing what it handed in.
    this.pendingRecordings.push({ ...entry, value: toJson(entry.value) });
    this.schedule();
  }

  putRecord(rec: StoredRecord): void {
    this.pendingRecords.set(rec.id, { ...rec, data: { ...rec.data } });
    this.schedule();
  }

  putMessage(msg: MessageRecord): void {
    this.pendingMessages.set(msg.id, { ...msg });
    this.schedule();
  }

  insertExecutions(recs: StoredExecution[]): void {
    if (recs.length === 0) return;
    for (const r of recs) this.bulk.push(r);
    countBulkRows(this.bulkParents, recs);
    this.bulkQueued += recs.length;
    this.schedule();
  }

  expectBulk(parentId: string, rows: number): void {
    expectBulkRows(this.bulkParents, parentId, rows);
  }

  private bulkLeft(): number {
    return this.bulk.length - this.bulkHead;
  }

  putSchedule(schedule: StoredSchedule): void {
    const { inputs: _inputs, ...data } = schedule;
    this.pendingSchedules.set(schedule.id, { data: JSON.stringify(data), created_at: schedule.created_at });
    this.schedule();
  }

  putScheduleInputs(id: string, inputs: unknown[] | null): void {
    this.pendingScheduleInputs.set(id, inputs ? JSON.stringify(inputs) : null);
    this.schedule();
  }

  deleteSchedule(id: string): void {
    this.pendingSchedules.set(id, null);
    this.pendingScheduleInputs.delete(id);
    this.schedule();
  }

  putWebhook(webhook: StoredWebhook): void {
    this.pendingWebhooks.set(webhook.id, { ...webhook });
    this.schedule();
  }

  deleteWebhook(id: string): void {
    this.pendingWebhooks.set(id, null);
    this.schedule();
  }

  putRun(run: StoredRun): void {
    this.pendingRuns.set(run.id, { ...run });
    this.schedule();
  }

  /**
   * The next slice of the bulk rows, for up to `budgetMs`, inside the caller's transaction; how
   * many rows it wrote. BULK_ROWS per statement; their ids are time-ordered, so the id index is
   * appended to, not scattered over. A row that an upsert already wrote (a child that started,
   * or ended, before its slice came) is left as that upsert wrote it: the upsert is newer. The
   * parents' marks in bulk_inserts (writeBulkMarks) are removed with their last rows.
   */
  private writeBulkSlice(budgetMs: number): number {
    const start = performance.now();
    let i = this.bulkHead;
    const end = this.bulk.length;
    const values: Row[keyof Row][] = [];
    while (i < end && performance.now() - start < budgetMs) {
      if (end - i >= BULK_ROWS) {
        this.bulkInsert ??= this.db.prepare(
          `INSERT INTO executions (${EXECUTION_COLUMNS.join(', ')}) VALUES ${Array(BULK_ROWS)
            .fill(`(${placeholders(EXECUTION_COLUMNS.length)})`)
            .join(', ')} ON CONFLICT(id) DO NOTHING`,
        );
        values.length = 0;
        for (let j = i; j < i + BULK_ROWS; j++) executionValues(this.bulk[j], values);
        this.bulkInsert.run(values);
        i += BULK_ROWS;
      } else {
        values.length = 0;
        executionValues(this.bulk[i++], values);
        this.insertExecution.run(values);
      }
    }
    const written = this.sliceParents(i - this.bulkHead);
    for (const [parent, n] of written) {
      if (this.bulkParents.get(parent)?.left === n) {
        this.db.run('DELETE FROM bulk_inserts WHERE parent_id = ?', parent);
      }
    }
    return i - this.bulkHead;
  }

  /** How many of the next `n` bulk rows each parent has. */
  private sliceParents(n: number): Map<string, number> {
    const counts = new Map<string, number>();
    for (let j = this.bulkHead; j < this.bulkHead + n; j++) {
      const parent = this.bulk[j].parent_execution_id;
      if (parent) counts.set(parent, (counts.get(parent) ?? 0) + 1);
    }
    return counts;
  }

  /**
   * Parents whose rows are coming get their mark in bulk_inserts with the first commit after
   * they are known, rows or not (an engine makes its rows in slices of its own).
   */
  private writeBulkMarks(): void {
    for (const [id, p] of this.bulkParents) {
      if (p.marked) continue;
      this.db.run('INSERT OR REPLACE INTO bulk_inserts (parent_id, rows, started_at) VALUES (?, ?, ?)', [
        id,
        p.rows,
        new Date().toISOString(),
      ]);
    }
  }

  /** After the commit of a slice of `n` rows: they (and their parents' marks) are written. */
  private bulkWritten(n: number): void {
    for (const p of this.bulkParents.values()) p.marked = true;
    if (n === 0) return;
    for (const [parent, k] of this.sliceParents(n)) {
      const p = this.bulkParents.get(parent);
      if (p && (p.left -= k) <= 0) this.bulkParents.delete(parent);
    }
    this.bulkHead += n;
    this.bulkCommitted += n;
    if (this.bulkHead === this.bulk.length) {
      this.bulk = [];
      this.bulkHead = 0;
    }
  }

  private writeDocuments(): void {
    for (const [id, s] of this.pendingSchedules) {
      if (!s) {
        this.db.run('DELETE FROM schedules WHERE id = ?', id);
        this.db.run('DELETE FROM schedule_firings WHERE schedule_id = ?', id);
      } else
        this.db.run(
          'INSERT INTO schedules (id, data, created_at) VALUES (?, ?, ?) ON CONFLICT(id) DO UPDATE SET data = excluded.data',
          [id, s.data, s.created_at],
        );
    }
    for (const [id, inputs] of this.pendingScheduleInputs) {
      this.db.run('UPDATE schedules SET inputs = ? WHERE id = ?', [inputs, id]);
    }
    for (const [id, w] of this.pendingWebhooks) {
      if (!w) this.db.run('DELETE FROM webhooks WHERE id = ?', id);
      else
        this.db.run('INSERT OR REPLACE INTO webhooks (id, data, created_at) VALUES (?, ?, ?)', [
          id,
          JSON.stringify(w),
          w.created_at,
        ]);
    }
    // A run's status and updated_at are its top execution's (kept in step by a trigger), here
    // copied from it once; an upsert, not a replace, keeps its rowid (the list's tiebreak).
    for (const r of this.pendingRuns.values()) {
      this.db.run(
        `INSERT INTO runs (id, action_name, execution_mode, inputs_count, schedule_id, callback, created_at, status, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, coalesce((SELECT status FROM executions WHERE id = ?), 'CREATED'),
           coalesce((SELECT updated_at FROM executions WHERE id = ?), ?))
         ON CONFLICT(id) DO UPDATE SET action_name = excluded.action_name, execution_mode = excluded.execution_mode,
           inputs_count = excluded.inputs_count, schedule_id = excluded.schedule_id, callback = excluded.callback,
           created_at = excluded.created_at`,
        [
          r.id,
          r.action_name,
          r.execution_mode,
          r.inputs_count,
          r.schedule_id,
          r.callback,
          r.created_at,
          r.id,
          r.id,
          r.created_at,
        ],
      );
    }
    this.pendingSchedules.clear();
    this.pendingScheduleInputs.clear();
    this.pendingWebhooks.clear();
    this.pendingRuns.clear();
  }

  private hasPending(): boolean {
    return !(
      this.pendingExecutions.size === 0 &&
      this.pendingLogs.length === 0 &&
      this.pendingRecordings.length === 0 &&
      this.pendingRecords.size === 0 &&
      this.pendingMessages.size === 0 &&
      this.bulkLeft() === 0 &&
      this.pendingSchedules.size === 0 &&
      this.pendingScheduleInputs.size === 0 &&
      this.pendingWebhooks.size === 0 &&
      this.pendingRuns.size === 0
    );
  }

  /**
   * One transaction for everything queued since the last flush, and (`bulkMs` > 0) the next
   * slice of the bulk rows. durable() callers whose writes it completes are told once it is
   * committed; if it fails, every waiting caller is told so.
   */
  private flushSync(bulkMs = BULK_SLICE_MS): void {
    if (this.closed) return;
    this.lastFlush = performance.now();
    try {
      this.commitPending(bulkMs);
      this.lastCommitMs = performance.now() - this.lastFlush;
    } catch (err) {
      const waiters = this.durableWaiters;
      this.durableWaiters = [];
      for (const w of waiters) w.reject(err);
      throw err;
    }
    if (this.durableWaiters.length) {
      const done = this.durableWaiters.filter((w) => w.bulk <= this.bulkCommitted);
      if (done.length) {
        this.durableWaiters = this.durableWaiters.filter((w) => w.bulk > this.bulkCommitted);
        for (const w of done) w.resolve();
      }
    }
    if (this.bulkLeft() > 0) this.schedule();
  }

  /**
   * A list sees every write queued before it, committed — by waiting for the next group commit
   * (at most FLUSH_INTERVAL_MS) rather than committing on its own: 300 lists a second would
   * otherwise mean 300 commits a second, each taking the thread from the executions. Bulk rows
   * being written are not waited for.
   */
  private async commitBeforeList(): Promise<void> {
    if (this.hasPending() && !this.onlyBulkPending()) await this.committed();
  }

  /** Reads commit what is queued first, but leave the bulk rows to their own slices. */
  private flushForRead(): void {
    if (this.hasPending()) this.flushSync(0);
  }

  private commitPending(bulkMs: number): void {
    if (!this.hasPending()) return;
    const withBulk = bulkMs > 0 && this.bulkLeft() > 0;
    if (!withBulk && this.onlyBulkPending()) return;
    const executions = [...this.pendingExecutions.values()];
    const logs = this.pendingLogs;
    const recordings = this.pendingRecordings;
    const records = [...this.pendingRecords.values()];
    const messages = [...this.pendingMessages.values()];
    this.pendingExecutions.clear();
    this.pendingLogs = [];
    this.pendingRecordings = [];
    this.pendingRecords.clear();
    this.pendingMessages.clear();
    let bulkRows = 0;
    this.db.exec('BEGIN');
    try {
      this.writeBulkMarks();
      // Bulk rows first: an upsert of the same row in this transaction is newer, and must win.
      if (withBulk) bulkRows = this.writeBulkSlice(bulkMs);
      for (const e of executions) this.writeExecution(e.rec, e.changed);
      for (const l of logs) this.insertLog.run([l.execution_id, l.seq, l.ts, l.stream, l.text]);
      for (const r of recordings) {
        this.db.run(
          'INSERT OR IGNORE INTO recordings (execution_id, seq, kind, name, value, ts) VALUES (?, ?, ?, ?, ?, ?)',
          [r.execution_id, r.seq, r.kind, r.name, r.value as string | null, r.ts],
        );
      }
      for (const r of records) {
        this.db.run(
          `INSERT INTO records (id, type, name, data, archived, created_at, modified_at) VALUES (?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT(id) DO UPDATE SET name = excluded.name, data = excluded.data, archived = excluded.archived, modified_at = excluded.modified_at`,
          [r.id, r.type, r.name, JSON.stringify(r.data), r.archived ? 1 : 0, r.created_at, r.modified_at],
        );
      }
      for (const m of messages) {
        this.db.run(
          'INSERT OR REPLACE INTO messages (id, execution_id, subject, body, message_type, response, created_at, responded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
          [
            m.id,
            m.execution_id,
            m.subject,
            toJson(m.body),
            m.message_type,
            toJson(m.response),
            m.created_at,
            m.responded_at,
          ],
        );
      }
      this.writeDocuments();
      this.db.exec('COMMIT');
    } catch (err) {
      this.db.exec('ROLLBACK');
      throw err;
    }
    this.bulkWritten(bulkRows);
  }

  /**
   * The row as a whole, or only the fields that changed: an UPDATE touches only the indexes of
   * the columns it sets, where the upsert rewrites all twelve (a start and an end cost half as
   * much). A row the UPDATE does not find (its insert is still queued, say in a bulk slice to
   * come) is written whole.
   */
  private writeExecution(rec: StoredExecution, changed: Set<ExecutionField> | null): void {
    if (changed && changed.size > 0) {
      const key = [...changed].sort().join(',');
      let update = this.narrowUpdates.get(key);
      if (!update) {
        const fields = key.split(',') as ExecutionField[];
        const sets = fields.map((f) => `${f} = ?`).join(', ');
        update = { stmt: this.db.prepare(`UPDATE executions SET ${sets} WHERE id = ?`), fields };
        this.narrowUpdates.set(key, update);
      }
      const values: Row[keyof Row][] = [];
      for (const f of update.fields) values.push(executionValue(rec, f));
      values.push(rec.id);
      if (update.stmt.run(values).changes > 0) return;
    }
    const values: Row[keyof Row][] = [];
    executionValues(rec, values);
    this.upsertExecution.run(values);
  }

  /** Nothing but bulk rows waits (a read then has nothing to commit). */
  private onlyBulkPending(): boolean {
    return (
      this.pendingExecutions.size === 0 &&
      this.pendingLogs.length === 0 &&
      this.pendingRecordings.length === 0 &&
      this.pendingRecords.size === 0 &&
      this.pendingMessages.size === 0 &&
      this.pendingSchedules.size === 0 &&
      this.pendingScheduleInputs.size === 0 &&
      this.pendingWebhooks.size === 0 &&
      this.pendingRuns.size === 0
    );
  }

  /**
   * Writes what is queued now; resolves once it is committed, bulk rows included (their slices
   * go on, with the event loop free in between, until the last one is written).
   */
  async flush(): Promise<void> {
    this.flushSync();
    if (this.bulkLeft() > 0) await this.durable();
  }

  /**
   * Resolves once every write queued so far is committed: with the next group commit (at most
   * FLUSH_INTERVAL_MS away), not with a commit of its own, so many callers share one. Bulk rows
   * queued before the call are waited for to their last slice.
   */
  durable(): Promise<void> {
    return this.waitForCommit(this.bulkQueued);
  }

  committed(): Promise<void> {
    return this.waitForCommit(0);
  }

  private waitForCommit(bulk: number): Promise<void> {
    if (this.closed || (!this.hasPending() && this.durableWaiters.length === 0)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.durableWaiters.push({ bulk, resolve, reject });
      this.schedule();
    });
  }

  async getExecution(id: string): Promise<StoredExecution | undefined> {
    // Committed first, not answered from the queue: what a read returns survives a crash.
    if (this.pendingExecutions.has(id)) this.flushForRead();
    const row = this.db.get('SELECT * FROM executions WHERE id = ?', id) as Row | null;
    return row ? rowToExecution(row) : undefined;
  }

  async listExecutions(q: ListExecutionsQuery): Promise<ListPage<StoredExecution>> {
    await this.commitBeforeList();
    const page = this.executionKeys(q);
    return { ...page, items: this.executionRows(page.items, EXECUTION_JSON).map(jsonToExecution) };
  }

  async listExecutionsJson(q: ListExecutionsQuery): Promise<ListPage<{ id: string; json: string }>> {
    await this.commitBeforeList();
    const page = this.executionKeys(q);
    const rows = this.executionRows(page.items, PUBLIC_EXECUTION_JSON);
    return { ...page, items: rows.map((r) => ({ id: String(r.id), json: String(r.j) })) };
  }

  /** The rows of a page's keys, in the keys' order, as `select` makes them. */
  private executionRows(keys: readonly number[], select: string): Row[] {
    if (keys.length === 0) return [];
    const rows = this.query(
      `SELECT seq, id, ${select} FROM executions WHERE seq IN (${placeholders(keys.length)})`,
      keys as number[],
    );
    return inKeyOrder(keys, rows, (r) => Number(r.seq));
  }

  /** Which executions a page holds (their seq), its total and its next cursor. */
  private executionKeys(q: ListExecutionsQuery): ListPage<number> {
    const filters: ListFilter[] = [];
    const eq = (
      column: keyof typeof FILTER_INDEX,
      value: Arg,
      counter?: Record<string, Arg[]>,
    ): ListFilter => ({
      sql: value === null ? `${column} IS NULL` : `${column} = ?`,
      args: value === null ? [] : [value],
      index: FILTER_INDEX[column],
      column,
      eq: true,
      counter,
    });
    const status = q.status?.length ? [...new Set(q.status)] : undefined;
    const parent =
      q.parent_execution_id === undefined
        ? undefined
        : q.parent_execution_id === 'none'
          ? eq('parent_execution_id', null, { top: [1] })
          : eq('parent_execution_id', q.parent_execution_id);
    if (parent && status?.length === 1) {
      // One index holds both: top-level (or one parent's) executions in one status, in order.
      filters.push({
        sql: `${parent.sql} AND status = ?`,
        args: [...parent.args, status[0]],
        index: 'executions_parent_status_created',
        column: 'status',
        eq: true,
        counter: parent.counter && { ...parent.counter, status },
      });
    } else {
      if (parent) filters.push(parent);
      if (status)
        filters.push(oneOfFilter('status', 'status', status, 'executions_status_created', 'status'));
    }
    if (q.type?.length) filters.push(oneOfFilter('type', 'type', q.type, 'executions_type_created'));
    if (q.flow_name !== undefined) filters.push(eq('flow_name', q.flow_name));
    if (q.top_execution_id !== undefined) filters.push(eq('top_execution_id', q.top_execution_id));
    if (q.schedule_id !== undefined) filters.push(eq('schedule_id', q.schedule_id));
    if (q.is_productive !== undefined) filters.push(eq('is_productive', q.is_productive ? 1 : 0));
    const page = this.listKeys(EXECUTION_LIST, filters, q);
    return { items: page.keys, total: page.total, total_capped: page.capped, next: page.next };
  }

  /**
   * The query plans (EXPLAIN QUERY PLAN, one line per step) of every statement a list query
   * runs, for tests that check each filter and sort is served by an index.
   */
  async explain(list: 'executions', q: ListExecutionsQuery): Promise<string[]>;
  async explain(list: 'runs', q: ListRunsQuery): Promise<string[]>;
  async explain(list: 'executions' | 'runs', q: ListExecutionsQuery | ListRunsQuery): Promise<string[]> {
    this.plans = [];
    try {
      if (list === 'executions') await this.listExecutions(q as ListExecutionsQuery);
      else await this.listRuns(q as ListRunsQuery);
      return this.plans;
    } finally {
      this.plans = undefined;
    }
  }

  /** A cached prepared statement (list queries come in a few shapes, each asked often). */
  private statement(sql: string): Statement {
    let st = this.statements.get(sql);
    if (!st) {
      if (this.statements.size >= 200) {
        for (const old of this.statements.values()) old.finalize();
        this.statements.clear();
      }
      st = this.db.prepare(sql);
      this.statements.set(sql, st);
    }
    return st;
  }

  private explainStep(sql: string, args: Arg[]): void {
    if (!this.plans) return;
    const steps = this.db.all(`EXPLAIN QUERY PLAN ${sql}`, args) as Row[];
    this.plans.push(`${sql.replace(/\s+/g, ' ')}\n  ${steps.map((r) => String(r.detail)).join('\n  ')}`);
  }

  private query(sql: string, args: Arg[]): Row[] {
    this.explainStep(sql, args);
    return this.statement(sql).all(args) as Row[];
  }

  /** Rows one at a time, so that the caller can stop early (its own statement: it is finalized). */
  private *iterate(sql: string, args: Arg[]): Generator<Row> {
    this.explainStep(sql, args);
    const st = this.db.prepare(sql);
    try {
      yield* st.iterate(args) as Iterable<Row>;
    } finally {
      st.finalize();
    }
  }

  private remember(key: string): void {
    if (this.remembered.size >= 1000) this.remembered.clear();
    this.remembered.set(key, Date.now() + REMEMBER_MS);
  }

  /** How many rows the counters hold for these filters (every one of them has counter dimensions). */
  private counted(t: ListTable, filters: readonly ListFilter[]): number {
    const dims: Record<string, Arg[]> = {};
    for (const f of filters) Object.assign(dims, f.counter);
    const where = Object.entries(dims).map(([col, values]) => oneOf(col, values));
    const sql = `SELECT coalesce(sum(n), 0) AS n FROM ${t.counters}${where.length ? ` WHERE ${where.join(' AND ')}` : ''}`;
    return Number(this.query(sql, Object.values(dims).flat())[0].n);
  }

  /** How many rows match one filter: exactly below COUNT_LIMIT, else COUNT_LIMIT (a walk of its index). */
  private countFilter(t: ListTable, f: ListFilter): void {
    if (f.counter) {
      f.count = this.counted(t, [f]);
      f.exact = true;
      return;
    }
    const sql = `SELECT count(*) AS n FROM (SELECT 1 FROM ${t.from(f.index)} WHERE ${f.sql} LIMIT ${COUNT_LIMIT})`;
    // A filter that matched COUNT_LIMIT rows still does (rows are not deleted): that answer is
    // kept a while, so a view polled every second does not walk 10,000 entries every time.
    const key = `${sql}\u0000${JSON.stringify(f.args)}`;
    if ((this.remembered.get(key) ?? 0) > Date.now()) f.count = COUNT_LIMIT;
    else {
      f.count = Number(this.query(sql, f.args)[0].n);
      if (f.count >= COUNT_LIMIT) this.remember(key);
    }
    f.exact = f.count < COUNT_LIMIT;
  }

  /**
   * The keys of one page (see "Lists" at the top): which rows, in order, within the byte budget;
   * the total; and the cursor of the next page.
   */
  private listKeys(
    t: ListTable,
    filters: ListFilter[],
    q: { sort: string; limit: number; offset: number; after?: string },
  ): { keys: number[]; total: number; capped: boolean; next: string | null } {
    const desc = q.sort.startsWith('-');
    const sort = t.sorts[desc ? q.sort.slice(1) : q.sort];
    const field = desc ? q.sort.slice(1) : q.sort;
    const start: Arg[] | undefined =
      q.after === undefined ? undefined : decodeCursor(q.after, q.sort, sort.types);
    const keyList = sort.keys.join(', ');
    const order = (reverse: boolean) =>
      sort.keys.map((k) => `${k} ${desc !== reverse ? 'DESC' : 'ASC'}`).join(', ');
    const from = (key: Arg[], inclusive: boolean) =>
      `(${keyList}) ${desc ? '<' : '>'}${inclusive ? '=' : ''} (${placeholders(key.length)})`;
    const keyCols = `${sort.keys.map((k, i) => `${k} AS k${i}`).join(', ')}, ${t.bytes} AS b`;
    const keyOf = (row: Row): KeyRow => ({
      key: sort.keys.map((_, i) => row[`k${i}`] as Arg),
      bytes: Number(row.b),
    });

    // Total, and how many rows each filter matches (which decides the plan).
    for (const f of filters) this.countFilter(t, f);
    let total: number;
    let exact: boolean;
    const best = filters.reduce<ListFilter | undefined>(
      (a, f) => (!a || f.count! < a.count! ? f : a),
      undefined,
    );
    if (filters.every((f) => f.counter)) {
      total = filters.length === 1 ? filters[0].count! : this.counted(t, filters);
      exact = true;
    } else if (filters.length === 1) {
      total = filters[0].count!;
      exact = filters[0].exact!;
    } else {
      const others = filters.filter((f) => f !== best);
      const sql = `SELECT count(*) AS walked, total(m) AS n FROM (SELECT (${others.map((f) => f.sql).join(') AND (')}) AS m
        FROM ${t.from(best!.index)} WHERE ${best!.sql} LIMIT ${COUNT_LIMIT})`;
      const r = this.query(sql, [...others.flatMap((f) => f.args), ...best!.args])[0];
      total = Number(r.n);
      exact = Number(r.walked) < COUNT_LIMIT;
    }

    // The plan: which index the key query walks, and which filters it checks row by row.
    // - A filter whose index is in the sort's order, and counts least (or few): walk it. With no
    //   other filter that is the page itself; with others, they are checked along the way.
    // - Else the cheaper of: sorting the matches of the smallest filter (when it is small, that
    //   costs its count), or walking the sort's index until the page is full (about want × N /
    //   count rows, if matches are spread evenly; given up after WALK_ROWS if they are not).
    const inOrder = (f: ListFilter) => (f.eq && field === 'created_at') || field === f.column;
    const ordered = filters.filter(inOrder).sort((a, b) => a.count! - b.count!);
    const want = q.limit + 1;
    let index: string | null = sort.index;
    let walkExtra: ListFilter[] = [];
    const o = ordered[0] && (ordered[0] === best || ordered[0].exact) ? ordered[0] : undefined;
    if (o) {
      index = o.index;
      if (!o.exact) walkExtra = filters.filter((f) => f !== o);
    } else if (best) {
      const rows = this.counted(t, []);
      if (best.exact && best.count! <= (want * rows) / Math.max(1, best.count!)) index = best.index;
      else {
        index = ordered[0]?.index ?? sort.index;
        walkExtra = filters.filter((f) => f !== ordered[0]);
      }
    }
    const where = (fs: readonly ListFilter[], key?: Arg[], inclusive = false) => {
      const parts = fs.map((f) => f.sql);
      if (key) parts.push(from(key, inclusive));
      return {
        sql: parts.length ? `WHERE ${parts.join(' AND ')}` : '',
        args: [...fs.flatMap((f) => f.args), ...(key ?? [])],
      };
    };
    let rows: KeyRow[] | undefined;

    // A walk that found no page is not tried again for a while for the same filters and sort.
    const walkKey = `walk\u0000${q.sort}\u0000${filters.map((f) => `${f.sql}\u0000${JSON.stringify(f.args)}`).join('\u0000')}`;
    if (walkExtra.length && (this.remembered.get(walkKey) ?? 0) > Date.now()) {
      walkExtra = [];
      index = best!.index;
    }
    if (walkExtra.length) {
      // Walk the index in the sort's order, checking the other filters; give up after WALK_ROWS.
      const driver = ordered[0] ? [ordered[0]] : [];
      const w = where(driver, start);
      const sql = `SELECT ${keyCols}, (${walkExtra.map((f) => f.sql).join(') AND (')}) AS m
        FROM ${t.from(index)} ${w.sql} ORDER BY ${order(false)} LIMIT ${WALK_ROWS}`;
      const found: KeyRow[] = [];
      let walked = 0;
      let skip = q.offset;
      for (const row of this.iterate(sql, [...walkExtra.flatMap((f) => f.args), ...w.args])) {
        walked++;
        if (row.m !== 1) continue;
        if (skip > 0) skip--;
        else if (found.push(keyOf(row)) >= want) break;
      }
      if (found.length >= want || walked < WALK_ROWS) rows = found;
      else {
        // Correlated with the sort: take the page from the smallest filter's matches.
        index = best!.index;
        this.remember(walkKey);
      }
    }
    if (!rows) {
      let key = start;
      let offset = q.offset;
      let inclusive = false;
      if (exact && !start && offset > 0) {
        if (offset >= total) rows = [];
        else if (offset > total / 2) {
          // A deep page: find its first key from the other end, which is nearer.
          const w = where(filters);
          const sql = `SELECT ${keyCols} FROM ${t.from(index)} ${w.sql} ORDER BY ${order(true)} LIMIT 1 OFFSET ?`;
          const first = this.query(sql, [...w.args, total - 1 - offset])[0];
          if (first) {
            key = keyOf(first).key;
            inclusive = true;
            offset = 0;
          }
        }
      }
      if (!rows) {
        const w = where(filters, key, inclusive);
        const sql = `SELECT ${keyCols} FROM ${t.from(index)} ${w.sql} ORDER BY ${order(false)} LIMIT ? OFFSET ?`;
        rows = this.query(sql, [...w.args, want, offset]).map(keyOf);
      }
    }

    // The byte budget: items until their JSON passes LIST_PAGE_BYTES (at least one).
    if (t.moreBytes && rows.length) {
      const candidates = rows.slice(0, q.limit);
      const keys = candidates.map((r) => r.key[r.key.length - 1]);
      const more = new Map(this.query(t.moreBytes(keys.length), keys).map((r) => [Number(r.k), Number(r.b)]));
      for (const r of candidates) r.bytes += more.get(Number(r.key[r.key.length - 1])) ?? 0;
    }
    const page: KeyRow[] = [];
    let bytes = 0;
    for (const r of rows.slice(0, q.limit)) {
      if (page.length > 0 && bytes + r.bytes > LIST_PAGE_BYTES) break;
      bytes += r.bytes;
      page.push(r);
    }
    const more = rows.length > page.length;
    const next = more ? encodeCursor(q.sort, page[page.length - 1].key) : null;
    if (!exact) total = Math.max(total, (start ? 0 : q.offset) + page.length + (more ? 1 : 0));
    return { keys: page.map((r) => Number(r.key[r.key.length - 1])), total, capped: !exact, next };
  }

  async listUnfinished(): Promise<StoredExecution[]> {
    this.flushForRead();
    const rows = this.db.all(
      // created_at first: a bulk insert's rows are written before the other writes of their
      // commit, so seq alone put children before the parent made just before them.
      `SELECT * FROM executions WHERE status IN (${UNENDED_SQL}) ORDER BY created_at, seq`,
    ) as Row[];
    return rows.map(rowToExecution);
  }

  async listDescendantIds(id: string): Promise<string[]> {
    this.flushForRead();
    const rows = this.db.all(
      `WITH RECURSIVE sub(id) AS (
         SELECT id FROM executions WHERE parent_execution_id = ?
         UNION ALL SELECT e.id FROM executions e JOIN sub ON e.parent_execution_id = sub.id)
       SELECT id FROM sub`,
      id,
    ) as Row[];
    return rows.map((r) => String(r.id));
  }

  async getLog(executionId: string, after: number, limit: number): Promise<LogLine[]> {
    this.flushForRead();
    const rows = this.db.all(
      'SELECT execution_id, seq, ts, stream, text FROM logs WHERE execution_id = ? AND seq > ? ORDER BY seq LIMIT ?',
      [executionId, after, limit],
    ) as Row[];
    return rows.map((r) => ({
      execution_id: String(r.execution_id),
      seq: Number(r.seq),
      ts: String(r.ts),
      stream: r.stream as LogLine['stream'],
      text: String(r.text),
    }));
  }

  async lastLogSeq(executionId: string): Promise<number> {
    this.flushForRead();
    const row = this.db.get(
      'SELECT MAX(seq) AS n FROM logs WHERE execution_id = ?',
      executionId,
    ) as Row | null;
    return Number(row?.n ?? 0);
  }

  async getRecording(executionId: string): Promise<RecordingEntry[]> {
    this.flushForRead();
    const rows = this.db.all(
      'SELECT execution_id, seq, kind, name, value, ts FROM recordings WHERE execution_id = ? ORDER BY seq',
      executionId,
    ) as Row[];
    return rows.map((r) => ({
      execution_id: String(r.execution_id),
      seq: Number(r.seq),
      kind: r.kind as RecordingKind,
      name: String(r.name),
      value: fromJson(r.value),
      ts: String(r.ts),
    }));
  }

  // Record reads flush first rather than consult the queue: a rename leaves the old name in
  // the database until then, and the queue is keyed by id.
  async getRecord(type: string, by: RecordLookup, key: string): Promise<StoredRecord | undefined> {
    this.flushForRead();
    const col = by === 'id' ? 'id' : 'name';
    const row = this.db.get(`SELECT * FROM records WHERE type = ? AND ${col} = ?`, [type, key]) as Row | null;
    return row ? rowToRecord(row) : undefined;
  }

  async deleteRecord(type: string, by: RecordLookup, key: string): Promise<boolean> {
    this.flushForRead();
    const col = by === 'id' ? 'id' : 'name';
    return this.db.run(`DELETE FROM records WHERE type = ? AND ${col} = ?`, [type, key]).changes > 0;
  }

  async listRecords(type: string, opts: { includeArchived?: boolean } = {}): Promise<StoredRecord[]> {
    this.flushForRead();
    const rows = this.db.all(
      `SELECT * FROM records WHERE type = ? ${opts.includeArchived ? '' : 'AND archived = 0'} ORDER BY name`,
      type,
    ) as Row[];
    return rows.map(rowToRecord);
  }

  /**
   * One transaction of its own, not a group commit's: a deploy is all or nothing, and answered
   * once committed. What is queued is committed first (reads do the same).
   */
  async putFlows(flows: readonly StoredFlow[]): Promise<string[]> {
    this.flushForRead();
    const written: string[] = [];
    this.db.exec('BEGIN');
    try {
      for (const f of flows) {
        const row = this.db.get('SELECT hash FROM flows WHERE name = ?', f.name) as Row | null;
        if (row?.hash === f.hash) continue;
        this.db.run(
          `INSERT INTO flows (name, source, hash, size, updated_at, deployed_by) VALUES (?, ?, ?, ?, ?, ?)
           ON CONFLICT(name) DO UPDATE SET source = excluded.source, hash = excluded.hash, size = excluded.size,
             updated_at = excluded.updated_at, deployed_by = excluded.deployed_by`,
          [f.name, f.source, f.hash, Buffer.byteLength(f.source, 'utf8'), f.updated_at, f.deployed_by],
        );
        written.push(f.name);
      }
      if (written.length) this.db.run('UPDATE flows_version SET version = version + 1');
      this.db.exec('COMMIT');
    } catch (err) {
      this.db.exec('ROLLBACK');
      throw err;
    }
    return written;
  }

  async getFlow(name: string): Promise<StoredFlow | undefined> {
    const row = this.db.get(
      'SELECT name, source, hash, updated_at, deployed_by FROM flows WHERE name = ?',
      name,
    ) as Row | null;
    return row ? (row as unknown as StoredFlow) : undefined;
  }

  async listFlows(): Promise<FlowSummary[]> {
    const rows = this.db.all(
      'SELECT name, hash, size, updated_at, deployed_by FROM flows ORDER BY name',
    ) as Row[];
    return rows.map((r) => ({ ...(r as unknown as FlowSummary), size: Number(r.size) }));
  }

  async deleteFlow(name: string): Promise<boolean> {
    this.flushForRead();
    this.db.exec('BEGIN');
    try {
      const gone = this.db.run('DELETE FROM flows WHERE name = ?', name).changes > 0;
      if (gone) this.db.run('UPDATE flows_version SET version = version + 1');
      this.db.exec('COMMIT');
      return gone;
    } catch (err) {
      this.db.exec('ROLLBACK');
      throw err;
    }
  }

  async flowsVersion(): Promise<number> {
    return Number((this.db.get('SELECT version FROM flows_version') as Row | null)?.version ?? 0);
  }

  async getMessage(id: string): Promise<MessageRecord | undefined> {
    this.flushForRead();
    const row = this.db.get('SELECT * FROM messages WHERE id = ?', id) as Row | null;
    return row ? rowToMessage(row) : undefined;
  }

  async listMessages(opts: { open?: boolean; execution_id?: string }): Promise<MessageRecord[]> {
    this.flushForRead();
    const where: string[] = [];
    const args: string[] = [];
    if (opts.open) where.push('responded_at IS NULL');
    if (opts.execution_id) {
      where.push('execution_id = ?');
      args.push(opts.execution_id);
    }
    const rows = this.db.all(
      `SELECT * FROM messages ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at`,
      args,
    ) as Row[];
    return rows.map(rowToMessage);
  }

  async countChildren(parentId: string): Promise<Partial<Record<ExecutionStatus, number>>> {
    this.flushForRead();
    const rows = this.db.all(
      'SELECT status, COUNT(*) AS n FROM executions WHERE parent_execution_id = ? GROUP BY status',
      parentId,
    ) as Row[];
    return Object.fromEntries(rows.map((r) => [String(r.status), Number(r.n)]));
  }

  async listChildren(
    parentId: string,
    statuses: readonly ExecutionStatus[],
    limit = -1,
  ): Promise<StoredExecution[]> {
    this.flushForRead();
    if (statuses.length === 0) return [];
    const rows = this.db.all(
      `SELECT * FROM executions INDEXED BY executions_parent_status_created
       WHERE parent_execution_id = ? AND status IN (${placeholders(statuses.length)}) ORDER BY created_at, seq LIMIT ?`,
      [parentId, ...statuses, limit],
    ) as Row[];
    return rows.map(rowToExecution);
  }

  async listSchedules(): Promise<StoredSchedule[]> {
    this.flushForRead();
    const rows = this.db.all('SELECT data, inputs FROM schedules ORDER BY created_at') as Row[];
    return rows.map((r) => ({
      ...(fromJson(r.data) as StoredSchedule),
      inputs: fromJson(r.inputs) as unknown[] | null,
    }));
  }

  async listWebhooks(): Promise<StoredWebhook[]> {
    this.flushForRead();
    const rows = this.db.all('SELECT data FROM webhooks ORDER BY created_at') as Row[];
    return rows.map((r) => fromJson(r.data) as StoredWebhook);
  }

  async getRun(id: string): Promise<RunWithExecution | undefined> {
    this.flushForRead();
    const row = this.db.get(`${RUN_SELECT} WHERE r.id = ?`, id) as Row | null;
    return row ? { run: rowToRun(row), execution: rowToExecution(row) } : undefined;
  }

  async listRuns(q: ListRunsQuery): Promise<ListPage<RunWithExecution>> {
    await this.commitBeforeList();
    const filters: ListFilter[] = [];
    if (q.status?.length) {
      filters.push(oneOfFilter('r.status', 'status', q.status, 'runs_status_created', 'status'));
    }
    if (q.execution_mode?.length) {
      filters.push(
        oneOfFilter(
          'r.execution_mode',
          'execution_mode',
          q.execution_mode,
          'runs_mode_created',
          'execution_mode',
        ),
      );
    }
    if (q.action_name !== undefined) {
      filters.push({
        sql: 'r.action_name = ?',
        args: [q.action_name],
        index: 'runs_action_created',
        column: 'action_name',
        eq: true,
      });
    }
    if (q.uid !== undefined) {
      filters.push({ sql: 'r.id = ?', args: [q.uid], index: null, column: 'id', eq: false });
    }
    const page = this.listKeys(RUN_LIST, filters, q);
    const rows = page.keys.length
      ? this.query(`${RUN_LIST_SELECT} WHERE r.rowid IN (${placeholders(page.keys.length)})`, page.keys)
      : [];
    return {
      items: inKeyOrder(page.keys, rows, (r) => Number(r.run_rowid)).map((row) => ({
        run: rowToRun(row),
        execution: rowToExecution(row),
      })),
      total: page.total,
      total_capped: page.capped,
      next: page.next,
    };
  }

  // One runner has this file (dataDirLock.ts), so each of these is a statement of its own, at
  // once: a slot's claim or a token's change need not wait for the next group commit.

  async claimFiring(scheduleId: string, slot: number): Promise<boolean> {
    const res = this.db.run(
      `INSERT INTO schedule_firings (schedule_id, slot, fired_at) VALUES (?, ?, ?)
       ON CONFLICT(schedule_id) DO UPDATE SET slot = excluded.slot, fired_at = excluded.fired_at
       WHERE excluded.slot > schedule_firings.slot`,
      [scheduleId, slot, new Date().toISOString()],
    );
    return res.changes > 0;
  }

  async createUserToken(t: Omit<StoredUserToken, 'last_used_at'>): Promise<boolean> {
    const res = this.db.run(
      'INSERT INTO user_tokens (name, hash, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING',
      [t.name, t.hash, t.created_at],
    );
    return res.changes > 0;
  }

  async revokeUserToken(name: string): Promise<boolean> {
    return this.db.run('DELETE FROM user_tokens WHERE name = ?', name).changes > 0;
  }

  async listUserTokens(): Promise<UserTokenInfo[]> {
    const rows = this.db.all('SELECT name, created_at, last_used_at FROM user_tokens ORDER BY name') as Row[];
    return rows.map((r) => ({
      name: String(r.name),
      created_at: String(r.created_at),
      last_used_at: (r.last_used_at as string | null) ?? null,
    }));
  }

  async findUserToken(hash: string): Promise<StoredUserToken | undefined> {
    const r = this.db.get('SELECT * FROM user_tokens WHERE hash = ?', hash) as Row | null;
    return r
      ? {
          name: String(r.name),
          hash: String(r.hash),
          created_at: String(r.created_at),
          last_used_at: (r.last_used_at as string | null) ?? null,
        }
      : undefined;
  }

  async touchUserToken(name: string, at: string): Promise<void> {
    this.db.run('UPDATE user_tokens SET last_used_at = ? WHERE name = ?', [at, name]);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    // Whatever is left of a bulk insert is written now, in one go: nothing else is waiting.
    this.flushSync(Infinity);
    this.closed = true;
    for (const w of this.durableWaiters.splice(0)) w.resolve();
    for (const st of this.statements.values()) st.finalize();
    this.statements.clear();
    this.upsertExecution.finalize();
    for (const u of this.narrowUpdates.values()) u.stmt.finalize();
    this.insertExecution.finalize();
    this.insertLog.finalize();
    this.bulkInsert?.finalize();
    this.db.close();
  }
}

export type { ExecutionRecord };
