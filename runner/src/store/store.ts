/**
 * What the runner keeps, behind an interface narrow enough for a second backend (PostgreSQL for
 * teams). Writes are fire-and-forget and may be grouped into one transaction by the backend;
 * reads see every write made before them, and only committed data. durable() is how a caller
 * waits for its writes to be committed (before acknowledging them, or acting on them). Reads are
 * async so a networked backend fits.
 */
import type {
  ExecutionMode,
  ExecutionRecord,
  ExecutionStatus,
  ListExecutionsQuery,
  ListRunsQuery,
  LogLine,
  MessageRecord,
  ScheduleRecord,
  WebhookRecord,
} from '@flows/protocol';

/** The record plus what only the runner needs to carry across a restart. */
export interface StoredExecution extends ExecutionRecord {
  /** Status to go back to when a user-paused execution is resumed. */
  paused_from: ExecutionRecord['status'] | null;
  /** Has no Python process of its own (a SCHEDULE execution, an async run's parent). */
  virtual?: boolean;
  /** Always stored (null only for rows written before it existed): see ExecutionRecord. */
  started_by: string | null;
}

/** A stored field of an execution (a column of the executions table). */
export type ExecutionField = (typeof EXECUTION_COLUMNS)[number];

/**
 * The fields of a stored execution, in the order the stores keep them (SQLite's columns; a
 * record read back has its keys in this order, from either store).
 */
export const EXECUTION_COLUMNS = [
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
  'started_by',
  'paused_from',
  'virtual',
] as const satisfies ReadonlyArray<keyof StoredExecution>;

export interface StoredSchedule extends ScheduleRecord {
  /** kind=interval: firings fall on anchor + k × interval (the anchor is when it was enabled). */
  anchor_at: string | null;
  /** Every firing is an async run over these inputs (instead of one run of input_value). */
  inputs: unknown[] | null;
}

export type StoredWebhook = WebhookRecord;

/** What the runs API adds to the run's top execution (whose id is the run's uid). */
export interface StoredRun {
  id: string;
  action_name: string;
  execution_mode: ExecutionMode;
  inputs_count: number;
  schedule_id: string | null;
  callback: string | null;
  created_at: string;
}

/**
 * A record a flow keeps by type and name (a setting, a connection, …): `data` holds its
 * type-specific fields. Names are unique per type; ids never change.
 */
export interface StoredRecord {
  id: string;
  type: string;
  name: string;
  data: Record<string, unknown>;
  archived: boolean;
  created_at: string;
  modified_at: string;
}

export type RecordLookup = 'name' | 'id';

/**
 * A flow record (team mode): a flow deployed to the runner by name, as the platform keeps flows,
 * so no runner node needs a copy of anyone's folder (flows/deployedFlows.ts). `hash` is the
 * SHA-256 of the source's UTF-8 bytes (hex); a deploy of the same source changes nothing.
 */
export interface StoredFlow {
  name: string;
  source: string;
  hash: string;
  updated_at: string;
  /** The user whose token deployed it, when known. */
  deployed_by: string | null;
}

/** A flow record without its source (lists); `size` is the source's length in UTF-8 bytes. */
export type FlowSummary = Omit<StoredFlow, 'source'> & { size: number };

/**
 * One thing an execution took from outside its input, in the order it did: the value of a
 * setting or a file it read (null: it did not exist), or a sleep. With the execution's children
 * (connector calls, child flows, with inputs and outputs) and its forms (messages, with answers)
 * this is what a test needs to replay the execution (`flows test create`, runner/src/testing).
 */
export interface RecordingEntry {
  execution_id: string;
  /** 1, 2, … within the execution; an entry whose seq is taken is dropped (as log lines are). */
  seq: number;
  kind: RecordingKind;
  /** The setting's or file's name; '' for a sleep. */
  name: string;
  /**
   * setting: its fields as the flow saw them (`{value, …}`), null when missing; file:
   * `{content, is_binary}` (base64 content when binary), null when missing; sleep: `{seconds}`.
   */
  value: unknown;
  ts: string;
}
export type RecordingKind = 'setting' | 'file' | 'sleep';

/**
 * A user's API token (`flows token create NAME`), as kept: never the token itself, only its
 * SHA-256 (http/userTokens.ts says why that hash, and how a request is matched to it).
 */
export interface StoredUserToken {
  /** The user's name, unique: one token per user. */
  name: string;
  /** SHA-256 of the token, lower-case hex. */
  hash: string;
  created_at: string;
  /** When a request last came with it (kept at most about once a minute), null: never. */
  last_used_at: string | null;
}

