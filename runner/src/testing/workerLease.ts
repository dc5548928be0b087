/**
 * One set of Python worker processes for all the cases of a `flows test` run. Starting them (the
 * fork server, the warm pool) is most of a runner's start, ~1.7 s here; each case still gets a
 * runner of its own (its own data folder: store, settings, files, recordings, messages), on a
 * WorkerLease of the shared processes: the lease hears only its own executions' messages and
 * exits, and stopping it ends only those (a case's runner stops, the processes stay).
 */
import { EventEmitter } from 'node:events';
import type { WorkerJob, WorkerMessage } from '@flows/protocol';
import type { PythonWorkers } from '../workers/pythonWorkers';
import type { WorkerExit, WorkerPool, WorkerPoolEvents } from '../workers/workerPool';

export class WorkerLease extends EventEmitter<WorkerPoolEvents> implements WorkerPool {
  private readonly mine = new Set<string>();
  private readonly gone = new Map<string, () => void>();
  private readonly onMessage = (id: string, msg: WorkerMessage) => {
    if (this.mine.has(id)) this.emit('message', id, msg);
  };
  private readonly onExit = (id: string, exit: WorkerExit) => {
    if (!this.mine.delete(id)) return;
    this.emit('exit', id, exit);
    this.gone.get(id)?.();
  };

  constructor(private readonly shared: PythonWorkers) {
    super();
    shared.on('message', this.onMessage);
    shared.on('exit', this.onExit);
  }

  spawn(job: WorkerJob): void {
    this.mine.add(job.execution_id);
    this.shared.spawn(job);
  }

  send(executionId: string, msg: unknown): void {
    if (this.mine.has(executionId)) this.shared.send(executionId, msg);
  }

  signal(executionId: string, sig: NodeJS.Signals): boolean {
    return this.mine.has(executionId) && this.shared.signal(executionId, sig);
  }

  get size(): number {
    return this.mine.size;
  }

  /** Ends this lease's processes (a case's runner stops), and leaves the others running. */
  async stop(): Promise<void> {
    const left = [...this.mine].map(
      (id) =>
        new Promise<void>((resolve) => {
          this.gone.set(id, resolve);
          if (!this.shared.signal(id, 'SIGKILL')) this.onExit(id, { code: null, signal: 'SIGKILL' });
        }),
    );
    await Promise.all(left);
    this.shared.off('message', this.onMessage);
    this.shared.off('exit', this.onExit);
  }
}
