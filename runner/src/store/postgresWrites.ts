/**
 * The writes the PostgreSQL store has queued, and the SQL of one group commit. Every kind of
 * write is one statement per commit however many rows it holds: the rows go as one array per
 * column and UNNEST makes them rows again (WITH ORDINALITY keeps their order, so rows created in
 * the same millisecond get their seq in the order they were given). A commit of 500 status
 * changes is thus a dozen round trips, not 500.
 */
import type { ClientBase } from 'pg';
import { ENDED_STATUSES, type LogLine, type MessageRecord } from '@flows/protocol';
import type { ExecutionChange } from './postgresNotify';
import { toJson } from './postgresQueries';
import {
  EXECUTION_COLUMNS,
  type RecordingEntry,
  type StoredExecution,
  type StoredRecord,
  type StoredRun,
  type StoredWebhook,
} from './store';

type Column = (typeof EXECUTION_COLUMNS)[number];

const ENDED = [...ENDED_STATUSES];

/** The SQL type of each execution column (text unless said). */
const EXECUTION_TYPES: Partial<Record<Column, string>> = {
  input_value: 'json',
  output_value: 'json',
  is_productive: 'boolean',
  priority: 'bigint',
  max_runtime_minutes: 'float8',
  virtual: 'boolean',
};

/**
 * PostgreSQL text cannot hold U+0000 (SQLite's can): a NUL a flow printed would fail the whole
 * group commit. It is kept as U+FFFD, as a lone surrogate is (the driver sends UTF-8, which
 * cannot carry one either). JSON text never holds a raw NUL (JSON.stringify escapes it).
 */
function text(v: string | null | undefined): string | null {
  if (v === null || v === undefined) return null;
  return v.includes('\0') ? v.replaceAll('\0', '\uFFFD') : v;
}

/** `INSERT INTO table (cols) SELECT cols FROM unnest($1::type[], …)`, rows in the given order. */
function unnestInsert(table: string, columns: ReadonlyArray<readonly [string, string]>): string {
  const names = columns.map(([c]) => c).join(', ');
  return `INSERT INTO ${table} (${names}) SELECT ${names} FROM unnest(${columns
    .map(([, type], i) => `$${i + 1}::${type}[]`)
    .join(', ')}) WITH ORDINALITY AS u(${names}, ord) ORDER BY ord`;
}

/**
 * Executions are written with their owner, this node (postgresNodes.ts): one more parameter,
 * the same for every row.
 */
const EXECUTION_INSERT = (() => {
  const names = EXECUTION_COLUMNS.join(', ');
  const arrays = EXECUTION_COLUMNS.map((c, i) => `$${i + 1}::${EXECUTION_TYPES[c] ?? 'text'}[]`);
  return `INSERT INTO executions (${names}, owner) SELECT ${names}, $${EXECUTION_COLUMNS.length + 1}::text
    FROM unnest(${arrays.join(', ')}) WITH ORDINALITY AS u(${names}, ord) ORDER BY ord`;
})();
/**
 * A node writes over a row it owns, an unowned one (it takes it on) or an ended one (resuming a
 * stopped run), never an unfinished execution of another node: that one runs there. The engine
 * writes only executions it created or claimed, so a refused row is a bug, reported by the
 * commit (writeBatch's caller).
 */
const EXECUTION_UPSERT = `${EXECUTION_INSERT} ON CONFLICT (id) DO UPDATE SET ${EXECUTION_COLUMNS.filter(
  (c) => c !== 'id',
)
  .map((c) => `${c} = excluded.${c}`)
  .join(', ')}, owner = excluded.owner
  WHERE executions.owner IS NULL OR executions.owner = excluded.owner
    OR executions.status IN (${[...ENDED_STATUSES].map((x) => `'${x}'`).join(', ')})
  RETURNING id, status, xmax = 0 AS created`;
/** A bulk row never overwrites one that an upsert wrote first: the upsert is newer. */
const EXECUTION_INSERT_NEW = `${EXECUTION_INSERT} ON CONFLICT (id) DO NOTHING`;

/** Executions of other nodes that a commit did not write over (see EXECUTION_UPSERT). */
export class ForeignExecutionsError extends Error {}

function executionArrays(recs: readonly StoredExecution[], owner: string): unknown[] {
  const arrays: unknown[] = EXECUTION_COLUMNS.map((c) => {
    const type = EXECUTION_TYPES[c];
    if (type === 'json') return recs.map((r) => toJson(r[c]));
    if (type === 'boolean') return recs.map((r) => !!r[c]);
    if (type === 'bigint' || type === 'float8') return recs.map((r) => r[c]);
    return recs.map((r) => text(r[c] as string | null));
  });
  arrays.push(owner);
  return arrays;
}

