/**
 * The execution engine: creates executions, queues them by priority, starts each in its own
 * Python process, follows its status to the end, and cascades cancel and pause through trees.
 *
 * Every execution that has not ended lives in `active` (the store is written behind it); ended
 * ones are read back from the store. Status changes go through `update`, which persists and
 * emits, so the WebSocket, the CLI and the tests all see the same sequence.
 */
import crypto from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { EventEmitter } from 'node:events';
import {
  isEnded,
  type CreateExecutionBody,
  type ExecutionRecord,
  type ExecutionStatus,
  type ExecutionType,
  type ListExecutionsQuery,
  type LogLine,
  type MessageRecord,
  type WorkerJob,
  type WorkerLimits,
  type WorkerMessage,
} from '../../../protocol';
import type { ListPage, Store, StoredExecution } from '../store/store';
import type { PythonWorkers, WorkerExit } from '../workers/pythonWorkers';
import { replyError } from './callError';
import { resolveConnector, storedConnection } from './connectors';
import { resolveFlow } from './flowFiles';
import { uuidv7 } from './ids';
import { Locks } from './locks';
import { PriorityQueue } from './priorityQueue';
import { Records } from './records';
import { longTimeout, type LongTimer } from './longTimer';
import { handleWorkerCall } from './workerCalls';

/** A log line longer than this is cut; an execution logging more lines than this is cut off. */
const MAX_LOG_LINE = 64 * 1024;
const MAX_LOG_LINES = 200_000;
/** See EngineOptions.maxWaiting. An idle worker costs a few MB of unshared memory. */
export const DEFAULT_MAX_WAITING = 64;
/**
 * Executions nest at most this deep (a top execution is level 1). Every level waiting on the
 * next keeps a process, so this bounds what one recursive flow can hold.
 */
export const MAX_EXECUTION_DEPTH = 32;
/** How long one slice of an async run's children may hold the thread (see createChildren). */
const CHILDREN_SLICE_MS = 6;

export interface EngineOptions {
  store: Store;
  workers: PythonWorkers;
  flowsDir: string;
  filesDir: string;
  /** How many executions may be RUNNING at once (BLOCKED and PAUSED ones do not count). */
  concurrency: number;
  /**
   * How many more worker processes than `concurrency` may live, for executions that wait
   * (BLOCKED, PAUSED) while keeping their process. Past it, only executions that a waiting
   * execution waits for start (see pump()). Default DEFAULT_MAX_WAITING.
   */
  maxWaiting?: number;
  /** Resource limits of every execution's processes (POSIX; none by default). */
  limits?: WorkerLimits;
  log: (msg: string) => void;
}

/** A new execution, from the REST API, the CLI or a running flow. */
export interface NewExecution {
  type: ExecutionType;
  flow_name?: string | null;
  script?: string | null;
  connector_name?: string | null;
  connector_type?: string | null;
  name?: string | null;
  input_value?: unknown;
  is_productive?: boolean;
  priority?: number;
  max_runtime_minutes?: number;
  scheduled_for?: string | null;
  schedule_id?: string | null;
  webhook_id?: string | null;
  start?: boolean;
  /** The data of the `connection` record named connector_name, looked up by the caller. */
  connection?: Record<string, unknown>;
}

export interface WebhookResponse {
  status_code: number;
  headers?: Record<string, string> | null;
  body?: string | null;
  content_type?: string | null;
  encoding: 'text' | 'base64';
}

/** In-memory state of an execution that has not ended. */
export interface Active {
  rec: StoredExecution;
  seq: number;
  logSeq: number;
  job?: Omit<WorkerJob, 'record'>;
  invalidReason?: string;
  /** Holds one of the `concurrency` slots. */
  slot: boolean;
  /** Its worker process exists. */
  hasProcess: boolean;
  /** Paused by `this.pause()` (resumed by a message) rather than by SIGSTOP. */
  pausedByFlow: boolean;
  /** How many `execution.wait` / `message.wait` calls are blocking it. */
  waits: number;
  /** Nesting level: 1 for a top execution, its parent's + 1 for a child. */
  depth: number;
  endWaiters: Array<(rec: ExecutionRecord) => void>;
  runtimeTimer?: LongTimer;
  scheduleTimer?: NodeJS.Timeout;
  webhookResponse?: WebhookResponse;
}

/** What the engine tells its listeners (WebSocket hub, CLI, tests). */
export interface EngineEvents {
  execution: [event: 'created' | 'updated', rec: ExecutionRecord];
  log: [line: LogLine];
  message: [event: 'created' | 'answered', msg: MessageRecord];
  started: [executionId: string];
  ended: [rec: ExecutionRecord, webhook: WebhookResponse | undefined];
  /** A worker's debugger spoke (docs/debug-protocol.md); the debug relay listens. */
  debug: [executionId: string, payload: Record<string, unknown>];
}

