/**
 * Every Store backend against the one contract (storeContract.ts); then MemoryStore against
 * SqliteStore, for what the contract leaves to the backend but engine tests may still notice.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import {
  EXECUTION_SORT_FIELDS,
  RUN_SORT_FIELDS,
  type ExecutionStatus,
  type ListExecutionsQuery,
  type ListRunsQuery,
  type LogLine,
} from '../../protocol';
import { MemoryStore } from '../../runner/src/store/memoryStore';
import { SqliteStore } from '../../runner/src/store/sqliteStore';
import { ThreadedStore } from '../../runner/src/store/threadedStore';
import {
  LIST_PAGE_BYTES,
  type ListPage,
  type Store,
  type StoredRecord,
  type StoredRun,
  type StoredSchedule,
  type StoredWebhook,
} from '../../runner/src/store/store';
import { Prng } from '../fuzz/prng';
import { tempDir } from '../runner/harness';
import { exec, storeContract, ts } from './storeContract';

/** Where SqliteStore (and MemoryStore, which counts as it does) stops counting a filter's matches. */
const COUNT_LIMIT = 10_000;

storeContract(
  'SqliteStore',
  async () => {
    const file = path.join(tempDir('flows-store-contract-'), 'flows.db');
    const store = new SqliteStore(file);
    return {
      store,
      reopen: async () => {
        await store.close();
        return new SqliteStore(file);
      },
    };
  },
  { countLimit: COUNT_LIMIT, restarts: true },
);

// The runner's store: SqliteStore on a thread of its own, reached through messages.
storeContract(
  'ThreadedStore',
  async () => {
    const file = path.join(tempDir('flows-store-contract-'), 'flows.db');
    const store = await ThreadedStore.open(file);
    return {
      store,
      reopen: async () => {
        await store.close();
        return ThreadedStore.open(file);
      },
    };
  },
  { countLimit: COUNT_LIMIT, restarts: true },
);

storeContract('MemoryStore', async () => ({ store: new MemoryStore() }), { countLimit: COUNT_LIMIT });

/**
 * MemoryStore stands in for SqliteStore in engine tests, so it must answer the same, beyond what
 * the contract fixes: the same tie-breaks, cursors, capped totals and byte budgets. The same
 * writes go to both; random queries must give equal pages, byte for byte in their cursors.
 */