/** What `flows token list` shows of a token: everything but its hash. */
export type UserTokenInfo = Omit<StoredUserToken, 'hash'>;

export interface RunWithExecution {
  run: StoredRun;
  execution: StoredExecution;
}

/**
 * A list page stops adding items once their JSON passes this many bytes (it always holds at
 * least one item); `next` continues it. A page of 1,000 executions with 4 MB outputs would be
 * 4 GB; the single-execution read still returns the whole output.
 */
export const LIST_PAGE_BYTES = 8 * 1024 * 1024;

/**
 * One page of a list. `total` counts every match (not only those after the cursor); where
 * counting them all would mean walking millions of index entries the backend counts up to a
 * bound and says so: `total_capped` = total is a lower bound. `next` is an opaque cursor (the
 * `after` of the next page), null on the last page.
 */
export interface ListPage<T> {
  items: T[];
  total: number;
  total_capped: boolean;
  next: string | null;
}

/** An `after` cursor that is not one of ours, or was made for another sort: the caller's error. */
export class InvalidCursorError extends Error {}

export interface Store {
  /**
   * Insert or replace the whole row. `changed` (a hint): the fields that differ from the last
   * put of this id. A store may then write only those, which spares rewriting every index of
   * the row (SQLite rewrites an index when any of its columns is assigned, changed or not).
   */
  putExecution(rec: StoredExecution, changed?: readonly ExecutionField[]): void;
  getExecution(id: string): Promise<StoredExecution | undefined>;
  /** Throws InvalidCursorError for a bad `after`. */
  listExecutions(q: ListExecutionsQuery): Promise<ListPage<StoredExecution>>;
  /**
   * The same page with each item as the JSON the REST API shows (an ExecutionRecord: no
   * paused_from, no virtual), made by the backend: SQLite builds it in C, which spares the API
   * parsing rows into objects and serializing them again. Optional; the API falls back to
   * listExecutions.
   */
  listExecutionsJson?(q: ListExecutionsQuery): Promise<ListPage<{ id: string; json: string }>>;
  /** Every execution not in an ended status, oldest first (used on start-up). */
  listUnfinished(): Promise<StoredExecution[]>;
  /**
   * What a runner restores at start where several runners share the store (PostgreSQL): the
   * unfinished executions that are this runner's own or nobody's, claimed for it, oldest first;
   * those of other runners are left alone. Optional: without it the runner restores
   * listUnfinished(), all of them (a store only one runner uses).
   */
  claimUnfinished?(): Promise<StoredExecution[]>;
  /** Ids of all descendants of an execution, any depth. */
  listDescendantIds(id: string): Promise<string[]>;

  appendLog(line: LogLine): void;
  getLog(executionId: string, after: number, limit: number): Promise<LogLine[]>;
  lastLogSeq(executionId: string): Promise<number>;

  getRecord(type: string, by: RecordLookup, key: string): Promise<StoredRecord | undefined>;
  /** Insert or replace by id; the caller keeps (type, name) unique. */
  putRecord(rec: StoredRecord): void;
  deleteRecord(type: string, by: RecordLookup, key: string): Promise<boolean>;
  /** Sorted by name. */
  listRecords(type: string, opts?: { includeArchived?: boolean }): Promise<StoredRecord[]>;

  /**
   * Deploys flow records in one transaction, committed when it resolves (apart from the group
   * commits): all of them, or none when it fails. A flow whose stored hash equals the new one is
   * left as it is (its updated_at and deployed_by too). Resolves with the names it wrote.
   */
  putFlows(flows: readonly StoredFlow[]): Promise<string[]>;
  getFlow(name: string): Promise<StoredFlow | undefined>;
  /** Sorted by name (byte order of UTF-8), without sources. */
  listFlows(): Promise<FlowSummary[]>;
  /** Committed when it resolves; false when there was no such flow. */
  deleteFlow(name: string): Promise<boolean>;
  /**
   * A number that changes with every change putFlows or deleteFlow commits: how a runner sharing
   * the store with others sees that their deploys changed the flows without reading them all.
   */
  flowsVersion(): Promise<number>;

  /** Keep what an execution read (see RecordingEntry). */
  appendRecording(entry: RecordingEntry): void;
  /** An execution's recording, in seq order. */
  getRecording(executionId: string): Promise<RecordingEntry[]>;