const now = () => new Date().toISOString();

export function publicRecord(r: StoredExecution): ExecutionRecord {
  const { paused_from: _pausedFrom, virtual: _virtual, ...rec } = r;
  return rec;
}

export class Engine extends EventEmitter<EngineEvents> {
  readonly active = new Map<string, Active>();
  /** Active children of each active execution, for cascading cancel and pause. */
  private readonly childrenOf = new Map<string, Set<string>>();
  private readonly queue = new PriorityQueue<Active>(
    (a, b) => a.rec.priority > b.rec.priority || (a.rec.priority === b.rec.priority && a.seq < b.seq),
  );
  private slotsUsed = 0;
  /** Launched executions whose spawn waits for the commit (not yet counted by the workers). */
  private launching = 0;
  /** Ids that waiting executions wait for (execution.wait), with how many wait for each. */
  private readonly awaited = new Map<string, number>();
  private seqCounter = 0;
  private stopped = false;
  /** While a tree is being stopped, no queued execution starts (it would only be killed next). */
  private stoppingTrees = 0;
  readonly messageWaiters = new Map<string, Array<(msg: MessageRecord) => void>>();
  readonly locks = new Locks();
  readonly records: Records;
  /** Set by the debug relay: the debugger settings for an execution about to start, if any. */
  debugConfigFor?: (rec: ExecutionRecord) => unknown;

  constructor(readonly opts: EngineOptions) {
    super();
    this.setMaxListeners(0);
    this.records = new Records(opts.store);
    opts.workers.on('message', (id, msg) => this.onWorkerMessage(id, msg));
    opts.workers.on('exit', (id, exit) => this.onWorkerExit(id, exit));
  }

  get store(): Store {
    return this.opts.store;
  }

  /** Resolves once every change made so far is committed: await it before acknowledging one. */
  durable(): Promise<void> {
    return this.opts.store.durable();
  }

  /**
   * Pick up where the last runner left off: queued and scheduled executions run; executions that
   * were running when it stopped cannot be continued (their Python process is gone) and end
   * FAILED with "runner restarted". A stored status is a committed one: RUNNING is committed
   * before the process is started (launch), and an end before anyone is told of it (finish), so
   * a QUEUED execution never started and a RUNNING one had not reported its end.
   */
  async restore(): Promise<{ requeued: number; failed: number }> {
    let requeued = 0;
    let failed = 0;
    for (const rec of await this.store.listUnfinished()) {
      const a = this.track(rec);
      if (rec.virtual) continue; // its owner (scheduler, batches) picks it up again
      const wasRunning =
        rec.status === 'RUNNING' ||
        rec.status === 'BLOCKED' ||
        (rec.status === 'PAUSED' && (rec.paused_from === 'RUNNING' || rec.paused_from === 'BLOCKED'));
      if (wasRunning) {
        this.finish(a, 'FAILED', { message: 'runner restarted while this execution was running' });
        failed++;
        continue;
      }
      this.prepareJob(a, await storedConnection(this.store, rec));
      if (rec.status === 'QUEUED' || rec.status === 'SCHEDULED') {
        this.enqueue(a);
        requeued++;
      }
    }
    this.pump();
    return { requeued, failed };
  }

  private track(rec: StoredExecution, depth = 1): Active {
    const a: Active = {
      rec,
      seq: ++this.seqCounter,
      logSeq: 0,
      slot: false,
      hasProcess: false,
      pausedByFlow: false,
      waits: 0,
      depth,
      endWaiters: [],
    };
    this.active.set(rec.id, a);
    if (rec.parent_execution_id) {
      let set = this.childrenOf.get(rec.parent_execution_id);
      if (!set) this.childrenOf.set(rec.parent_execution_id, (set = new Set()));
      set.add(rec.id);
    }
    if (rec.status !== 'CREATED') {
      void this.store.lastLogSeq(rec.id).then((n) => (a.logSeq = Math.max(a.logSeq, n)));
    }
    return a;
  }

