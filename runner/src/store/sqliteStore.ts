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
 */
import { Database, type Statement } from 'node-sqlite3-wasm';
import fs from 'node:fs';
import path from 'node:path';
import {
  ENDED_STATUSES,
  type ExecutionRecord,
  type ExecutionStatus,
  type ListExecutionsQuery,
  type ListRunsQuery,
  type LogLine,
  type MessageRecord,
} from '../../../protocol';
import { MIGRATIONS } from './migrations';
import type {
  RecordLookup,
  RunWithExecution,
  Store,
  StoredRecord,
  StoredExecution,
  StoredRun,
  StoredSchedule,
  StoredWebhook,
} from './store';

type Row = Record<string, string | number | null | bigint | Uint8Array>;

const EXECUTION_COLUMNS = [
  'id',
  'name',
  'type',
  'status',
  'flow_name',
  'script',
  'connector_name',
  'connector_type',
  'input_value',
  'output_value',
  'message',
  'is_productive',
  'priority',
  'max_runtime_minutes',
  'parent_execution_id',
  'top_execution_id',
  'schedule_id',
  'webhook_id',
  'scheduled_for',
  'created_at',
  'started_at',
  'ended_at',
  'updated_at',
  'paused_from',
  'virtual',
] as const;

/** Rows per statement of a bulk insert: one call binds 100 rows, which is what makes it fast. */
const BULK_ROWS = 100;

/** Shortest time between two commits of queued writes. */
const FLUSH_INTERVAL_MS = 10;

/** Collects the conditions of a list query; values are always bound, never spliced. */
class Where {
  private readonly parts: string[] = [];
  readonly args: (string | number)[] = [];

  add(sql: string, ...values: (string | number)[]): void {
    this.parts.push(sql);
    this.args.push(...values);
  }

  in(col: string, values: readonly string[]): void {
    this.add(`${col} IN (${values.map(() => '?').join(',')})`, ...values);
  }

  get sql(): string {
    return this.parts.length ? `WHERE ${this.parts.join(' AND ')}` : '';
  }
}

/** `-field` or `field` → `field DESC|ASC, <tiebreak> DESC|ASC`: creation order breaks ties so paging is stable. */
function orderBy(sort: string, prefix: string): string {
  const desc = sort.startsWith('-');
  const dir = desc ? 'DESC' : 'ASC';
  return `${prefix}${desc ? sort.slice(1) : sort} ${dir}, ${prefix}seq ${dir}`;
}

const ENDED_SQL = [...ENDED_STATUSES].map((s) => `'${s}'`).join(',');

const toJson = (v: unknown): string | null => (v === undefined ? null : JSON.stringify(v));
const fromJson = (v: unknown): unknown => (typeof v === 'string' ? JSON.parse(v) : null);

function executionToRow(r: StoredExecution): Row {
  return {
    ...Object.fromEntries(EXECUTION_COLUMNS.map((c) => [`:${c}`, (r as unknown as Row)[c] ?? null])),
    ':input_value': toJson(r.input_value),
    ':output_value': toJson(r.output_value),
    ':is_productive': r.is_productive ? 1 : 0,
    ':virtual': r.virtual ? 1 : 0,
  };
}

/** The same values as executionToRow, in EXECUTION_COLUMNS order, for positional binding. */
function executionValues(r: StoredExecution, out: Row[keyof Row][]): void {
  for (const c of EXECUTION_COLUMNS) {
    if (c === 'input_value' || c === 'output_value') out.push(toJson(r[c]));
    else if (c === 'is_productive' || c === 'virtual') out.push(r[c] ? 1 : 0);
    else out.push((r[c] as string | number | null | undefined) ?? null);
  }
}

