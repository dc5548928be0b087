/**
 * The execution engine, composed: creates executions, has the dispatcher run them on workers,
 * follows each to its end, and offers all of it to the rest of the runner as the executions
 * service (executions.ts). The parts:
 *
 * - executionTable: the executions that have not ended (the store is written behind), their tree;
 * - dispatcher: run queue, slots, the worker bridge (ExecutionPort; workers behind WorkerPool);
 * - changes: every status change, checked against lifecycle.ts, persisted and announced;
 * - control: queueing, cancel / pause / resume through a tree, blocking, debugger stops;
 * - workerMessages: what a worker's messages mean; workerCalls, waits, messages, locks,
 *   records: what a running flow can ask for;
 * - bulkChildren, newExecutions, jobs, executionLog: making executions and keeping their logs.
 */
import crypto from 'node:crypto';
import { EventEmitter } from 'node:events';
import {
  isEnded,
  type CreateExecutionBody,
  type ExecutionRecord,
  type ExecutionStatus,
  type ListExecutionsQuery,
  type LogLine,
  type MessageRecord,
  type WorkerLimits,
} from '@flows/protocol';
import type { ListPage, Store, StoredExecution } from '../store/store';
import type { WorkerPool } from '../workers/workerPool';
import { Changes } from './changes';
import { refusalOf, refusedOf, type Cluster, type ControlOp, type Refused } from './cluster';
import { storedConnection } from './connectors';
import { Control } from './control';
import { createChildren } from './bulkChildren';
import { Dispatcher, type DispatchHost } from './dispatcher';
import { Conflict, Invalid, NotFound } from './errors';
import type { EngineEvents } from './events';
import { ExecutionLog } from './executionLog';
import type {
  ChildrenSpec,
  DebugTargets,
  ExecutionOwnership,
  Executions,
  NewExecution,
  VirtualPatch,
} from './executions';
import { ExecutionTable, publicRecord, type Active } from './executionTable';
import type { DeployedFlows } from '../flows/deployedFlows';
import { resolveFlow, type FlowLookup } from './flowFiles';
import { prepareJob, type JobFolders } from './jobs';
import type { IllegalTransitionPolicy } from './lifecycle';
import { Locks } from './locks';
import { longTimeout } from './longTimer';
import { Messages } from './messages';
import { newRecord, reopenedRecord } from './newExecutions';
import { Recorder, type ReplayHooks } from './recording';
import { Records, type RecordOwner, type ViewType } from './records';
import type { CallContext } from './workerCalls';
import { WorkerMessages } from './workerMessages';

export { DEFAULT_MAX_WAITING } from './dispatcher';
export type { WebhookResponse } from './events';

/**
 * Executions nest at most this deep (a top execution is level 1). Every level waiting on the
 * next keeps a process, so this bounds what one recursive flow can hold.
 */
export const MAX_EXECUTION_DEPTH = 32;

export interface EngineOptions<W extends WorkerPool = WorkerPool> {
  store: Store;
  workers: W;
  flowsDir: string;
  filesDir: string;
  /** Flow records (team mode): names resolve to a deployed flow first, then the flows folder. */
  flows?: DeployedFlows;
  /** How many executions may be RUNNING at once (BLOCKED and PAUSED ones do not count). */
  concurrency: number;
  /** Worker processes allowed beyond `concurrency` for waiting executions (dispatcher.ts). */
  maxWaiting?: number;
  /** Resource limits of every execution's processes (POSIX; none by default). */
  limits?: WorkerLimits;
  log: (msg: string) => void;
  /**
   * The debugger settings of a development-mode execution about to start, if a debug session
   * covers it (debug/debugSessions.ts); none by default.
   */
  debugConfigFor?: (rec: ExecutionRecord) => unknown;
  /** What an illegal status change does (lifecycle.ts); default 'log'. */
  illegalTransitions?: IllegalTransitionPolicy;
  /** The service that owns a view's records (records.ts), asked at each use; none by default. */
  recordOwners?: (type: ViewType) => RecordOwner | undefined;
  /** Replay mode (a test made from a run): children the hooks answer end as recorded (recording.ts). */
  replay?: ReplayHooks;
  /** Sleeps of flows take no time (WorkerJob.virtual_clock); for replay mode. */
  virtualClock?: boolean;
  /**
   * Team mode: the cluster this runner is a node of (cluster.ts). Waits on, and cancel / pause /
   * resume / start of, executions another node holds go through it; none: a single node.
   */
  cluster?: Cluster;
}