  /** Create an execution; `parent` is the execution whose flow asked for it. */
  create(spec: NewExecution, parent?: Active): ExecutionRecord {
    const depth = parent ? parent.depth + 1 : 1;
    if (depth > MAX_EXECUTION_DEPTH) {
      throw new EngineError(
        400,
        `executions nest at most ${MAX_EXECUTION_DEPTH} levels deep; this one would be level ${depth}`,
      );
    }
    const id = crypto.randomUUID();
    const ts = now();
    const defaultName =
      spec.type === 'FLOW'
        ? spec.flow_name
        : spec.type === 'CONNECTION'
          ? (spec.connector_name ?? spec.connector_type)
          : spec.type === 'SCRIPT'
            ? 'script'
            : spec.type.toLowerCase();
    const rec: StoredExecution = {
      id,
      name: spec.name ?? defaultName ?? id,
      type: spec.type,
      status: 'CREATED',
      flow_name: spec.flow_name ?? null,
      script: spec.script ?? null,
      connector_name: spec.connector_name ?? null,
      connector_type: spec.connector_type ? spec.connector_type.toUpperCase() : null,
      input_value: spec.input_value ?? null,
      output_value: null,
      message: null,
      // Children inherit the mode: a Try stays a Try all the way down.
      is_productive: spec.is_productive ?? parent?.rec.is_productive ?? true,
      priority: spec.priority ?? parent?.rec.priority ?? 0,
      max_runtime_minutes: spec.max_runtime_minutes ?? 0,
      parent_execution_id: parent?.rec.id ?? null,
      top_execution_id: parent?.rec.top_execution_id ?? id,
      schedule_id: spec.schedule_id ?? parent?.rec.schedule_id ?? null,
      webhook_id: spec.webhook_id ?? null,
      scheduled_for: spec.scheduled_for ?? null,
      created_at: ts,
      started_at: null,
      ended_at: null,
      updated_at: ts,
      paused_from: null,
    };
    const a = this.track(rec, depth);
    this.store.putExecution(rec);
    this.emit('execution', 'created', publicRecord(rec));
    this.prepareJob(a, spec.connection);
    if (a.invalidReason) {
      this.finish(a, 'INVALID', { message: a.invalidReason });
    } else if (spec.start !== false) {
      this.enqueue(a);
      this.pump();
    }
    return publicRecord(a.rec);
  }

  /** Work out what the worker will run; a flow that cannot be found makes the execution INVALID. */
  private prepareJob(a: Active, connection?: Record<string, unknown>): void {
    const r = a.rec;
    const base = {
      execution_id: r.id,
      flows_dir: this.opts.flowsDir,
      files_dir: this.opts.filesDir,
      debug: null,
    };
    if (r.type === 'FLOW') {
      const found = resolveFlow(this.opts.flowsDir, r.flow_name ?? '');
      if (!found.ok) a.invalidReason = found.reason;
      else a.job = { ...base, kind: 'flow', flow_path: found.path };
    } else if (r.type === 'SCRIPT') {
      a.job = { ...base, kind: 'script', script: r.script ?? '' };
    } else if (r.type === 'CONNECTION') {
      const params = (r.input_value && typeof r.input_value === 'object' ? r.input_value : {}) as Record<
        string,
        unknown
      >;
      const found = resolveConnector(
        this.opts.flowsDir,
        r.connector_name,
        r.connector_type,
        params,
        connection,
      );
      if (!found.ok) a.invalidReason = found.reason;
      else {
        // A named connector's type comes from its record or .flows/config.json; show it.
        r.connector_type = found.type;
        a.job = { ...base, kind: 'connection', connector_type: found.type, connector_params: found.params };
      }
    }
  }

  /** CREATED (or restored) → QUEUED, or SCHEDULED while `scheduled_for` is in the future. */
  private enqueue(a: Active): void {
    const due = a.rec.scheduled_for ? Date.parse(a.rec.scheduled_for) : 0;
    const wait = due - Date.now();
    if (wait > 0) {
      if (a.rec.status !== 'SCHEDULED') this.update(a, { status: 'SCHEDULED' });
      // setTimeout holds at most ~24.8 days; longer waits re-arm.
      a.scheduleTimer = setTimeout(() => this.enqueue(a), Math.min(wait, 2 ** 31 - 1));
      return;
    }
    a.scheduleTimer = undefined;
    if (a.rec.status !== 'QUEUED') this.update(a, { status: 'QUEUED' });
    this.queue.push(a);
    this.pump();
  }

  /**
   * Start queued executions while slots are free. Executions that wait keep their process but
   * not their slot; once `maxWaiting` such processes exist beyond the slots, only executions a
   * waiting execution waits for start (it cannot go on without them; any other would add one
   * more process). The rest wait for processes to end.
   */
  private pump(): void {
    const maxProcesses = this.opts.concurrency + (this.opts.maxWaiting ?? DEFAULT_MAX_WAITING);
    while (!this.stopped && this.stoppingTrees === 0 && this.slotsUsed < this.opts.concurrency) {
      if (this.opts.workers.size + this.launching >= maxProcesses) {
        const next = this.nextAwaited();
        if (!next) return;
        this.launch(next);
        continue;
      }
      const a = this.queue.pop();
      if (!a) return;
      // Entries are not removed from the heap on cancel, pause or an awaited start: skip those.
      if (!this.startable(a)) continue;
      this.launch(a);
    }
  }

