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
  `,
];
