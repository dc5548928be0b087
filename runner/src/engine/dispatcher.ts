/**
 * Which queued execution runs next, and its process: the run queue (priority, then age), the
 * `concurrency` slots, the cap on waiting processes, and the bridge to the worker pool (spawn,
 * signals, messages, exits). It decides *when*; what a start or an exit means for an
 * execution's status is the engine's (DispatchHost).
 */
import type { WorkerMessage, WorkerLimits } from '@flows/protocol';
import type { Store } from '../store/store';
import type { WorkerExit, WorkerPool } from '../workers/workerPool';
import { publicRecord, type Active, type ExecutionTable } from './executionTable';
import { PriorityQueue } from './priorityQueue';

/** See DispatcherOptions.maxWaiting. An idle worker costs a few MB of unshared memory. */
export const DEFAULT_MAX_WAITING = 64;

/** What the rest of the engine asks of the dispatcher. */
export interface ExecutionPort {
  /** Join the run queue (its status is QUEUED already); call pump() after. */
  queue(a: Active): void;
  /** Start queued executions while there is room. */
  pump(): void;
  /** `execution.wait` tells which executions a waiting one now waits for (+1) or no longer (-1). */
  awaiting(ids: readonly string[], delta: 1 | -1): void;
  takeSlot(a: Active): void;
  releaseSlot(a: Active): void;
  /** Run `fn` with no execution starting meanwhile (it would only be killed next). */
  holdingStarts(fn: () => void): void;
  /** SIGKILL its process, if it has one. */
  kill(a: Active): void;
  /** Freeze (SIGSTOP) or thaw (SIGCONT) its process. */
  freeze(a: Active): void;
  thaw(a: Active): void;
  /** A message to its process (a reply, `resume`, a debug request). */
  tell(executionId: string, msg: unknown): void;
  /** No execution starts from now on (the runner is stopping). */
  halt(): void;
  /** halt(), and every process is killed. */
  stop(): Promise<void>;
  readonly stopped: boolean;
}

/** What the dispatcher tells the engine, which owns statuses. */
export interface DispatchHost {
  /** It was picked to run: QUEUED → RUNNING, committed before its process is started. */
  starting(a: Active): void;
  /** Its RUNNING could not be committed: it never started. */
  startFailed(a: Active, reason: string): void;
  /** Paused between being picked and its process starting: it has not started. */
  pausedBeforeStart(a: Active): void;
  /** The debugger settings of an execution about to start (null: none). */
  debugConfig(a: Active): unknown;
  /**
   * Work to finish before its process may start (a deployed flow's source fetched into a file):
   * awaited together with the commit of its RUNNING. A rejection ends it FAILED with its message.
   */
  beforeSpawn?(a: Active): Promise<void> | undefined;
  message(a: Active, msg: WorkerMessage): void;
  /** Its process is gone before it reported an end; `why` is the FAILED message. */
  processGone(a: Active, why: string): void;
}

export interface DispatcherOptions {
  workers: WorkerPool;
  /** For the commit of a start (Store.committed()). */
  store: Pick<Store, 'committed'>;
  table: ExecutionTable;
  host: DispatchHost;
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
}

const runsBefore = (a: Active, b: Active): boolean =>
  a.rec.priority > b.rec.priority || (a.rec.priority === b.rec.priority && a.seq < b.seq);

export class Dispatcher implements ExecutionPort {
  private readonly queued = new PriorityQueue<Active>(runsBefore);
  private slotsUsed = 0;
  /** Launched executions whose spawn waits for the commit (not yet counted by the workers). */
  private launching = 0;
  /** Ids that waiting executions wait for (execution.wait), with how many wait for each. */
  private readonly awaited = new Map<string, number>();
  private holds = 0;
  private stopping = false;

  constructor(private readonly opts: DispatcherOptions) {
    opts.workers.on('message', (id, msg) => {
      const a = opts.table.get(id);
      if (a) opts.host.message(a, msg);
    });
    opts.workers.on('exit', (id, exit) => this.onExit(id, exit));
  }

  get stopped(): boolean {
    return this.stopping;
  }

  queue(a: Active): void {
    this.queued.push(a);
  }

  /**
   * Start queued executions while slots are free. Executions that wait keep their process but
   * not their slot; once `maxWaiting` such processes exist beyond the slots, only executions a
   * waiting execution waits for start (it cannot go on without them; any other would add one
   * more process). The rest wait for processes to end.
   */
  pump(): void {
    const { concurrency, maxWaiting, workers } = this.opts;
    const maxProcesses = concurrency + (maxWaiting ?? DEFAULT_MAX_WAITING);
    while (!this.stopping && this.holds === 0 && this.slotsUsed < concurrency) {
      if (workers.size + this.launching >= maxProcesses) {
        const next = this.nextAwaited();
        if (!next) return;
        this.launch(next);
        continue;
      }
      const a = this.queued.pop();
      if (!a) return;
      // Entries are not removed from the heap on cancel, pause or an awaited start: skip those.
      if (!this.startable(a)) continue;
      this.launch(a);
    }
  }

