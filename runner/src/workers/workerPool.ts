/**
 * What the engine needs of the processes that run executions: start one per execution, message
 * and signal it, count them, and hear what each says and when it is gone. PythonWorkers is the
 * real one; the engine's unit tests script fake ones (test/engine/fakeWorkers.ts).
 */
import type { EventEmitter } from 'node:events';
import type { WorkerJob, WorkerMessage } from '@flows/protocol';

export interface WorkerExit {
  code: number | null;
  signal: string | null;
  /**
   * Why the runner ended it, or why it never ran: a message the worker sent that the runner
   * refused, a job the fork server could not read, a fork server that died before forking it.
   * Its execution's FAILED message.
   */
  reason?: string;
}

export interface WorkerPoolEvents {
  /** A message from the execution's process, validated. */
  message: [executionId: string, msg: WorkerMessage];
  /** Its process is gone (reported once, after its last message). */
  exit: [executionId: string, exit: WorkerExit];
}

export interface WorkerPool extends Pick<EventEmitter<WorkerPoolEvents>, 'on'> {
  /** Start the execution's process; failures to start arrive as its 'exit', in a later turn. */
  spawn(job: WorkerJob): void;
  /** A message to the execution's process (a call's reply, `resume`, a debug request). */
  send(executionId: string, msg: unknown): void;
  /** False when the execution has no process (any more). */
  signal(executionId: string, sig: NodeJS.Signals): boolean;
  /** Processes alive or being started, each until its exit is reported. */
  readonly size: number;
  /** Kill every process. */
  stop(): Promise<void>;
}
