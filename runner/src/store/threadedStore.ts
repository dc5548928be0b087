/**
 * The runner's store: a SqliteStore on a thread of its own (storeThread.ts), seen from the main
 * thread through the Store interface.
 *
 * Why a thread: node-sqlite3-wasm is synchronous, and on the main thread every list query,
 * group commit and WAL checkpoint (up to ~85 ms) held up requests and the dispatch of
 * executions. Here the main thread only queues: writes go over in one message per turn of its
 * event loop (the store thread groups them into commits as SqliteStore always has), and a read
 * is a message whose answer comes back. One port carries both in order, so a read sees every
 * write made before it, as with the store on the same thread.
 */
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type {
  ExecutionStatus,
  ListExecutionsQuery,
  ListRunsQuery,
  LogLine,
  MessageRecord,
} from '@flows/protocol';
import {
  InvalidCursorError,
  type ExecutionField,
  type FlowSummary,
  type ListPage,
  type RecordingEntry,
  type RecordLookup,
  type RunWithExecution,
  type Store,
  type StoredExecution,
  type StoredFlow,
  type StoredRecord,
  type StoredRun,
  type StoredSchedule,
  type StoredWebhook,
  type StoredUserToken,
  type UserTokenInfo,
} from './store';
import { ListCache } from './listCache';
import type { StoreThreadReply, StoreThreadRequest, WriteMethod } from './storeThreadProtocol';

interface Pending {
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
}

/** The error a call failed with, as the store thread threw it (its kind by name). */
function remade(e: { name: string; message: string }): Error {
  if (e.name === 'InvalidCursorError') return new InvalidCursorError(e.message);
  const err = new Error(e.message);
  err.name = e.name === 'Error' ? 'Error' : e.name;
  return err;
}

/** storeThread's entry: beside this file in the source tree (run through tsx), or the bundle. */
function threadEntry(): { file: string; execArgv: string[] } {
  if (__filename.endsWith('.ts')) {
    return { file: path.join(__dirname, 'storeThread.ts'), execArgv: ['--require', 'tsx/cjs'] };
  }
  return { file: path.join(__dirname, 'storeThread.js'), execArgv: [] };
}

export class ThreadedStore implements Store {
  private ops: Array<[WriteMethod, unknown[]]> = [];
  /** committed() / durable() callers of this turn: one request each kind, sent with the writes. */
  private commitWaiters: Pending[] = [];
  private durableWaiters: Pending[] = [];
  private sendScheduled = false;
  private waitsScheduled = false;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private gone?: Error;
  /** Pages of the executions list kept until a write that could change them (listCache.ts). */
  readonly listCache = new ListCache();

  private constructor(
    private readonly worker: Worker,
    private readonly log: (msg: string) => void,
  ) {
    worker.on('message', (msg: StoreThreadReply) => this.onReply(msg));
    worker.on('error', (err) => this.stopped(err));
    worker.on('exit', (code) => this.stopped(new Error(`the store's thread exited with code ${code}`)));
  }

  /** Opens `file` on a new thread; rejects with SqliteStore's own error if it cannot. */
  static open(file: string, log: (msg: string) => void = () => undefined): Promise<ThreadedStore> {
    const entry = threadEntry();
    const worker = new Worker(entry.file, { workerData: { file }, execArgv: entry.execArgv });
    return new Promise((resolve, reject) => {
      const onMessage = (msg: StoreThreadReply) => {
        if (msg.type === 'ready') {
          cleanup();
          resolve(new ThreadedStore(worker, log));
        } else if (msg.type === 'failed') {
          cleanup();
          reject(remade(msg.error));
        }
      };
      const onError = (err: Error) => {
        cleanup();
        reject(err);
      };
      const onExit = (code: number) => onError(new Error(`the store's thread exited with code ${code}`));
      const cleanup = () => {
        worker.off('message', onMessage);
        worker.off('error', onError);
        worker.off('exit', onExit);
      };
      worker.on('message', onMessage);
      worker.on('error', onError);
      worker.on('exit', onExit);
    });
  }

  private onReply(msg: StoreThreadReply): void {
    if (msg.type === 'log') this.log(msg.message);
    if (msg.type !== 'result') return;
    const p = this.pending.get(msg.id);
    if (!p) return;
    this.pending.delete(msg.id);
    if (msg.error) p.reject(remade(msg.error));
    else p.resolve(msg.value);
  }

  private stopped(err: Error): void {
    if (this.gone) return;
    this.gone = err;
    const waiters = [...this.pending.values(), ...this.commitWaiters, ...this.durableWaiters];
    if (waiters.length || this.ops.length) this.log(`store: ${err.message}`);
    for (const p of waiters) p.reject(err);
    this.pending.clear();
    this.commitWaiters = [];
    this.durableWaiters = [];
  }

