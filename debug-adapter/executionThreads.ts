/**
 * The executions of the debugged tree as DAP threads. Each development-mode FLOW or SCRIPT
 * execution is a thread from the moment it runs (the top one from launch) until it ends.
 * Records arrive from `execution` events (and, on attach, from a REST listing); an older
 * snapshot of a record never overrides a newer one.
 */
import { isEnded, type ExecutionRecord } from '@flows/protocol';

export interface FlowThread {
  id: number;
  executionId: string;
  name: string;
}

export type ThreadChange =
  | { kind: 'started'; thread: FlowThread }
  | { kind: 'exited'; thread: FlowThread }
  | { kind: 'topEnded'; record: ExecutionRecord };

const RUNS = new Set(['RUNNING', 'BLOCKED', 'PAUSED']);

export class ExecutionThreads {
  private readonly records = new Map<string, ExecutionRecord>();
  private readonly live = new Map<string, FlowThread>();
  private readonly byId = new Map<number, FlowThread>();
  private nextId = 1;

  constructor(readonly topId: string) {}

  /** Apply a record of any execution; those of other trees are ignored. */
  update(rec: ExecutionRecord): ThreadChange[] {
    if (rec.top_execution_id !== this.topId) return [];
    const known = this.records.get(rec.id);
    if (known && known.updated_at > rec.updated_at) return [];
    this.records.set(rec.id, rec);
    const changes: ThreadChange[] = [];
    const thread = this.live.get(rec.id);
    if (isEnded(rec.status)) {
      if (thread) changes.push({ kind: 'exited', thread: this.drop(thread) });
      if (rec.id === this.topId) changes.push({ kind: 'topEnded', record: rec });
    } else if (!thread && this.debuggable(rec) && (rec.id === this.topId || RUNS.has(rec.status))) {
      changes.push({ kind: 'started', thread: this.add(rec) });
    }
    return changes;
  }

  /** The thread of a tree member, started now if its first record said it had not run yet. */
  threadOf(executionId: string): { thread?: FlowThread; started?: FlowThread } {
    const thread = this.live.get(executionId);
    if (thread) return { thread };
    const rec = this.records.get(executionId);
    if (!rec || isEnded(rec.status) || !this.debuggable(rec)) return {};
    const started = this.add(rec);
    return { thread: started, started };
  }

  byThreadId(id: number): FlowThread | undefined {
    return this.byId.get(id);
  }

  record(executionId: string): ExecutionRecord | undefined {
    return this.records.get(executionId);
  }

  isMember(executionId: string): boolean {
    return this.records.has(executionId);
  }

  threads(): FlowThread[] {
    return [...this.live.values()];
  }

  /** Every thread still live, now removed (the session ends). */
  exitAll(): FlowThread[] {
    return [...this.live.values()].map((t) => this.drop(t));
  }

  private debuggable(rec: ExecutionRecord): boolean {
    return (rec.type === 'FLOW' || rec.type === 'SCRIPT') && !rec.is_productive;
  }

  private add(rec: ExecutionRecord): FlowThread {
    const thread = {
      id: this.nextId++,
      executionId: rec.id,
      name: `${rec.flow_name ?? rec.name} (${rec.id.slice(0, 8)})`,
    };
    this.live.set(rec.id, thread);
    this.byId.set(thread.id, thread);
    return thread;
  }

  private drop(thread: FlowThread): FlowThread {
    this.live.delete(thread.executionId);
    this.byId.delete(thread.id);
    return thread;
  }
}