  putMessage(msg: MessageRecord): void;
  getMessage(id: string): Promise<MessageRecord | undefined>;
  listMessages(opts: { open?: boolean; execution_id?: string }): Promise<MessageRecord[]>;

  /**
   * Insert many new executions at once (an async run's inputs), much faster than as many
   * putExecution calls. They are written in chunks that let other work run in between (a
   * 100,000-row insert must not hold up every other request for seconds), so reads may see
   * part of them until flush() or durable() resolves. The store may read the records until then.
   */
  insertExecutions(recs: StoredExecution[]): void;
  /**
   * `rows` children of `parentId` are coming through insertExecutions, maybe over several calls
   * with other work in between. Until the last of them is written, the parent stays marked as
   * being inserted, so a restart in between fails the parent instead of keeping part of them.
   */
  expectBulk(parentId: string, rows: number): void;
  /** How many children an execution has, per status. */
  countChildren(parentId: string): Promise<Partial<Record<ExecutionStatus, number>>>;
  /** Children of an execution in these statuses, oldest first. */
  listChildren(
    parentId: string,
    statuses: readonly ExecutionStatus[],
    limit?: number,
  ): Promise<StoredExecution[]>;

  /** Everything but `inputs`, which putScheduleInputs writes (it may be large and rarely changes). */
  putSchedule(schedule: StoredSchedule): void;
  putScheduleInputs(id: string, inputs: unknown[] | null): void;
  deleteSchedule(id: string): void;
  listSchedules(): Promise<StoredSchedule[]>;

  putWebhook(webhook: StoredWebhook): void;
  deleteWebhook(id: string): void;
  listWebhooks(): Promise<StoredWebhook[]>;

  putRun(run: StoredRun): void;
  getRun(id: string): Promise<RunWithExecution | undefined>;
  /**
   * Throws InvalidCursorError for a bad `after`. The executions come without input_value and
   * output_value (a list of runs shows neither, and they may be megabytes each).
   */
  listRuns(q: ListRunsQuery): Promise<ListPage<RunWithExecution>>;

  /**
   * Claims the firing of schedule `scheduleId` due at `slot` (ms since the epoch) for this
   * runner: true for the one caller that gets it, false when a firing of that schedule at this
   * slot or a later one was claimed already (by this runner or another node on the same
   * database). Committed when it resolves, apart from the group commits: the scheduler claims a
   * slot before it creates the run (scheduler.ts says why). A store only one runner uses may
   * keep the claims in memory.
   */
  claimFiring(scheduleId: string, slot: number): Promise<boolean>;
  /**
   * Where several runners share the store (PostgreSQL): of the SCHEDULE executions `ids`, those
   * no runner holds (a lost node's), now this runner's, with their unfinished children that no
   * runner holds, parents first (`claimed`); and the ids another runner holds (`held`). Ended or
   * missing ids are in neither. Optional: in a store only one runner uses, every unfinished
   * execution is that runner's.
   */
  claimSchedules?(ids: readonly string[]): Promise<{ claimed: StoredExecution[]; held: string[] }>;

  /**
   * Users' API tokens. Each is written (or removed) when the call resolves, apart from the group
   * commits: another node must refuse a revoked token at its next lookup.
   * createUserToken: false (and nothing written) when the name has a token already.
   */
  createUserToken(token: Omit<StoredUserToken, 'last_used_at'>): Promise<boolean>;
  /** False when the name has no token. */
  revokeUserToken(name: string): Promise<boolean>;
  /** Sorted by name; no hashes. */
  listUserTokens(): Promise<UserTokenInfo[]>;
  /** The token whose hash is `hash`, if a user has it. */
  findUserToken(hash: string): Promise<StoredUserToken | undefined>;
  /** Notes a use of the token (for `flows token list`); nothing when it was revoked meanwhile. */
  touchUserToken(name: string, at: string): Promise<void>;

  /** Write everything queued so far; resolves when it is durable (bulk inserts included). */
  flush(): Promise<void>;
  /**
   * Resolves when everything queued so far is committed, with the backend's next grouped commit
   * (it adds at most one group interval, and many callers share the commit). Rejects if that
   * commit fails. Rows of a bulk insert queued before the call count: while one is being
   * written, this waits for its last chunk.
   */
  durable(): Promise<void>;
  /**
   * As durable(), but rows of bulk inserts still being written do not hold it up: for a caller
   * that needs only its own writes committed (an execution about to start), not a 100,000-row
   * insert that happens to be under way.
   */
  committed(): Promise<void>;
  close(): Promise<void>;
}
