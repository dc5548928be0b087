/**
 * The children of an async run, up to 100,000 of them: one QUEUED FLOW child of the parent per
 * input (INVALID where `invalid` names a reason), made in bulk. The flow is looked up once, the
 * rows go to the store as bulk inserts, and no event is emitted per child — 100,000 'created'
 * events would swamp every WebSocket client. Subscribers see each child from its first
 * 'updated' event, when it starts.
 *
 * Building 100,000 records takes the thread for most of a second, so they are made in slices
 * of CHILDREN_SLICE_MS with the event loop free in between (a cheap request must not wait
 * behind them), all after createChildren returns. The store is told the whole count up front:
 * a runner that stops between slices leaves a mark that fails the run on restart rather than
 * running part of its inputs. A parent paused meanwhile gets its later children PAUSED; one
 * that ended gets them STOPPED.
 */
import { performance } from 'node:perf_hooks';
import type { Store, StoredExecution } from '../store/store';
import type { ExecutionPort } from './dispatcher';
import { Unavailable } from './errors';
import type { ChildrenSpec } from './executions';
import type { Active, ExecutionTable } from './executionTable';
import type { FlowLookup } from './flowFiles';
import { uuidv7 } from './ids';
import { childRecord } from './newExecutions';

/** How long one slice of an async run's children may hold the thread. */
const CHILDREN_SLICE_MS = 6;

export interface BulkChildrenDeps {
  table: ExecutionTable;
  store: Pick<Store, 'expectBulk' | 'insertExecutions'>;
  port: Pick<ExecutionPort, 'queue' | 'pump' | 'stopped'>;
  resolveFlow(name: string): FlowLookup;
  prepareJob(a: Active): void;
}

/** Resolves with how many children were INVALID once all are made (not yet durable). */
export function createChildren(
  deps: BulkChildrenDeps,
  parent: Active,
  spec: ChildrenSpec,
  inputs: readonly unknown[],
  invalid?: (input: unknown, index: number) => string | undefined,
): Promise<{ invalid: number }> {
  const { table, store, port } = deps;
  const found = deps.resolveFlow(spec.flow_name);
  const parentId = parent.rec.id;
  let invalidCount = 0;
  let job: Active['job'];
  let next = 0;
  if (inputs.length > 0) {
    store.expectBulk(parentId, inputs.length);
    table.madeChild(parentId);
  }
  const slice = (): void => {
    const sliceStart = performance.now();
    const ts = new Date().toISOString();
    const recs: StoredExecution[] = [];
    // Looked up once per slice: the parent may have been paused or cancelled in between.
    const live = table.get(parentId);
    const held = live?.rec.status === 'PAUSED';
    for (; next < inputs.length; next++) {
      if ((next & 255) === 0 && recs.length > 0 && performance.now() - sliceStart > CHILDREN_SLICE_MS) break;
      const i = next;
      const reason = found.ok ? invalid?.(inputs[i], i) : found.reason;
      // Born CREATED, INVALID or STOPPED: a status it starts with, not a transition to check.
      const rec = childRecord(parent.rec, spec, i, inputs[i], uuidv7(), ts, reason, !!live);
      recs.push(rec);
      if (reason) {
        invalidCount++;
        continue;
      }
      if (!live) continue;
      const a = table.add(rec, parent.depth + 1, true);
      // Every child runs the same file: prepare the job once and copy it.
      if (!job) {
        deps.prepareJob(a);
        job = a.job;
      } else a.job = { ...job, execution_id: rec.id };
      if (held) {
        rec.status = 'PAUSED';
        rec.paused_from = 'QUEUED';
      } else {
        rec.status = 'QUEUED';
        port.queue(a);
      }
    }
    store.insertExecutions(recs);
    port.pump();
  };
  return new Promise((resolve, reject) => {
    const more = (): void => {
      // The rest stays unwritten and the store's mark fails the run at the next start: it
      // was never acknowledged.
      if (port.stopped) {
        reject(new Unavailable("the runner stopped while this run's inputs were being stored"));
        return;
      }
      try {
        slice();
      } catch (err) {
        reject(err);
        return;
      }
      if (next < inputs.length) setTimeout(more, 0);
      else resolve({ invalid: invalidCount });
    };
    // In the timers phase of the next turns of the event loop, not in this one's: the request
    // that brought the inputs has just parsed them, and the store's slice of rows comes in
    // the check phase. A request that arrives meanwhile waits for one of them, not all three.
    setTimeout(more, 0);
  });
}
