/**
 * Messages between the runner and its Python processes (docs/worker-protocol.md is the prose
 * version). Python cannot import these, so the runner validates everything a worker sends.
 */
import { z } from 'zod';
import { EXECUTION_STATUSES, EXECUTION_TYPES } from './records';

/** fork server stdout → runner */
export const ForkServerEvent = z.discriminatedUnion('event', [
  z.object({ event: z.literal('ready'), pid: z.number().int(), python: z.string() }),
  z.object({ event: z.literal('spawned'), execution_id: z.string(), pid: z.number().int() }),
  z.object({
    event: z.literal('exited'),
    execution_id: z.string(),
    pid: z.number().int(),
    code: z.number().int().nullable(),
    signal: z.number().int().nullable(),
  }),
  /** With `execution_id` when it is about one spawn command: that execution was not started. */
  z.object({ event: z.literal('error'), message: z.string(), execution_id: z.string().optional() }),
]);
export type ForkServerEvent = z.infer<typeof ForkServerEvent>;

/**
 * pooled worker's control connection → runner (runner/python/flows_worker/pool.py): `ready`
 * (the first one names the worker) when it can take a job, `retire` before it exits.
 */
export const PoolWorkerMessage = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('ready'),
    worker_id: z.string().optional(),
    secret: z.string().optional(),
    pid: z.number().int().optional(),
  }),
  z.object({ type: z.literal('retire'), reason: z.string() }),
]);
export type PoolWorkerMessage = z.infer<typeof PoolWorkerMessage>;

export const WorkerError = z.object({
  type: z.string(),
  message: z.string(),
  traceback: z.string().nullish(),
  filename: z.string().nullish(),
  line: z.number().int().nullish(),
});
export type WorkerError = z.infer<typeof WorkerError>;

/** worker → runner */
export const WorkerMessage = z.discriminatedUnion('type', [
  z.object({ type: z.literal('hello'), execution_id: z.string(), secret: z.string(), pid: z.number().int() }),
  z.object({ type: z.literal('started') }),
  z.object({ type: z.literal('log'), stream: z.enum(['log', 'stdout', 'stderr']), text: z.string() }),
  z.object({
    type: z.literal('call'),
    id: z.number().int(),
    method: z.string(),
    params: z.record(z.string(), z.unknown()),
  }),
  z.object({
    type: z.literal('status'),
    status: z.enum(['BLOCKED', 'RUNNING', 'PAUSED']),
    message: z.string().nullish(),
  }),
  z.object({
    type: z.literal('end'),
    status: z.enum(['SUCCEEDED', 'FAILED', 'INVALID', 'STOPPED']),
    message: z.string().nullish(),
    output_value: z.unknown().optional(),
    error: WorkerError.nullish(),
  }),
  /**
   * What the flow took from outside its input, kept so a test can replay it (the runner's
   * recording): a file it read (`value` {content, is_binary}, null when missing) or a sleep
   * (`value` {seconds}).
   */
  z.object({
    type: z.literal('recording'),
    kind: z.enum(['file', 'sleep']),
    name: z.string(),
    value: z.unknown(),
  }),
  /** Reserved for the debugger: DAP-level events relayed to the debug adapter. */
  z.object({ type: z.literal('debug') }).passthrough(),
]);
export type WorkerMessage = z.infer<typeof WorkerMessage>;

/** What a worker is told to run (the `job` of a spawn command). */
export interface WorkerJob {
  execution_id: string;
  record: unknown;
  kind: 'flow' | 'script' | 'connection';
  flow_path?: string;
  script?: string;
  connector_type?: string;
  connector_params?: Record<string, unknown>;
  flows_dir: string;
  files_dir: string;
  debug: unknown;
  /** Limits the worker sets on itself (setrlimit), inherited by what the flow starts. */
  limits?: WorkerLimits | null;
  /**
   * 'process': run in a fresh process forked for this execution alone, not in a pooled worker
   * (so does a debugged execution, and a flow whose file has a `# flows: isolated` line).
   */
  isolation?: 'pool' | 'process';
  /**
   * Sleeps take no time: `this.sleep(3600)` advances the execution's clock by an hour and returns
   * (a test replaying a recorded run; runner/src/testing).
   */
  virtual_clock?: boolean;
  /**
   * With virtual_clock: the Unix time (seconds) the execution's clock starts at, which
   * `time.time()` and `datetime.now()` in the flow follow (the recorded run's start, or the
   * parent's time when it made this child); default the real time.
   */
  virtual_now?: number;
}

/** Where executions run: warm pooled workers, reused (default), or a fresh process each. */
export type WorkerIsolation = 'pool' | 'process';

export interface WorkerLimits {
  /** Address space of each of its processes, in MB (RLIMIT_AS). */
  max_memory_mb?: number;
  /** CPU time of each of its processes, in seconds (RLIMIT_CPU; then SIGXCPU). */
  max_cpu_seconds?: number;
}

/**
 * Machine-readable reason of an error reply, so Python can raise the right exception class
 * without parsing messages. Absent for errors that fit none of these.
 */
