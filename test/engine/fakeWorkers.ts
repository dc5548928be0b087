/**
 * Workers without Python, for the engine's unit tests: a WorkerPool whose "processes" run a
 * script per flow. A script sees its execution (record, input) and does what a flow would:
 * log, call the runner (execution.create, execution.wait, message.wait, …), report a status,
 * end with an output or a failure. Like real workers, messages arrive in a later turn than the
 * spawn, and the exit comes after the end; SIGKILL ends a process at once, SIGSTOP freezes its
 * script (its messages wait until SIGCONT).
 */
import { EventEmitter } from 'node:events';
import path from 'node:path';
import type { ExecutionRecord, WorkerJob, WorkerMessage } from '../../protocol';
import type { WorkerExit, WorkerPool, WorkerPoolEvents } from '../../runner/src/workers/workerPool';

export type Script = (w: FakeWorker) => void | Promise<void>;

/** What a call's error reply carried. */
export class CallFailed extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
  }
}

/** Awaits something that shows up in a list that grows: checked now, and at every `changed()`. */
export class Watch {
  private readonly listeners = new Set<() => void>();

  /** Resolves with the first thing `find` finds (past or future). */
  until<T>(find: () => T | undefined): Promise<T> {
    return new Promise((resolve) => {
      const check = () => {
        const found = find();
        if (found === undefined) return;
        this.listeners.delete(check);
        resolve(found);
      };
      this.listeners.add(check);
      check();
    });
  }

  changed(): void {
    for (const l of [...this.listeners]) l();
  }
}

export class FakeWorker {
  /** Everything the runner sent this worker (replies, resume, debug requests). */
  readonly received: Array<Record<string, unknown>> = [];
  frozen = false;
  /** SIGKILLed: it says nothing more; its exit follows. */
  killed = false;
  gone = false;
  private callSeq = 0;
  private readonly replies = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  /** What the script did while frozen (SIGSTOP), done once thawed. */
  private readonly held: Array<() => void> = [];
  private readonly receipts = new Watch();

  constructor(
    private readonly pool: FakeWorkers,
    readonly job: WorkerJob,
  ) {}

  get id(): string {
    return this.job.execution_id;
  }

  get record(): ExecutionRecord {
    return this.job.record as ExecutionRecord;
  }

  get input(): unknown {
    return this.record.input_value;
  }

  log(text: string, stream: 'log' | 'stdout' | 'stderr' = 'log'): void {
    this.say({ type: 'log', stream, text });
  }

  status(status: 'BLOCKED' | 'RUNNING' | 'PAUSED', message?: string): void {
    this.say({ type: 'status', status, message });
  }

  /** An event of its debugger (docs/debug-protocol.md): `stopped`, `continued`, `output`, … */
  debugEvent(event: string, body: Record<string, unknown> = {}): void {
    this.say({ type: 'debug', event: { event, body } } as WorkerMessage);
  }

  /** Its debugger's answer to the debug request `seq` (the runner sent it as a 'debug' message). */
  debugResponse(seq: number, body: unknown, success = true): void {
    this.say({ type: 'debug', response: { seq, success, body } } as WorkerMessage);
  }

  /** A `call` to the runner; resolves with the reply's result, rejects with a CallFailed. */
  call(method: string, params: Record<string, unknown> = {}): Promise<unknown> {
    const id = ++this.callSeq;
    return new Promise((resolve, reject) => {
      this.replies.set(id, { resolve, reject });
      this.say({ type: 'call', id, method, params });
    });
  }

  /** Report the end; the process exits in a later turn. */
  end(status: 'SUCCEEDED' | 'FAILED' | 'INVALID' | 'STOPPED' = 'SUCCEEDED', output_value?: unknown): void {
    this.endWith({ type: 'end', status, output_value });
  }

  /** End FAILED as an exception in the flow does. */
  raise(type: string, message: string, line?: number): void {
    this.endWith({
      type: 'end',
      status: 'FAILED',
      error: { type, message, line, traceback: `${type}: ${message}\n` },
    });
  }

  private endWith(msg: WorkerMessage): void {
    this.act(() => {
      this.pool.said(this.id, msg);
      setImmediate(() => this.exit({ code: 0, signal: null }));
    });
  }

