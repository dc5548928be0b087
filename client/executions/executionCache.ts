/**
 * The one place the window keeps what it knows of executions: the newest state of each one seen
 * (from events and from REST answers), and which are in progress. The tree, the status bar, the
 * notifications that follow a run, the log and the error diagnostics all read it, so none of
 * them can go back to an older state that a slow REST answer brought after a newer event.
 */
import * as vscode from 'vscode';
import { isEnded, type ExecutionRecord, type ExecutionStatus } from '@flows/protocol';
import type { RunnerSession } from '../runner/runnerSession';

/** Counted as "in progress": waiting for a time (SCHEDULED) or to be started (CREATED) is not. */
export const IN_PROGRESS: readonly ExecutionStatus[] = ['QUEUED', 'RUNNING', 'BLOCKED', 'PAUSED'];
/** Records kept; the oldest seen are forgotten first (views keep what they show themselves). */
const KEPT = 5000;

export interface ExecutionChange {
  event: 'created' | 'updated';
  record: ExecutionRecord;
}

export class ExecutionCache implements vscode.Disposable {
  private readonly records = new Map<string, ExecutionRecord>();
  private readonly inProgress = new Set<string>();
  /** Events that arrive while the in-progress list loads, applied on top of it. */
  private heldBack: ExecutionRecord[] | undefined;
  private readonly changes = new vscode.EventEmitter<ExecutionChange>();
  private readonly counted = new vscode.EventEmitter<number>();
  /** An execution was created or changed (never an older state than one already told). */
  readonly onDidChange = this.changes.event;
  /** How many executions are in progress changed. */
  readonly onDidChangeInProgress = this.counted.event;
  private readonly subs: vscode.Disposable[];

  constructor(session: RunnerSession) {
    this.subs = [
      this.changes,
      this.counted,
      session.onExecution(({ event, record }) => {
        if (this.heldBack) this.heldBack.push(record);
        if (this.put(record)) this.changes.fire({ event, record });
      }),
      session.onDidConnect(async (conn) => {
        const held: ExecutionRecord[] = [];
        this.heldBack = held;
        const { items } = await conn.api
          .listExecutions({ status: [...IN_PROGRESS], limit: 1000 })
          .catch(() => ({ items: [] as ExecutionRecord[] }));
        if (this.heldBack !== held) return; // a later connection's load took over
        this.heldBack = undefined;
        this.inProgress.clear();
        for (const r of items) this.put(r);
        for (const r of held) this.put(r);
        this.counted.fire(this.inProgress.size);
      }),
    ];
  }

  /** The newest state known of an execution. */
  get(id: string): ExecutionRecord | undefined {
    return this.records.get(id);
  }

  get inProgressCount(): number {
    return this.inProgress.size;
  }

  /**
   * A record from a REST answer or an event; false when a newer state is known (then nothing is
   * told). A record's updated_at only grows, so it orders states.
   */
  put(record: ExecutionRecord): boolean {
    const known = this.records.get(record.id);
    if (known && known.updated_at > record.updated_at) return false;
    this.records.delete(record.id);
    this.records.set(record.id, record);
    for (const old of this.records.keys()) {
      if (this.records.size <= KEPT) break;
      this.records.delete(old);
    }
    const had = this.inProgress.has(record.id);
    // A disabled schedule's SCHEDULE execution waits PAUSED until it is enabled: not running.
    const waitsForSchedule = record.type === 'SCHEDULE' && record.status === 'PAUSED';
    if (IN_PROGRESS.includes(record.status) && !waitsForSchedule) this.inProgress.add(record.id);
    else if (waitsForSchedule || isEnded(record.status) || record.status === 'SCHEDULED')
      this.inProgress.delete(record.id);
    if (had !== this.inProgress.has(record.id)) this.counted.fire(this.inProgress.size);
    return true;
  }

  /** The runner went away: nothing is in progress any more as far as this window knows. */
  clearInProgress(): void {
    if (this.inProgress.size === 0) return;
    this.inProgress.clear();
    this.counted.fire(0);
  }

  dispose(): void {
    this.subs.forEach((s) => s.dispose());
  }
}
