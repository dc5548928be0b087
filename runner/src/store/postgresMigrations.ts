/**
 * Versioned schema of the PostgreSQL store, as migrations.ts is SQLite's: each entry moves the
 * database from version i to i+1 (kept in flows_schema); entries are never edited once
 * released, only appended. Several runner nodes may start at once against one database, so
 * migrate() runs under a transaction-level advisory lock: the first applies what is missing,
 * the others wait for it and then find nothing left to do.
 *
 * Choices that differ from SQLite's, and why:
 * - Every text column is COLLATE "C": lists sort names byte by byte in UTF-8, as SQLite does,
 *   whatever the database's locale (and equality on ids is a plain memcmp).
 * - Timestamps stay ISO-8601 text: the records carry them as strings, text round-trips them
 *   exactly, and UTC ISO text sorts in time order.
 * - JSON values (inputs, outputs, record data) are `json`, not `jsonb`: json keeps the text as
 *   written (key order, which output_value must keep; "\udc80" escapes, which jsonb refuses;
 *   "\u0000"), and is still valid JSON a list can embed in the JSON it builds.
 * - Counters (execution_counts, run_counts) are delta rows that statement triggers append and
 *   compactCounters() folds: an upsert of a counter row would be a row lock that every node's
 *   commits queue on (and can deadlock on). Their sum is what SQLite's counters hold.
 * - A run's status and updated_at follow its top execution through a trigger, as in SQLite, so
 *   /v1/runs filters and sorts on indexes of its own.
 * - bulk_inserts marks carry the node that writes them: a node restarting recovers its own.
 * - Executions carry their owner node, and `nodes` the heartbeats (postgresNodes.ts).
 */
import type { ClientBase } from 'pg';

/** The key of the advisory lock that migrations hold (any constant that is ours). */
const MIGRATION_LOCK = 0x666c6f77; // 'flow'

/** Text columns compare and sort byte by byte (see above). */
const T = 'text COLLATE "C"';