const LOG_INSERT = `${unnestInsert('logs', [
  ['execution_id', 'text'],
  ['seq', 'integer'],
  ['ts', 'text'],
  ['stream', 'text'],
  ['text', 'text'],
])} ON CONFLICT DO NOTHING`;

const RECORDING_INSERT = `${unnestInsert('recordings', [
  ['execution_id', 'text'],
  ['seq', 'integer'],
  ['kind', 'text'],
  ['name', 'text'],
  ['value', 'json'],
  ['ts', 'text'],
])} ON CONFLICT DO NOTHING`;

const RECORD_UPSERT = `${unnestInsert('records', [
  ['id', 'text'],
  ['type', 'text'],
  ['name', 'text'],
  ['data', 'json'],
  ['archived', 'boolean'],
  ['created_at', 'text'],
  ['modified_at', 'text'],
])} ON CONFLICT (id) DO UPDATE SET name = excluded.name, data = excluded.data,
  archived = excluded.archived, modified_at = excluded.modified_at`;

const MESSAGE_UPSERT = `${unnestInsert('messages', [
  ['id', 'text'],
  ['execution_id', 'text'],
  ['subject', 'text'],
  ['body', 'json'],
  ['message_type', 'text'],
  ['response', 'json'],
  ['created_at', 'text'],
  ['responded_at', 'text'],
])} ON CONFLICT (id) DO UPDATE SET execution_id = excluded.execution_id, subject = excluded.subject,
  body = excluded.body, message_type = excluded.message_type, response = excluded.response,
  created_at = excluded.created_at, responded_at = excluded.responded_at`;

const SCHEDULE_UPSERT = `${unnestInsert('schedules', [
  ['id', 'text'],
  ['data', 'json'],
  ['created_at', 'text'],
])} ON CONFLICT (id) DO UPDATE SET data = excluded.data`;

const WEBHOOK_UPSERT = `${unnestInsert('webhooks', [
  ['id', 'text'],
  ['data', 'json'],
  ['created_at', 'text'],
])} ON CONFLICT (id) DO UPDATE SET data = excluded.data, created_at = excluded.created_at`;

/**
 * A run takes its status and updated_at from its top execution once, here (a trigger keeps them
 * in step after that); a put again changes its own fields only.
 */
const RUN_UPSERT = `INSERT INTO runs (id, action_name, execution_mode, inputs_count, schedule_id, callback, created_at, status, updated_at)
  SELECT u.id, u.action_name, u.execution_mode, u.inputs_count, u.schedule_id, u.callback, u.created_at,
    coalesce(e.status, 'CREATED'), coalesce(e.updated_at, u.created_at)
  FROM unnest($1::text[], $2::text[], $3::text[], $4::integer[], $5::text[], $6::text[], $7::text[])
    WITH ORDINALITY AS u(id, action_name, execution_mode, inputs_count, schedule_id, callback, created_at, ord)
  LEFT JOIN executions e ON e.id = u.id
  ORDER BY u.ord
  ON CONFLICT (id) DO UPDATE SET action_name = excluded.action_name, execution_mode = excluded.execution_mode,
    inputs_count = excluded.inputs_count, schedule_id = excluded.schedule_id, callback = excluded.callback,
    created_at = excluded.created_at`;

/** Writes queued since the last group commit; one entry per key (the last write wins). */
export class PendingWrites {
  executions = new Map<string, StoredExecution>();
  logs: LogLine[] = [];
  /** Values already as JSON: the caller may go on changing what it handed in. */
  recordings: Array<Omit<RecordingEntry, 'value'> & { value: string | null }> = [];
  records = new Map<string, StoredRecord>();
  messages = new Map<string, MessageRecord>();
  /** Schedules as JSON without their inputs; null = delete. */
  schedules = new Map<string, { data: string; created_at: string } | null>();
  scheduleInputs = new Map<string, string | null>();
  webhooks = new Map<string, StoredWebhook | null>();
  runs = new Map<string, StoredRun>();

  get empty(): boolean {
    return (
      this.executions.size === 0 &&
      this.logs.length === 0 &&
      this.recordings.length === 0 &&
      this.records.size === 0 &&
      this.messages.size === 0 &&
      this.schedules.size === 0 &&
      this.scheduleInputs.size === 0 &&
      this.webhooks.size === 0 &&
      this.runs.size === 0
    );
  }