  private startable(a: Active): boolean {
    return a.rec.status === 'QUEUED' && this.opts.table.holds(a) && !a.hasProcess && !a.scheduleTimer;
  }

  /** The queued execution that waiting executions wait for, first by priority then age. */
  private nextAwaited(): Active | undefined {
    let best: Active | undefined;
    for (const id of this.awaited.keys()) {
      const a = this.opts.table.get(id);
      if (!a || !this.startable(a)) continue;
      if (!best || runsBefore(a, best)) best = a;
    }
    return best;
  }

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
    this.opts.host.starting(a);
    // Started now, so it runs while the commit is on its way; its failure is a reason, not a throw.
    const prepared = this.opts.host.beforeSpawn?.(a)?.then(
      () => undefined,
      (err: unknown) => (err instanceof Error ? err.message : String(err)),
    );
    // Its own RUNNING row, not a 100,000-row insert that may be under way (Store.committed()).
    this.opts.store.committed().then(
      async () => {
        const problem = prepared && (await prepared);
        this.launching--;
        if (problem === undefined) return this.spawnWhenDurable(a);
        if (!this.opts.table.holds(a) || !a.hasProcess) return;
        a.hasProcess = false;
        this.opts.host.startFailed(a, problem);
      },
      (err: unknown) => {
        this.launching--;
        if (!this.opts.table.holds(a)) return;
        a.hasProcess = false;
        this.opts.host.startFailed(a, `its start could not be stored: ${String(err)}`);
      },
    );
  }

  private spawnWhenDurable(a: Active): void {
    // Cancelled (or the runner stopped) before the commit: there is nothing to start.
    if (this.stopping || !this.opts.table.holds(a) || !a.hasProcess) return;
    if (a.rec.status === 'PAUSED') {
      // Paused before its process existed (a resume before the commit would have made it
      // RUNNING again): it has not started, so a resume queues it again.
      a.hasProcess = false;
      this.opts.host.pausedBeforeStart(a);
      return;
    }
    if (a.rec.status !== 'RUNNING') return;
    const debug = this.opts.host.debugConfig(a);
    const limits = this.opts.limits ?? null;
    this.opts.workers.spawn({ ...a.job!, record: publicRecord(a.rec), debug, limits });
  }

  /** Slots not taken and not spoken for by the run queue (its stale entries count: a lower bound). */
  freeSlots(): number {
    if (this.stopping) return 0;
    return Math.max(0, this.opts.concurrency - this.slotsUsed - this.queued.size);
  }

  takeSlot(a: Active): void {
    if (!a.slot) {
      a.slot = true;
      this.slotsUsed++;
    }
  }

  releaseSlot(a: Active): void {
    if (a.slot) {
      a.slot = false;
      this.slotsUsed--;
    }
  }

  holdingStarts(fn: () => void): void {
    this.holds++;
    try {
      fn();
    } finally {
      this.holds--;
    }
  }

  kill(a: Active): void {
    if (!a.hasProcess) return;
    // A stopped (paused) process must be continued for SIGKILL to be reaped promptly.
    this.opts.workers.signal(a.rec.id, 'SIGKILL');
    this.opts.workers.signal(a.rec.id, 'SIGCONT');
  }

  freeze(a: Active): void {
    this.opts.workers.signal(a.rec.id, 'SIGSTOP');
  }

  thaw(a: Active): void {
    this.opts.workers.signal(a.rec.id, 'SIGCONT');
  }

  tell(executionId: string, msg: unknown): void {
    this.opts.workers.send(executionId, msg);
  }

  halt(): void {
    this.stopping = true;
  }

  async stop(): Promise<void> {
    this.halt();
    await this.opts.workers.stop();
  }

  /** A process is gone: one process less (see pump()), and maybe an execution that failed. */
  private onExit(id: string, exit: WorkerExit): void {
    const a = this.opts.table.get(id);
    if (!a) return this.pump();
    a.hasProcess = false;
    if (this.stopping) return;
    const cpu = this.opts.limits?.max_cpu_seconds;
    const why = exit.reason
      ? exit.reason
      : exit.signal === 'SIGXCPU' && cpu
        ? `used more than its ${cpu} s of CPU time (the runner's --max-cpu-seconds)`
        : exit.signal
          ? `worker process was killed by signal ${exit.signal}`
          : `worker process exited with code ${exit.code ?? 'unknown'} before reporting a result`;
    this.opts.host.processGone(a, why);
  }
}