export const PG_MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE executions (
    seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id ${T} NOT NULL UNIQUE,
    name ${T} NOT NULL,
    type ${T} NOT NULL,
    status ${T} NOT NULL,
    flow_name ${T},
    script ${T},
    connector_name ${T},
    connector_type ${T},
    input_value json,
    output_value json,
    message ${T},
    is_productive boolean NOT NULL,
    priority bigint NOT NULL,
    max_runtime_minutes double precision NOT NULL,
    parent_execution_id ${T},
    top_execution_id ${T} NOT NULL,
    schedule_id ${T},
    webhook_id ${T},
    scheduled_for ${T},
    created_at ${T} NOT NULL,
    started_at ${T},
    ended_at ${T},
    updated_at ${T} NOT NULL,
    paused_from ${T},
    virtual boolean NOT NULL DEFAULT false
  );
  -- Every filter of the list API has an index that ends in the default sort (created_at, seq),
  -- and every sort one of its own, so a page is a range walk from its cursor (see
  -- postgresQueries.ts). seq is the unique tie-break of every key.
  CREATE INDEX executions_created ON executions (created_at, seq);
  CREATE INDEX executions_updated ON executions (updated_at, seq);
  CREATE INDEX executions_status_created ON executions (status, created_at, seq);
  CREATE INDEX executions_priority_created ON executions (priority, created_at, seq);
  CREATE INDEX executions_name_created ON executions (name, created_at, seq);
  CREATE INDEX executions_type_created ON executions (type, created_at, seq);
  CREATE INDEX executions_flow_created ON executions (flow_name, created_at, seq);
  CREATE INDEX executions_parent_created ON executions (parent_execution_id, created_at, seq);
  CREATE INDEX executions_parent_status_created ON executions (parent_execution_id, status, created_at, seq);
  CREATE INDEX executions_top_created ON executions (top_execution_id, created_at, seq);
  CREATE INDEX executions_schedule_created ON executions (schedule_id, created_at, seq);
  CREATE INDEX executions_productive_created ON executions (is_productive, created_at, seq);

  CREATE TABLE execution_counts (
    status ${T} NOT NULL,
    top boolean NOT NULL,
    n bigint NOT NULL
  );
  CREATE INDEX execution_counts_status ON execution_counts (status, top);

  CREATE TABLE runs (
    seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    id ${T} PRIMARY KEY,
    action_name ${T} NOT NULL,
    execution_mode ${T} NOT NULL,
    inputs_count integer NOT NULL,
    schedule_id ${T},
    callback ${T},
    created_at ${T} NOT NULL,
    status ${T} NOT NULL DEFAULT 'CREATED',
    updated_at ${T} NOT NULL DEFAULT ''
  );
  CREATE INDEX runs_created ON runs (created_at, seq);
  CREATE INDEX runs_updated ON runs (updated_at, seq);
  CREATE INDEX runs_status_created ON runs (status, created_at, seq);
  CREATE INDEX runs_action_created ON runs (action_name, created_at, seq);
  CREATE INDEX runs_mode_created ON runs (execution_mode, created_at, seq);

  CREATE TABLE run_counts (
    status ${T} NOT NULL,
    execution_mode ${T} NOT NULL,
    n bigint NOT NULL
  );
  CREATE INDEX run_counts_status ON run_counts (status, execution_mode);

  -- Statement triggers: one INSERT of the counts per statement (a group commit's upsert of
  -- hundreds of rows is one statement), not one per row.
  CREATE FUNCTION flows_executions_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    INSERT INTO execution_counts (status, top, n)
      SELECT status, parent_execution_id IS NULL, count(*) FROM new_rows GROUP BY 1, 2;
    UPDATE runs r SET status = n.status, updated_at = n.updated_at FROM new_rows n
      WHERE r.id = n.id AND n.parent_execution_id IS NULL;
    RETURN NULL;
  END $$;
  CREATE FUNCTION flows_executions_updated() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    INSERT INTO execution_counts (status, top, n)
      SELECT status, top, sum(n) FROM (
        SELECT status, parent_execution_id IS NULL AS top, 1 AS n FROM new_rows
        UNION ALL SELECT status, parent_execution_id IS NULL, -1 FROM old_rows) d
      GROUP BY 1, 2 HAVING sum(n) <> 0;
    UPDATE runs r SET status = n.status, updated_at = n.updated_at FROM new_rows n
      WHERE r.id = n.id AND n.parent_execution_id IS NULL
        AND (r.status IS DISTINCT FROM n.status OR r.updated_at IS DISTINCT FROM n.updated_at);
    RETURN NULL;
  END $$;
  CREATE FUNCTION flows_executions_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    INSERT INTO execution_counts (status, top, n)
      SELECT status, parent_execution_id IS NULL, -count(*) FROM old_rows GROUP BY 1, 2;
    RETURN NULL;
  END $$;
  CREATE TRIGGER executions_inserted AFTER INSERT ON executions
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION flows_executions_inserted();
  CREATE TRIGGER executions_updated AFTER UPDATE ON executions
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION flows_executions_updated();
  CREATE TRIGGER executions_deleted AFTER DELETE ON executions
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION flows_executions_deleted();

  CREATE FUNCTION flows_runs_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    INSERT INTO run_counts (status, execution_mode, n)
      SELECT status, execution_mode, count(*) FROM new_rows GROUP BY 1, 2;
    RETURN NULL;
  END $$;
  CREATE FUNCTION flows_runs_updated() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    INSERT INTO run_counts (status, execution_mode, n)
      SELECT status, execution_mode, sum(n) FROM (
        SELECT status, execution_mode, 1 AS n FROM new_rows
        UNION ALL SELECT status, execution_mode, -1 FROM old_rows) d
      GROUP BY 1, 2 HAVING sum(n) <> 0;
    RETURN NULL;
  END $$;
  CREATE FUNCTION flows_runs_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    INSERT INTO run_counts (status, execution_mode, n)
      SELECT status, execution_mode, -count(*) FROM old_rows GROUP BY 1, 2;
    RETURN NULL;
  END $$;
  CREATE TRIGGER runs_inserted AFTER INSERT ON runs
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION flows_runs_inserted();
  CREATE TRIGGER runs_updated AFTER UPDATE ON runs
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION flows_runs_updated();
  CREATE TRIGGER runs_deleted AFTER DELETE ON runs
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION flows_runs_deleted();

  CREATE TABLE bulk_inserts (
    parent_id ${T} PRIMARY KEY,
    rows integer NOT NULL,
    started_at ${T} NOT NULL,
    node ${T} NOT NULL
  );

  CREATE TABLE logs (
    execution_id ${T} NOT NULL,
    seq integer NOT NULL,
    ts ${T} NOT NULL,
    stream ${T} NOT NULL,
    text ${T} NOT NULL,
    PRIMARY KEY (execution_id, seq)
  );

  CREATE TABLE recordings (
    execution_id ${T} NOT NULL,
    seq integer NOT NULL,
    kind ${T} NOT NULL,
    name ${T} NOT NULL,
    value json,
    ts ${T} NOT NULL,
    PRIMARY KEY (execution_id, seq)
  );

  CREATE TABLE records (
    id ${T} PRIMARY KEY,
    type ${T} NOT NULL,
    name ${T} NOT NULL,
    data json NOT NULL,
    archived boolean NOT NULL DEFAULT false,
    created_at ${T} NOT NULL,
    modified_at ${T} NOT NULL,
    UNIQUE (type, name)
  );

  CREATE TABLE messages (
    id ${T} PRIMARY KEY,
    execution_id ${T} NOT NULL,
    subject ${T} NOT NULL,
    body json,
    message_type ${T} NOT NULL,
    response json,
    created_at ${T} NOT NULL,
    responded_at ${T}
  );
  CREATE INDEX messages_execution ON messages (execution_id);
  CREATE INDEX messages_open ON messages (created_at) WHERE responded_at IS NULL;

  CREATE TABLE schedules (
    id ${T} PRIMARY KEY,
    data json NOT NULL,
    inputs json,
    created_at ${T} NOT NULL
  );

  CREATE TABLE webhooks (
    id ${T} PRIMARY KEY,
    data json NOT NULL,
    created_at ${T} NOT NULL
  );
  `,
  // 2: several nodes on one database (postgresNodes.ts): each execution's owner node, the nodes
  // with their heartbeats. Unfinished executions by owner (restore, reaping a lost node), and the
  // queue of unowned ones in claiming order.
  `
  ALTER TABLE executions ADD COLUMN owner ${T};
  CREATE INDEX executions_owner_unfinished ON executions (owner, created_at, seq)
    WHERE status NOT IN ('SUCCEEDED', 'FAILED', 'STOPPED', 'INVALID', 'PARTIAL_SUCCEEDED');
  CREATE INDEX executions_claimable ON executions (priority DESC, created_at, seq)
    WHERE status = 'QUEUED' AND owner IS NULL AND parent_execution_id IS NULL AND NOT virtual;
  CREATE TABLE nodes (
    name ${T} PRIMARY KEY,
    instance ${T} NOT NULL,
    started_at timestamptz NOT NULL,
    heartbeat_at timestamptz NOT NULL,
    lost_at timestamptz
  );
  `,
  // Flow records (team mode): flows deployed by name, so no node needs a copy of anyone's
  // folder (store.ts StoredFlow); flows_version counts their changes, one row every deploy that
  // writes moves, which nodes compare to see another node's deploy (postgresFlows.ts).
  `
  CREATE TABLE flows (
    name ${T} PRIMARY KEY,
    source text NOT NULL,
    hash ${T} NOT NULL,
    size bigint NOT NULL,
    updated_at ${T} NOT NULL,
    deployed_by ${T}
  );
  CREATE TABLE flows_version (version bigint NOT NULL);
  INSERT INTO flows_version (version) VALUES (0);
  `,
  // Team mode: who started each execution; users' API tokens, as SHA-256 hashes only
  // (http/userTokens.ts); and each schedule's last claimed firing, a high-water mark (store.ts
  // claimFiring): the node that moves it fires the slot, every other node finds it moved.
  `
  ALTER TABLE executions ADD COLUMN started_by ${T};
  CREATE TABLE user_tokens (
    name ${T} PRIMARY KEY,
    hash ${T} NOT NULL UNIQUE,
    created_at ${T} NOT NULL,
    last_used_at ${T}
  );
  CREATE TABLE schedule_firings (
    schedule_id ${T} PRIMARY KEY,
    slot bigint NOT NULL,
    node ${T},
    fired_at timestamptz NOT NULL
  );
  `,
];

/**
 * Brings the database to the newest schema this runner knows, in one transaction under the
 * migration lock; refuses a database written by a newer runner.
 */
export async function migrate(client: ClientBase, migrations = PG_MIGRATIONS): Promise<void> {
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await client.query('CREATE TABLE IF NOT EXISTS flows_schema (version integer NOT NULL)');
    const row = (await client.query<{ version: number }>('SELECT version FROM flows_schema')).rows[0];
    const version = row?.version ?? 0;
    if (version > migrations.length) {
      throw new Error(
        `the database was written by a newer version of Flows (schema ${version}, this runner knows ${migrations.length})`,
      );
    }
    for (let v = version; v < migrations.length; v++) await client.query(migrations[v]);
    if (!row) await client.query('INSERT INTO flows_schema (version) VALUES ($1)', [migrations.length]);
    else if (version < migrations.length)
      await client.query('UPDATE flows_schema SET version = $1', [migrations.length]);
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

/**
 * Folds the delta rows of the counters into one row per key. Under a try-lock: a node that finds
 * another folding skips its turn. Rows appended meanwhile are not in the DELETE's snapshot and
 * stay for the next fold, so no count is lost or doubled.
 */
export async function compactCounters(client: ClientBase): Promise<void> {
  await client.query('BEGIN');
  try {
    const got = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_xact_lock($1) AS ok', [
      MIGRATION_LOCK + 1,
    ]);
    if (got.rows[0].ok) {
      await client.query(`
        WITH d AS (DELETE FROM execution_counts RETURNING status, top, n)
        INSERT INTO execution_counts (status, top, n)
          SELECT status, top, sum(n) FROM d GROUP BY 1, 2 HAVING sum(n) <> 0`);
      await client.query(`
        WITH d AS (DELETE FROM run_counts RETURNING status, execution_mode, n)
        INSERT INTO run_counts (status, execution_mode, n)
          SELECT status, execution_mode, sum(n) FROM d GROUP BY 1, 2 HAVING sum(n) <> 0`);
    }
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}