  /** The process is gone (crashed, killed), with no end reported unless one was. */
  exit(exit: WorkerExit = { code: 1, signal: null }): void {
    if (this.gone) return;
    this.gone = true;
    for (const r of this.replies.values()) r.reject(new CallFailed('the process is gone', undefined));
    this.replies.clear();
    this.pool.exited(this.id, exit);
  }

  /** Resolves once the runner has sent a message that matches (past or future). */
  until(pred: (msg: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> {
    return this.receipts.until(() => this.received.find(pred));
  }

  /** From the runner (FakeWorkers.send). */
  receive(msg: Record<string, unknown>): void {
    this.received.push(msg);
    if (msg.type === 'reply') {
      const r = this.replies.get(msg.id as number);
      this.replies.delete(msg.id as number);
      const error = msg.error as { message: string; code?: string } | undefined;
      if (error) r?.reject(new CallFailed(error.message, error.code));
      else r?.resolve(msg.result);
    }
    this.receipts.changed();
  }

  /** SIGCONT: what it did meanwhile reaches the runner in a later turn, as over a socket. */
  thaw(): void {
    this.frozen = false;
    setImmediate(() => {
      while (this.held.length > 0 && !this.frozen) this.held.shift()!();
    });
  }

  kill(): void {
    this.killed = true;
    this.held.length = 0;
    setImmediate(() => this.exit({ code: null, signal: 'SIGKILL' }));
  }

  private say(msg: WorkerMessage): void {
    this.act(() => this.pool.said(this.id, msg));
  }

  /** What a frozen process does once it is thawed; a killed one does nothing more. */
  private act(fn: () => void): void {
    if (this.gone || this.killed) return;
    // Behind what it did while frozen, in order.
    if (this.frozen || this.held.length > 0) this.held.push(fn);
    else fn();
  }
}

export class FakeWorkers extends EventEmitter<WorkerPoolEvents> implements WorkerPool {
  /** Every job spawned, in order. */
  readonly spawned: WorkerJob[] = [];
  private readonly live = new Map<string, FakeWorker>();
  private readonly scripts = new Map<string, Script>();
  private readonly spawns = new Watch();

  /** `fallback` runs for flows without a script of their own (default: succeed at once). */
  constructor(private readonly fallback: Script = (w) => w.end('SUCCEEDED')) {
    super();
  }

  /** What the flow named `flowName` (its file name without .py) does. */
  script(flowName: string, fn: Script): this {
    this.scripts.set(flowName, fn);
    return this;
  }

  worker(executionId: string): FakeWorker | undefined {
    return this.live.get(executionId);
  }

  /** Resolves with the worker of the first execution (past or future) whose record matches. */
  started(pred: (rec: ExecutionRecord) => boolean): Promise<FakeWorker> {
    return this.spawns.until(() => [...this.live.values()].find((w) => pred(w.record)));
  }

  spawn(job: WorkerJob): void {
    const w = new FakeWorker(this, job);
    this.spawned.push(job);
    this.live.set(job.execution_id, w);
    const name = job.flow_path ? path.basename(job.flow_path, '.py') : job.kind;
    const script = this.scripts.get(name) ?? this.fallback;
    // A real process speaks in a later turn: the engine is still launching it.
    setImmediate(() => {
      this.spawns.changed();
      if (w.gone) return;
      this.said(w.id, { type: 'started' });
      Promise.resolve()
        .then(() => script(w))
        .catch((err: unknown) => {
          if (!w.gone) w.raise('ScriptError', String(err));
        });
    });
  }

  send(executionId: string, msg: unknown): void {
    this.live.get(executionId)?.receive(msg as Record<string, unknown>);
  }

  signal(executionId: string, sig: NodeJS.Signals): boolean {
    const w = this.live.get(executionId);
    if (!w || w.gone) return false;
    if (sig === 'SIGKILL') w.kill();
    else if (sig === 'SIGSTOP') w.frozen = true;
    else if (sig === 'SIGCONT') w.thaw();
    return true;
  }

  get size(): number {
    return this.live.size;
  }

  async stop(): Promise<void> {
    for (const w of [...this.live.values()]) w.exit({ code: null, signal: 'SIGKILL' });
  }

  /** FakeWorker → engine. */
  said(executionId: string, msg: WorkerMessage): void {
    this.emit('message', executionId, msg);
  }

  exited(executionId: string, exit: WorkerExit): void {
    if (!this.live.delete(executionId)) return;
    this.emit('exit', executionId, exit);
  }
}