const now = () => new Date().toISOString();

export class Engine<W extends WorkerPool = WorkerPool>
  extends EventEmitter<EngineEvents>
  implements Executions, ExecutionOwnership, DebugTargets
{
  readonly locks = new Locks();
  readonly records: Records;
  private readonly table = new ExecutionTable();
  private readonly port: Dispatcher;
  private readonly changes: Changes;
  private readonly control: Control;
  private readonly logs: ExecutionLog;
  private readonly forms: Messages;
  private readonly workerMessages: WorkerMessages;
  private readonly recorder: Recorder;

  constructor(readonly opts: EngineOptions<W>) {
    super();
    this.setMaxListeners(0);
    const { store, log } = opts;
    const table = this.table;
    this.records = new Records(store, opts.recordOwners);
    this.recorder = new Recorder(store);
    this.port = new Dispatcher({
      workers: opts.workers,
      store,
      table,
      host: this.dispatchHost(),
      concurrency: opts.concurrency,
      maxWaiting: opts.maxWaiting,
      limits: opts.limits,
    });
    const port = this.port;
    const illegalTransitions = opts.illegalTransitions ?? 'log';
    this.changes = new Changes({
      table,
      store,
      port,
      locks: this.locks,
      events: this,
      illegalTransitions,
      log,
    });
    this.control = new Control({
      table,
      changes: this.changes,
      port,
      now: (rec) => opts.replay?.now?.(rec) ?? Date.now(),
    });
    this.logs = new ExecutionLog(store, this);
    this.forms = new Messages(store, this, opts.cluster);
    this.workerMessages = new WorkerMessages({
      events: this,
      logs: this.logs,
      changes: this.changes,
      control: this.control,
      port,
      calls: this.callContext(),
    });
  }

  /** The store the engine writes (the runner's assembly, the CLI and tests read it). */
  get store(): Store {
    return this.opts.store;
  }

  /** Executions that have not ended, read-only (the CLI's `flows run` waits for a tree's). */
  get active(): ReturnType<ExecutionTable['view']> {
    return this.table.view();
  }

  durable(): Promise<void> {
    return this.opts.store.durable();
  }

  /** A deployed flow of that name first (deployedFlows.ts), else the flows folder's file. */
  resolveFlow(name: string): FlowLookup {
    const flows = this.opts.flows;
    const deployed = flows?.resolve(name);
    if (deployed) return deployed;
    const found = resolveFlow(this.opts.flowsDir, name);
    if (found.ok || !flows?.inUse) return found;
    return { ok: false, reason: `${found.reason}, and no flow of that name is deployed` };
  }

  /** Team mode: resolves once another node's deploys made so far are seen here (deployedFlows.ts). */
  refreshFlows(): Promise<void> {
    return this.opts.flows?.refresh() ?? Promise.resolve();
  }

  /**
   * Pick up where the last runner left off: queued and scheduled executions run; executions that
   * were running when it stopped cannot be continued (their Python process is gone) and end
   * FAILED with "runner restarted". A stored status is a committed one: RUNNING is committed
   * before the process is started (launch), and an end before anyone is told of it (finish), so
   * a QUEUED execution never started and a RUNNING one had not reported its end. Virtual
   * executions stay as they are, for their owners (scheduler, batches) to take up again.
   */
  async restore(): Promise<{ requeued: number; failed: number; virtual: ExecutionRecord[] }> {
    const store = this.opts.store;
    // Team mode: only this node's own executions and unowned ones (Store.claimUnfinished).
    const unfinished = store.claimUnfinished ? await store.claimUnfinished() : await store.listUnfinished();
    return this.takeUp(unfinished);
  }

  /**
   * Hold unfinished executions read from the store, oldest first, as restore() does: at start,
   * and in team mode for the trees of a lost node that this node claimed (an async run and its
   * children) while it runs. Returns the virtual ones, for their owners to take up again.
   */
  async takeUp(
    unfinished: readonly StoredExecution[],
  ): Promise<{ requeued: number; failed: number; virtual: ExecutionRecord[] }> {
    let requeued = 0;
    let failed = 0;
    const virtual: ExecutionRecord[] = [];
    for (const rec of unfinished) {
      if (this.table.has(rec.id)) continue;
      const a = this.track(rec);
      if (rec.virtual) {
        virtual.push(publicRecord(rec));
        continue;
      }
      const wasRunning =
        rec.status === 'RUNNING' ||
        rec.status === 'BLOCKED' ||
        (rec.status === 'PAUSED' && (rec.paused_from === 'RUNNING' || rec.paused_from === 'BLOCKED'));
      if (wasRunning) {
        this.changes.finish(a, 'FAILED', { message: 'runner restarted while this execution was running' });
        failed++;
        continue;
      }
      this.prepare(a, await storedConnection(this.opts.store, rec));
      if (rec.status === 'QUEUED' || rec.status === 'SCHEDULED') {
        this.control.enqueue(a);
        requeued++;
      }
    }
    this.port.pump();
    return { requeued, failed, virtual };
  }

  /**
   * Team mode: queued executions this node claimed from the shared store (a lost node's, or any
   * no node owns) run here, as restored queued ones do; virtual ones (a lost node's schedule's
   * SCHEDULE execution) are held here from now on, for their owner to take up. Parents before
   * their children. Returns how many it took.
   */
  async adopt(recs: readonly StoredExecution[]): Promise<number> {
    // Made through another node, maybe just after a deploy there: resolved as the records are now.
    await this.refreshFlows();
    let n = 0;
    for (const rec of recs) {
      if (this.table.has(rec.id) || isEnded(rec.status)) continue;
      if (rec.virtual) {
        this.track(rec);
        n++;
        continue;
      }
      if (rec.status !== 'QUEUED') continue;
      const a = this.track(rec);
      this.prepare(a, await storedConnection(this.opts.store, rec));
      n++;
      // Made on a node whose flows folder has the flow, and this one's does not.
      if (a.invalidReason) this.changes.finish(a, 'INVALID', { message: a.invalidReason });
      else this.control.enqueue(a);
    }
    this.port.pump();
    return n;
  }

  /** How many more executions could start now (team mode claims that many queued ones). */
  freeSlots(): number {
    return this.port.freeSlots();
  }

  /** Stop starting work; running executions are killed and end FAILED ("runner stopped"). */
  async shutdown(): Promise<void> {
    this.port.halt();
    for (const a of [...this.table.values()]) {
      clearTimeout(a.scheduleTimer);
      if (a.hasProcess) {
        this.port.kill(a);
        this.changes.finish(a, 'FAILED', { message: 'runner stopped while this execution was running' });
      }
    }
    await this.port.stop();
    await this.opts.store.flush();
  }

  // ---- creating executions ------------------------------------------------------------

  create(spec: NewExecution, parentId?: string): ExecutionRecord {
    return this.createBelow(
      spec,
      parentId === undefined ? undefined : this.mustBeActive(parentId, 'start below'),
    );
  }

  createFromApi(body: CreateExecutionBody, startedBy?: string): ExecutionRecord {
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
      isolation: body.isolation,
      started_by: startedBy,
    });
  }

  /** Create an execution; `parent` is the execution whose flow (or owner) asked for it. */
  private createBelow(spec: NewExecution, parent?: Active): ExecutionRecord {
    const depth = parent ? parent.depth + 1 : 1;
    if (depth > MAX_EXECUTION_DEPTH) {
      throw new Invalid(
        `executions nest at most ${MAX_EXECUTION_DEPTH} levels deep; this one would be level ${depth}`,
      );
    }
    const rec = newRecord(spec, parent?.rec, crypto.randomUUID(), now());
    const a = this.track(rec, depth, true);
    this.opts.store.putExecution(rec);
    this.emit('execution', 'created', publicRecord(rec));
    // Replay mode: a recorded child (a connector call, a child flow) ends as it did, at once.
    const replayed = parent && this.opts.replay?.child(spec, publicRecord(parent.rec), publicRecord(rec));
    if (replayed) {
      const { status, message, output_value } = replayed;
      this.changes.finish(a, status, { message: message ?? null, output_value });
      return publicRecord(a.rec);
    }
    this.prepare(a, spec.connection);
    if (spec.isolation && a.job) a.job.isolation = spec.isolation;
    if (a.invalidReason) {
      this.changes.finish(a, 'INVALID', { message: a.invalidReason });
    } else if (spec.start !== false) {
      this.control.enqueue(a);
      this.port.pump();
    }
    return publicRecord(a.rec);
  }

  createVirtual(spec: NewExecution, patch: VirtualPatch, parentId?: string): ExecutionRecord {
    const created = this.create({ ...spec, start: false }, parentId);
    const a = this.table.get(created.id);
    if (!a) return created;
    a.job = undefined;
    this.changes.update(a, { ...patch, virtual: true });
    return publicRecord(a.rec);
  }

  createChildren(
    parentId: string,
    spec: ChildrenSpec,
    inputs: readonly unknown[],
    invalid?: (input: unknown, index: number) => string | undefined,
  ): Promise<{ invalid: number }> {
    const parent = this.mustBeActive(parentId, 'add children to');
    const deps = {
      table: this.table,
      store: this.opts.store,
      port: this.port,
      resolveFlow: (name: string) => this.resolveFlow(name),
      prepareJob: (a: Active) => this.prepare(a),
    };
    return createChildren(deps, parent, spec, inputs, invalid);
  }

  /**
   * Bring back executions that ended STOPPED (resuming a stopped run): each is queued again
   * with its input, a virtual one becomes active in `virtualStatus`. As with createChildren,
   * only virtual ones are announced.
   */
  reopen(stored: readonly StoredExecution[], virtualStatus: ExecutionStatus): number {
    let n = 0;
    for (const s of stored) {
      if (s.status !== 'STOPPED' || this.table.has(s.id)) continue;
      this.changes.check(s.id, s.status, 'QUEUED');
      const rec = reopenedRecord(s, now());
      const a = this.track(rec);
      n++;
      if (rec.virtual) {
        this.changes.update(a, { status: virtualStatus });
        continue;
      }
      this.prepare(a);
      if (a.invalidReason) {
        this.changes.finish(a, 'INVALID', { message: a.invalidReason });
        continue;
      }
      this.opts.store.putExecution(rec);
      this.port.queue(a);
    }
    this.port.pump();
    return n;
  }

  /** Hold `rec` as active (`fresh`: made just now); an older one goes on with its stored log. */
  private track(rec: StoredExecution, depth = 1, fresh = false): Active {
    const a = this.table.add(rec, depth, fresh);
    if (rec.status !== 'CREATED') this.logs.continueAfterStored(a);
    return a;
  }

  /** Work out what the worker will run; a flow that cannot be found makes it INVALID. */
  private prepare(a: Active, connection?: Record<string, unknown>): void {
    prepareJob(a, this.jobFolders, connection);
    if (a.job && this.opts.virtualClock) {
      a.job.virtual_clock = true;
      const start = this.opts.replay?.clockOf?.(a.rec);
      if (start !== undefined) a.job.virtual_now = start;
    }
  }

  /** What prepareJob needs: the folders, and how a flow name is resolved here. */
  private get jobFolders(): JobFolders {
    return (this.folders ??= {
      flowsDir: this.opts.flowsDir,
      filesDir: this.opts.filesDir,
      resolveFlow: (name) => this.resolveFlow(name),
    });
  }
  private folders?: JobFolders;

  /**
   * Just before a flow's process starts: the file it runs, as the flow records are now. A flow
   * deployed (again) since the execution was made runs as deployed, its source fetched into this
   * node's cache when new here; one whose record was deleted runs from the flows folder, or
   * fails when the folder has no such flow either. Nothing to do for a folder's flow that no
   * record names (undefined: no wait at all).
   */
  private beforeSpawn(a: Active): Promise<void> | undefined {
    const flows = this.opts.flows;
    const job = a.job;
    if (!flows || job?.kind !== 'flow' || !job.flow_path) return undefined;
    const name = a.rec.flow_name ?? '';
    if (!flows.has(name) && !flows.isCacheFile(job.flow_path)) return undefined;
    return (async () => {
      const deployed = await flows.fileToRun(name);
      if (deployed) {
        job.flow_path = deployed;
        return;
      }
      const found = resolveFlow(this.opts.flowsDir, name);
      if (!found.ok) throw new Error(`its flow was deleted before it started: ${found.reason}`);
      job.flow_path = found.path;
    })();
  }

  // ---- operations -----------------------------------------------------------------------

  start(id: string): ExecutionRecord {
    const a = this.mustBeActive(id, 'start');
    if (a.rec.status !== 'CREATED') throw new Conflict(`execution ${id} is ${a.rec.status}, not CREATED`);
    this.control.enqueue(a);
    return publicRecord(a.rec);
  }

  async cancel(id: string, reason = 'cancelled'): Promise<ExecutionRecord> {
    return (await this.elsewhere('cancel', id, reason)) ?? this.cancelHere(id, reason);
  }

  private async cancelHere(id: string, reason = 'cancelled'): Promise<ExecutionRecord> {
    const a = this.table.get(id);
    if (!a) {
      const rec = await this.get(id);
      if (!rec) throw new NotFound(`no execution ${id}`);
      return rec; // already ended: cancelling is a no-op, not an error
    }
    this.control.stopTree(a, reason);
    return publicRecord(a.rec);
  }

  pause(id: string): ExecutionRecord {
    const a = this.mustBeActive(id, 'pause');
    this.control.pauseTree(a);
    return publicRecord(a.rec);
  }

  resume(id: string): ExecutionRecord {
    const a = this.mustBeActive(id, 'resume');
    this.control.resumeTree(a);
    this.port.pump();
    return publicRecord(a.rec);
  }

  /**
   * Team mode: `op` on an execution this node does not hold, done by the node that does (or, when
   * no node does, in the database), as the record is after it; undefined when it is this node's
   * to do (it holds it, the execution has ended, or there is no cluster). Throws the owner's
   * refusal, or Unavailable when the owner did not answer in time.
   */
  async elsewhere(op: ControlOp, id: string, reason?: string): Promise<ExecutionRecord | undefined> {
    const cluster = this.opts.cluster;
    if (!cluster || this.table.has(id)) return undefined;
    const out = await cluster.control(op, id, reason);
    if ('done' in out) return publicRecord(out.done);
    if ('refused' in out) throw refusalOf(out);
    return undefined;
  }

  /**
   * Team mode: `op` asked of this node by another one (the owner of the execution is this node):
   * done as if asked here, never passed on again, and answered once its change is committed.
   */
  async actHere(op: ControlOp, id: string, reason?: string): Promise<Refused | undefined> {
    try {
      if (op === 'cancel') await this.cancelHere(id, reason);
      else if (op === 'pause') this.pause(id);
      else if (op === 'resume') this.resume(id);
      else this.start(id);
      await this.durable();
      return undefined;
    } catch (err) {
      return refusedOf(err);
    }
  }

  private mustBeActive(id: string, what: string): Active {
    const a = this.table.get(id);
    if (!a) throw new Conflict(`cannot ${what} execution ${id}: it has ended or does not exist`);
    return a;
  }

  async get(id: string): Promise<ExecutionRecord | undefined> {
    const a = this.table.get(id);
    if (a) return publicRecord(a.rec);
    const rec = await this.opts.store.getExecution(id);
    return rec && publicRecord(rec);
  }

  async list(q: ListExecutionsQuery): Promise<ListPage<ExecutionRecord>> {
    const page = await this.opts.store.listExecutions(q);
    return { ...page, items: page.items.map((r) => publicRecord(this.table.get(r.id)?.rec ?? r)) };
  }

  async listJson(q: ListExecutionsQuery): Promise<string | undefined> {
    const store = this.opts.store;
    if (!store.listExecutionsJson) return undefined;
    // The page as JSON made by the store, spliced in as it is: no parse, no stringify.
    const page = await store.listExecutionsJson(q);
    const items = page.items.map(({ id, json }) => {
      const a = this.table.get(id);
      return a ? JSON.stringify(publicRecord(a.rec)) : json;
    });
    const { total, total_capped, next } = page;
    return `{"items":[${items.join(',')}],${JSON.stringify({ total, total_capped, next }).slice(1)}`;
  }

  log(id: string, after: number, limit: number): Promise<LogLine[]> {
    return this.opts.store.getLog(id, after, limit);
  }

  async waitForEnd(id: string): Promise<ExecutionRecord> {
    const a = this.table.get(id);
    if (a) return new Promise((resolve) => a.endWaiters.push(resolve));
    const rec = await this.get(id);
    if (!rec) throw new NotFound(`no execution ${id}`);
    // Team mode: not ended, and not held here: another node runs it (or will), and its end
    // comes through the cluster.
    const cluster = this.opts.cluster;
    if (cluster && !isEnded(rec.status)) return publicRecord(await cluster.waitForEnd(id));
    return rec;
  }

  async recordNames(type: 'setting' | 'connection' | 'file'): Promise<string[]> {
    const records = await this.opts.store.listRecords(type);
    return [...new Set(records.map((r) => r.name))].sort();
  }

  messages(q: { open?: boolean; execution_id?: string }): Promise<MessageRecord[]> {
    return this.forms.list(q);
  }

  answerMessage(id: string, response: Record<string, unknown>): Promise<MessageRecord> {
    return this.forms.answer(id, response);
  }

  // ---- virtual executions (ExecutionOwnership) ------------------------------------------

  activeRecord(id: string): Readonly<StoredExecution> | undefined {
    return this.table.get(id)?.rec;
  }

  activeChildren(id: string): Array<Readonly<StoredExecution>> {
    return this.table.children(id).map((a) => a.rec);
  }

  setVirtual(id: string, patch: VirtualPatch): void {
    const a = this.table.get(id);
    if (a) this.changes.update(a, patch);
  }

  endVirtual(id: string, status: ExecutionStatus, patch: { message?: string | null } = {}): void {
    const a = this.table.get(id);
    if (a) this.changes.finish(a, status, patch);
  }

  logSystem(id: string, text: string): void {
    const a = this.table.get(id);
    if (a) this.logs.append(a, 'system', text);
  }

  // ---- debugged executions (DebugTargets) -----------------------------------------------

  processOf(id: string): Readonly<StoredExecution> | undefined {
    const a = this.table.get(id);
    return a?.hasProcess ? a.rec : undefined;
  }

  processesOf(topId: string): Array<Readonly<StoredExecution>> {
    const out: StoredExecution[] = [];
    for (const a of this.table.values())
      if (a.rec.top_execution_id === topId && a.hasProcess) out.push(a.rec);
    return out;
  }

  tellWorker(id: string, msg: unknown): void {
    this.port.tell(id, msg);
  }

  debugStopped(id: string, reason: string): void {
    const a = this.table.get(id);
    if (a) this.control.debugStopped(a, reason);
  }

  debugContinued(id: string): void {
    const a = this.table.get(id);
    if (a) this.control.debugContinued(a);
  }

  // ---- the workers' side ----------------------------------------------------------------

  /** What the dispatcher's starts and exits mean for an execution's status. */
  private dispatchHost(): DispatchHost {
    return {
      starting: (a) => {
        this.changes.update(a, { status: 'RUNNING', started_at: now() });
        const minutes = a.rec.max_runtime_minutes;
        if (minutes > 0) {
          a.runtimeTimer = longTimeout(
            () => this.control.stopTree(a, `max_runtime_minutes (${minutes}) exceeded`),
            minutes * 60_000,
          );
        }
      },
      startFailed: (a, reason) => this.changes.finish(a, 'FAILED', { message: reason }),
      pausedBeforeStart: (a) => {
        a.runtimeTimer?.clear();
        this.changes.update(a, { paused_from: 'QUEUED', started_at: null });
      },
      // Development-mode executions in a debug session start with their debugger on; everything
      // else runs with no debugger code at all.
      debugConfig: (a) => (a.rec.is_productive ? null : (this.opts.debugConfigFor?.(a.rec) ?? null)),
      beforeSpawn: (a) => this.beforeSpawn(a),
      message: (a, msg) => this.workerMessages.handle(a, msg),
      processGone: (a, why) => this.changes.finish(a, 'FAILED', { message: why }),
    };
  }

  /** What a running flow's calls may do (workerCalls.ts). */
  private callContext(): CallContext {
    const unblockIfActive = (a: Active) => {
      if (this.table.holds(a)) this.control.unblock(a);
    };
    return {
      connection: (rec) => storedConnection(this.opts.store, rec),
      create: (spec, parent) => this.createBelow(spec, parent),
      start: async (id) => (await this.elsewhere('start', id)) ?? this.start(id),
      get: (id) => this.get(id),
      list: (q) => this.list(q),
      waitForEnd: (id) => this.waitForEnd(id),
      active: (id) => this.table.get(id),
      update: (a, fields) => this.changes.update(a, fields),
      cancel: (id) => this.cancel(id),
      pause: async (id) => (await this.elsewhere('pause', id)) ?? this.pause(id),
      awaiting: (ids, delta) => this.port.awaiting(ids, delta),
      block: (a, message) => this.control.block(a, message),
      unblock: unblockIfActive,
      note: (a, message) => {
        if (this.table.holds(a) && a.rec.status === 'BLOCKED' && a.rec.message !== message)
          this.changes.update(a, { message });
      },
      locks: this.locks,
      messages: this.forms,
      records: this.records,
      recorded: (a, kind, name, value) => {
        this.recorder.note(a, kind, name, value);
        this.opts.replay?.recorded?.(a.rec, kind, name, value);
      },
    };
  }
}
