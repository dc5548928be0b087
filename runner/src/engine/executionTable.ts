/**
 * The executions that have not ended, as the engine holds them (the store is written behind), and
 * their tree: which active children each active execution has, for cascading cancel and pause.
 * Engine-internal: outside runner/src/engine an execution is its id and its public record.
 */
import type { ExecutionRecord, WorkerJob } from '@flows/protocol';
import type { StoredExecution } from '../store/store';
import type { WebhookResponse } from './events';
import type { LongTimer } from './longTimer';

/** In-memory state of an execution that has not ended. */
export interface Active {
  rec: StoredExecution;
  /** Creation order, the tie-break of equal priorities in the run queue. */
  seq: number;
  logSeq: number;
  job?: Omit<WorkerJob, 'record'>;
  invalidReason?: string;
  /** Holds one of the `concurrency` slots. */
  slot: boolean;
  /** Its worker process exists. */
  hasProcess: boolean;
  /** Paused by `this.pause()` (resumed by a message) rather than by SIGSTOP. */
  pausedByFlow: boolean;
  /** How many `execution.wait` / `message.wait` calls are blocking it. */
  waits: number;
  /** Nesting level: 1 for a top execution, its parent's + 1 for a child. */
  depth: number;
  endWaiters: Array<(rec: ExecutionRecord) => void>;
  runtimeTimer?: LongTimer;
  scheduleTimer?: NodeJS.Timeout;
  webhookResponse?: WebhookResponse;
  /**
   * Whether a child of it was ever made: known (false until one is) for an execution made in
   * this runner's life, unknown for one restored from the store. Its end event carries it, so
   * that a tree watching it drops the expand arrow of a row that ends with none.
   */
  hadChildren?: boolean;
}

/** The record as the API shows it: without what only the runner needs. */
export function publicRecord(r: StoredExecution): ExecutionRecord {
  const { paused_from: _pausedFrom, virtual: _virtual, ...rec } = r;
  return rec;
}

export class ExecutionTable {
  private readonly byId = new Map<string, Active>();
  /** Active children of each active execution. */
  private readonly childrenOf = new Map<string, Set<string>>();
  private seqCounter = 0;

  /**
   * Start holding `rec` (not ended); `depth` is its nesting level. `fresh`: made just now (it
   * has no children yet), not restored from the store.
   */
  add(rec: StoredExecution, depth = 1, fresh = false): Active {
    const a: Active = {
      rec,
      seq: ++this.seqCounter,
      logSeq: 0,
      slot: false,
      hasProcess: false,
      pausedByFlow: false,
      waits: 0,
      depth,
      endWaiters: [],
    };
    if (fresh) a.hadChildren = false;
    this.byId.set(rec.id, a);
    if (rec.parent_execution_id) {
      this.madeChild(rec.parent_execution_id);
      let set = this.childrenOf.get(rec.parent_execution_id);
      if (!set) this.childrenOf.set(rec.parent_execution_id, (set = new Set()));
      set.add(rec.id);
    }
    return a;
  }

  /** A child of `parentId` was made (one the table may not hold: an INVALID one, say). */
  madeChild(parentId: string): void {
    const parent = this.byId.get(parentId);
    if (parent?.hadChildren === false) parent.hadChildren = true;
  }

  /** It ended: no longer held, no longer a child of its parent. */
  remove(a: Active): void {
    this.byId.delete(a.rec.id);
    if (a.rec.parent_execution_id) this.childrenOf.get(a.rec.parent_execution_id)?.delete(a.rec.id);
  }

  get(id: string): Active | undefined {
    return this.byId.get(id);
  }

  has(id: string): boolean {
    return this.byId.has(id);
  }

  /** Whether `a` is still the one held for its id (it has not ended, nor been replaced). */
  holds(a: Active): boolean {
    return this.byId.get(a.rec.id) === a;
  }

  values(): IterableIterator<Active> {
    return this.byId.values();
  }

  /** The active children of `id`, as a copy (cascades end some while walking them). */
  children(id: string): Active[] {
    const out: Active[] = [];
    for (const childId of this.childrenOf.get(id) ?? []) {
      const child = this.byId.get(childId);
      if (child) out.push(child);
    }
    return out;
  }

  /** Read-only view for the CLI (`flows run` waits for a tree's fire-and-forget children). */
  view(): ReadonlyMap<string, { readonly rec: Readonly<StoredExecution> }> {
    return this.byId;
  }
}