  private write(method: WriteMethod, args: unknown[]): void {
    if (this.gone) throw new Error(`the store is closed (${this.gone.message})`);
    this.ops.push([method, args]);
    if (this.sendScheduled) return;
    this.sendScheduled = true;
    // Every write of this turn in one message: the engine writes a record several times a turn.
    queueMicrotask(() => {
      this.sendScheduled = false;
      this.sendWrites(false);
    });
  }

  /**
   * The commit waits of a whole turn of the event loop go in one request each kind, sent once
   * the turn's I/O callbacks have run (setImmediate): under load a turn reads the messages of
   * many workers and HTTP requests, each of which waits for a commit (a 201, a start, an end),
   * and a request per callback cost the main thread more than the writes themselves. Writes
   * still go at the end of their microtask checkpoint, as copies taken then (see write()).
   */
  private scheduleWaits(): void {
    if (this.waitsScheduled) return;
    this.waitsScheduled = true;
    setImmediate(() => {
      this.waitsScheduled = false;
      this.sendWrites(true);
    });
  }

  /** Post the queued writes, and (`withWaits`) one commit request for the waiters of each kind. */
  private sendWrites(withWaits: boolean): void {
    if (this.gone) return;
    const commits: Array<{ id: number; method: 'committed' | 'durable' }> = [];
    if (withWaits) {
      for (const [method, waiters] of [
        ['committed', this.commitWaiters],
        ['durable', this.durableWaiters],
      ] as const) {
        if (waiters.length === 0) continue;
        const id = this.nextId++;
        this.pending.set(id, {
          resolve: (v) => waiters.forEach((w) => w.resolve(v)),
          reject: (e) => waiters.forEach((w) => w.reject(e)),
        });
        commits.push({ id, method });
      }
      this.commitWaiters = [];
      this.durableWaiters = [];
    }
    if (this.ops.length === 0 && commits.length === 0) return;
    const msg: StoreThreadRequest = { type: 'writes', ops: this.ops };
    if (commits.length) msg.commits = commits;
    this.ops = [];
    this.worker.postMessage(msg);
  }

  /** Resolves with the commit that holds every write made before (see Store.committed()). */
  private waitForCommit(waiters: Pending[]): Promise<void> {
    if (this.gone) return Promise.reject(this.gone);
    return new Promise<void>((resolve, reject) => {
      waiters.push({ resolve: resolve as (v: unknown) => void, reject });
      this.scheduleWaits();
    });
  }

