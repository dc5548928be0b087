/**
 * An engine for unit tests: the in-memory store, fake workers (fakeWorkers.ts) and a temporary
 * flows folder of empty files (the engine checks a flow exists; the fake workers run a script
 * in its place). Illegal status changes throw (lifecycle.ts), so a test fails where one is made.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  isEnded,
  type ExecutionRecord,
  type ExecutionStatus,
  type ListExecutionsQuery,
} from '../../protocol';
import { Engine, type EngineOptions } from '../../runner/src/engine/engine';
import { MemoryStore } from '../../runner/src/store/memoryStore';
import type { Store } from '../../runner/src/store/store';
import { FakeWorkers, Watch } from './fakeWorkers';

export interface TestEngine {
  engine: Engine<FakeWorkers>;
  workers: FakeWorkers;
  store: Store;
  flowsDir: string;
  /** Every 'execution' event's record, in order. */
  events: ExecutionRecord[];
  /** The statuses `id` went through, as announced (repeats removed). */
  statuses(id: string): ExecutionStatus[];
  /** Resolves with the first announced record (past or future) that matches. */
  seen(pred: (rec: ExecutionRecord) => boolean): Promise<ExecutionRecord>;
  /** Resolves once `id` has ended (and its end is announced). */
  ended(id: string): Promise<ExecutionRecord>;
  /** Executions matching `filter` (a parent's children, a tree), oldest first. */
  list(
    filter: Pick<ListExecutionsQuery, 'parent_execution_id' | 'top_execution_id'>,
  ): Promise<ExecutionRecord[]>;
  logs: string[];
  stop(): Promise<void>;
}

export function tempFlows(names: readonly string[]): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flows-engine-'));
  for (const name of names) fs.writeFileSync(path.join(dir, `${name}.py`), '');
  return dir;
}

/**
 * For a describe(): `make(opts)` makes a test engine (as testEngine does) that is stopped after
 * the test that made it.
 */
export function testEngines(): (opts?: TestEngineOptions) => TestEngine {
  const made: TestEngine[] = [];
  afterEach(async () => {
    for (const t of made.splice(0)) await t.stop();
  });
  return (opts) => {
    const t = testEngine(opts);
    made.push(t);
    return t;
  };
}

export type TestEngineOptions = {
  flows?: readonly string[];
  workers?: FakeWorkers;
  store?: Store;
  flowsDir?: string;
} & Partial<Pick<EngineOptions, 'concurrency' | 'maxWaiting' | 'debugConfigFor'>>;

export function testEngine(opts: TestEngineOptions = {}): TestEngine {
  const flowsDir = opts.flowsDir ?? tempFlows(opts.flows ?? []);
  const workers = opts.workers ?? new FakeWorkers();
  const store = opts.store ?? new MemoryStore();
  const logs: string[] = [];
  const engine = new Engine({
    store,
    workers,
    flowsDir,
    filesDir: path.join(flowsDir, '.files'),
    concurrency: opts.concurrency ?? 4,
    maxWaiting: opts.maxWaiting,
    debugConfigFor: opts.debugConfigFor,
    log: (m) => logs.push(m),
    illegalTransitions: 'throw',
  });
  const events: ExecutionRecord[] = [];
  const watch = new Watch();
  engine.on('execution', (_event, rec) => {
    events.push(rec);
    watch.changed();
  });
  const seen = (pred: (rec: ExecutionRecord) => boolean) => watch.until(() => events.find(pred));
  return {
    engine,
    workers,
    store,
    flowsDir,
    events,
    logs,
    statuses: (id) =>
      events
        .filter((r) => r.id === id)
        .map((r) => r.status)
        .filter((s, i, all) => i === 0 || all[i - 1] !== s),
    seen,
    ended: (id) => seen((r) => r.id === id && isEnded(r.status)),
    list: async (filter) =>
      (await engine.list({ ...filter, limit: 1000, offset: 0, sort: 'created_at' })).items,
    stop: async () => {
      await engine.shutdown();
      fs.rmSync(flowsDir, { recursive: true, force: true });
    },
  };
}

/** Resolves after the event loop has gone round `turns` times (timers and I/O included). */
export async function settle(turns = 5): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise((r) => setImmediate(r));
}

/** A promise and its resolve, to hold a fake flow until a test lets it go on. */
export function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((r) => (open = r));
  return { promise, open };
}