describe('MemoryStore answers as SqliteStore does', function () {
  this.timeout(300_000);
  let sqlite: SqliteStore;
  let memory: MemoryStore;
  const both = (write: (s: Store) => void) => {
    write(sqlite);
    write(memory);
  };
  const rnd = new Prng('store-differential');
  /** Names whose order differs between UTF-16 (JavaScript) and UTF-8 (SQLite) among others. */
  const NAMES = ['alpha', 'Beta', 'é', '\uE000x', '😀', 'z', '', 'alpha beta'];
  const STATUSES: ExecutionStatus[] = ['CREATED', 'QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'INVALID'];
  const PARENTS = ['none', 'p0', 'p1', 'p2', 'bulk', 'nope'];
  const FLOWS = ['x', 'y', 'big', 'nope'];

  before(async () => {
    sqlite = new SqliteStore(path.join(tempDir('flows-store-differential-'), 'flows.db'));
    memory = new MemoryStore();
    const tops: string[] = [];
    for (let i = 0; i < 400; i++) {
      const parent =
        i < 3 ? null : rnd.chance(0.3) ? null : rnd.pick(['p0', 'p1', 'p2', `e${rnd.int(3, i - 1)}`]);
      const id = i < 3 ? `p${i}` : `e${i}`;
      if (parent === null) tops.push(id);
      const rec = exec(id, {
        name: rnd.pick(NAMES),
        status: rnd.pick(STATUSES),
        type: rnd.pick(['FLOW', 'SCRIPT', 'CONNECTION'] as const),
        flow_name: rnd.chance(0.1) ? null : rnd.pick(['x', 'y']),
        parent_execution_id: parent,
        top_execution_id: parent ?? id,
        schedule_id: rnd.chance(0.2) ? rnd.pick(['s1', 's2']) : null,
        is_productive: rnd.chance(0.5),
        priority: rnd.int(-2, 2),
        input_value: rnd.chance(0.5) ? { n: i, text: rnd.pick(NAMES) } : undefined,
        output_value: rnd.chance(0.3) ? [i] : null,
        message: rnd.chance(0.2) ? `message ${i}` : null,
        created_at: ts(rnd.int(0, 20)),
        updated_at: ts(rnd.int(30, 40)),
        virtual: rnd.chance(0.1),
        paused_from: rnd.chance(0.1) ? 'RUNNING' : null,
      });
      both((s) => s.putExecution(rec));
    }
    // A page of these passes the byte budget after 3 (2.4 MB each in UTF-8, 1.2 M characters).
    for (let k = 0; k < 5; k++) {
      const rec = exec(`big${k}`, {
        flow_name: 'big',
        output_value: 'é'.repeat(1_200_000),
        created_at: ts(rnd.int(0, 20)),
      });
      both((s) => s.putExecution(rec));
    }
    for (const id of rnd.sample(tops, 60)) {
      const r: StoredRun = {
        id,
        action_name: rnd.pick(['echo', 'other']),
        execution_mode: rnd.pick(['LIVE', 'ASYNC', 'SCHEDULE'] as const),
        inputs_count: rnd.int(1, 5),
        schedule_id: rnd.chance(0.3) ? 's1' : null,
        callback: rnd.chance(0.3) ? 'https://example.com/cb' : null,
        created_at: ts(rnd.int(0, 5)),
      };
      both((s) => s.putRun(r));
    }
    // A run whose execution is missing: counted, not shown.
    both((s) =>
      s.putRun({
        id: 'ghost',
        action_name: 'echo',
        execution_mode: 'LIVE',
        inputs_count: 1,
        schedule_id: null,
        callback: null,
        created_at: ts(3),
      }),
    );
    await sqlite.flush();
    // More than a capped count counts, spread over types, flows and tied timestamps: which rows
    // fall under the cap depends on the order the count walks them in.
    const children = Array.from({ length: 10_400 }, (_, k) =>
      exec(`bulk-${k}`, {
        parent_execution_id: 'bulk',
        top_execution_id: 'bulk',
        status: rnd.pick(['QUEUED', 'INVALID'] as const),
        type: rnd.pick(['FLOW', 'SCRIPT'] as const),
        flow_name: rnd.pick(['x', 'y']),
        is_productive: rnd.chance(0.5),
        created_at: ts(rnd.int(0, 20)),
      }),
    );
    both((s) => s.putExecution(exec('bulk', { virtual: true, status: 'RUNNING' })));
    await sqlite.flush();
    both((s) => s.insertExecutions(children));
    await sqlite.flush();
    // Changes after: statuses move (runs follow), rows keep their place.
    for (const id of rnd.sample(tops, 80)) {
      const rec = (await memory.getExecution(id))!;
      const changed = { ...rec, status: rnd.pick(STATUSES), updated_at: ts(rnd.int(30, 50)) };
      both((s) => s.putExecution(changed));
    }
    for (let i = 0; i < 30; i++) {
      const line: LogLine = {
        execution_id: `e${rnd.int(3, 399)}`,
        seq: rnd.int(1, 5),
        ts: ts(i),
        stream: 'stdout',
        text: `t${i}`,
      };
      both((s) => s.appendLog(line));
    }
    await sqlite.flush();
  });
  after(() => sqlite?.close());

  /** deepEqual, through JSON first: pages of 1,000 records compare much faster as one string. */
  function same(actual: unknown, expected: unknown, what: string): void {
    if (JSON.stringify(actual) !== JSON.stringify(expected)) assert.deepEqual(actual, expected, what);
  }

  function randomQuery(): ListExecutionsQuery {
    const q: ListExecutionsQuery = {
      limit: rnd.pick([1, 3, 50, 1000]),
      offset: rnd.pick([0, 0, 0, 2, 30, 9_990]),
      sort: `${rnd.pick(['', '-'])}${rnd.pick(EXECUTION_SORT_FIELDS)}`,
    };
    if (rnd.chance(0.3)) q.status = rnd.sample(STATUSES, rnd.int(1, 3));
    if (rnd.chance(0.3)) q.type = rnd.sample(['FLOW', 'SCRIPT', 'CONNECTION'] as const, rnd.int(1, 2));
    if (rnd.chance(0.3)) q.flow_name = rnd.pick(FLOWS);
    if (rnd.chance(0.3)) q.parent_execution_id = rnd.pick(PARENTS);
    if (rnd.chance(0.15)) q.top_execution_id = rnd.pick(['p0', 'p1', 'bulk', 'e10']);
    if (rnd.chance(0.15)) q.schedule_id = rnd.pick(['s1', 's2']);
    if (rnd.chance(0.2)) q.is_productive = rnd.chance(0.5);
    return q;
  }

  it('gives the same execution pages, totals and cursors', async () => {
    const queries: ListExecutionsQuery[] = [
      // Capped counts along a several-valued index, and along one parent's children.
      { limit: 5, offset: 0, sort: '-created_at', type: ['SCRIPT', 'FLOW'], flow_name: 'x' },
      { limit: 5, offset: 0, sort: 'name', type: ['SCRIPT', 'FLOW'], top_execution_id: 'bulk' },
      { limit: 5, offset: 0, sort: 'name', parent_execution_id: 'bulk', is_productive: true },
      {
        limit: 5,
        offset: 0,
        sort: 'priority',
        parent_execution_id: 'bulk',
        status: ['QUEUED'],
        type: ['SCRIPT'],
      },
      { limit: 5, offset: 9_990, sort: 'created_at', parent_execution_id: 'bulk' },
      { limit: 1000, offset: 0, sort: 'name' },
      { limit: 1000, offset: 0, sort: '-name', parent_execution_id: 'none' },
      ...Array.from({ length: 100 }, randomQuery),
    ];
    for (const [n, q] of queries.entries()) {
      let after: string | undefined;
      for (let page = 0; page < 4; page++) {
        const query = { ...q, after };
        const what = JSON.stringify({ ...query, page });
        const a = await sqlite.listExecutions(query);
        same(await memory.listExecutions(query), a, what);
        if (n % 4 === 0) {
          const parsed = (p: ListPage<{ json: string }>) => p.items.map((i) => JSON.parse(i.json));
          same(
            parsed(await memory.listExecutionsJson(query)),
            parsed(await sqlite.listExecutionsJson(query)),
            what,
          );
        }
        if (!a.next) break;
        after = a.next;
      }
    }
  });

  it('gives the same run pages, totals and cursors', async () => {
    for (let n = 0; n < 120; n++) {
      const q: ListRunsQuery = {
        limit: rnd.pick([1, 4, 100]),
        offset: rnd.pick([0, 0, 3]),
        sort: `${rnd.pick(['', '-'])}${rnd.pick(RUN_SORT_FIELDS)}`,
      };
      if (rnd.chance(0.4)) q.status = rnd.sample(STATUSES, rnd.int(1, 3));
      if (rnd.chance(0.4))
        q.execution_mode = rnd.sample(['LIVE', 'ASYNC', 'SCHEDULE'] as const, rnd.int(1, 2));
      if (rnd.chance(0.3)) q.action_name = rnd.pick(['echo', 'other']);
      if (rnd.chance(0.1)) q.uid = rnd.pick(['ghost', 'p0', 'e5']);
      let after: string | undefined;
      for (let page = 0; page < 5; page++) {
        const query = { ...q, after };
        const a = await sqlite.listRuns(query);
        same(await memory.listRuns(query), a, JSON.stringify({ ...query, page }));
        if (!a.next) break;
        after = a.next;
      }
    }
  });

  it('gives the same single reads and small lists', async () => {
    for (const id of ['p0', 'e7', 'e100', 'bulk', 'bulk-17', 'big0', 'nope']) {
      assert.deepEqual(await memory.getExecution(id), await sqlite.getExecution(id), id);
      assert.deepEqual(await memory.getRun(id), await sqlite.getRun(id), id);
      assert.deepEqual(await memory.countChildren(id), await sqlite.countChildren(id), id);
      assert.deepEqual(
        await memory.listChildren(id, ['QUEUED', 'RUNNING'], 20),
        await sqlite.listChildren(id, ['QUEUED', 'RUNNING'], 20),
        id,
      );
      assert.deepEqual(
        (await memory.listDescendantIds(id)).sort(),
        (await sqlite.listDescendantIds(id)).sort(),
        id,
      );
    }
    assert.deepEqual(await memory.listUnfinished(), await sqlite.listUnfinished());
    for (let i = 3; i < 400; i++) {
      const id = `e${i}`;
      assert.deepEqual(await memory.getLog(id, 0, 100), await sqlite.getLog(id, 0, 100), id);
      assert.equal(await memory.lastLogSeq(id), await sqlite.lastLogSeq(id), id);
    }
  });

  it('ends pages at the same item as SQLite: the same byte estimate, in UTF-8', async () => {
    // Fresh stores: one item takes all but 12 KB of the budget, and the others, of random sizes
    // in every variable-length field, decide where the page ends.
    const sql = new SqliteStore(path.join(tempDir('flows-store-bytes-'), 'flows.db'));
    const mem = new MemoryStore();
    const r = new Prng('store-bytes');
    const text = (max: number) =>
      Array.from({ length: r.int(0, max) }, () => r.pick(['a', 'b', 'é', '😀', '\uE000'])).join('');
    const maybe = (p: number, max: number) => (r.chance(p) ? text(max) : null);
    try {
      const rows = [exec('huge', { message: 'm'.repeat(LIST_PAGE_BYTES - 12_000), created_at: ts(0) })];
      for (let k = 0; k < 40; k++) {
        const parent = r.chance(0.3) ? 'huge' : null;
        rows.push(
          exec(`s${k}`, {
            name: text(300),
            message: maybe(0.5, 300),
            script: maybe(0.3, 300),
            flow_name: maybe(0.8, 50),
            schedule_id: maybe(0.3, 50),
            webhook_id: maybe(0.3, 50),
            connector_name: maybe(0.5, 300),
            input_value: r.chance(0.5) ? { t: text(200) } : undefined,
            output_value: r.chance(0.5) ? [text(200)] : null,
            parent_execution_id: parent,
            top_execution_id: parent ?? `s${k}`,
            priority: r.int(0, 3),
            created_at: ts(1 + k),
            updated_at: ts(r.int(0, 99)),
          }),
        );
      }
      const runs: StoredRun[] = rows
        .filter((e) => e.parent_execution_id === null)
        .map((e) => ({
          id: e.id,
          action_name: text(100),
          execution_mode: 'LIVE',
          inputs_count: 1,
          schedule_id: maybe(0.3, 50),
          callback: maybe(0.5, 200),
          created_at: e.created_at,
        }));
      for (const s of [sql, mem]) {
        rows.forEach((e) => s.putExecution(e));
        runs.forEach((run) => s.putRun(run));
      }
      let cut = 0;
      for (const sort of EXECUTION_SORT_FIELDS.flatMap((f) => [f, `-${f}`])) {
        let after: string | undefined;
        do {
          const a = await sql.listExecutions({ limit: 1000, offset: 0, sort, after });
          const b = await mem.listExecutions({ limit: 1000, offset: 0, sort, after });
          assert.deepEqual([b.items.map((e) => e.id), b.next], [a.items.map((e) => e.id), a.next], sort);
          if (a.next) cut++;
          after = a.next ?? undefined;
        } while (after);
      }
      for (const sort of RUN_SORT_FIELDS.flatMap((f) => [f, `-${f}`])) {
        let after: string | undefined;
        do {
          const a = await sql.listRuns({ limit: 100, offset: 0, sort, after });
          const b = await mem.listRuns({ limit: 100, offset: 0, sort, after });
          assert.deepEqual(
            [b.items.map((i) => i.run.id), b.next],
            [a.items.map((i) => i.run.id), a.next],
            sort,
          );
          if (a.next) cut++;
          after = a.next ?? undefined;
        } while (after);
      }
      assert.ok(cut >= 16, `pages cut by the budget: ${cut}`);
    } finally {
      await sql.close();
    }
  });

  it('keeps records, schedules and webhooks as SQLite does when they are written again', async () => {
    const rec = (id: string, name: string, n: number, over: Partial<StoredRecord> = {}): StoredRecord => ({
      id,
      type: 'setting',
      name,
      data: { n },
      archived: false,
      created_at: ts(n),
      modified_at: ts(n),
      ...over,
    });
    const hook = (id: string, n: number, enabled = true): StoredWebhook => ({
      id,
      name: id,
      flow_name: 'f',
      key: null,
      enabled,
      is_productive: true,
      priority: 0,
      max_runtime_minutes: 0,
      allow_browsers: true,
      url_path: `/${id}`,
      created_at: ts(n),
      updated_at: ts(n),
    });
    const sched = (id: string, n: number, enabled = true): StoredSchedule => ({
      id,
      name: id,
      flow_name: 'f',
      kind: 'interval',
      interval: 5,
      unit: 'minutes',
      time: null,
      cron: null,
      timezone: 'UTC',
      input_value: undefined,
      inputs_count: null,
      is_productive: true,
      priority: 0,
      max_runtime_minutes: 0,
      enabled,
      max_iterations: null,
      iterations: 0,
      overlap: 'skip',
      callback: null,
      next_fire_at: null,
      last_fire_at: null,
      last_execution_id: null,
      execution_id: null,
      created_at: ts(n),
      updated_at: ts(n),
      anchor_at: ts(n),
      inputs: null,
    });
    both((s) => {
      s.putRecord(rec('r1', 'b', 1));
      s.putRecord(rec('r2', '😀', 2, { archived: true }));
      s.putRecord(rec('r3', '\uE000', 3));
      s.putRecord(rec('r4', 'v', 4, { type: 'vault' }));
      s.putWebhook(hook('w1', 5));
      s.putWebhook(hook('w2', 4));
      s.putSchedule(sched('sc', 3));
      s.putSchedule(sched('sd', 1));
    });
    await sqlite.flush();
    // Written again in a later commit: renamed, changed, moved in time.
    both((s) => {
      s.putRecord(rec('r1', 'a', 1, { data: { n: 2 }, modified_at: ts(9) }));
      s.putRecord(rec('r2', '😀', 2, { archived: false }));
      s.putWebhook(hook('w2', 6, false));
      s.putSchedule(sched('sc', 0, false));
    });
    for (const type of ['setting', 'vault']) {
      for (const includeArchived of [false, true]) {
        assert.deepEqual(
          await memory.listRecords(type, { includeArchived }),
          await sqlite.listRecords(type, { includeArchived }),
        );
      }
    }
    for (const [type, by, key] of [
      ['setting', 'name', 'a'],
      ['setting', 'name', 'b'],
      ['setting', 'id', 'r4'],
      ['vault', 'id', 'r4'],
    ] as const) {
      assert.deepEqual(await memory.getRecord(type, by, key), await sqlite.getRecord(type, by, key));
    }
    assert.deepEqual(await memory.listWebhooks(), await sqlite.listWebhooks());
    assert.deepEqual(await memory.listSchedules(), await sqlite.listSchedules());
  });
});
