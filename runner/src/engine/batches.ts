/**
 * Async runs: a virtual parent execution (no Python process) with one FLOW child per input.
 *
 * While the children work, the parent's status follows them: QUEUED until the first starts,
 * RUNNING while any runs, BLOCKED while none runs but some have not ended (they wait on a form,
 * a sleep or a free slot). When the last one has ended the parent ends SUCCEEDED (all
 * succeeded), PARTIAL_SUCCEEDED (some did), INVALID (every input was invalid) or FAILED.
 * A user can pause or cancel the parent like any execution; the engine cascades that.
 *
 * Everything here is O(1) per child event: 100,000 children must not cost 100,000² anything.
 */
import { isEnded, type ExecutionRecord, type ExecutionStatus } from '@flows/protocol';
import type { Store } from '../store/store';
import type { ExecutionOwnership, Executions } from './executions';

interface Batch {
  id: string;
  /** Children that have not ended. */
  pending: number;
  /** Ended children per status. */
  ended: Partial<Record<ExecutionStatus, number>>;
  running: Set<string>;
  started: boolean;
  dirty: boolean;
}

/** An async run's parent, and when all its children are made (not yet durable). */
export interface StartedBatch {
  rec: ExecutionRecord;
  created: Promise<void>;
}

export interface BatchSpec {
  flow_name: string;
  name?: string;
  is_productive?: boolean;
  priority?: number;
  max_runtime_minutes?: number;
  schedule_id?: string | null;
  /** NewExecution.started_by of the run's parent; its children inherit it. */
  started_by?: string;
}

/** Why an input cannot run: the flow's keyword inputs must be a JSON object. */
export function invalidInput(input: unknown, index: number): string | undefined {
  if (input !== null && typeof input === 'object' && !Array.isArray(input)) return undefined;
  const got = input === null ? 'null' : Array.isArray(input) ? 'an array' : `a ${typeof input}`;
  return `input ${index} must be a JSON object of the flow's inputs, not ${got}`;
}

export interface BatchesOptions {
  executions: Executions & ExecutionOwnership;
  /** Counts of a run's children by status, when a batch is taken up again. */
  store: Pick<Store, 'countChildren'>;
}

const now = () => new Date().toISOString();

export class Batches {
  private readonly batches = new Map<string, Batch>();
  private readonly executions: Executions & ExecutionOwnership;

  constructor(private readonly opts: BatchesOptions) {
    this.executions = opts.executions;
    this.executions.on('execution', (_event, rec) => this.onChange(rec));
    this.executions.on('ended', (rec) => this.onEnded(rec));
  }

  /**
   * Start an async run of `spec.flow_name` over `inputs`, below `parent` when given (a
   * schedule's firing). Answers the parent record: INVALID when the flow cannot be found.
   */
  start(spec: BatchSpec, inputs: readonly unknown[], parentId?: string): StartedBatch {
    const created = this.executions.createVirtual(
      {
        type: 'FLOW',
        flow_name: spec.flow_name,
        name: spec.name,
        input_value: null,
        is_productive: spec.is_productive,
        priority: spec.priority,
        max_runtime_minutes: spec.max_runtime_minutes,
        schedule_id: spec.schedule_id,
        started_by: spec.started_by,
      },
      { status: 'QUEUED', message: `${inputs.length} input${inputs.length === 1 ? '' : 's'}` },
      parentId,
    );
    if (!this.executions.activeRecord(created.id)) return { rec: created, created: Promise.resolve() };
    // Registered first: children that start at once (inside createChildren) are seen. Every
    // input counts as pending until its slice is made, so the run cannot settle early.
    const b: Batch = {
      id: created.id,
      pending: inputs.length,
      ended: {},
      running: new Set(),
      started: false,
      dirty: false,
    };
    this.batches.set(b.id, b);
    const done = this.executions
      .createChildren(
        b.id,
        {
          flow_name: spec.flow_name,
          name: spec.name,
          priority: spec.priority,
          max_runtime_minutes: spec.max_runtime_minutes,
        },
        inputs,
        invalidInput,
      )
      .then(({ invalid }) => {
        b.pending -= invalid;
        if (invalid) b.ended.INVALID = (b.ended.INVALID ?? 0) + invalid;
        if (b.pending <= 0) this.settle(b);
        else this.touch(b);
      })
      .catch((err: unknown) => {
        this.executions.endVirtual(b.id, 'FAILED', {
          message: `could not create its children: ${String(err)}`,
        });
        throw err;
      });
    return { rec: created, created: done };
  }

