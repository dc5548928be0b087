/**
 * Versioned schema of the SQLite store. Each entry moves the database from version i to i+1
 * (PRAGMA user_version); entries are never edited once released, only appended.
 */
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE executions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    type TEXT NOT NULL,
    status TEXT NOT NULL,
    flow_name TEXT,
    script TEXT,
    connector_name TEXT,
    connector_type TEXT,
    input_value TEXT,
    output_value TEXT,
    message TEXT,
    is_productive INTEGER NOT NULL,
    priority INTEGER NOT NULL,
    max_runtime_minutes REAL NOT NULL,
    parent_execution_id TEXT,
    top_execution_id TEXT NOT NULL,
    schedule_id TEXT,
    webhook_id TEXT,
    scheduled_for TEXT,
    created_at TEXT NOT NULL,
    started_at TEXT,
    ended_at TEXT,
    updated_at TEXT NOT NULL,
    paused_from TEXT
  );
  CREATE INDEX executions_status ON executions(status);
  CREATE INDEX executions_parent ON executions(parent_execution_id);
  CREATE INDEX executions_top ON executions(top_execution_id);
  CREATE INDEX executions_flow ON executions(flow_name);
  CREATE INDEX executions_created ON executions(created_at);
  CREATE TABLE logs (
    execution_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    ts TEXT NOT NULL,
    stream TEXT NOT NULL,
    text TEXT NOT NULL,
    PRIMARY KEY (execution_id, seq)
  ) WITHOUT ROWID;
  CREATE TABLE settings (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_at TEXT NOT NULL
  );
  CREATE TABLE messages (
    id TEXT PRIMARY KEY,
    execution_id TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT,
    message_type TEXT NOT NULL,
    response TEXT,
    created_at TEXT NOT NULL,
    responded_at TEXT
  );
  CREATE INDEX messages_execution ON messages(execution_id);
  `,
  // 2: schedules, webhooks and runs (issue 6). `virtual` marks executions without a Python
  // process of their own (a schedule's SCHEDULE execution, an async run's parent). Children are
  // counted per status (run progress), so (parent, status) replaces the parent index.
  `
  ALTER TABLE executions ADD COLUMN virtual INTEGER NOT NULL DEFAULT 0;
  DROP INDEX executions_parent;
  CREATE INDEX executions_parent_status ON executions(parent_execution_id, status);
  CREATE INDEX executions_schedule ON executions(schedule_id);
  CREATE TABLE schedules (
    id TEXT PRIMARY KEY,
    data TEXT NOT NULL,
    inputs TEXT,
    created_at TEXT NOT NULL
  );
  CREATE TABLE webhooks (
    id TEXT PRIMARY KEY,
    data TEXT NOT NULL,
    created_at TEXT NOT NULL
  );
  CREATE TABLE runs (
    id TEXT PRIMARY KEY,
    action_name TEXT NOT NULL,
    execution_mode TEXT NOT NULL,
    inputs_count INTEGER NOT NULL,
    schedule_id TEXT,
    callback TEXT,
    created_at TEXT NOT NULL
  );
  CREATE INDEX runs_action ON runs(action_name);
  `,
  // 3: generic records (flow_api's record API): settings, connections and whatever else a flow
  // keeps by type and name. Settings move over as type 'setting' with data {"value": …}; their
  // new ids are random UUIDs (v4, built from randomblob).
  `
  CREATE TABLE records (
    id TEXT PRIMARY KEY,
    type TEXT NOT NULL,
    name TEXT NOT NULL,
    data TEXT NOT NULL,
    archived INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    modified_at TEXT NOT NULL,
    UNIQUE (type, name)
  );
  INSERT INTO records (id, type, name, data, archived, created_at, modified_at)
    SELECT lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2)
             || '-' || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(hex(randomblob(2)), 2)
             || '-' || hex(randomblob(6))),
           'setting', name, json_object('value', json(value)), 0, updated_at, updated_at
    FROM settings;
  DROP TABLE settings;
  `, // 4: lists that stay fast at millions of rows (issue 12). Every filter of the list APIs has an
  // index that ends in the default sort (created_at, seq), so a filtered page is a range walk, not
  // a scan and a sort; every sort has an index of its own, ending in (created_at, seq) where its
  // values repeat (status, priority, name). seq is spelled out although every index ends in the
  // rowid: only named columns take part in a row-value range, and the keyset cursor of a page
  // is one — without it, paging through 100,000 children created in the same millisecond would
  // filter its way through all of them on every page. Exact totals for the views asked for most
  // (everything, by status, top-level only) come from counters the triggers below keep, so no
  // list counts millions of rows. A run carries its top execution's status and updated_at (kept
  // by a trigger) so that /v1/runs sorts and filters on indexes of its own. bulk_inserts marks an
  // async run whose children are still being written in chunks (see SqliteStore).
  `
  DROP INDEX executions_status;
  DROP INDEX executions_parent_status;
  DROP INDEX executions_top;
  DROP INDEX executions_flow;
  DROP INDEX executions_schedule;
  DROP INDEX executions_created;
  CREATE INDEX executions_created ON executions(created_at, seq);
  CREATE INDEX executions_updated ON executions(updated_at, seq);
  CREATE INDEX executions_status_created ON executions(status, created_at, seq);
  CREATE INDEX executions_priority_created ON executions(priority, created_at, seq);
  CREATE INDEX executions_name_created ON executions(name, created_at, seq);
  CREATE INDEX executions_type_created ON executions(type, created_at, seq);
  CREATE INDEX executions_flow_created ON executions(flow_name, created_at, seq);
  CREATE INDEX executions_parent_created ON executions(parent_execution_id, created_at, seq);
  CREATE INDEX executions_parent_status_created ON executions(parent_execution_id, status, created_at, seq);
  CREATE INDEX executions_top_created ON executions(top_execution_id, created_at, seq);
  CREATE INDEX executions_schedule_created ON executions(schedule_id, created_at, seq);
  CREATE INDEX executions_productive_created ON executions(is_productive, created_at, seq);

  CREATE TABLE execution_counts (
    status TEXT NOT NULL,
    top INTEGER NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (status, top)
  ) WITHOUT ROWID;
  INSERT INTO execution_counts (status, top, n)
    SELECT status, parent_execution_id IS NULL, COUNT(*) FROM executions GROUP BY 1, 2;
  CREATE TRIGGER executions_count_insert AFTER INSERT ON executions BEGIN
    INSERT INTO execution_counts (status, top, n) VALUES (NEW.status, NEW.parent_execution_id IS NULL, 1)
      ON CONFLICT DO UPDATE SET n = n + 1;
  END;
  CREATE TRIGGER executions_count_update AFTER UPDATE OF status, parent_execution_id ON executions
    WHEN OLD.status IS NOT NEW.status
      OR (OLD.parent_execution_id IS NULL) IS NOT (NEW.parent_execution_id IS NULL) BEGIN
    UPDATE execution_counts SET n = n - 1
      WHERE status = OLD.status AND top = (OLD.parent_execution_id IS NULL);
    INSERT INTO execution_counts (status, top, n) VALUES (NEW.status, NEW.parent_execution_id IS NULL, 1)
      ON CONFLICT DO UPDATE SET n = n + 1;
  END;
  CREATE TRIGGER executions_count_delete AFTER DELETE ON executions BEGIN
    UPDATE execution_counts SET n = n - 1
      WHERE status = OLD.status AND top = (OLD.parent_execution_id IS NULL);
  END;

  ALTER TABLE runs ADD COLUMN status TEXT NOT NULL DEFAULT 'CREATED';
  ALTER TABLE runs ADD COLUMN updated_at TEXT NOT NULL DEFAULT '';
  UPDATE runs SET status = e.status, updated_at = e.updated_at FROM executions e WHERE e.id = runs.id;
  DROP INDEX runs_action;
  CREATE INDEX runs_created ON runs(created_at);
  CREATE INDEX runs_updated ON runs(updated_at);
  CREATE INDEX runs_status_created ON runs(status, created_at);
  CREATE INDEX runs_action_created ON runs(action_name, created_at);
  CREATE INDEX runs_mode_created ON runs(execution_mode, created_at);
  CREATE TRIGGER executions_run_insert AFTER INSERT ON executions WHEN NEW.parent_execution_id IS NULL BEGIN
    UPDATE runs SET status = NEW.status, updated_at = NEW.updated_at WHERE id = NEW.id;
  END;
  CREATE TRIGGER executions_run_update AFTER UPDATE OF status, updated_at ON executions
    WHEN NEW.parent_execution_id IS NULL BEGIN
    UPDATE runs SET status = NEW.status, updated_at = NEW.updated_at
      WHERE id = NEW.id AND (status IS NOT NEW.status OR updated_at IS NOT NEW.updated_at);
  END;
  CREATE TABLE run_counts (
    status TEXT NOT NULL,
    execution_mode TEXT NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (status, execution_mode)
  ) WITHOUT ROWID;
  INSERT INTO run_counts (status, execution_mode, n)
    SELECT status, execution_mode, COUNT(*) FROM runs GROUP BY 1, 2;
  CREATE TRIGGER runs_count_insert AFTER INSERT ON runs BEGIN
    INSERT INTO run_counts (status, execution_mode, n) VALUES (NEW.status, NEW.execution_mode, 1)
      ON CONFLICT DO UPDATE SET n = n + 1;
  END;
  CREATE TRIGGER runs_count_update AFTER UPDATE OF status, execution_mode ON runs
    WHEN OLD.status IS NOT NEW.status OR OLD.execution_mode IS NOT NEW.execution_mode BEGIN
    UPDATE run_counts SET n = n - 1 WHERE status = OLD.status AND execution_mode = OLD.execution_mode;
    INSERT INTO run_counts (status, execution_mode, n) VALUES (NEW.status, NEW.execution_mode, 1)
      ON CONFLICT DO UPDATE SET n = n + 1;
  END;
  CREATE TRIGGER runs_count_delete AFTER DELETE ON runs BEGIN
    UPDATE run_counts SET n = n - 1 WHERE status = OLD.status AND execution_mode = OLD.execution_mode;
  END;

  CREATE TABLE bulk_inserts (
    parent_id TEXT PRIMARY KEY,
    rows INTEGER NOT NULL,
    started_at TEXT NOT NULL
  );
  `,
  // What an execution read from outside its input (settings, files) and its sleeps: what a
  // test replays (store.ts RecordingEntry).
  `
  CREATE TABLE recordings (
    execution_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    value TEXT,
    ts TEXT NOT NULL,
    PRIMARY KEY (execution_id, seq)
  ) WITHOUT ROWID;
  `,
  // Flow records (team mode): flows deployed by name, with their source and its SHA-256, and a
  // count of their changes that a runner compares to see whether they changed (store.ts
  // StoredFlow, flowsVersion). A rowid table: sources may be a megabyte.
  `
  CREATE TABLE flows (
    name TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    hash TEXT NOT NULL,
    size INTEGER NOT NULL,
    updated_at TEXT NOT NULL,
    deployed_by TEXT
  );
  CREATE TABLE flows_version (version INTEGER NOT NULL);
  INSERT INTO flows_version (version) VALUES (0);
  `,
  // Team mode (issue 18): who started each execution; users' API tokens, kept as SHA-256
  // hashes only (http/userTokens.ts); and the last claimed firing of each schedule, so that of
  // several runners on one database one fires a slot (store.ts claimFiring). SQLite has one
  // runner, but keeps the same tables so that every store answers alike.
  `
  ALTER TABLE executions ADD COLUMN started_by TEXT;
  CREATE TABLE user_tokens (
    name TEXT PRIMARY KEY,
    hash TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    last_used_at TEXT
  );
  CREATE TABLE schedule_firings (
    schedule_id TEXT PRIMARY KEY,
    slot INTEGER NOT NULL,
    fired_at TEXT NOT NULL
  );
  `,
];