  private call<T>(method: string, ...args: unknown[]): Promise<T> {
    if (this.gone) return Promise.reject(this.gone);
    // Writes made before this call go first, so that it sees them (and the commit waits with
    // them, which keeps close() from leaving any unanswered).
    this.sendWrites(true);
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.worker.postMessage({ type: 'call', id, method, args } satisfies StoreThreadRequest);
    });
  }

  // ---- writes ----------------------------------------------------------------------------

  putExecution(rec: StoredExecution, changed?: readonly ExecutionField[]): void {
    // A copy as it is now, as SqliteStore keeps one: the engine goes on changing its record.
    this.write('putExecution', changed ? [{ ...rec }, changed] : [{ ...rec }]);
    this.listCache.written(rec, changed);
  }
  appendLog(line: LogLine): void {
    this.write('appendLog', [line]);
  }
  appendRecording(entry: RecordingEntry): void {
    // A copy as it is now (the writes are posted at the end of the turn), as SqliteStore keeps one.
    this.write('appendRecording', [{ ...entry, value: structuredClone(entry.value) }]);
  }
  putRecord(rec: StoredRecord): void {
    this.write('putRecord', [rec]);
  }
  putMessage(msg: MessageRecord): void {
    this.write('putMessage', [msg]);
  }
  insertExecutions(recs: StoredExecution[]): void {
    this.write('insertExecutions', [recs]);
    const bulk = this.listCache.inserted(recs);
    // durable(): bulk rows are written in slices of their own, after the commit that queued them.
    this.durable().then(
      () => this.listCache.landed(bulk),
      () => this.listCache.landed(bulk, false),
    );
  }
  expectBulk(parentId: string, rows: number): void {
    this.write('expectBulk', [parentId, rows]);
  }
  putSchedule(schedule: StoredSchedule): void {
    this.write('putSchedule', [schedule]);
  }
  putScheduleInputs(id: string, inputs: unknown[] | null): void {
    this.write('putScheduleInputs', [id, inputs]);
  }
  deleteSchedule(id: string): void {
    this.write('deleteSchedule', [id]);
  }
  putWebhook(webhook: StoredWebhook): void {
    this.write('putWebhook', [webhook]);
  }
  deleteWebhook(id: string): void {
    this.write('deleteWebhook', [id]);
  }
  putRun(run: StoredRun): void {
    this.write('putRun', [run]);
  }

  // ---- reads and waits -------------------------------------------------------------------

  getExecution(id: string): Promise<StoredExecution | undefined> {
    return this.call('getExecution', id);
  }
  listExecutions(q: ListExecutionsQuery): Promise<ListPage<StoredExecution>> {
    return this.call('listExecutions', q);
  }
  listExecutionsJson(q: ListExecutionsQuery): Promise<ListPage<{ id: string; json: string }>> {
    return this.listCache.list(q, () => this.call('listExecutionsJson', q));
  }
  listUnfinished(): Promise<StoredExecution[]> {
    return this.call('listUnfinished');
  }
  listDescendantIds(id: string): Promise<string[]> {
    return this.call('listDescendantIds', id);
  }
  getLog(executionId: string, after: number, limit: number): Promise<LogLine[]> {
    return this.call('getLog', executionId, after, limit);
  }
  lastLogSeq(executionId: string): Promise<number> {
    return this.call('lastLogSeq', executionId);
  }
  getRecording(executionId: string): Promise<RecordingEntry[]> {
    return this.call('getRecording', executionId);
  }
  getRecord(type: string, by: RecordLookup, key: string): Promise<StoredRecord | undefined> {
    return this.call('getRecord', type, by, key);
  }
  deleteRecord(type: string, by: RecordLookup, key: string): Promise<boolean> {
    return this.call('deleteRecord', type, by, key);
  }
  listRecords(type: string, opts?: { includeArchived?: boolean }): Promise<StoredRecord[]> {
    return this.call('listRecords', type, opts);
  }
  putFlows(flows: readonly StoredFlow[]): Promise<string[]> {
    return this.call('putFlows', flows);
  }
  getFlow(name: string): Promise<StoredFlow | undefined> {
    return this.call('getFlow', name);
  }
  listFlows(): Promise<FlowSummary[]> {
    return this.call('listFlows');
  }
  deleteFlow(name: string): Promise<boolean> {
    return this.call('deleteFlow', name);
  }
  flowsVersion(): Promise<number> {
    return this.call('flowsVersion');
  }
  getMessage(id: string): Promise<MessageRecord | undefined> {
    return this.call('getMessage', id);
  }
  listMessages(opts: { open?: boolean; execution_id?: string }): Promise<MessageRecord[]> {
    return this.call('listMessages', opts);
  }
  countChildren(parentId: string): Promise<Partial<Record<ExecutionStatus, number>>> {
    return this.call('countChildren', parentId);
  }
  listChildren(
    parentId: string,
    statuses: readonly ExecutionStatus[],
    limit?: number,
  ): Promise<StoredExecution[]> {
    return this.call('listChildren', parentId, statuses, limit);
  }
  listSchedules(): Promise<StoredSchedule[]> {
    return this.call('listSchedules');
  }
  listWebhooks(): Promise<StoredWebhook[]> {
    return this.call('listWebhooks');
  }
  getRun(id: string): Promise<RunWithExecution | undefined> {
    return this.call('getRun', id);
  }
  listRuns(q: ListRunsQuery): Promise<ListPage<RunWithExecution>> {
    return this.call('listRuns', q);
  }
  claimFiring(scheduleId: string, slot: number): Promise<boolean> {
    return this.call('claimFiring', scheduleId, slot);
  }
  createUserToken(token: Omit<StoredUserToken, 'last_used_at'>): Promise<boolean> {
    return this.call('createUserToken', token);
  }
  revokeUserToken(name: string): Promise<boolean> {
    return this.call('revokeUserToken', name);
  }
  listUserTokens(): Promise<UserTokenInfo[]> {
    return this.call('listUserTokens');
  }
  findUserToken(hash: string): Promise<StoredUserToken | undefined> {
    return this.call('findUserToken', hash);
  }
  touchUserToken(name: string, at: string): Promise<void> {
    return this.call('touchUserToken', name, at);
  }
  /** The query plans of a list (SqliteStore.explain), for tests. */
  explain(list: 'executions' | 'runs', q: ListExecutionsQuery | ListRunsQuery): Promise<string[]> {
    return this.call('explain', list, q);
  }
  flush(): Promise<void> {
    return this.call('flush');
  }
  durable(): Promise<void> {
    return this.waitForCommit(this.durableWaiters);
  }
  committed(): Promise<void> {
    return this.waitForCommit(this.commitWaiters);
  }

  async close(): Promise<void> {
    if (this.gone) return;
    try {
      await this.call('close');
    } finally {
      this.gone ??= new Error('closed');
      await this.worker.terminate();
    }
  }
}