  private startable(a: Active): boolean {
    return a.rec.status === 'QUEUED' && this.active.get(a.rec.id) === a && !a.hasProcess && !a.scheduleTimer;
  }

  /** The queued execution that waiting executions wait for, first by priority then age. */
  private nextAwaited(): Active | undefined {
    let best: Active | undefined;
    for (const id of this.awaited.keys()) {
      const a = this.active.get(id);
      if (!a || !this.startable(a)) continue;
      if (
        !best ||
        a.rec.priority > best.rec.priority ||
        (a.rec.priority === best.rec.priority && a.seq < best.seq)
      )
        best = a;
    }
    return best;
  }

  /** `execution.wait` tells which executions the caller now waits for (+1) or no longer (-1). */
  awaiting(ids: readonly string[], delta: 1 | -1): void {
    for (const id of ids) {
      const n = (this.awaited.get(id) ?? 0) + delta;
      if (n > 0) this.awaited.set(id, n);
      else this.awaited.delete(id);
    }
    if (delta > 0) this.pump();
  }

  /**
   * QUEUED → RUNNING, and its process once RUNNING is committed: after a crash an execution is
   * either still QUEUED (it never started, so it runs after the restart) or RUNNING (it may have
   * started, so it ends FAILED and never runs twice). Waiting for the group commit costs the
   * start up to one group interval (FLUSH_INTERVAL_MS); every launch of a turn shares it.
   */
  private launch(a: Active): void {
    this.takeSlot(a);
    // From here on the execution counts as having a process: cancel, pause and shutdown treat it
    // so, and spawnWhenDurable() sorts out what they did before the process exists.
    a.hasProcess = true;
    this.launching++;
    this.update(a, { status: 'RUNNING', started_at: now() });
    if (a.rec.max_runtime_minutes > 0) {
      const ms = a.rec.max_runtime_minutes * 60_000;
      a.runtimeTimer = longTimeout(
        () => this.stopTree(a, `max_runtime_minutes (${a.rec.max_runtime_minutes}) exceeded`),
        ms,
      );
    }
    // Its own RUNNING row, not a 100,000-row insert that may be under way (Store.committed()).
    this.store.committed().then(
      () => {
        this.launching--;
        this.spawnWhenDurable(a);
      },
      (err: unknown) => {
        this.launching--;
        if (this.active.get(a.rec.id) !== a) return;
        a.hasProcess = false;
        this.finish(a, 'FAILED', { message: `its start could not be stored: ${String(err)}` });
      },
    );
  }

  private spawnWhenDurable(a: Active): void {
    // Cancelled (or the runner stopped) before the commit: there is nothing to start.
    if (this.stopped || this.active.get(a.rec.id) !== a || !a.hasProcess) return;
    if (a.rec.status === 'PAUSED') {
      // Paused before its process existed (a resume before the commit would have made it
      // RUNNING again): it has not started, so a resume queues it again.
      a.hasProcess = false;
      a.runtimeTimer?.clear();
      this.update(a, { paused_from: 'QUEUED', started_at: null });
      return;
    }
    if (a.rec.status !== 'RUNNING') return;
    // Development-mode executions in a debug session start with their debugger on; everything
    // else runs with no debugger code at all.
    const debug = a.rec.is_productive ? null : (this.debugConfigFor?.(a.rec) ?? null);
    const limits = this.opts.limits ?? null;
    this.opts.workers.spawn({ ...a.job!, record: publicRecord(a.rec), debug, limits });
  }

  private takeSlot(a: Active): void {
    if (!a.slot) {
      a.slot = true;
      this.slotsUsed++;
    }
  }

  private releaseSlot(a: Active): void {
    if (a.slot) {
      a.slot = false;
      this.slotsUsed--;
    }
  }

  /** Apply a change to an active execution: persist it and tell subscribers. */
  update(a: Active, patch: Partial<StoredExecution>): void {
    Object.assign(a.rec, patch, { updated_at: now() });
    this.store.putExecution(a.rec);
    this.emit('execution', 'updated', publicRecord(a.rec));
  }

