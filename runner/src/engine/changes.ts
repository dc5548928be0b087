/**
 * Every change to an active execution goes through here: checked against the lifecycle,
 * persisted, and announced, so the WebSocket, the CLI and the tests all see the same sequence.
 * An end is announced only once it is committed.
 */
import { isEnded, type ExecutionStatus } from '@flows/protocol';
import { EXECUTION_COLUMNS, type ExecutionField, type Store, type StoredExecution } from '../store/store';
import type { ExecutionPort } from './dispatcher';
import type { EngineEventSink } from './events';
import { publicRecord, type Active, type ExecutionTable } from './executionTable';
import { checkTransition, type IllegalTransitionPolicy } from './lifecycle';
import type { Locks } from './locks';

export interface ChangesOptions {
  table: ExecutionTable;
  store: Pick<Store, 'putExecution' | 'committed'>;
  port: Pick<ExecutionPort, 'releaseSlot' | 'pump'>;
  locks: Pick<Locks, 'forget'>;
  events: EngineEventSink;
  illegalTransitions: IllegalTransitionPolicy;
  log: (msg: string) => void;
}

const now = () => new Date().toISOString();

const COLUMNS: ReadonlySet<string> = new Set(EXECUTION_COLUMNS);

/** What a change wrote, for the store's hint (Store.putExecution): its stored fields and updated_at. */
function changedFields(patch: Partial<StoredExecution>): ExecutionField[] {
  const fields: ExecutionField[] = ['updated_at'];
  for (const k of Object.keys(patch)) if (COLUMNS.has(k)) fields.push(k as ExecutionField);
  return fields;
}

export class Changes {
  constructor(private readonly opts: ChangesOptions) {}

  /** A status change of `id` is about to be made (see lifecycle.ts). */
  check(id: string, from: ExecutionStatus, to: ExecutionStatus): void {
    checkTransition(id, from, to, this.opts.illegalTransitions, this.opts.log);
  }

  /** Apply a change to an active execution: persist it and tell subscribers. */
  update(a: Active, patch: Partial<StoredExecution>): void {
    if (patch.status !== undefined) this.check(a.rec.id, a.rec.status, patch.status);
    Object.assign(a.rec, patch, { updated_at: now() });
    this.opts.store.putExecution(a.rec, changedFields(patch));
    this.opts.events.emit('execution', 'updated', publicRecord(a.rec));
  }

  /** Move an execution to an ended status, once. */
  finish(
    a: Active,
    status: ExecutionStatus,
    patch: { message?: string | null; output_value?: unknown } = {},
  ): void {
    const { table, store, port, events } = this.opts;
    if (isEnded(a.rec.status) || !table.holds(a)) return;
    this.check(a.rec.id, a.rec.status, status);
    a.runtimeTimer?.clear();
    clearTimeout(a.scheduleTimer);
    port.releaseSlot(a);
    const fields: Partial<StoredExecution> = { status, ended_at: now(), paused_from: null };
    if (patch.message !== undefined) fields.message = patch.message;
    if (patch.output_value !== undefined) fields.output_value = patch.output_value;
    if (!a.rec.started_at) fields.started_at = null;
    Object.assign(a.rec, fields, { updated_at: now() });
    store.putExecution(a.rec, changedFields(fields));
    table.remove(a);
    this.opts.locks.forget(a.rec.id);
    const rec = publicRecord(a.rec);
    // The end is announced (WebSocket, waiting requests and parent flows, callbacks) only once it
    // is committed, so nobody acts on an end that a crash could turn into "runner restarted".
    // Reads of the store commit first, so the REST API cannot show it earlier either.
    // Where it is known, the end says whether it has children (as list answers do).
    const event = a.hadChildren === undefined ? rec : { ...rec, has_children: a.hadChildren };
    const announce = () => {
      events.emit('execution', 'updated', event);
      for (const w of a.endWaiters.splice(0)) w(rec);
      events.emit('ended', rec, a.webhookResponse);
    };
    store.committed().then(announce, (err: unknown) => {
      this.opts.log(`cannot store the end of execution ${rec.id}: ${String(err)}`);
      announce();
    });
    port.pump();
  }
}
