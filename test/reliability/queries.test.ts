/**
 * Lists that stay fast at millions of rows (issue 12): keyset paging (`after` / `next`), totals
 * that do not count millions of rows (exact from counters, else capped and flagged), pages
 * bounded in bytes, bulk inserts written in slices, and an index behind every filter and sort.
 * The speed itself is test/bench/queries.bench.ts; these check the behaviour on a real runner.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Database } from 'node-sqlite3-wasm';
import {
  EXECUTION_SORT_FIELDS,
  ListExecutionsQuery,
  ListRunsQuery,
  RUN_SORT_FIELDS,
  type ExecutionRecord,
} from '../../protocol';
import { MIGRATIONS } from '../../runner/src/store/migrations';
import { SqliteStore } from '../../runner/src/store/sqliteStore';
import { ThreadedStore } from '../../runner/src/store/threadedStore';
import { LIST_PAGE_BYTES, type StoredExecution } from '../../runner/src/store/store';
import { flowsFolder, startTestRunner, tempDir, type TestRunner } from '../runner/harness';
import { BAD_CURSORS, executionRecord } from '../support/records';

const FLOWS: Record<string, string> = {
  'echo.py': `
def handler(system, this, inputs):
    return inputs
`,
  'big.py': `
def handler(system, this, inputs):
    return 'x' * inputs['size']
`,
};

type Page = { items: ExecutionRecord[]; total: number; total_capped?: boolean; next?: string | null };

/** Every page of `query` by cursor; `between(page)` runs after each page (to add rows meanwhile). */
async function walk(
  t: TestRunner,
  base: string,
  query: string,
  limit: number,
  between?: (page: number) => Promise<void>,
): Promise<{ items: Array<Record<string, any>>; pages: number }> {
  const items: Array<Record<string, any>> = [];
  let after: string | null | undefined;
  let pages = 0;
  do {
    const q = `${query}&limit=${limit}${after ? `&after=${after}` : ''}`;
    const res = await t.api('GET', `${base}?${q}`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    items.push(...res.body.items);
    after = res.body.next;
    pages++;
    assert.ok(pages < 10_000, 'the cursor must move on');
    await between?.(pages);
  } while (after);
  return { items, pages };
}

/** The value a sort compares, as the runner stores it. */
function sortValue(item: Record<string, any>, field: string): string | number {
  return item[field] as string | number;
}

function assertSorted(items: Array<Record<string, any>>, sort: string): void {
  const desc = sort.startsWith('-');
  const field = desc ? sort.slice(1) : sort;
  for (let i = 1; i < items.length; i++) {
    const a = sortValue(items[i - 1], field);
    const b = sortValue(items[i], field);
    assert.ok(desc ? a >= b : a <= b, `sort=${sort}: ${String(a)} then ${String(b)} (items ${i - 1}, ${i})`);
  }
}

describe('reliability: list queries at scale (keyset paging, counts, byte budget, indexes)', function () {
  this.timeout(180_000);
  let t: TestRunner;
  /** Ids of the rows that exist before any walk starts. */
  let existing: string[];
  let runUid: string;

  before(async () => {
    t = await startTestRunner({ flowsDir: flowsFolder(FLOWS, 'flows-queries-'), concurrency: 4 });
    // 40 executions that stay CREATED (varied priority and name), and an async run of 150 inputs
    // whose children share one created_at (ties all the way down), every 10th input INVALID.
    for (let k = 0; k < 40; k++) {
      const res = await t.api('POST', '/api/latest/execution', {
        flow_name: 'echo',
        name: `e-${k % 7}`,
        priority: k % 5,
        start: false,
      });
      assert.equal(res.status, 201);
    }
    const run = await t.api('POST', '/v1/actions/echo/run/async', {
      inputs: Array.from({ length: 150 }, (_, n) => (n % 10 === 0 ? `bad ${n}` : { n })),
      priority: 2,
    });
    assert.equal(run.status, 202, JSON.stringify(run.body));
    runUid = run.body.uid;
    await t.waitForStatus(runUid, 'ENDED');
    const all = await t.api('GET', '/api/latest/execution?limit=1000');
    existing = all.body.items.map((r: ExecutionRecord) => r.id);
    assert.equal(existing.length, 191);
    assert.equal(all.body.total, 191);
    assert.equal(all.body.total_capped, false);
    assert.equal(all.body.next, null);
  });
  after(() => t?.stop());

  it('walks every row exactly once under each sort, in order, while new rows arrive', async () => {
    let added = 0;
    const addRows = async (page: number) => {
      if (page % 3 !== 1) return;
      for (let k = 0; k < 3; k++) {
        const res = await t.api('POST', '/api/latest/execution', {
          flow_name: 'echo',
          name: `new-${added}`,
          priority: (added++ * 3) % 7,
          start: false,
        });
        assert.equal(res.status, 201);
      }
    };
    for (const field of EXECUTION_SORT_FIELDS) {
      for (const sort of [field, `-${field}`]) {
        const { items, pages } = await walk(t, '/api/latest/execution', `sort=${sort}`, 7, addRows);
        const ids = items.map((r) => r.id as string);
        assert.equal(new Set(ids).size, ids.length, `sort=${sort}: an item came twice`);
        const seen = new Set(ids);
        for (const id of existing) assert.ok(seen.has(id), `sort=${sort}: ${id} was skipped`);
        assertSorted(items, sort);
        assert.ok(pages >= 191 / 7, `sort=${sort}: ${pages} pages`);
      }
    }
    assert.ok(added > 0);
  });

  it('walks one parent’s children (all created in the same millisecond) and the runs by cursor', async () => {
    const children = await walk(
      t,
      '/api/latest/execution',
      `parent_execution_id=${runUid}&sort=created_at`,
      11,
    );
    const ids = children.items.map((r) => r.id);
    assert.equal(ids.length, 150);
    assert.equal(new Set(ids).size, 150);
    assert.equal(new Set(children.items.map((r) => r.created_at)).size, 1, 'one created_at for all');
    // Creation order within the tie: the inputs' order.
    assert.deepEqual(
      children.items.map((r) => r.name),
      Array.from({ length: 150 }, (_, n) => `echo [${n}]`),
    );
    for (const field of RUN_SORT_FIELDS) {
      for (const sort of [field, `-${field}`]) {
        const runs = await walk(t, '/v1/runs', `sort=${sort}`, 1);
        assert.deepEqual(
          runs.items.map((r) => r.uid),
          [runUid],
        );
      }
    }
  });

  it('refuses a bad cursor with a 400 that names `after`', async () => {
    const page = await t.api('GET', '/api/latest/execution?sort=-priority&limit=2');
    const cursor: string = page.body.next;
    assert.ok(cursor);
    for (const after of BAD_CURSORS) {
      const res = await t.api('GET', `/api/latest/execution?sort=-priority&after=${after}`);
      assert.equal(res.status, 400, after);
      assert.equal(res.body.issues[0].path, 'after', after);
    }
    const otherSort = await t.api('GET', `/api/latest/execution?sort=name&after=${cursor}`);
    assert.equal(otherSort.status, 400);
    assert.equal(otherSort.body.issues[0].path, 'after');
    assert.match(otherSort.body.message, /sort=-priority, not sort=name/);
    const runs = await t.api('GET', '/v1/runs?after=garbage!');
    assert.equal(runs.status, 400);
    assert.equal(runs.body.issues[0].path, 'after');
    // The same cursor with its own sort goes on where the page ended.
    const nextPage = await t.api('GET', `/api/latest/execution?sort=-priority&limit=2&after=${cursor}`);
    assert.equal(nextPage.status, 200);
    const both = await t.api('GET', '/api/latest/execution?sort=-priority&limit=4');
    assert.deepEqual(
      [...page.body.items, ...nextPage.body.items].map((r: ExecutionRecord) => r.id),
      both.body.items.map((r: ExecutionRecord) => r.id),
    );
  });

  it('stops a page of big outputs at the byte budget; the cursor goes on', async () => {
    const size = 3 * 1024 * 1024;
    const ids: string[] = [];
    for (let k = 0; k < 4; k++) {
      const rec = await t.run({ flow_name: 'big', input_value: { size } });
      assert.equal(rec.status, 'SUCCEEDED', rec.message ?? '');
      ids.push(rec.id);
    }
    const pages: Array<{ ids: string[]; bytes: number }> = [];
    let after: string | null = null;
    do {
      const res = await fetch(
        `${t.runner.url}/api/latest/execution?flow_name=big&sort=created_at&limit=10${after ? `&after=${after}` : ''}`,
        { headers: { authorization: `Bearer ${t.runner.token}` } },
      );
      const text = await res.text();
      const body = JSON.parse(text) as Page;
      pages.push({ ids: body.items.map((r) => r.id), bytes: Buffer.byteLength(text) });
      assert.equal(body.total, 4);
      for (const item of body.items) assert.equal((item.output_value as string).length, size);
      after = body.next ?? null;
    } while (after);
    // 3 MB each: two fit in 8 MB, a third would not.
    assert.deepEqual(
      pages.map((p) => p.ids.length),
      [2, 2],
    );
    assert.deepEqual(
      pages.flatMap((p) => p.ids),
      ids,
    );
    for (const p of pages) assert.ok(p.bytes <= LIST_PAGE_BYTES, `a page of ${p.bytes} bytes`);
    // One item bigger than the budget still comes, alone; the single GET returns it whole.
    const one = await t.api('GET', `/api/latest/execution/${ids[0]}`);
    assert.equal(one.body.output_value.length, size);
  });

  it('counts exactly from counters, and caps other counts with total_capped', async () => {
    const q = async (query: string): Promise<Page> =>
      (await t.api('GET', `/api/latest/execution?${query}`)).body;
    const everything = await q('limit=1');
    assert.equal(everything.total_capped, false);
    const byStatus = await q('status=INVALID&limit=1');
    assert.deepEqual([byStatus.total, byStatus.total_capped], [15, false]);
    const topInvalid = await q('parent_execution_id=none&status=INVALID,CREATED&limit=1');
    assert.equal(topInvalid.total_capped, false);
    assert.equal(topInvalid.total, everything.total - 150 - 4 - 1 /* the run */ - 0);
    const few = await q(`parent_execution_id=${runUid}&status=INVALID&limit=5`);
    assert.deepEqual([few.total, few.total_capped, few.items.length], [15, false, 5]);

    // 10,050 children (every input invalid: nothing runs) are more than a capped count counts.
    const big = await t.api('POST', '/v1/actions/echo/run/async', {
      inputs: Array.from({ length: 10_050 }, (_, n) => n),
    });
    assert.equal(big.status, 202);
    const uid: string = big.body.uid;
    await t.waitForStatus(uid, 'INVALID');
    const capped = await q(`parent_execution_id=${uid}&limit=5`);
    assert.equal(capped.total_capped, true);
    assert.equal(capped.total, 10_000, 'a lower bound: what was counted');
    assert.equal(capped.items.length, 5);
    const deep = await q(`parent_execution_id=${uid}&offset=9990&limit=50&sort=created_at`);
    assert.equal(deep.total_capped, true);
    assert.equal(deep.total, 9990 + 50 + 1, 'at least those skipped, shown and one more');
    const last = await q(`parent_execution_id=${uid}&offset=10040&limit=50&sort=created_at`);
    assert.equal(last.items.length, 10);
    assert.equal(last.next, null);
    const exact = await q('status=INVALID&limit=1');
    assert.deepEqual([exact.total, exact.total_capped], [15 + 10_050 + 1, false]);
    // Every child by cursor: as many as the run has.
    const all = await walk(t, '/api/latest/execution', `parent_execution_id=${uid}&sort=-created_at`, 1000);
    assert.equal(all.items.length, 10_050);
    assert.equal(new Set(all.items.map((r) => r.id)).size, 10_050);
    const runs = (await t.api('GET', '/v1/runs?status=INVALID&execution_mode=ASYNC')).body;
    assert.deepEqual([runs.total, runs.total_capped], [1, false]);
    const run = (await t.api('GET', `/v1/runs/${uid}`)).body;
    assert.deepEqual(run.counts, { INVALID: 10_050 });
  });

  it('serves every filter and sort from an index: no full scan of executions or runs', async () => {
    const store = t.runner.engine.store as ThreadedStore;
    const big = (await t.api('GET', '/v1/runs?execution_mode=ASYNC&status=INVALID')).body.items[0].uid;
    const someone = existing[0];
    const filters = [
      '',
      'status=SUCCEEDED',
      'status=FAILED,INVALID',
      'type=FLOW',
      'type=SCRIPT,CONNECTION',
      'flow_name=echo',
      'parent_execution_id=none',
      `parent_execution_id=${runUid}`,
      `parent_execution_id=${big}`,
      'parent_execution_id=none&status=INVALID',
      `parent_execution_id=${big}&status=INVALID`,
      `top_execution_id=${someone}`,
      'schedule_id=nope',
      'is_productive=true',
      'is_productive=false',
      `parent_execution_id=${big}&is_productive=true`,
      'flow_name=echo&status=CREATED&is_productive=true',
    ];
    const scan = /\bSCAN (executions|runs|e|r)\b(?! USING)/;
    const checked: string[] = [];
    for (const filter of filters) {
      for (const field of EXECUTION_SORT_FIELDS) {
        for (const sort of [field, `-${field}`]) {
          for (const extra of ['', '&offset=20', '&offset=9000']) {
            const query = ListExecutionsQuery.parse(
              Object.fromEntries(new URLSearchParams(`${filter}&sort=${sort}${extra}`)),
            );
            const plans = await store.explain('executions', query);
            assert.ok(plans.length >= 1, `${filter}&sort=${sort}${extra}: no statement`);
            for (const p of plans) assert.doesNotMatch(p, scan, `${filter}&sort=${sort}${extra}:\n${p}`);
            checked.push(...plans);
          }
        }
      }
    }
    // Each page reads its rows by rowid, and walks one of the list indexes.
    assert.ok(checked.some((p) => /USING INTEGER PRIMARY KEY/.test(p)));
    for (const index of [
      'executions_created',
      'executions_updated',
      'executions_status_created',
      'executions_priority_created',
      'executions_name_created',
      'executions_type_created',
      'executions_flow_created',
      'executions_parent_created',
      'executions_parent_status_created',
      'executions_top_created',
      'executions_schedule_created',
      'executions_productive_created',
    ]) {
      assert.ok(
        checked.some(
          (p) => p.includes(`INDEX ${index} `) || p.includes(`INDEX ${index}\n`) || p.endsWith(index),
        ),
        `${index} is never used`,
      );
    }
    for (const filter of [
      '',
      'status=INVALID',
      'execution_mode=ASYNC,LIVE',
      'action_name=echo',
      `uid=${big}`,
    ]) {
      for (const field of RUN_SORT_FIELDS) {
        for (const sort of [field, `-${field}`]) {
          const query = ListRunsQuery.parse(
            Object.fromEntries(new URLSearchParams(`${filter}&sort=${sort}`)),
          );
          for (const p of await store.explain('runs', query))
            assert.doesNotMatch(p, scan, `${filter}&sort=${sort}:\n${p}`);
        }
      }
    }
  });
});

describe('reliability: list migration and bulk inserts', function () {
  this.timeout(120_000);

  it('migrates a version-3 database: indexes, counters and run statuses from the rows there', async () => {
    const dataDir = tempDir('flows-queries-migrate-');
    const file = path.join(dataDir, 'flows.db');
    const db = new Database(file);
    for (const m of MIGRATIONS.slice(0, 3)) db.exec(m);
    db.exec('PRAGMA user_version = 3');
    const row = (i: number, status: string, parent: string | null) => [
      `id-${i}`,
      `flow ${i}`,
      'FLOW',
      status,
      'echo',
      i % 3,
      parent,
      parent ?? `id-${i}`,
      `2025-01-01T00:00:0${i}.000Z`,
    ];
    const insert = `INSERT INTO executions (id, name, type, status, flow_name, is_productive, priority,
      max_runtime_minutes, parent_execution_id, top_execution_id, created_at, updated_at)
      VALUES (?, ?, ?, ?, ?, 1, ?, 0, ?, ?, ?, ?)`;
    for (let i = 0; i < 6; i++) {
      const [id, name, type, status, flow, priority, parent, top, ts] = row(
        i,
        i < 4 ? 'SUCCEEDED' : 'FAILED',
        i < 2 ? null : 'id-0',
      );
      db.run(insert, [id, name, type, status, flow, priority, parent, top, ts, ts]);
    }
    db.run(
      `INSERT INTO runs (id, action_name, execution_mode, inputs_count, schedule_id, callback, created_at)
       VALUES ('id-0', 'echo', 'ASYNC', 4, NULL, NULL, '2025-01-01T00:00:00.000Z'),
              ('id-1', 'echo', 'LIVE', 1, NULL, NULL, '2025-01-01T00:00:01.000Z')`,
    );
    db.close();

    const t = await startTestRunner({ dataDir, flowsDir: flowsFolder(FLOWS, 'flows-queries-') });
    try {
      const q = async (query: string) => (await t.api('GET', `/api/latest/execution?${query}`)).body;
      assert.deepEqual([(await q('limit=1')).total, (await q('limit=1')).total_capped], [6, false]);
      assert.equal((await q('status=FAILED')).total, 2);
      assert.equal((await q('parent_execution_id=none')).total, 2);
      assert.deepEqual(
        (await q('sort=-priority&limit=100')).items.map((r: ExecutionRecord) => r.priority),
        [2, 2, 1, 1, 0, 0],
      );
      const runs = (await t.api('GET', '/v1/runs?sort=status')).body;
      assert.deepEqual(
        runs.items.map((r: { uid: string; status: string }) => [r.uid, r.status]),
        [
          ['id-0', 'SUCCEEDED'],
          ['id-1', 'SUCCEEDED'],
        ],
      );
      assert.equal((await t.api('GET', '/v1/runs?status=SUCCEEDED&execution_mode=LIVE')).body.total, 1);
      // The counters follow new rows and status changes.
      await t.run({ flow_name: 'echo', input_value: { a: 1 } });
      assert.equal((await q('status=SUCCEEDED')).total, 5);
      assert.equal((await q('limit=1')).total, 7);
    } finally {
      await t.stop();
    }
  });

  it('answers an async run once every child is committed, and other requests meanwhile', async () => {
    const t = await startTestRunner({ flowsDir: flowsFolder(FLOWS, 'flows-queries-'), concurrency: 1 });
    try {
      let answered = false;
      const accepted = t
        .api('POST', '/v1/actions/echo/run/async', { inputs: Array.from({ length: 20_000 }, (_, n) => n) })
        .finally(() => (answered = true));
      // Requests are answered while the rows are written (they would all queue behind one
      // transaction of 20,000 rows otherwise): at least one answer comes before the 202.
      let before = 0;
      while (!answered) {
        const res = await t.api('GET', '/api/latest/execution?limit=1');
        assert.equal(res.status, 200);
        if (!answered) before++;
      }
      const run = await accepted;
      assert.equal(run.status, 202);
      assert.ok(before > 0, 'no request was answered while the run was stored');
      const page = await t.api('GET', `/api/latest/execution?parent_execution_id=${run.body.uid}&limit=1`);
      assert.deepEqual([page.body.total, page.body.total_capped], [10_000, true], 'counted up to the cap');
      const counts = (await t.api('GET', `/v1/runs/${run.body.uid}`)).body.counts;
      assert.deepEqual(counts, { INVALID: 20_000 });
    } finally {
      await t.stop();
    }
  });

  it('keeps a run marked as being stored until the last of its children, however many calls bring them', async () => {
    const file = path.join(tempDir('flows-queries-mark-'), 'flows.db');
    const ts = '2026-01-01T00:00:00.000Z';
    const row = (id: string, parent: string | null): StoredExecution => ({
      ...executionRecord({ id, name: id, flow_name: 'echo', status: 'QUEUED', started_at: null }),
      parent_execution_id: parent,
      top_execution_id: parent ?? id,
      created_at: ts,
      updated_at: ts,
      paused_from: null,
    });
    let store = new SqliteStore(file);
    store.putExecution({ ...row('parent', null), virtual: true });
    store.expectBulk('parent', 10);
    store.insertExecutions([0, 1, 2, 3, 4].map((n) => row(`child-${n}`, 'parent')));
    await store.flush();
    // And one stopped before its first row: marked with the parent's own commit.
    store.putExecution({ ...row('empty', null), virtual: true });
    store.expectBulk('empty', 3);
    await store.flush();
    // What the engine leaves when the runner stops between two slices: 5 of the 10 written.
    await store.close();
    store = new SqliteStore(file);
    try {
      const parent = await store.getExecution('parent');
      assert.equal(parent?.status, 'FAILED');
      assert.match(parent?.message ?? '', /\(5 of 10\); the run was not accepted/);
      assert.deepEqual(await store.countChildren('parent'), { STOPPED: 5 });
      const empty = await store.getExecution('empty');
      assert.equal(empty?.status, 'FAILED');
      assert.match(empty?.message ?? '', /\(0 of 3\); the run was not accepted/);
      // A run whose rows all came, over two calls, leaves no mark behind.
      store.putExecution({ ...row('whole', null), virtual: true });
      store.expectBulk('whole', 4);
      store.insertExecutions([row('w-0', 'whole'), row('w-1', 'whole')]);
      await store.flush();
      store.insertExecutions([row('w-2', 'whole'), row('w-3', 'whole')]);
      await store.flush();
    } finally {
      await store.close();
    }
    store = new SqliteStore(file);
    try {
      assert.equal((await store.getExecution('whole'))?.status, 'QUEUED');
      assert.deepEqual(await store.countChildren('whole'), { QUEUED: 4 });
    } finally {
      await store.close();
    }
  });

  for (const op of ['pause', 'cancel'] as const) {
    it(`records every input of a run ${op === 'pause' ? 'paused' : 'cancelled'} while its inputs are being made`, async () => {
      const t = await startTestRunner({ flowsDir: flowsFolder(FLOWS, 'flows-queries-'), concurrency: 1 });
      try {
        // Made in many slices; the cascade's events (one per child made so far) stay under a
        // WebSocket client's buffer limit.
        const N = 20_000;
        const accepted = t.api('POST', '/v1/actions/echo/run/async', {
          inputs: Array.from({ length: N }, (_, n) => ({ n })),
        });
        // The run is listed from its first slice of children, long before the 202.
        let uid: string | undefined;
        while (!uid) uid = (await t.api('GET', '/v1/runs?limit=1')).body.items[0]?.uid;
        assert.equal((await t.api('POST', `/api/latest/execution/${uid}/${op}`)).status, 200);
        const run = await accepted;
        assert.equal(run.status, 202, JSON.stringify(run.body));
        assert.equal(run.body.uid, uid);
        const counts: Record<string, number> = (await t.api('GET', `/v1/runs/${uid}`)).body.counts;
        assert.equal(
          Object.values(counts).reduce((a, b) => a + b, 0),
          N,
          `every input is a child: ${JSON.stringify(counts)}`,
        );
        // Only a few ran before the pause or cancel; none runs after, none waits in the queue.
        const held = op === 'pause' ? 'PAUSED' : 'STOPPED';
        assert.ok((counts[held] ?? 0) > N - 10, JSON.stringify(counts));
        assert.deepEqual(
          Object.keys(counts).filter((s) => s !== held && s !== 'SUCCEEDED'),
          [],
          JSON.stringify(counts),
        );
        // The last inputs were made after the pause or cancel, and held from the start.
        const last = await t.api(
          'GET',
          `/api/latest/execution?parent_execution_id=${uid}&sort=-created_at&limit=1`,
        );
        assert.equal(last.body.items[0].status, held);
        if (op === 'cancel')
          assert.equal(last.body.items[0].message, 'its run ended before this input was queued');
        assert.equal((await t.api('GET', `/api/latest/execution/${uid}`)).body.status, held);
      } finally {
        await t.stop();
      }
    });
  }

  it('fails, at the next start, an async run whose children were still being written', async () => {
    const dataDir = tempDir('flows-queries-bulk-');
    const flowsDir = flowsFolder(FLOWS, 'flows-queries-');
    let t = await startTestRunner({ dataDir, flowsDir, concurrency: 1 });
    const run = await t.api('POST', '/v1/actions/echo/run/async', {
      inputs: Array.from({ length: 5 }, (_, n) => ({ n })),
    });
    await t.waitForStatus(run.body.uid, 'ENDED');
    await t.stop();
    // What a runner killed between two slices leaves: the mark, and children not yet ended.
    const db = new Database(path.join(dataDir, 'flows.db'));
    // As the store opens it: a write-ahead log through this VFS needs exclusive locking.
    db.exec('PRAGMA locking_mode = EXCLUSIVE');
    db.run(
      "INSERT INTO bulk_inserts (parent_id, rows, started_at) VALUES (?, 9, '2025-01-01T00:00:00.000Z')",
      [run.body.uid],
    );
    db.run(
      "UPDATE executions SET status = 'QUEUED', ended_at = NULL WHERE id = ? OR parent_execution_id = ?",
      [run.body.uid, run.body.uid],
    );
    db.close();
    fs.rmSync(path.join(dataDir, 'flows.db.lock'), { recursive: true, force: true });
    t = await startTestRunner({ dataDir, flowsDir, concurrency: 1 });
    try {
      const parent = (await t.api('GET', `/api/latest/execution/${run.body.uid}`)).body;
      assert.equal(parent.status, 'FAILED');
      assert.match(
        parent.message,
        /stopped while the inputs of this run were being stored \(5 of 9\); the run was not accepted/,
      );
      const children = (await t.api('GET', `/api/latest/execution?parent_execution_id=${run.body.uid}`)).body;
      assert.deepEqual(
        children.items.map((c: ExecutionRecord) => c.status),
        ['STOPPED', 'STOPPED', 'STOPPED', 'STOPPED', 'STOPPED'],
      );
      assert.equal((await t.api('GET', `/v1/runs/${run.body.uid}`)).body.status, 'FAILED');
    } finally {
      await t.stop();
    }
  });
});