export const CALL_ERROR_CODES = ['not_found', 'lock_timeout', 'timeout', 'invalid'] as const;
export type CallErrorCode = (typeof CALL_ERROR_CODES)[number];

/** runner → worker: the answer to a `call`. */
export const WorkerReply = z.union([
  z.object({ type: z.literal('reply'), id: z.number().int(), result: z.unknown() }),
  z.object({
    type: z.literal('reply'),
    id: z.number().int(),
    error: z.object({ message: z.string(), code: z.enum(CALL_ERROR_CODES).optional() }),
  }),
]);
export type WorkerReply = z.infer<typeof WorkerReply>;

/**
 * Kinds of records a flow can keep through `record.*` calls. Any lower-case identifier is a
 * generic type stored by the runner ('setting', 'connection', 'vault_config', …); the types
 * in RECORD_VIEW_TYPES are views of data the runner keeps elsewhere.
 */
export const RecordType = z
  .string()
  .regex(/^[a-z][a-z0-9_]{0,62}$/, 'a lower-case identifier (letters, digits, "_")');
export const RECORD_VIEW_TYPES = ['webhook', 'schedule', 'message'] as const;

const RecordKey = {
  type: RecordType,
  key: z.string().min(1),
  by: z.enum(['name', 'id']).default('name'),
};
const RecordRef = z.object(RecordKey);
export type RecordRef = z.infer<typeof RecordRef>;

/** `return_when` of execution.wait, named like Python's concurrent.futures. */
export const WAIT_CONDITIONS = ['ALL_ENDED', 'ALL_SUCCEEDED', 'FIRST_ENDED', 'FIRST_SUCCEEDED'] as const;
export type WaitCondition = (typeof WAIT_CONDITIONS)[number];

/** One value or a list of them (Python callers pass either). */
const oneOrMany = <T extends z.ZodType>(item: T) =>
  z.union([item, z.array(item)]).transform((v) => (Array.isArray(v) ? v : [v]) as z.output<T>[]);

/** Parameters of the calls a worker makes (method → schema). Unknown methods are an error reply. */
export const WorkerCallParams = {
  'execution.create': z.object({
    type: z.enum(['FLOW', 'CONNECTION']),
    flow_name: z.string().nullish(),
    connector_name: z.string().nullish(),
    connector_type: z.string().nullish(),
    input_value: z.unknown().optional(),
    name: z.string().nullish(),
    priority: z.number().int().nullish(),
    max_runtime_minutes: z.number().min(0).nullish(),
    is_productive: z.boolean().nullish(),
    scheduled_for: z.string().nullish(),
    start: z.boolean().default(true),
    /** The line of the flow that made the call (a replayed test shows a call that differs there). */
    caller: z.object({ file: z.string(), line: z.number().int() }).nullish(),
  }),
  'execution.start': z.object({ id: z.string() }),
  'execution.wait': z.object({
    ids: z.array(z.string()),
    timeout: z.number().min(0).nullish(),
    return_when: z.enum(WAIT_CONDITIONS).nullish(),
  }),
  'execution.get': z.object({ id: z.string() }),
  'execution.list': z.object({
    parent_execution_id: z.string().nullish(),
    status: oneOrMany(z.enum(EXECUTION_STATUSES)).nullish(),
    flow_name: z.string().nullish(),
    type: oneOrMany(z.enum(EXECUTION_TYPES)).nullish(),
    limit: z.number().int().min(1).max(1000).nullish(),
    /** Pages: skip this many (a parent's children, oldest first, page stably this way). */
    offset: z.number().int().min(0).nullish(),
    sort: z.enum(['created_at', '-created_at']).nullish(),
  }),
  'execution.update': z.object({
    id: z.string(),
    fields: z.object({
      output_value: z.unknown().optional(),
      message: z.string().nullish(),
      name: z.string().optional(),
    }),
  }),
  'execution.cancel': z.object({ id: z.string() }),
  'execution.pause': z.object({ id: z.string() }),
  'execution.webhook_response': z.object({
    status_code: z.number().int().default(200),
    headers: z.record(z.string(), z.string()).nullish(),
    body: z.string().nullish(),
    content_type: z.string().nullish(),
    encoding: z.enum(['text', 'base64']).default('text'),
  }),
  'record.get': RecordRef,
  'record.exists': RecordRef,
  'record.save': z.object({
    ...RecordKey,
    key: RecordKey.key.nullish(),
    fields: z.record(z.string(), z.unknown()).default({}),
  }),
  'record.delete': RecordRef,
  'record.archive': RecordRef,
  'record.list': z.object({ type: RecordType, include_archived: z.boolean().nullish() }),
  'lock.acquire': z.object({ name: z.string().min(1), timeout: z.number().min(0).nullish() }),
  'lock.release': z.object({ name: z.string().min(1) }),
  /** Older spelling of record.* with type 'setting', kept while flow_api moves over. */
  'message.create': z.object({
    subject: z.string(),
    body: z.unknown().optional(),
    message_type: z.string().nullish(),
  }),
  'message.wait': z.object({ id: z.string(), timeout: z.number().nullish() }),
} as const;
export type WorkerCallMethod = keyof typeof WorkerCallParams;