  /** Move an execution to an ended status, once. */
  finish(
    a: Active,
    status: ExecutionStatus,
    patch: { message?: string | null; output_value?: unknown } = {},
  ): void {
    if (isEnded(a.rec.status) || this.active.get(a.rec.id) !== a) return;
    a.runtimeTimer?.clear();
    clearTimeout(a.scheduleTimer);
    this.releaseSlot(a);
    const fields: Partial<StoredExecution> = { status, ended_at: now(), paused_from: null };
    if (patch.message !== undefined) fields.message = patch.message;
    if (patch.output_value !== undefined) fields.output_value = patch.output_value;
    if (!a.rec.started_at) fields.started_at = null;
    Object.assign(a.rec, fields, { updated_at: now() });
    this.store.putExecution(a.rec);
    this.active.delete(a.rec.id);
    this.locks.forget(a.rec.id);
    if (a.rec.parent_execution_id) this.childrenOf.get(a.rec.parent_execution_id)?.delete(a.rec.id);
    const rec = publicRecord(a.rec);
    // The end is announced (WebSocket, waiting requests and parent flows, callbacks) only once it
    // is committed, so nobody acts on an end that a crash could turn into "runner restarted".
    // Reads of the store commit first, so the REST API cannot show it earlier either.
    const announce = () => {
      this.emit('execution', 'updated', rec);
      for (const w of a.endWaiters.splice(0)) w(rec);
      this.emit('ended', rec, a.webhookResponse);
    };
    this.store.committed().then(announce, (err: unknown) => {
      this.opts.log(`cannot store the end of execution ${rec.id}: ${String(err)}`);
      announce();
    });
    this.pump();
  }

  // ---- worker events ------------------------------------------------------------------

  private onWorkerMessage(id: string, msg: WorkerMessage): void {
    const a = this.active.get(id);
    if (!a) return;
    switch (msg.type) {
      case 'started':
        this.emit('started', id);
        break;
      case 'log':
        this.appendLog(a, msg.stream, msg.text);
        break;
      case 'call':
        handleWorkerCall(this, a, msg.method, msg.params).then(
          (result) => this.opts.workers.send(id, { type: 'reply', id: msg.id, result: result ?? null }),
          (err: unknown) => this.opts.workers.send(id, { type: 'reply', id: msg.id, error: replyError(err) }),
        );
        break;
      case 'status':
        if (msg.status === 'PAUSED') {
          a.pausedByFlow = true;
          this.releaseSlot(a);
          this.update(a, {
            status: 'PAUSED',
            paused_from: 'RUNNING',
            message: msg.message ?? 'paused by the flow',
          });
        } else if (msg.status === 'BLOCKED') {
          this.block(a, msg.message ?? null);
        } else {
          this.unblock(a);
        }
        break;
      case 'end': {
        const e = msg.error;
        // An exception's message names its type and line, so the tree alone says what broke.
        const message = e
          ? `${e.type}: ${e.message}${e.line ? ` (line ${e.line})` : ''}`
          : (msg.message ?? null);
        if (e?.traceback) {
          for (const line of e.traceback.replace(/\n$/, '').split('\n')) this.appendLog(a, 'stderr', line);
        }
        this.finish(a, msg.status, { message, output_value: msg.output_value });
        break;
      }
      case 'debug': {
        const { type: _type, ...payload } = msg;
        this.emit('debug', id, payload);
        break;
      }
    }
  }

  private onWorkerExit(id: string, exit: WorkerExit): void {
    const a = this.active.get(id);
    if (!a) return this.pump(); // one process less: see pump()
    a.hasProcess = false;
    if (this.stopped) return;
    const cpu = this.opts.limits?.max_cpu_seconds;
    const why = exit.reason
      ? exit.reason
      : exit.signal === 'SIGXCPU' && cpu
        ? `used more than its ${cpu} s of CPU time (the runner's --max-cpu-seconds)`
        : exit.signal
          ? `worker process was killed by signal ${exit.signal}`
          : `worker process exited with code ${exit.code ?? 'unknown'} before reporting a result`;
    this.finish(a, 'FAILED', { message: why });
  }

  appendLog(a: Active, stream: LogLine['stream'], text: string): void {
    if (a.logSeq >= MAX_LOG_LINES) return;
    if (a.logSeq === MAX_LOG_LINES - 1) text = `… log cut off after ${MAX_LOG_LINES} lines`;
    else if (text.length > MAX_LOG_LINE)
      text = `${text.slice(0, MAX_LOG_LINE)}… (line cut at ${MAX_LOG_LINE} characters)`;
    const line: LogLine = { execution_id: a.rec.id, seq: ++a.logSeq, ts: now(), stream, text };
    this.store.appendLog(line);
    this.emit('log', line);
  }

  /** The flow waits (on children, a sleep, a form): BLOCKED, and its slot is free for others. */
  block(a: Active, message: string | null): void {
    a.waits++;
    if (a.rec.status !== 'RUNNING') return;
    this.releaseSlot(a);
    this.update(a, { status: 'BLOCKED', message });
    this.pump();
  }