  /**
   * These writes (of a commit that failed and will be tried again) under `newer` ones: a key
   * written since keeps its newer value; order is older first, as they were queued.
   */
  under(newer: PendingWrites): PendingWrites {
    const merge = <K, V>(a: Map<K, V>, b: Map<K, V>) => {
      const out = new Map(a);
      for (const [k, v] of b) {
        out.delete(k);
        out.set(k, v);
      }
      return out;
    };
    const w = new PendingWrites();
    w.executions = merge(this.executions, newer.executions);
    w.logs = [...this.logs, ...newer.logs];
    w.recordings = [...this.recordings, ...newer.recordings];
    w.records = merge(this.records, newer.records);
    w.messages = merge(this.messages, newer.messages);
    w.schedules = merge(this.schedules, newer.schedules);
    w.scheduleInputs = merge(this.scheduleInputs, newer.scheduleInputs);
    for (const [id, s] of newer.schedules) if (s === null) w.scheduleInputs.delete(id);
    w.webhooks = merge(this.webhooks, newer.webhooks);
    w.runs = merge(this.runs, newer.runs);
    return w;
  }
}

/** What a group commit writes of the bulk rows: a chunk, and the parents' marks. */
export interface BulkPart {
  rows: readonly StoredExecution[];
  /** Parents whose rows are coming, marked in bulk_inserts with this commit. */
  mark: ReadonlyArray<{ id: string; rows: number }>;
  /** Parents whose last rows are in `rows`: their marks go with them. */
  unmark: readonly string[];
}

/**
 * The statements of one group commit, inside the caller's transaction. Bulk rows first: an
 * upsert of the same row in this commit is newer, and must win. Runs after executions: a run
 * reads its top execution's status. Returns the executions it upserted (not the bulk rows,
 * which nobody announces either: bulkChildren.ts), for the commit to tell the other nodes.
 * `created` is PostgreSQL's word for it: a row inserted by this transaction has no xmax.
 */
export async function writeBatch(
  client: ClientBase,
  w: PendingWrites,
  bulk: BulkPart,
  node: string,
): Promise<ExecutionChange[]> {
  let written: ExecutionChange[] = [];
  const q = (sql: string, values: unknown[]) => client.query(sql, values);
  if (bulk.mark.length) {
    const at = new Date().toISOString();
    await q(
      `INSERT INTO bulk_inserts (parent_id, rows, started_at, node)
       SELECT * FROM unnest($1::text[], $2::integer[], $3::text[], $4::text[])
       ON CONFLICT (parent_id) DO UPDATE SET rows = excluded.rows, started_at = excluded.started_at, node = excluded.node`,
      [
        bulk.mark.map((m) => m.id),
        bulk.mark.map((m) => m.rows),
        bulk.mark.map(() => at),
        bulk.mark.map(() => node),
      ],
    );
  }
  if (bulk.rows.length) await q(EXECUTION_INSERT_NEW, executionArrays(bulk.rows, node));
  if (bulk.unmark.length) await q('DELETE FROM bulk_inserts WHERE parent_id = ANY($1)', [bulk.unmark]);
  if (w.executions.size) {
    const recs = [...w.executions.values()];
    const res = await client.query<ExecutionChange>(EXECUTION_UPSERT, executionArrays(recs, node));
    written = res.rows;
    if ((res.rowCount ?? 0) < recs.length) {
      const refused = await client.query<{ id: string }>(
        'SELECT id FROM executions WHERE id = ANY($1) AND owner IS DISTINCT FROM $2 ORDER BY id',
        [recs.map((r) => r.id), node],
      );
      throw new ForeignExecutionsError(
        `executions owned by another runner node were not written: ${refused.rows.map((r) => r.id).join(', ')}`,
      );
    }
  }
  if (w.logs.length) {
    const l = w.logs;
    await q(LOG_INSERT, [
      l.map((x) => x.execution_id),
      l.map((x) => x.seq),
      l.map((x) => x.ts),
      l.map((x) => x.stream),
      l.map((x) => text(x.text)),
    ]);
  }
  if (w.recordings.length) {
    const r = w.recordings;
    await q(RECORDING_INSERT, [
      r.map((x) => x.execution_id),
      r.map((x) => x.seq),
      r.map((x) => x.kind),
      r.map((x) => text(x.name)),
      r.map((x) => x.value),
      r.map((x) => x.ts),
    ]);
  }
  if (w.records.size) {
    const r = [...w.records.values()];
    await q(RECORD_UPSERT, [
      r.map((x) => x.id),
      r.map((x) => x.type),
      r.map((x) => text(x.name)),
      r.map((x) => JSON.stringify(x.data)),
      r.map((x) => x.archived),
      r.map((x) => x.created_at),
      r.map((x) => x.modified_at),
    ]);
  }
  if (w.messages.size) {
    const m = [...w.messages.values()];
    await q(MESSAGE_UPSERT, [
      m.map((x) => x.id),
      m.map((x) => x.execution_id),
      m.map((x) => text(x.subject)),
      m.map((x) => toJson(x.body)),
      m.map((x) => x.message_type),
      m.map((x) => toJson(x.response)),
      m.map((x) => x.created_at),
      m.map((x) => x.responded_at),
    ]);
  }
  await writeDocuments(q, w);
  return written;
}