function rowToExecution(row: Row): StoredExecution {
  const r = Object.fromEntries(EXECUTION_COLUMNS.map((c) => [c, row[c] ?? null])) as Record<string, unknown>;
  r.input_value = fromJson(row.input_value);
  r.output_value = fromJson(row.output_value);
  r.is_productive = row.is_productive === 1;
  r.priority = Number(row.priority);
  r.max_runtime_minutes = Number(row.max_runtime_minutes);
  if (row.virtual === 1) r.virtual = true;
  else delete r.virtual;
  return r as unknown as StoredExecution;
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

const RUN_SELECT = `SELECT e.*, r.action_name AS run_action_name, r.execution_mode AS run_execution_mode,
  r.inputs_count AS run_inputs_count, r.schedule_id AS run_schedule_id, r.callback AS run_callback,
  r.created_at AS run_created_at FROM runs r JOIN executions e ON e.id = r.id`;

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

export class SqliteStore implements Store {
  private readonly db: Database;
  private readonly pendingExecutions = new Map<string, StoredExecution>();
  private pendingLogs: LogLine[] = [];
  private pendingRecords = new Map<string, StoredRecord>();
  private pendingMessages = new Map<string, MessageRecord>();
  private pendingInserts: StoredExecution[] = [];
  /** Schedules as JSON without their inputs (which change rarely and can be large); null = delete. */
  private pendingSchedules = new Map<string, { data: string; created_at: string } | null>();
  private pendingScheduleInputs = new Map<string, string | null>();
  private pendingWebhooks = new Map<string, StoredWebhook | null>();
  private pendingRuns = new Map<string, StoredRun>();
  private bulkInsert?: Statement;
  private flushScheduled = false;
  private lastFlush = 0;
  private closed = false;
  /** durable() callers waiting for the next commit. */
  private durableWaiters: Array<{ resolve: () => void; reject: (err: unknown) => void }> = [];
  private readonly upsertExecution: Statement;
  private readonly insertLog: Statement;

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
    this.db = new Database(file);
    this.db.exec('PRAGMA locking_mode = EXCLUSIVE; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = OFF;');
    const mode = this.db.get('PRAGMA journal_mode = WAL')?.journal_mode;
    if (mode !== 'wal') this.db.exec('PRAGMA journal_mode = TRUNCATE');
    this.migrate();
    const cols = EXECUTION_COLUMNS.join(', ');
    const params = EXECUTION_COLUMNS.map((c) => `:${c}`).join(', ');
    const updates = EXECUTION_COLUMNS.filter((c) => c !== 'id')
      .map((c) => `${c} = excluded.${c}`)
      .join(', ');
    this.upsertExecution = this.db.prepare(
      `INSERT INTO executions (${cols}) VALUES (${params}) ON CONFLICT(id) DO UPDATE SET ${updates}`,
    );
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

  private schedule(): void {
    if (this.flushScheduled || this.closed) return;
    this.flushScheduled = true;
    // Each commit syncs the file, which took half the main thread under load; commits at most
    // every FLUSH_INTERVAL_MS group more writes, at the cost of a few milliseconds of durability.
    const wait = this.lastFlush + FLUSH_INTERVAL_MS - Date.now();
    if (wait > 0) setTimeout(() => this.flushSync(), wait);
    else setImmediate(() => this.flushSync());
  }

  putExecution(rec: StoredExecution): void {
    this.pendingExecutions.set(rec.id, { ...rec });
    this.schedule();
  }

  appendLog(line: LogLine): void {
    this.pendingLogs.push(line);
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
    this.pendingInserts.push(...recs);
    this.schedule();
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
   * New executions first (later upserts of the same rows must find them), BULK_ROWS per
   * statement. Their ids are time-ordered, so the id index is appended to, not scattered over.
   */
  private writeInserts(recs: StoredExecution[]): void {
    let i = 0;
    if (recs.length >= BULK_ROWS) {
      if (!this.bulkInsert) {
        const one = `(${EXECUTION_COLUMNS.map(() => '?').join(', ')})`;
        this.bulkInsert = this.db.prepare(
          `INSERT INTO executions (${EXECUTION_COLUMNS.join(', ')}) VALUES ${Array(BULK_ROWS).fill(one).join(', ')}`,
        );
      }
      const values: Row[keyof Row][] = [];
      for (; i + BULK_ROWS <= recs.length; i += BULK_ROWS) {
        values.length = 0;
        for (let j = i; j < i + BULK_ROWS; j++) executionValues(recs[j], values);
        this.bulkInsert.run(values);
      }
    }
    for (; i < recs.length; i++) this.upsertExecution.run(executionToRow(recs[i]));
  }

  private writeDocuments(): void {
    for (const [id, s] of this.pendingSchedules) {
      if (!s) this.db.run('DELETE FROM schedules WHERE id = ?', id);
      else
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
    for (const r of this.pendingRuns.values()) {
      this.db.run(
        'INSERT OR REPLACE INTO runs (id, action_name, execution_mode, inputs_count, schedule_id, callback, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
        [r.id, r.action_name, r.execution_mode, r.inputs_count, r.schedule_id, r.callback, r.created_at],
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
      this.pendingRecords.size === 0 &&
      this.pendingMessages.size === 0 &&
      this.pendingInserts.length === 0 &&
      this.pendingSchedules.size === 0 &&
      this.pendingScheduleInputs.size === 0 &&
      this.pendingWebhooks.size === 0 &&
      this.pendingRuns.size === 0
    );
  }

  /**
   * One transaction for everything queued since the last flush. durable() callers waiting for
   * it are told once it is committed (or that it failed).
   */
  private flushSync(): void {
    this.flushScheduled = false;
    if (this.closed) return;
    this.lastFlush = Date.now();
    const waiters = this.durableWaiters;
    this.durableWaiters = [];
    try {
      this.commitPending();
    } catch (err) {
      for (const w of waiters) w.reject(err);
      throw err;
    }
    for (const w of waiters) w.resolve();
  }

  private commitPending(): void {
    if (!this.hasPending()) return;
    const inserts = this.pendingInserts;
    this.pendingInserts = [];
    const executions = [...this.pendingExecutions.values()];
    const logs = this.pendingLogs;
    const records = [...this.pendingRecords.values()];
    const messages = [...this.pendingMessages.values()];
    this.pendingExecutions.clear();
    this.pendingLogs = [];
    this.pendingRecords.clear();
    this.pendingMessages.clear();
    this.db.exec('BEGIN');
    try {
      this.writeInserts(inserts);
      for (const e of executions) this.upsertExecution.run(executionToRow(e));
      for (const l of logs) this.insertLog.run([l.execution_id, l.seq, l.ts, l.stream, l.text]);
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
  }

  async flush(): Promise<void> {
    this.flushSync();
  }

  /**
   * Resolves once every write queued so far is committed: with the next group commit (at most
   * FLUSH_INTERVAL_MS away), not with a commit of its own, so many callers share one.
   */
  durable(): Promise<void> {
    if (this.closed || (!this.hasPending() && this.durableWaiters.length === 0)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.durableWaiters.push({ resolve, reject });
      this.schedule();
    });
  }

  async getExecution(id: string): Promise<StoredExecution | undefined> {
    // Committed first, not answered from the queue: what a read returns survives a crash.
    if (this.pendingExecutions.has(id) || this.pendingInserts.length) this.flushSync();
    const row = this.db.get('SELECT * FROM executions WHERE id = ?', id) as Row | null;
    return row ? rowToExecution(row) : undefined;
  }

  async listExecutions(q: ListExecutionsQuery): Promise<{ items: StoredExecution[]; total: number }> {
    this.flushSync();
    const w = new Where();
    if (q.status?.length) w.in('status', q.status);
    if (q.type?.length) w.in('type', q.type);
    if (q.flow_name !== undefined) w.add('flow_name = ?', q.flow_name);
    if (q.parent_execution_id === 'none') w.add('parent_execution_id IS NULL');
    else if (q.parent_execution_id !== undefined) w.add('parent_execution_id = ?', q.parent_execution_id);
    if (q.top_execution_id !== undefined) w.add('top_execution_id = ?', q.top_execution_id);
    if (q.schedule_id !== undefined) w.add('schedule_id = ?', q.schedule_id);
    if (q.is_productive !== undefined) w.add('is_productive = ?', q.is_productive ? 1 : 0);
    const total = Number((this.db.get(`SELECT COUNT(*) AS n FROM executions ${w.sql}`, w.args) as Row).n);
    const rows = this.db.all(
      `SELECT * FROM executions ${w.sql} ORDER BY ${orderBy(q.sort, '')} LIMIT ? OFFSET ?`,
      [...w.args, q.limit, q.offset],
    ) as Row[];
    return { items: rows.map(rowToExecution), total };
  }

  async listUnfinished(): Promise<StoredExecution[]> {
    this.flushSync();
    const rows = this.db.all(
      `SELECT * FROM executions WHERE status NOT IN (${ENDED_SQL}) ORDER BY seq`,
    ) as Row[];
    return rows.map(rowToExecution);
  }

  async listDescendantIds(id: string): Promise<string[]> {
    this.flushSync();
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
    this.flushSync();
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
    this.flushSync();
    const row = this.db.get(
      'SELECT MAX(seq) AS n FROM logs WHERE execution_id = ?',
      executionId,
    ) as Row | null;
    return Number(row?.n ?? 0);
  }

  // Record reads flush first rather than consult the queue: a rename leaves the old name in
  // the database until then, and the queue is keyed by id.
  async getRecord(type: string, by: RecordLookup, key: string): Promise<StoredRecord | undefined> {
    this.flushSync();
    const col = by === 'id' ? 'id' : 'name';
    const row = this.db.get(`SELECT * FROM records WHERE type = ? AND ${col} = ?`, [type, key]) as Row | null;
    return row ? rowToRecord(row) : undefined;
  }

  async deleteRecord(type: string, by: RecordLookup, key: string): Promise<boolean> {
    this.flushSync();
    const col = by === 'id' ? 'id' : 'name';
    return this.db.run(`DELETE FROM records WHERE type = ? AND ${col} = ?`, [type, key]).changes > 0;
  }

  async listRecords(type: string, opts: { includeArchived?: boolean } = {}): Promise<StoredRecord[]> {
    this.flushSync();
    const rows = this.db.all(
      `SELECT * FROM records WHERE type = ? ${opts.includeArchived ? '' : 'AND archived = 0'} ORDER BY name`,
      type,
    ) as Row[];
    return rows.map(rowToRecord);
  }

  async getMessage(id: string): Promise<MessageRecord | undefined> {
    this.flushSync();
    const row = this.db.get('SELECT * FROM messages WHERE id = ?', id) as Row | null;
    return row ? rowToMessage(row) : undefined;
  }

  async listMessages(opts: { open?: boolean; execution_id?: string }): Promise<MessageRecord[]> {
    this.flushSync();
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
    this.flushSync();
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
    this.flushSync();
    if (statuses.length === 0) return [];
    const rows = this.db.all(
      `SELECT * FROM executions WHERE parent_execution_id = ? AND status IN (${statuses.map(() => '?').join(',')}) ORDER BY seq LIMIT ?`,
      [parentId, ...statuses, limit],
    ) as Row[];
    return rows.map(rowToExecution);
  }

  async listSchedules(): Promise<StoredSchedule[]> {
    this.flushSync();
    const rows = this.db.all('SELECT data, inputs FROM schedules ORDER BY created_at') as Row[];
    return rows.map((r) => ({
      ...(fromJson(r.data) as StoredSchedule),
      inputs: fromJson(r.inputs) as unknown[] | null,
    }));
  }

  async listWebhooks(): Promise<StoredWebhook[]> {
    this.flushSync();
    const rows = this.db.all('SELECT data FROM webhooks ORDER BY created_at') as Row[];
    return rows.map((r) => fromJson(r.data) as StoredWebhook);
  }

  async getRun(id: string): Promise<RunWithExecution | undefined> {
    this.flushSync();
    const row = this.db.get(`${RUN_SELECT} WHERE r.id = ?`, id) as Row | null;
    return row ? { run: rowToRun(row), execution: rowToExecution(row) } : undefined;
  }

  async listRuns(q: ListRunsQuery): Promise<{ items: RunWithExecution[]; total: number }> {
    this.flushSync();
    const w = new Where();
    if (q.status?.length) w.in('e.status', q.status);
    if (q.execution_mode?.length) w.in('r.execution_mode', q.execution_mode);
    if (q.action_name !== undefined) w.add('r.action_name = ?', q.action_name);
    if (q.uid !== undefined) w.add('r.id = ?', q.uid);
    const total = Number(
      (
        this.db.get(
          `SELECT COUNT(*) AS n FROM runs r JOIN executions e ON e.id = r.id ${w.sql}`,
          w.args,
        ) as Row
      ).n,
    );
    const rows = this.db.all(`${RUN_SELECT} ${w.sql} ORDER BY ${orderBy(q.sort, 'e.')} LIMIT ? OFFSET ?`, [
      ...w.args,
      q.limit,
      q.offset,
    ]) as Row[];
    return { items: rows.map((row) => ({ run: rowToRun(row), execution: rowToExecution(row) })), total };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.flushSync();
    this.closed = true;
    this.upsertExecution.finalize();
    this.insertLog.finalize();
    this.bulkInsert?.finalize();
    this.db.close();
  }
}

export type { ExecutionRecord };