  /**
   * Take up a batch again from the store: after a restart (restore keeps virtual parents
   * active) or when a stopped run is resumed (its stopped children were reopened).
   */
  async attach(id: string): Promise<void> {
    if (!this.executions.activeRecord(id)?.virtual) return;
    const counts = await this.opts.store.countChildren(id);
    const b: Batch = { id, pending: 0, ended: {}, running: new Set(), started: false, dirty: false };
    for (const [status, n] of Object.entries(counts) as Array<[ExecutionStatus, number]>) {
      if (isEnded(status)) b.ended[status] = n;
      else b.pending += n;
      if (status !== 'QUEUED' && status !== 'CREATED') b.started = true;
    }
    for (const c of this.executions.activeChildren(id)) {
      if (c.status === 'RUNNING') b.running.add(c.id);
    }
    this.batches.set(id, b);
    if (b.pending === 0) this.settle(b);
    else this.touch(b);
  }

  /**
   * After a restart: every active virtual execution that is not a schedule's is a batch.
   * `restored` are the records the engine restored (Engine.restore).
   */
  async restore(restored: ReadonlyArray<Pick<ExecutionRecord, 'id' | 'type'>>): Promise<void> {
    for (const r of restored) {
      if (r.type !== 'SCHEDULE') await this.attach(r.id);
    }
  }

  isBatch(id: string): boolean {
    return this.batches.has(id);
  }

  private onChange(rec: ExecutionRecord): void {
    const b = rec.parent_execution_id ? this.batches.get(rec.parent_execution_id) : undefined;
    if (!b) return;
    if (rec.status === 'RUNNING') {
      b.running.add(rec.id);
      b.started = true;
    } else b.running.delete(rec.id);
    this.touch(b);
  }

  private onEnded(rec: ExecutionRecord): void {
    if (this.batches.has(rec.id)) {
      this.batches.delete(rec.id); // the parent itself ended (cancelled, or settled)
      return;
    }
    const b = rec.parent_execution_id ? this.batches.get(rec.parent_execution_id) : undefined;
    if (!b) return;
    b.pending--;
    b.ended[rec.status] = (b.ended[rec.status] ?? 0) + 1;
    b.running.delete(rec.id);
    if (b.pending <= 0) this.settle(b);
    else this.touch(b);
  }

  /**
   * Recompute the parent's status once per event-loop turn: a child ending and the next one
   * starting happen in the same turn, and must not show as RUNNING → BLOCKED → RUNNING.
   */
  private touch(b: Batch): void {
    if (b.dirty) return;
    b.dirty = true;
    setImmediate(() => {
      b.dirty = false;
      const rec = this.executions.activeRecord(b.id);
      if (!rec || rec.status === 'PAUSED' || this.batches.get(b.id) !== b || b.pending <= 0) return;
      const status: ExecutionStatus = b.running.size > 0 ? 'RUNNING' : b.started ? 'BLOCKED' : 'QUEUED';
      if (status === rec.status) return;
      this.executions.setVirtual(b.id, { status, started_at: rec.started_at ?? (b.started ? now() : null) });
    });
  }

  /**
   * End the parent from its children's outcomes. Deferred a turn, so that cancelling the
   * parent (which stops its children first) ends it STOPPED, not FAILED.
   */
  private settle(b: Batch): void {
    setImmediate(() => {
      if (!this.executions.activeRecord(b.id) || this.batches.get(b.id) !== b || b.pending > 0) return;
      const total = Object.values(b.ended).reduce((s, n) => s + (n ?? 0), 0);
      const ok = b.ended.SUCCEEDED ?? 0;
      const status: ExecutionStatus =
        ok === total
          ? 'SUCCEEDED'
          : ok > 0
            ? 'PARTIAL_SUCCEEDED'
            : b.ended.INVALID === total
              ? 'INVALID'
              : 'FAILED';
      const others = (Object.entries(b.ended) as Array<[ExecutionStatus, number]>)
        .filter(([s, n]) => s !== 'SUCCEEDED' && n > 0)
        .map(([s, n]) => `${n} ${s}`);
      const message = `${ok} of ${total} input${total === 1 ? '' : 's'} succeeded${others.length ? `; ${others.join(', ')}` : ''}`;
      this.executions.endVirtual(b.id, status, { message });
    });
  }
}
