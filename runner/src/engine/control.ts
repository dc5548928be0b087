/**
 * What users, flows and the debugger do to executions that have not ended: queue them (or hold
 * them until `scheduled_for`), stop and pause them with everything below them, resume them where
 * they were, and block them while their flow waits (their slot is free for others meanwhile).
 */
import { isEnded } from '@flows/protocol';
import type { Changes } from './changes';
import type { ExecutionPort } from './dispatcher';
import type { Active, ExecutionTable } from './executionTable';

export interface ControlOptions {
  table: ExecutionTable;
  changes: Changes;
  port: ExecutionPort;
  /** The time (ms) an execution's `scheduled_for` is due against: a replay's virtual clock. */
  now?: (rec: Active['rec']) => number;
}

export class Control {
  constructor(private readonly opts: ControlOptions) {}

  private get port(): ExecutionPort {
    return this.opts.port;
  }

  private update(a: Active, patch: Parameters<Changes['update']>[1]): void {
    this.opts.changes.update(a, patch);
  }

  /** CREATED (or restored) → QUEUED, or SCHEDULED while `scheduled_for` is in the future. */
  enqueue(a: Active): void {
    const due = a.rec.scheduled_for ? Date.parse(a.rec.scheduled_for) : 0;
    const wait = due - (this.opts.now?.(a.rec) ?? Date.now());
    if (wait > 0) {
      if (a.rec.status !== 'SCHEDULED') this.update(a, { status: 'SCHEDULED' });
      // setTimeout holds at most ~24.8 days; longer waits re-arm.
      a.scheduleTimer = setTimeout(() => this.enqueue(a), Math.min(wait, 2 ** 31 - 1));
      return;
    }
    a.scheduleTimer = undefined;
    if (a.rec.status !== 'QUEUED') this.update(a, { status: 'QUEUED' });
    this.port.queue(a);
    this.port.pump();
  }

  /** Stop an execution and everything below it; its process ends at once (SIGKILL). */
  stopTree(a: Active, reason: string): void {
    // While a tree is being stopped, no queued execution starts (it would only be killed next).
    this.port.holdingStarts(() => {
      for (const child of this.opts.table.children(a.rec.id)) {
        this.stopTree(child, `parent ${reason === 'cancelled' ? 'cancelled' : 'stopped'}`);
      }
      this.port.kill(a);
      this.opts.changes.finish(a, 'STOPPED', { message: reason });
    });
    this.port.pump();
  }

  /** Pause an execution and its subtree: queued ones are held back, running ones are frozen. */
  pauseTree(a: Active): void {
    for (const child of this.opts.table.children(a.rec.id)) this.pauseTree(child);
    const s = a.rec.status;
    if (s === 'PAUSED' || isEnded(s)) return;
    clearTimeout(a.scheduleTimer);
    if (a.hasProcess && (s === 'RUNNING' || s === 'BLOCKED')) {
      this.port.freeze(a);
      this.port.releaseSlot(a);
    }
    this.update(a, { status: 'PAUSED', paused_from: s });
  }

  /** Resume a paused execution and its subtree, each to where it was; call pump() after. */
  resumeTree(a: Active): void {
    if (a.rec.status === 'PAUSED') {
      if (a.pausedByFlow) {
        this.port.tell(a.rec.id, { type: 'resume' });
        a.pausedByFlow = false;
        this.port.takeSlot(a);
        this.update(a, { status: 'RUNNING', paused_from: null, message: null });
      } else if (a.hasProcess) {
        this.port.thaw(a);
        const back = a.rec.paused_from === 'BLOCKED' ? 'BLOCKED' : 'RUNNING';
        if (back === 'RUNNING') this.port.takeSlot(a);
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
    for (const child of this.opts.table.children(a.rec.id)) this.resumeTree(child);
  }

  /** The flow waits (on children, a sleep, a form): BLOCKED, and its slot is free for others. */
  block(a: Active, message: string | null): void {
    a.waits++;
    if (a.rec.status !== 'RUNNING') return;
    this.port.releaseSlot(a);
    this.update(a, { status: 'BLOCKED', message });
    this.port.pump();
  }

  unblock(a: Active): void {
    a.waits = Math.max(0, a.waits - 1);
    if (a.waits > 0 || (a.rec.status !== 'BLOCKED' && !(a.rec.status === 'PAUSED' && a.pausedByFlow))) return;
    a.pausedByFlow = false;
    // A running process continues at once, even when that briefly exceeds the limit: holding it
    // back would only keep its memory busy longer.
    this.port.takeSlot(a);
    this.update(a, { status: 'RUNNING', message: null, paused_from: null });
  }

  /** The flow paused itself (`this.pause()`); a message resumes it, through resume. */
  pausedByFlow(a: Active, message: string | null | undefined): void {
    a.pausedByFlow = true;
    this.port.releaseSlot(a);
    this.update(a, { status: 'PAUSED', paused_from: 'RUNNING', message: message ?? 'paused by the flow' });
  }

  /** The debugger stopped the flow (breakpoint, step, pause): PAUSED, and its slot is free. */
  debugStopped(a: Active, reason: string): void {
    if (a.rec.status !== 'RUNNING' && a.rec.status !== 'BLOCKED') return;
    this.port.releaseSlot(a);
    this.update(a, { status: 'PAUSED', paused_from: a.rec.status, message: `paused (${reason})` });
    this.port.pump();
  }

  debugContinued(a: Active): void {
    if (a.rec.status !== 'PAUSED' || a.pausedByFlow) return;
    const back = a.rec.paused_from === 'BLOCKED' ? 'BLOCKED' : 'RUNNING';
    if (back === 'RUNNING') this.port.takeSlot(a);
    this.update(a, { status: back, paused_from: null, message: null });
  }
}
