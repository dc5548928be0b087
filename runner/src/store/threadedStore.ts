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
  type ListPage,
  type RecordLookup,
  type RunWithExecution,
  type Store,
  type StoredExecution,
  type StoredRecord,
  type StoredRun,
  type StoredSchedule,
  type StoredWebhook,
} from './store';
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
  private sendScheduled = false;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private gone?: Error;

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
    if (this.pending.size || this.ops.length) this.log(`store: ${err.message}`);
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }

  private write(method: WriteMethod, args: unknown[]): void {
    if (this.gone) throw new Error(`the store is closed (${this.gone.message})`);
    this.ops.push([method, args]);
    if (this.sendScheduled) return;
    this.sendScheduled = true;
    // Every write of this turn in one message: the engine writes a record several times a turn.
    queueMicrotask(() => this.sendWrites());
  }

  private sendWrites(): void {
    this.sendScheduled = false;
    if (this.ops.length === 0 || this.gone) return;
    const msg: StoreThreadRequest = { type: 'writes', ops: this.ops };
    this.ops = [];
    this.worker.postMessage(msg);
  }

  private call<T>(method: string, ...args: unknown[]): Promise<T> {
    if (this.gone) return Promise.reject(this.gone);
    // Writes made before this call go first, so that it sees them.
    this.sendWrites();
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.worker.postMessage({ type: 'call', id, method, args } satisfies StoreThreadRequest);
    });
  }

  // ---- writes ----------------------------------------------------------------------------

  putExecution(rec: StoredExecution): void {
    // A copy as it is now, as SqliteStore keeps one: the engine goes on changing its record.
    this.write('putExecution', [{ ...rec }]);
  }
  appendLog(line: LogLine): void {
    this.write('appendLog', [line]);
  }
  putRecord(rec: StoredRecord): void {
    this.write('putRecord', [rec]);
  }
  putMessage(msg: MessageRecord): void {
    this.write('putMessage', [msg]);
  }
  insertExecutions(recs: StoredExecution[]): void {
    this.write('insertExecutions', [recs]);
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
    return this.call('listExecutionsJson', q);
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
  getRecord(type: string, by: RecordLookup, key: string): Promise<StoredRecord | undefined> {
    return this.call('getRecord', type, by, key);
  }
  deleteRecord(type: string, by: RecordLookup, key: string): Promise<boolean> {
    return this.call('deleteRecord', type, by, key);
  }
  listRecords(type: string, opts?: { includeArchived?: boolean }): Promise<StoredRecord[]> {
    return this.call('listRecords', type, opts);
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
  /** The query plans of a list (SqliteStore.explain), for tests. */
  explain(list: 'executions' | 'runs', q: ListExecutionsQuery | ListRunsQuery): Promise<string[]> {
    return this.call('explain', list, q);
  }
  flush(): Promise<void> {
    return this.call('flush');
  }
  durable(): Promise<void> {
    return this.call('durable');
  }
  committed(): Promise<void> {
    return this.call('committed');
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