  unblock(a: Active): void {
    a.waits = Math.max(0, a.waits - 1);
    if (a.waits > 0 || (a.rec.status !== 'BLOCKED' && !(a.rec.status === 'PAUSED' && a.pausedByFlow))) return;
    a.pausedByFlow = false;
    // A running process continues at once, even when that briefly exceeds the limit: holding it
    // back would only keep its memory busy longer.
    this.takeSlot(a);
    this.update(a, { status: 'RUNNING', message: null, paused_from: null });
  }

  /** The debugger stopped the flow (breakpoint, step, pause): PAUSED, and its slot is free. */
  debugStopped(a: Active, reason: string): void {
    if (a.rec.status !== 'RUNNING' && a.rec.status !== 'BLOCKED') return;
    this.releaseSlot(a);
    this.update(a, { status: 'PAUSED', paused_from: a.rec.status, message: `paused (${reason})` });
    this.pump();
  }

  debugContinued(a: Active): void {
    if (a.rec.status !== 'PAUSED' || a.pausedByFlow) return;
    const back = a.rec.paused_from === 'BLOCKED' ? 'BLOCKED' : 'RUNNING';
    if (back === 'RUNNING') this.takeSlot(a);
    this.update(a, { status: back, paused_from: null, message: null });
  }

  // ---- operations -----------------------------------------------------------------------

  async get(id: string): Promise<ExecutionRecord | undefined> {
    const a = this.active.get(id);
    if (a) return publicRecord(a.rec);
    const rec = await this.store.getExecution(id);
    return rec && publicRecord(rec);
  }

  /** A page of the store's list, with running executions as the engine holds them now. */
  async list(q: ListExecutionsQuery): Promise<ListPage<ExecutionRecord>> {
    const page = await this.store.listExecutions(q);
    return { ...page, items: page.items.map((r) => publicRecord(this.active.get(r.id)?.rec ?? r)) };
  }

  /** Resolves with the record once the execution has ended. */
  async waitForEnd(id: string): Promise<ExecutionRecord> {
    const a = this.active.get(id);
    if (a) return new Promise((resolve) => a.endWaiters.push(resolve));
    const rec = await this.get(id);
    if (!rec) throw new Error(`no execution ${id}`);
    return rec;
  }

  /** Start an execution that was created with start=false. */
  start(id: string): ExecutionRecord {
    const a = this.mustBeActive(id, 'start');
    if (a.rec.status !== 'CREATED')
      throw new EngineError(409, `execution ${id} is ${a.rec.status}, not CREATED`);
    this.enqueue(a);
    return publicRecord(a.rec);
  }

  /** Stop an execution and everything below it; its process ends at once (SIGKILL). */
  async cancel(id: string, reason = 'cancelled'): Promise<ExecutionRecord> {
    const a = this.active.get(id);
    if (!a) {
      const rec = await this.get(id);
      if (!rec) throw new EngineError(404, `no execution ${id}`);
      return rec; // already ended: cancelling is a no-op, not an error
    }
    this.stopTree(a, reason);
    return publicRecord(a.rec);
  }

  private stopTree(a: Active, reason: string): void {
    this.stoppingTrees++;
    try {
      for (const childId of [...(this.childrenOf.get(a.rec.id) ?? [])]) {
        const child = this.active.get(childId);
        if (child) this.stopTree(child, `parent ${reason === 'cancelled' ? 'cancelled' : 'stopped'}`);
      }
      this.kill(a);
      this.finish(a, 'STOPPED', { message: reason });
    } finally {
      this.stoppingTrees--;
    }
    this.pump();
  }

  private kill(a: Active): void {
    if (!a.hasProcess) return;
    // A stopped (paused) process must be continued for SIGKILL to be reaped promptly.
    this.opts.workers.signal(a.rec.id, 'SIGKILL');
    this.opts.workers.signal(a.rec.id, 'SIGCONT');
  }

  /** Pause an execution and its subtree: queued ones are held back, running ones are frozen. */
  pause(id: string): ExecutionRecord {
    const a = this.mustBeActive(id, 'pause');
    this.pauseTree(a);
    return publicRecord(a.rec);
  }

  private pauseTree(a: Active): void {
    for (const childId of this.childrenOf.get(a.rec.id) ?? []) {
      const child = this.active.get(childId);
      if (child) this.pauseTree(child);
    }
    const s = a.rec.status;
    if (s === 'PAUSED' || isEnded(s)) return;
    clearTimeout(a.scheduleTimer);
    if (a.hasProcess && (s === 'RUNNING' || s === 'BLOCKED')) {
      this.opts.workers.signal(a.rec.id, 'SIGSTOP');
      this.releaseSlot(a);
    }
    this.update(a, { status: 'PAUSED', paused_from: s });
  }

  resume(id: string): ExecutionRecord {
    const a = this.mustBeActive(id, 'resume');
    this.resumeTree(a);
    this.pump();
    return publicRecord(a.rec);
  }