async function writeDocuments(
  q: (sql: string, values: unknown[]) => Promise<unknown>,
  w: PendingWrites,
): Promise<void> {
  const deleted = (m: Map<string, unknown>) => [...m].filter(([, v]) => v === null).map(([id]) => id);
  const schedules = [...w.schedules].flatMap(([id, s]) => (s ? [{ id, ...s }] : []));
  if (deleted(w.schedules).length) {
    await q('DELETE FROM schedules WHERE id = ANY($1)', [deleted(w.schedules)]);
    await q('DELETE FROM schedule_firings WHERE schedule_id = ANY($1)', [deleted(w.schedules)]);
  }
  if (schedules.length) {
    await q(SCHEDULE_UPSERT, [
      schedules.map((s) => s.id),
      schedules.map((s) => s.data),
      schedules.map((s) => s.created_at),
    ]);
  }
  if (w.scheduleInputs.size) {
    await q(
      'UPDATE schedules s SET inputs = u.inputs FROM unnest($1::text[], $2::json[]) AS u(id, inputs) WHERE s.id = u.id',
      [[...w.scheduleInputs.keys()], [...w.scheduleInputs.values()]],
    );
  }
  const webhooks = [...w.webhooks.values()].filter((x): x is StoredWebhook => x !== null);
  if (deleted(w.webhooks).length) await q('DELETE FROM webhooks WHERE id = ANY($1)', [deleted(w.webhooks)]);
  if (webhooks.length) {
    await q(WEBHOOK_UPSERT, [
      webhooks.map((x) => x.id),
      webhooks.map((x) => JSON.stringify(x)),
      webhooks.map((x) => x.created_at),
    ]);
  }
  if (w.runs.size) {
    const r = [...w.runs.values()];
    await q(RUN_UPSERT, [
      r.map((x) => x.id),
      r.map((x) => x.action_name),
      r.map((x) => x.execution_mode),
      r.map((x) => x.inputs_count),
      r.map((x) => x.schedule_id),
      r.map((x) => x.callback),
      r.map((x) => x.created_at),
    ]);
  }
}

/**
 * A runner that stopped while an async run's children were being written left a mark: the run
 * was never acknowledged (the 202 waits for the last chunk), so it must not go on with part of
 * its inputs. The run and its unended children end here, before the engine reads what is
 * unfinished — for this node's marks only: another node's are its own to recover.
 */
export async function recoverBulkInserts(client: ClientBase, node: string): Promise<void> {
  await client.query('BEGIN');
  try {
    await failBulkInserts(client, node);
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

/**
 * What recoverBulkInserts does, inside the caller's transaction: also for the marks of a node
 * another node found lost (postgresNodes.ts). Returns how many runs it failed.
 */
export async function failBulkInserts(client: ClientBase, node: string): Promise<number> {
  const marks = (
    await client.query<{ parent_id: string; rows: number }>(
      'SELECT parent_id, rows FROM bulk_inserts WHERE node = $1 FOR UPDATE',
      [node],
    )
  ).rows;
  const ts = new Date().toISOString();
  for (const m of marks) {
    const stored = Number(
      (
        await client.query('SELECT count(*) AS n FROM executions WHERE parent_execution_id = $1', [
          m.parent_id,
        ])
      ).rows[0].n,
    );
    const why = `the runner stopped while the inputs of this run were being stored (${stored} of ${m.rows}); the run was not accepted`;
    await client.query(
      `UPDATE executions SET status = 'FAILED', message = $1, ended_at = $2, updated_at = $2, paused_from = NULL
       WHERE id = $3 AND status <> ALL($4)`,
      [why, ts, m.parent_id, ENDED],
    );
    await client.query(
      `UPDATE executions SET status = 'STOPPED', message = $1, ended_at = $2, updated_at = $2, paused_from = NULL
       WHERE parent_execution_id = $3 AND status <> ALL($4)`,
      ['its run was not accepted: the runner stopped while storing its inputs', ts, m.parent_id, ENDED],
    );
  }
  await client.query('DELETE FROM bulk_inserts WHERE node = $1', [node]);
  return marks.length;
}
