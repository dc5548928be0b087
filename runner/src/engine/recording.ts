/**
 * Recording and replaying executions (tests made from runs: runner/src/testing).
 *
 * What an execution did is mostly kept already: its children are executions with their input
 * and output or error (a connector call is a CONNECTION child, a child flow a FLOW child), and
 * its forms are messages with their answers. What it took from elsewhere is kept here, in the
 * store's recording of the execution (store.ts RecordingEntry), in the order it happened: each
 * setting and file it read with the value it saw, and each sleep.
 *
 * A runner in replay mode (a test) is given ReplayHooks: a child the hooks answer ends at once
 * with the recorded end, without a process and without touching the network.
 */
import type { ExecutionRecord, ExecutionStatus } from '@flows/protocol';
import type { RecordingKind, Store } from '../store/store';
import type { Active } from './executionTable';
import type { NewExecution } from './executions';

/** How a replayed child ends: as its recorded run did. */
export interface ReplayedEnd {
  /** An ended status. */
  status: ExecutionStatus;
  output_value?: unknown;
  message?: string | null;
}

/** The fields of an execution the replay hooks look at. */
export type ReplayedRecord = Pick<
  ExecutionRecord,
  'id' | 'parent_execution_id' | 'top_execution_id' | 'scheduled_for'
>;

/** What a runner in replay mode asks before it makes a child of a running flow. */
export interface ReplayHooks {
  /**
   * The recorded end of the child `spec` (now `rec`) of `parent`, to end it with at once;
   * undefined: run it for real. A call the recording does not have is the hooks' to report
   * (they may end it FAILED).
   */
  child(spec: NewExecution, parent: ExecutionRecord, rec: ExecutionRecord): ReplayedEnd | undefined;
  /**
   * On a virtual clock: the Unix time (seconds) at which the clock of `rec`, about to be given
   * its job, starts (WorkerJob.virtual_now); undefined: the real time.
   */
  clockOf?(rec: ReplayedRecord): number | undefined;
  /** Its time now (ms), against which a SCHEDULED execution's `scheduled_for` is due. */
  now?(rec: ReplayedRecord): number | undefined;
  /** What an execution's recording gains (a sleep moves its virtual clock on). */
  recorded?(rec: ReplayedRecord, kind: RecordingKind, name: string, value: unknown): void;
}

/** Appends to each execution's recording, numbering its entries 1, 2, … */
export class Recorder {
  private readonly seqs = new WeakMap<Active, number>();

  constructor(private readonly store: Pick<Store, 'appendRecording'>) {}

  note(a: Active, kind: RecordingKind, name: string, value: unknown): void {
    const seq = (this.seqs.get(a) ?? 0) + 1;
    this.seqs.set(a, seq);
    this.store.appendRecording({
      execution_id: a.rec.id,
      seq,
      kind,
      name,
      value: value === undefined ? null : value,
      ts: new Date().toISOString(),
    });
  }
}