  private resumeTree(a: Active): void {
    if (a.rec.status === 'PAUSED') {
      if (a.pausedByFlow) {
        this.opts.workers.send(a.rec.id, { type: 'resume' });
        a.pausedByFlow = false;
        this.takeSlot(a);
        this.update(a, { status: 'RUNNING', paused_from: null, message: null });
      } else if (a.hasProcess) {
        this.opts.workers.signal(a.rec.id, 'SIGCONT');
        const back = a.rec.paused_from === 'BLOCKED' ? 'BLOCKED' : 'RUNNING';
        if (back === 'RUNNING') this.takeSlot(a);
        this.update(a, { status: back, paused_from: null });
      } else if (a.rec.virtual) {
        this.update(a, { status: a.rec.paused_from ?? 'RUNNING', paused_from: null });
      } else if (a.rec.paused_from === 'CREATED') {
        this.update(a, { status: 'CREATED', paused_from: null });
      } else {
        this.update(a, { paused_from: null });
        this.enqueue(a);
      }
    }
    for (const childId of this.childrenOf.get(a.rec.id) ?? []) {
      const child = this.active.get(childId);
      if (child) this.resumeTree(child);
    }
  }

  private mustBeActive(id: string, what: string): Active {
    const a = this.active.get(id);
    if (!a) throw new EngineError(409, `cannot ${what} execution ${id}: it has ended or does not exist`);
    return a;
  }

  // ---- messages (system.message forms) ---------------------------------------------------

  async answerMessage(id: string, response: Record<string, unknown>): Promise<MessageRecord> {
    const msg = await this.store.getMessage(id);
    if (!msg) throw new EngineError(404, `no message ${id}`);
    if (msg.responded_at) throw new EngineError(409, `message ${id} was already answered`);
    const answered: MessageRecord = { ...msg, response, responded_at: now() };
    this.store.putMessage(answered);
    this.emit('message', 'answered', answered);
    for (const w of this.messageWaiters.get(id) ?? []) w(answered);
    this.messageWaiters.delete(id);
    return answered;
  }

  /** Stop starting work; running executions are killed and end FAILED ("runner stopped"). */
  async shutdown(): Promise<void> {
    this.stopped = true;
    for (const a of [...this.active.values()]) {
      clearTimeout(a.scheduleTimer);
      if (a.hasProcess) {
        this.kill(a);
        this.finish(a, 'FAILED', { message: 'runner stopped while this execution was running' });
      }
    }
    await this.opts.workers.stop();
    await this.store.flush();
  }

  // ---- virtual executions and bulk children (schedules, the runs API) --------------------

  /**
   * Create an execution with no Python process: a schedule's SCHEDULE execution or an async
   * run's parent. Cancel, pause and the tree treat it like any other, but it is never queued;
   * its owner sets its status (`patch`) and ends it with `finish`. INVALID (not active) when
   * its flow cannot be found.
   */
  createVirtual(spec: NewExecution, patch: Partial<StoredExecution>, parent?: Active): ExecutionRecord {
    const created = this.create({ ...spec, start: false }, parent);
    const a = this.active.get(created.id);
    if (!a) return created;
    a.job = undefined;
    this.update(a, { ...patch, virtual: true });
    return publicRecord(a.rec);
  }

  /**
   * One QUEUED FLOW child of `parent` per input (INVALID where `invalid` names a reason), made
   * in bulk for an async run of up to 100,000 inputs: the flow is looked up once, the rows go
   * to the store as bulk inserts, and no event is emitted per child — 100,000 'created'
   * events would swamp every WebSocket client. Subscribers see each child from its first
   * 'updated' event, when it starts.
   *
   * Building 100,000 records takes the thread for most of a second, so they are made in slices
   * of CHILDREN_SLICE_MS with the event loop free in between (a cheap request must not wait
   * behind them), all after this returns. The store is told the whole
   * count up front: a runner that stops between slices leaves a mark that fails the run on
   * restart rather than running part of its inputs. A parent paused meanwhile gets its later
   * children PAUSED; one that ended gets them STOPPED. Resolves with how many were INVALID.
   */
  createChildren(
    parent: Active,
    spec: { flow_name: string; name?: string; priority?: number; max_runtime_minutes?: number },
    inputs: readonly unknown[],
    invalid?: (input: unknown, index: number) => string | undefined,
  ): Promise<{ invalid: number }> {
    const found = resolveFlow(this.opts.flowsDir, spec.flow_name);
    const parentId = parent.rec.id;
    let invalidCount = 0;
    let job: Active['job'];
    let next = 0;
    if (inputs.length > 0) this.store.expectBulk(parentId, inputs.length);
    const slice = (): void => {
      const sliceStart = performance.now();
      const ts = now();
      const recs: StoredExecution[] = [];
      // Looked up once per slice: the parent may have been paused or cancelled in between.
      const live = this.active.get(parentId);
      const held = live?.rec.status === 'PAUSED';
      for (; next < inputs.length; next++) {
        if ((next & 255) === 0 && recs.length > 0 && performance.now() - sliceStart > CHILDREN_SLICE_MS)
          break;
        const i = next;
        const reason = found.ok ? invalid?.(inputs[i], i) : found.reason;
        const rec: StoredExecution = {
          id: uuidv7(),
          name: `${spec.name ?? spec.flow_name} [${i}]`,
          type: 'FLOW',
          // Tracked as CREATED (a new execution has no log lines to look up), then QUEUED below.
          status: reason ? 'INVALID' : live ? 'CREATED' : 'STOPPED',
          flow_name: spec.flow_name,
          script: null,
          connector_name: null,
          connector_type: null,
          input_value: inputs[i] ?? null,
          output_value: null,
          message: reason ?? (live ? null : 'its run ended before this input was queued'),
          is_productive: parent.rec.is_productive,
          priority: spec.priority ?? parent.rec.priority,
          max_runtime_minutes: spec.max_runtime_minutes ?? 0,
          parent_execution_id: parentId,
          top_execution_id: parent.rec.top_execution_id,
          schedule_id: parent.rec.schedule_id,
          webhook_id: null,
          scheduled_for: null,
          created_at: ts,
          started_at: null,
          ended_at: reason || !live ? ts : null,
          updated_at: ts,
          paused_from: null,
        };
        recs.push(rec);
        if (reason) {
          invalidCount++;
          continue;
        }
        if (!live) continue;
        const a = this.track(rec, parent.depth + 1);
        // Every child runs the same file: prepare the job once and copy it.
        if (!job) {
          this.prepareJob(a);
          job = a.job;
        } else a.job = { ...job, execution_id: rec.id };
        if (held) {
          rec.status = 'PAUSED';
          rec.paused_from = 'QUEUED';
        } else {
          rec.status = 'QUEUED';
          this.queue.push(a);
        }
      }
      this.store.insertExecutions(recs);
      this.pump();
    };
    return new Promise((resolve, reject) => {
      const more = (): void => {
        // The rest stays unwritten and the store's mark fails the run at the next start: it
        // was never acknowledged.
        if (this.stopped) {
          reject(new EngineError(503, "the runner stopped while this run's inputs were being stored"));
          return;
        }
        try {
          slice();
        } catch (err) {
          reject(err);
          return;
        }
        if (next < inputs.length) setTimeout(more, 0);
        else resolve({ invalid: invalidCount });
      };
      // In the timers phase of the next turns of the event loop, not in this one's: the request
      // that brought the inputs has just parsed them, and the store's slice of rows comes in
      // the check phase. A request that arrives meanwhile waits for one of them, not all three.
      setTimeout(more, 0);
    });
  }

  /**
   * Bring back executions that ended STOPPED (resuming a stopped run): each is queued again
   * with its input, a virtual one becomes active in `virtualStatus`. As with createChildren,
   * only virtual ones are announced.
   */
  reopen(stored: readonly StoredExecution[], virtualStatus: ExecutionStatus): number {
    let n = 0;
    for (const s of stored) {
      if (s.status !== 'STOPPED' || this.active.has(s.id)) continue;
      const rec: StoredExecution = {
        ...s,
        // Not CREATED: track() must look up its log, which goes on after the earlier lines.
        status: 'QUEUED',
        message: null,
        output_value: null,
        started_at: null,
        ended_at: null,
        paused_from: null,
        updated_at: now(),
      };
      const a = this.track(rec);
      n++;
      if (rec.virtual) {
        this.update(a, { status: virtualStatus });
        continue;
      }
      this.prepareJob(a);
      if (a.invalidReason) {
        this.finish(a, 'INVALID', { message: a.invalidReason });
        continue;
      }
      this.store.putExecution(rec);
      this.queue.push(a);
    }
    this.pump();
    return n;
  }

  /** Helper for REST: create from an API body. */
  createFromApi(body: CreateExecutionBody): ExecutionRecord {
    return this.create({
      type: body.script !== undefined ? 'SCRIPT' : 'FLOW',
      flow_name: body.flow_name,
      script: body.script,
      name: body.name,
      input_value: body.input_value,
      is_productive: body.is_productive,
      priority: body.priority,
      max_runtime_minutes: body.max_runtime_minutes,
      scheduled_for: body.scheduled_for,
      start: body.start,
    });
  }
}

/** An operation refused for a reason the caller can act on; `status` is the HTTP status. */
export class EngineError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}
