/**
 * The Store contract (runner/src/store/store.ts), as a user of the runner would notice it: what
 * is written is read back, lists filter, sort, page and count as the API promises, runs follow
 * their top execution, bulk inserts arrive whole. Every backend runs the same suite
 * (contract.test.ts); it goes through the Store interface only, so that a backend is free in
 * how it stores, plans and encodes its cursors.
 */
import assert from 'node:assert/strict';
import {
  EXECUTION_SORT_FIELDS,
  RUN_SORT_FIELDS,
  type ExecutionStatus,
  type ListExecutionsQuery,
  type ListRunsQuery,
  type LogLine,
  type MessageRecord,
} from '../../protocol';
import {
  InvalidCursorError,
  LIST_PAGE_BYTES,
  type ListPage,
  type RecordingEntry,
  type RunWithExecution,
  type Store,
  type StoredExecution,
  type StoredFlow,
  type StoredRecord,
  type StoredRun,
  type StoredSchedule,
  type StoredWebhook,
} from '../../runner/src/store/store';
import { flowHash } from '../../runner-client/flowDeploy';
import { BAD_CURSORS, executionRecord } from '../support/records';

export interface OpenedStore {
  store: Store;
  /** Closes `store` and opens the same data again (backends that keep data across restarts). */
  reopen?: () => Promise<Store>;
}

export interface ContractOptions {
  /**
   * Where the backend stops counting the matches of a filter that has no exact count: past it,
   * `total` is this bound and `total_capped` is set. Unset: it counts everything exactly.
   */
  countLimit?: number;
  /** The backend keeps its data across a restart: open() gives `reopen`. */
  restarts?: boolean;
}

/** A second from a fixed start: timestamps the tests can tie and order at will. */
export const ts = (n: number): string => new Date(Date.UTC(2026, 0, 1) + n * 1000).toISOString();

/** A top-level QUEUED execution created at ts(0); `over` sets the rest. */
export function exec(id: string, over: Partial<StoredExecution> = {}): StoredExecution {
  const { paused_from = null, virtual, ...rec } = over;
  return {
    ...executionRecord({
      id,
      name: id,
      status: 'QUEUED',
      created_at: ts(0),
      updated_at: ts(0),
      started_at: null,
      ...rec,
    }),
    paused_from,
    ...(virtual ? { virtual } : {}),
  };
}

export const eq = (over: Partial<ListExecutionsQuery> = {}): ListExecutionsQuery => ({
  limit: 1000,
  offset: 0,
  sort: '-created_at',
  ...over,
});

export const rq = (over: Partial<ListRunsQuery> = {}): ListRunsQuery => ({
  limit: 100,
  offset: 0,
  sort: '-created_at',
  ...over,
});

/** Every page of a list by its cursor; `between` runs after each page. */
export async function walk<T>(
  list: (after: string | undefined) => Promise<ListPage<T>>,
  between?: (page: number) => void,
): Promise<{ items: T[]; pages: ListPage<T>[] }> {
  const items: T[] = [];
  const pages: ListPage<T>[] = [];
  let after: string | undefined;
  do {
    const page = await list(after);
    pages.push(page);
    items.push(...page.items);
    assert.ok(pages.length < 100_000, 'the cursor must move on');
    if (page.next !== null) assert.ok(page.items.length > 0, 'a page with a next has items');
    after = page.next ?? undefined;
    between?.(pages.length);
  } while (after);
  return { items, pages };
}

type Key = Array<string | number>;

function compareKeys(a: Key, b: Key): number {
  for (let i = 0; i < a.length; i++) {
    if (a[i] < b[i]) return -1;
    if (a[i] > b[i]) return 1;
  }
  return 0;
}

/** What a sort orders executions by, before its tie-break. */
function sortKey(e: StoredExecution, field: string): Key {
  const v = e[field as keyof StoredExecution] as string | number;
  return field === 'created_at' || field === 'updated_at' ? [v] : [v, e.created_at];
}

function assertSorted(items: StoredExecution[], sort: string): void {
  const desc = sort.startsWith('-');
  const field = desc ? sort.slice(1) : sort;
  for (let i = 1; i < items.length; i++) {
    const c = compareKeys(sortKey(items[i - 1], field), sortKey(items[i], field));
    assert.ok(desc ? c >= 0 : c <= 0, `sort=${sort}: ${items[i - 1].id} then ${items[i].id}`);
  }
}

const ids = (items: Array<{ id: string }>): string[] => items.map((r) => r.id);
const runIds = (items: RunWithExecution[]): string[] => items.map((r) => r.run.id);
const SORTS = EXECUTION_SORT_FIELDS.flatMap((f) => [f, `-${f}`]);
const RUN_SORTS = RUN_SORT_FIELDS.flatMap((f) => [f, `-${f}`]);

function run(id: string, over: Partial<StoredRun> = {}): StoredRun {
  return {
    id,
    action_name: 'echo',
    execution_mode: 'LIVE',
    inputs_count: 1,
    schedule_id: null,
    callback: null,
    created_at: ts(0),
    ...over,
  };
}

function schedule(id: string, over: Partial<StoredSchedule> = {}): StoredSchedule {
  return {
    id,
    name: id,
    flow_name: 'echo',
    kind: 'cron',
    interval: null,
    unit: null,
    time: null,
    cron: '* * * * *',
    timezone: 'UTC',
    input_value: { a: 1 },
    inputs_count: null,
    is_productive: true,
    priority: 0,
    max_runtime_minutes: 0,
    enabled: true,
    max_iterations: null,
    iterations: 0,
    overlap: 'skip',
    callback: null,
    next_fire_at: ts(60),
    last_fire_at: null,
    last_execution_id: null,
    execution_id: null,
    created_at: ts(0),
    updated_at: ts(0),
    anchor_at: null,
    inputs: null,
    ...over,
  };
}

function webhook(id: string, over: Partial<StoredWebhook> = {}): StoredWebhook {
  return {
    id,
    name: id,
    flow_name: 'echo',
    key: null,
    enabled: true,
    is_productive: true,
    priority: 0,
    max_runtime_minutes: 0,
    allow_browsers: false,
    url_path: `/api/latest/webhook/${id}/call`,
    created_at: ts(0),
    updated_at: ts(0),
    ...over,
  };
}

function record(id: string, name: string, over: Partial<StoredRecord> = {}): StoredRecord {
  return {
    id,
    type: 'setting',
    name,
    data: { value: name },
    archived: false,
    created_at: ts(0),
    modified_at: ts(0),
    ...over,
  };
}

function message(id: string, over: Partial<MessageRecord> = {}): MessageRecord {
  return {
    id,
    execution_id: 'e',
    subject: `subject ${id}`,
    body: { fields: [id] },
    message_type: 'form',
    response: null,
    created_at: ts(0),
    responded_at: null,
    ...over,
  };
}

const log = (execution_id: string, seq: number, text = `line ${seq}`): LogLine => ({
  execution_id,
  seq,
  ts: ts(seq),
  stream: 'stdout',
  text,
});

/**
 * 48 executions with every filter's column varied; created_at and updated_at are unique, so
 * each sort's order is fully decided by its columns (no tie-break to guess).
 */
function varied(): StoredExecution[] {
  const statuses: ExecutionStatus[] = ['CREATED', 'QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED'];
  const rows: StoredExecution[] = [];
  for (let i = 0; i < 48; i++) {
    // Top-level e0…e11; e12…e35 children of e0…e3; e36…e47 grandchildren (children of e12…e15).
    const parent = i < 12 ? null : i < 36 ? `e${i % 4}` : `e${12 + (i % 4)}`;
    rows.push(
      exec(`e${i}`, {
        name: `n${i % 6}`,
        status: statuses[i % 5],
        type: (['FLOW', 'SCRIPT', 'CONNECTION'] as const)[i % 3],
        flow_name: ['a', 'b', 'c', null][i % 4],
        parent_execution_id: parent,
        top_execution_id: parent === null ? `e${i}` : `e${i % 4}`,
        schedule_id: i % 6 === 0 ? 'sch-1' : i % 6 === 3 ? 'sch-2' : null,
        is_productive: i % 2 === 0,
        priority: ((i * 5) % 4) - 1,
        created_at: ts((i * 17) % 48),
        updated_at: ts(100 + ((i * 29) % 48)),
      }),
    );
  }
  return rows;
}

/** The filters of ListExecutionsQuery, alone and together. */
const FILTERS: Array<{ q: Partial<ListExecutionsQuery>; match: (e: StoredExecution) => boolean }> = [
  { q: {}, match: () => true },
  { q: { status: ['RUNNING'] }, match: (e) => e.status === 'RUNNING' },
  { q: { status: ['FAILED', 'CREATED'] }, match: (e) => e.status === 'FAILED' || e.status === 'CREATED' },
  { q: { status: ['RUNNING', 'RUNNING'] }, match: (e) => e.status === 'RUNNING' },
  { q: { type: ['SCRIPT'] }, match: (e) => e.type === 'SCRIPT' },
  { q: { type: ['FLOW', 'CONNECTION'] }, match: (e) => e.type !== 'SCRIPT' },
  { q: { flow_name: 'a' }, match: (e) => e.flow_name === 'a' },
  { q: { parent_execution_id: 'none' }, match: (e) => e.parent_execution_id === null },
  { q: { parent_execution_id: 'e1' }, match: (e) => e.parent_execution_id === 'e1' },
  {
    q: { parent_execution_id: 'none', status: ['QUEUED'] },
    match: (e) => e.parent_execution_id === null && e.status === 'QUEUED',
  },
  {
    q: { parent_execution_id: 'none', status: ['QUEUED', 'FAILED'] },
    match: (e) => e.parent_execution_id === null && (e.status === 'QUEUED' || e.status === 'FAILED'),
  },
  {
    q: { parent_execution_id: 'e1', status: ['RUNNING'] },
    match: (e) => e.parent_execution_id === 'e1' && e.status === 'RUNNING',
  },
  {
    q: { parent_execution_id: 'e2', status: ['RUNNING', 'SUCCEEDED', 'CREATED'] },
    match: (e) => e.parent_execution_id === 'e2' && ['RUNNING', 'SUCCEEDED', 'CREATED'].includes(e.status),
  },
  { q: { top_execution_id: 'e3' }, match: (e) => e.top_execution_id === 'e3' },
  { q: { schedule_id: 'sch-1' }, match: (e) => e.schedule_id === 'sch-1' },
  { q: { schedule_id: 'nope' }, match: () => false },
  { q: { is_productive: true }, match: (e) => e.is_productive },
  { q: { is_productive: false }, match: (e) => !e.is_productive },
  {
    q: { flow_name: 'a', status: ['CREATED', 'RUNNING', 'FAILED'], is_productive: true },
    match: (e) =>
      e.flow_name === 'a' && ['CREATED', 'RUNNING', 'FAILED'].includes(e.status) && e.is_productive,
  },
  {
    q: { parent_execution_id: 'none', type: ['FLOW'], schedule_id: 'sch-1' },
    match: (e) => e.parent_execution_id === null && e.type === 'FLOW' && e.schedule_id === 'sch-1',
  },
  {
    q: { top_execution_id: 'e0', parent_execution_id: 'e12' },
    match: (e) => e.top_execution_id === 'e0' && e.parent_execution_id === 'e12',
  },
];

export function storeContract(
  name: string,
  open: () => Promise<OpenedStore>,
  opts: ContractOptions = {},
): void {
  describe(`Store contract: ${name}`, function () {
    this.timeout(120_000);
    let opened: OpenedStore;
    let s: Store;
    beforeEach(async () => {
      opened = await open();
      s = opened.store;
    });
    afterEach(async () => {
      await s.close();
    });

    const putAll = (rows: StoredExecution[]) => rows.forEach((r) => s.putExecution(r));

    describe('executions', () => {
      it('reads back a write at once, as a copy, and replaces it whole', async () => {
        const rec = exec('a', {
          input_value: { n: 1, list: [1, 'two', null], nested: { deep: true } },
          output_value: 'out',
          message: 'hello',
          priority: -3,
          max_runtime_minutes: 1.5,
          is_productive: true,
          paused_from: 'RUNNING',
          status: 'PAUSED',
          virtual: true,
          started_by: 'ann',
        });
        s.putExecution(rec);
        assert.deepEqual(await s.getExecution('a'), rec);
        // Neither the caller's object nor a read one is the stored row.
        (rec.input_value as { n: number }).n = 2;
        rec.status = 'FAILED';
        const got = (await s.getExecution('a'))!;
        assert.deepEqual(got.input_value, { n: 1, list: [1, 'two', null], nested: { deep: true } });
        assert.equal(got.status, 'PAUSED');
        (got.input_value as { n: number }).n = 3;
        assert.equal(((await s.getExecution('a'))!.input_value as { n: number }).n, 1);

        const replaced = exec('a', { status: 'SUCCEEDED', output_value: [1, 2], ended_at: ts(5) });
        s.putExecution(replaced);
        const again = (await s.getExecution('a'))!;
        assert.deepEqual(again, replaced);
        assert.ok(!again.virtual, 'a put replaces the whole row, virtual included');
        assert.equal(again.paused_from, null);
        assert.equal(await s.getExecution('nope'), undefined);
      });

      // Text with a lone surrogate (JSON.parse makes them from "\udc80" escapes) is read back
      // whole. SQLite stores it well-formed (U+FFFD for the lone surrogate): node-sqlite3-wasm
      // cut the tail off such text (see bindWellFormedText in sqliteStore.ts).
      it('reads back text whole, lone surrogates included', async () => {
        const odd = 'a\udc80\ue000b \udfff\udfff end';
        s.putExecution(exec('odd', { name: odd, message: odd, input_value: odd }));
        s.appendLog({ ...log('odd', 1), text: odd });
        s.putRecord(record('odd', odd));
        const got = (await s.getExecution('odd'))!;
        const same = (text: string | null | undefined) =>
          assert.equal(text?.toWellFormed(), odd.toWellFormed());
        same(got.name);
        same(got.message);
        assert.equal(got.input_value, odd, 'a JSON value keeps it as it was');
        same((await s.getLog('odd', 0, 1))[0].text);
        same((await s.getRecord('setting', 'id', 'odd'))?.name);
      });

      // The engine says which fields a change wrote (Store.putExecution's hint); whatever a
      // backend does with it, the row read back is the record last put, whole.
      it('reads back a put that names what it changed, whether its row is stored, queued or in a bulk insert', async () => {
        const first = exec('h', { input_value: { n: 1 } });
        s.putExecution(first);
        await s.flush();
        const running = { ...first, status: 'RUNNING' as const, started_at: ts(1), updated_at: ts(1) };
        s.putExecution(running, ['status', 'started_at', 'updated_at']);
        assert.deepEqual(await s.getExecution('h'), running);
        const ended = {
          ...running,
          status: 'SUCCEEDED' as const,
          output_value: [1],
          ended_at: ts(2),
          updated_at: ts(2),
        };
        s.putExecution(ended, ['status', 'output_value', 'ended_at', 'updated_at']);
        await s.flush();
        assert.deepEqual(await s.getExecution('h'), ended);

        // New, and changed in the same group: the hint of the second put does not cover the insert.
        const fresh = exec('n', { message: 'new' });
        s.putExecution(fresh);
        const changed = { ...fresh, status: 'RUNNING' as const, updated_at: ts(3) };
        s.putExecution(changed, ['status', 'updated_at']);
        assert.deepEqual(await s.getExecution('n'), changed);

        // Rows of a bulk insert still being written: a change to the last of them wins.
        const rows = Array.from({ length: 3000 }, (_, k) =>
          exec(`b${k}`, { parent_execution_id: 'h', top_execution_id: 'h', created_at: ts(k) }),
        );
        s.insertExecutions(rows);
        const last = { ...rows[2999], status: 'RUNNING' as const, started_at: ts(9), updated_at: ts(9) };
        s.putExecution(last, ['status', 'started_at', 'updated_at']);
        await s.flush();
        assert.deepEqual(await s.getExecution('b2999'), last);
        assert.deepEqual(await s.getExecution('b0'), rows[0]);
      });

      it('keeps what JSON can say: an input left undefined reads as null', async () => {
        s.putExecution({ ...exec('u'), input_value: undefined, output_value: undefined });
        s.putExecution(exec('s', { input_value: 'text', output_value: 0 }));
        const u = (await s.getExecution('u'))!;
        assert.equal(u.input_value, null);
        assert.equal(u.output_value, null);
        const listed = (await s.listExecutions(eq({ sort: 'created_at' }))).items;
        assert.deepEqual(
          listed.map((e) => [e.id, e.input_value, e.output_value]),
          [
            ['u', null, null],
            ['s', 'text', 0],
          ],
        );
      });

      it('lists unfinished executions oldest first, and an execution’s descendants at any depth', async () => {
        const statuses: ExecutionStatus[] = [
          'CREATED',
          'SUCCEEDED',
          'RUNNING',
          'FAILED',
          'PAUSED',
          'STOPPED',
        ];
        statuses.forEach((status, i) => s.putExecution(exec(`x${i}`, { status, created_at: ts(i) })));
        assert.deepEqual(ids(await s.listUnfinished()), ['x0', 'x2', 'x4']);
        s.putExecution(exec('x2', { status: 'SUCCEEDED', created_at: ts(2) }));
        assert.deepEqual(ids(await s.listUnfinished()), ['x0', 'x4']);

        const child = (id: string, parent: string) =>
          exec(id, { parent_execution_id: parent, top_execution_id: 'root' });
        s.putExecution(exec('root'));
        s.putExecution(child('c1', 'root'));
        s.putExecution(child('c2', 'root'));
        s.putExecution(child('g1', 'c1'));
        s.putExecution(child('gg1', 'g1'));
        s.putExecution(child('g2', 'c2'));
        assert.deepEqual((await s.listDescendantIds('root')).sort(), ['c1', 'c2', 'g1', 'g2', 'gg1']);
        assert.deepEqual((await s.listDescendantIds('c1')).sort(), ['g1', 'gg1']);
        assert.deepEqual(await s.listDescendantIds('gg1'), []);
      });

      // SqliteStore writes the rows of a bulk insert before the upserts of the same commit, so an
      // async run's parent (put first) gets a later seq than its children: oldest first must go
      // by created_at.
      it('lists unfinished executions oldest first when a bulk insert shares their commit', async () => {
        s.putExecution(exec('older', { created_at: ts(1) }));
        s.putExecution(exec('parent', { virtual: true, status: 'RUNNING', created_at: ts(2) }));
        s.insertExecutions(
          [3, 4].map((k) =>
            exec(`child${k}`, {
              parent_execution_id: 'parent',
              top_execution_id: 'parent',
              created_at: ts(k),
            }),
          ),
        );
        await s.flush();
        assert.deepEqual(ids(await s.listUnfinished()), ['older', 'parent', 'child3', 'child4']);
      });
    });

    describe('execution lists', () => {
      it('returns the rows of every filter, in the order of every sort, counted exactly', async () => {
        const rows = varied();
        putAll(rows);
        for (const f of FILTERS) {
          const want = rows.filter(f.match);
          for (const sort of SORTS) {
            const desc = sort.startsWith('-');
            const field = desc ? sort.slice(1) : sort;
            const ordered = [...want].sort(
              (a, b) => compareKeys(sortKey(a, field), sortKey(b, field)) * (desc ? -1 : 1),
            );
            const page = await s.listExecutions(eq({ ...f.q, sort }));
            const what = `${JSON.stringify(f.q)} sort=${sort}`;
            assert.deepEqual(ids(page.items), ids(ordered), what);
            assert.deepEqual([page.total, page.total_capped, page.next], [want.length, false, null], what);
          }
        }
      });

      it('walks every row exactly once by `after`, ties in the sort key included', async () => {
        // 90 rows over 3 created_at, 2 updated_at, 3 priorities, 2 names, 3 statuses: ties everywhere.
        const rows: StoredExecution[] = [];
        for (let i = 0; i < 90; i++) {
          const parent = i % 3 === 0 ? null : 'p';
          rows.push(
            exec(`t${(i * 37) % 90}`, {
              name: `n${i % 2}`,
              status: (['QUEUED', 'RUNNING', 'CREATED'] as const)[i % 3],
              priority: i % 3,
              parent_execution_id: parent,
              top_execution_id: parent ?? `t${(i * 37) % 90}`,
              created_at: ts(i % 3),
              updated_at: ts(10 + (i % 2)),
            }),
          );
        }
        putAll(rows);
        let added = 0;
        for (const sort of SORTS) {
          for (const filter of [
            {},
            { parent_execution_id: 'p' },
            { status: ['QUEUED', 'CREATED'] as ExecutionStatus[] },
          ]) {
            const what = `${JSON.stringify(filter)} sort=${sort}`;
            const expected = await s.listExecutions(eq({ ...filter, sort }));
            // Rows that arrive while the walk goes on (with the same tied keys), and rows written
            // again without a change to the sort's columns, do not shift it.
            const byCursor = await walk(
              (after) => s.listExecutions(eq({ ...filter, sort, limit: 7, after })),
              (page) => {
                if (page % 3 !== 1) return;
                const again = rows[(page * 13) % rows.length];
                s.putExecution({ ...again, message: `written again ${page}` });
                if (page % 6 === 1)
                  s.putExecution(
                    exec(`new${added++}`, {
                      created_at: ts(1),
                      updated_at: ts(10),
                      priority: 1,
                      name: 'n0',
                      status: 'QUEUED',
                      parent_execution_id: 'p',
                      top_execution_id: 'p',
                    }),
                  );
              },
            );
            const seen = ids(byCursor.items);
            assert.equal(new Set(seen).size, seen.length, `${what}: an item came twice`);
            const existing = ids(expected.items);
            const seenSet = new Set(seen);
            for (const id of existing) assert.ok(seenSet.has(id), `${what}: ${id} was skipped`);
            assertSorted(byCursor.items, sort);
            // Rows that were there before keep the order the one-page list gives them.
            assert.deepEqual(
              seen.filter((id) => existing.includes(id)),
              existing,
              what,
            );
            for (const p of byCursor.pages) assert.equal(p.total_capped, false, what);
            assert.equal(byCursor.pages[0].total, existing.length, what);
          }
        }
        assert.ok(added > 0);
      });

      it('skips `offset` rows, after the cursor when both are given', async () => {
        putAll(varied());
        for (const sort of ['-created_at', 'priority', '-name']) {
          const all = ids((await s.listExecutions(eq({ sort }))).items);
          assert.equal(all.length, 48);
          const byOffset: string[] = [];
          for (let offset = 0; offset < 48; offset += 10) {
            const page = await s.listExecutions(eq({ sort, limit: 10, offset }));
            assert.equal(page.total, 48);
            assert.equal(page.next === null, offset + 10 >= 48, `offset ${offset}: next`);
            byOffset.push(...ids(page.items));
          }
          assert.deepEqual(byOffset, all, sort);
          // A deep offset (nearer the end than the start) and one past the end.
          assert.deepEqual(ids((await s.listExecutions(eq({ sort, offset: 45 }))).items), all.slice(45));
          const past = await s.listExecutions(eq({ sort, offset: 48 }));
          assert.deepEqual([past.items, past.total, past.next], [[], 48, null]);
          // The cursor of the 5th item, then 2 skipped: items 8, 9, 10.
          const first = await s.listExecutions(eq({ sort, limit: 5 }));
          assert.ok(first.next);
          const page = await s.listExecutions(eq({ sort, limit: 3, offset: 2, after: first.next }));
          assert.deepEqual(ids(page.items), all.slice(7, 10), sort);
          assert.equal(page.total, 48, 'total counts every match, not only those after the cursor');
        }
      });

      it('refuses a cursor that is not one of its own, or was made for another sort', async () => {
        putAll(varied());
        const page = await s.listExecutions(eq({ sort: '-priority', limit: 2 }));
        assert.ok(page.next);
        for (const after of BAD_CURSORS) {
          await assert.rejects(s.listExecutions(eq({ sort: '-priority', after })), InvalidCursorError, after);
        }
        for (const sort of ['priority', 'name', '-created_at']) {
          await assert.rejects(s.listExecutions(eq({ sort, after: page.next })), InvalidCursorError, sort);
        }
        // With its own sort it goes on where the page ended.
        const next = await s.listExecutions(eq({ sort: '-priority', limit: 2, after: page.next }));
        const both = await s.listExecutions(eq({ sort: '-priority', limit: 4 }));
        assert.deepEqual([...ids(page.items), ...ids(next.items)], ids(both.items));

        s.putExecution(exec('r'));
        s.putRun(run('r'));
        await assert.rejects(s.listRuns(rq({ after: 'garbage!' })), InvalidCursorError);
        const runs = await s.listRuns(rq({ sort: 'status' }));
        assert.equal(runs.next, null);
        s.putExecution(exec('r2'));
        s.putRun(run('r2'));
        const first = await s.listRuns(rq({ sort: 'status', limit: 1 }));
        assert.ok(first.next);
        await assert.rejects(s.listRuns(rq({ sort: '-status', after: first.next })), InvalidCursorError);
      });

      it('counts exactly below the cap and where the API promises it; flags a capped total', async () => {
        const limit = opts.countLimit ?? 10_000;
        const n = limit + 50;
        s.putExecution(exec('big', { virtual: true, status: 'RUNNING', created_at: ts(0) }));
        s.putExecution(exec('other', { status: 'RUNNING', created_at: ts(1) }));
        s.expectBulk('big', n);
        const children: StoredExecution[] = [];
        for (let k = 0; k < n; k++) {
          children.push(
            exec(`big-${String(k).padStart(6, '0')}`, {
              parent_execution_id: 'big',
              top_execution_id: 'big',
              status: k % 2 ? 'QUEUED' : 'INVALID',
              flow_name: k < 20 ? 'rare' : 'echo',
              created_at: ts(10 + Math.floor(k / 1000)),
            }),
          );
        }
        s.insertExecutions(children.slice(0, 3000));
        s.insertExecutions(children.slice(3000));
        // As many top-level executions, all QUEUED.
        s.insertExecutions(
          Array.from({ length: n }, (_, k) =>
            exec(`top-${k}`, { flow_name: 'echo', created_at: ts(20 + Math.floor(k / 1000)) }),
          ),
        );
        await s.flush();

        const exact = async (q: Partial<ListExecutionsQuery>, total: number) => {
          const page = await s.listExecutions(eq({ ...q, limit: 5 }));
          assert.deepEqual([page.total, page.total_capped], [total, false], JSON.stringify(q));
        };
        // Exact at any size: everything, by status, top-level (the API's promise).
        await exact({}, 2 * n + 2);
        await exact({ status: ['INVALID'] }, n / 2);
        await exact({ status: ['QUEUED', 'RUNNING'] }, n / 2 + n + 2);
        await exact({ parent_execution_id: 'none' }, n + 2);
        await exact({ parent_execution_id: 'none', status: ['QUEUED'] }, n);
        await exact({ parent_execution_id: 'none', status: ['QUEUED', 'RUNNING'] }, n + 2);
        await exact({ parent_execution_id: 'none', status: ['RUNNING'] }, 2);
        // Exact below the cap, whatever the filters.
        await exact({ flow_name: 'rare' }, 20);
        await exact({ parent_execution_id: 'big', flow_name: 'rare' }, 20);
        await exact({ parent_execution_id: 'big', flow_name: 'rare', status: ['QUEUED'] }, 10);

        // One parent's children: more than a capped count counts.
        const capped = async (q: Partial<ListExecutionsQuery>, actual: number) => {
          const page = await s.listExecutions(eq({ ...q, limit: 5 }));
          const what = JSON.stringify(q);
          if (opts.countLimit === undefined) {
            assert.deepEqual([page.total, page.total_capped], [actual, false], what);
          } else {
            assert.equal(page.total_capped, true, what);
            assert.ok(page.total >= 6 && page.total <= actual, `${what}: ${page.total}`);
          }
          assert.equal(page.items.length, 5);
        };
        await capped({ parent_execution_id: 'big' }, n);
        await capped({ top_execution_id: 'big' }, n + 1);
        await capped({ flow_name: 'echo' }, 2 * n - 20);
        if (opts.countLimit !== undefined) {
          const one = await s.listExecutions(eq({ parent_execution_id: 'big', limit: 5 }));
          assert.equal(one.total, opts.countLimit, 'a lower bound: what was counted');
        }
        // A capped total is still at least what was skipped, shown, and one more.
        const deep = await s.listExecutions(
          eq({ parent_execution_id: 'big', sort: 'created_at', offset: n - 60, limit: 50 }),
        );
        assert.equal(deep.items.length, 50);
        assert.ok(deep.total >= n - 60 + 50 + 1, `${deep.total}`);
        assert.deepEqual(ids(deep.items), ids(children.slice(n - 60, n - 10)));
        const last = await s.listExecutions(
          eq({ parent_execution_id: 'big', sort: 'created_at', offset: n - 10, limit: 50 }),
        );
        assert.deepEqual([last.items.length, last.next], [10, null]);

        // Every child by cursor, once each.
        const all = await walk((after) =>
          s.listExecutions(eq({ parent_execution_id: 'big', sort: '-created_at', after })),
        );
        assert.equal(all.items.length, n);
        assert.equal(new Set(ids(all.items)).size, n);
      });

      it('ends a page of big outputs at the byte budget, and the cursor goes on', async () => {
        const size = 3 * 1024 * 1024;
        for (let k = 0; k < 4; k++) {
          s.putExecution(
            exec(`big${k}`, { flow_name: 'big', output_value: 'x'.repeat(size), created_at: ts(k) }),
          );
        }
        s.putExecution(exec('small', { created_at: ts(9) }));
        const { items, pages } = await walk((after) =>
          s.listExecutions(eq({ flow_name: 'big', sort: 'created_at', limit: 10, after })),
        );
        // 3 MB each: two fit in 8 MB, a third would not.
        assert.deepEqual(
          pages.map((p) => p.items.length),
          [2, 2],
        );
        assert.deepEqual(ids(items), ['big0', 'big1', 'big2', 'big3']);
        for (const p of pages) {
          assert.equal(p.total, 4);
          assert.ok(Buffer.byteLength(JSON.stringify(p.items)) <= LIST_PAGE_BYTES);
        }
        for (const item of items) assert.equal((item.output_value as string).length, size);

        // One item bigger than the budget comes alone; the single read returns it whole.
        s.putExecution(exec('huge', { output_value: 'y'.repeat(9 * 1024 * 1024), created_at: ts(20) }));
        const top = await s.listExecutions(eq({ sort: '-created_at', limit: 10 }));
        assert.deepEqual(ids(top.items), ['huge']);
        assert.ok(top.next);
        const rest = await s.listExecutions(eq({ sort: '-created_at', limit: 10, after: top.next }));
        assert.equal(rest.items[0].id, 'small');
        assert.equal(((await s.getExecution('huge'))!.output_value as string).length, 9 * 1024 * 1024);
      });

      it('gives the same page as API JSON, when it offers that', async function () {
        if (!s.listExecutionsJson) this.skip();
        putAll(varied());
        s.putExecution(
          exec('v', { virtual: true, paused_from: 'QUEUED', status: 'PAUSED', input_value: { a: [1] } }),
        );
        for (const q of [eq({ limit: 7 }), eq({ sort: 'priority', status: ['PAUSED', 'RUNNING'] })]) {
          const page = await s.listExecutions(q);
          const json = await s.listExecutionsJson!(q);
          assert.deepEqual(
            [json.total, json.total_capped, json.next],
            [page.total, page.total_capped, page.next],
          );
          // The API's rows also say whether each has children (a client draws no empty twistie).
          const parents = new Set(
            page.items.map((r) => r.id).filter((id) => varied().some((c) => c.parent_execution_id === id)),
          );
          assert.deepEqual(
            json.items.map((i) => ({ id: i.id, rec: JSON.parse(i.json) })),
            page.items.map(({ paused_from: _p, virtual: _v, ...rec }) => ({
              id: rec.id,
              rec: { ...rec, has_children: parents.has(rec.id) },
            })),
          );
        }
      });
    });

    describe('logs, records, messages', () => {
      it('returns log lines in order after a seq, up to a limit', async () => {
        for (let seq = 1; seq <= 20; seq++) s.appendLog(log('a', seq));
        s.appendLog(log('b', 1));
        s.appendLog(log('a', 22));
        s.appendLog(log('a', 21));
        assert.deepEqual(
          (await s.getLog('a', 0, 100)).map((l) => l.seq),
          [...Array.from({ length: 20 }, (_, i) => i + 1), 21, 22],
        );
        assert.deepEqual(await s.getLog('a', 5, 3), [log('a', 6), log('a', 7), log('a', 8)]);
        assert.deepEqual(await s.getLog('a', 22, 10), []);
        assert.deepEqual(await s.getLog('b', 0, 10), [log('b', 1)]);
        assert.deepEqual(await s.getLog('nobody', 0, 10), []);
        assert.equal(await s.lastLogSeq('a'), 22);
        assert.equal(await s.lastLogSeq('nobody'), 0);
        // A seq already written is not written again.
        s.appendLog(log('a', 3, 'again'));
        assert.equal((await s.getLog('a', 2, 1))[0].text, 'line 3');
      });

      it('keeps an execution’s recording in seq order, values as JSON, a taken seq not twice', async () => {
        const entry = (execution_id: string, seq: number, over: Partial<RecordingEntry> = {}) =>
          ({
            execution_id,
            seq,
            kind: 'setting',
            name: `s${seq}`,
            value: { value: seq },
            ts: ts(seq),
            ...over,
          }) as RecordingEntry;
        const value = { value: [1, { deep: 'ü' }] };
        s.appendRecording(
          entry('a', 2, { kind: 'file', name: 'dir/f.txt', value: { content: 'x', is_binary: false } }),
        );
        s.appendRecording(entry('a', 1, { value }));
        s.appendRecording(entry('b', 1, { kind: 'sleep', name: '', value: { seconds: 3600 } }));
        s.appendRecording(entry('a', 3, { value: null }));
        value.value.push(2); // the store kept a copy
        s.appendRecording(entry('a', 1, { name: 'again' }));
        assert.deepEqual(await s.getRecording('a'), [
          entry('a', 1, { value: { value: [1, { deep: 'ü' }] } }),
          entry('a', 2, { kind: 'file', name: 'dir/f.txt', value: { content: 'x', is_binary: false } }),
          entry('a', 3, { value: null }),
        ]);
        assert.deepEqual(await s.getRecording('b'), [
          entry('b', 1, { kind: 'sleep', name: '', value: { seconds: 3600 } }),
        ]);
        assert.deepEqual(await s.getRecording('nobody'), []);
      });

      it('gets, renames, archives, lists and deletes records', async () => {
        s.putRecord(record('id-b', 'beta', { data: { value: { n: 1 } } }));
        s.putRecord(record('id-a', 'alpha'));
        s.putRecord(record('id-z', 'zeta', { archived: true }));
        s.putRecord(record('id-v', 'alpha', { type: 'vault_config', data: { url: 'u' } }));
        const beta = (await s.getRecord('setting', 'name', 'beta'))!;
        assert.deepEqual(beta, record('id-b', 'beta', { data: { value: { n: 1 } } }));
        assert.deepEqual(await s.getRecord('setting', 'id', 'id-b'), beta);
        assert.equal(await s.getRecord('vault_config', 'id', 'id-b'), undefined, 'ids are per type');
        assert.equal((await s.getRecord('vault_config', 'name', 'alpha'))?.id, 'id-v');
        (beta.data.value as { n: number }).n = 2;
        assert.deepEqual((await s.getRecord('setting', 'id', 'id-b'))!.data, { value: { n: 1 } });

        assert.deepEqual(
          (await s.listRecords('setting')).map((r) => r.name),
          ['alpha', 'beta'],
        );
        assert.deepEqual(
          (await s.listRecords('setting', { includeArchived: true })).map((r) => [r.name, r.archived]),
          [
            ['alpha', false],
            ['beta', false],
            ['zeta', true],
          ],
        );
        s.putRecord(record('id-b', 'omega', { modified_at: ts(5) }));
        assert.equal(await s.getRecord('setting', 'name', 'beta'), undefined);
        assert.equal((await s.getRecord('setting', 'name', 'omega'))?.modified_at, ts(5));
        assert.deepEqual(
          (await s.listRecords('setting')).map((r) => r.id),
          ['id-a', 'id-b'],
        );
        assert.equal(await s.deleteRecord('setting', 'name', 'omega'), true);
        assert.equal(await s.deleteRecord('setting', 'name', 'omega'), false);
        assert.equal(await s.deleteRecord('setting', 'id', 'id-v'), false, 'not of this type');
        assert.equal(await s.deleteRecord('vault_config', 'id', 'id-v'), true);
        assert.deepEqual(
          (await s.listRecords('setting', { includeArchived: true })).map((r) => r.id),
          ['id-a', 'id-z'],
        );
        assert.deepEqual(await s.listRecords('vault_config'), []);
      });

      it('lists messages by creation, only open ones or one execution’s', async () => {
        s.putMessage(message('m2', { execution_id: 'x', created_at: ts(2) }));
        s.putMessage(message('m1', { execution_id: 'x', created_at: ts(1), body: undefined }));
        s.putMessage(
          message('m3', { execution_id: 'y', created_at: ts(3), response: { ok: 1 }, responded_at: ts(4) }),
        );
        assert.deepEqual(ids(await s.listMessages({})), ['m1', 'm2', 'm3']);
        assert.deepEqual(ids(await s.listMessages({ open: false })), ['m1', 'm2', 'm3']);
        assert.deepEqual(ids(await s.listMessages({ open: true })), ['m1', 'm2']);
        assert.deepEqual(ids(await s.listMessages({ execution_id: 'x' })), ['m1', 'm2']);
        assert.deepEqual(ids(await s.listMessages({ execution_id: 'y', open: true })), []);
        assert.deepEqual(
          await s.getMessage('m3'),
          message('m3', { execution_id: 'y', created_at: ts(3), response: { ok: 1 }, responded_at: ts(4) }),
        );
        assert.equal((await s.getMessage('m1'))!.body, null, 'no body reads as null');
        assert.equal(await s.getMessage('nope'), undefined);
        // Answered: no longer open.
        s.putMessage(
          message('m1', { execution_id: 'x', created_at: ts(1), response: ['yes'], responded_at: ts(5) }),
        );
        assert.deepEqual(ids(await s.listMessages({ open: true })), ['m2']);
        assert.deepEqual((await s.getMessage('m1'))!.response, ['yes']);
      });
    });

    describe('flow records', () => {
      const flow = (name: string, source: string, over: Partial<StoredFlow> = {}): StoredFlow => ({
        name,
        source,
        hash: flowHash(source),
        updated_at: ts(1),
        deployed_by: 'ann',
        ...over,
      });

      it('deploys flows, reads them back, and lists them by name without sources', async () => {
        const v0 = await s.flowsVersion();
        const big = `# ${'é'.repeat(400_000)}\ndef handler(system, this):\n    return 1\n`;
        const written = await s.putFlows([
          flow('b', 'def handler(system, this):\n    return "b"\n'),
          flow('checks/fraud-score', big, { deployed_by: null }),
          flow('a', 'def handler(system, this): pass\n'),
          flow('é', 'x = 1\n'),
          flow('Z', 'y = 2\n'),
        ]);
        assert.deepEqual(written, ['b', 'checks/fraud-score', 'a', 'é', 'Z'], 'the names written, as given');
        assert.notEqual(await s.flowsVersion(), v0, 'a deploy that writes moves the version');
        assert.deepEqual(
          await s.getFlow('checks/fraud-score'),
          flow('checks/fraud-score', big, { deployed_by: null }),
        );
        assert.equal(await s.getFlow('checks'), undefined);
        assert.equal(await s.getFlow('nope'), undefined);
        const list = await s.listFlows();
        // Byte order of UTF-8, as every list of the stores.
        assert.deepEqual(
          list.map((f) => f.name),
          ['Z', 'a', 'b', 'checks/fraud-score', 'é'],
        );
        const { source: _source, ...info } = flow('checks/fraud-score', big, { deployed_by: null });
        assert.deepEqual(list[3], { ...info, size: Buffer.byteLength(big, 'utf8') });
        assert.equal(list[3].size, 800_000 + big.length - 400_000, 'size in UTF-8 bytes');
        assert.ok(!('source' in list[0]), 'lists carry no source');
      });

      it('leaves a flow whose hash is unchanged as it is, and writes a changed one', async () => {
        await s.putFlows([flow('a', 'one\n'), flow('b', 'two\n')]);
        const v1 = await s.flowsVersion();
        const same = await s.putFlows([flow('a', 'one\n', { updated_at: ts(9), deployed_by: 'bob' })]);
        assert.deepEqual(same, []);
        assert.equal(await s.flowsVersion(), v1, 'nothing written, the version stays');
        assert.deepEqual(await s.getFlow('a'), flow('a', 'one\n'), 'updated_at and deployed_by as they were');
        const changed = await s.putFlows([
          flow('a', 'one\n', { updated_at: ts(9) }),
          flow('b', 'TWO\n', { updated_at: ts(9), deployed_by: 'bob' }),
          flow('c', 'three\n', { updated_at: ts(9) }),
        ]);
        assert.deepEqual(changed, ['b', 'c']);
        assert.notEqual(await s.flowsVersion(), v1);
        assert.deepEqual(await s.getFlow('b'), flow('b', 'TWO\n', { updated_at: ts(9), deployed_by: 'bob' }));
        assert.deepEqual(await s.putFlows([]), []);
      });

      it('deletes a flow, and moves the version only when there was one', async () => {
        await s.putFlows([flow('a', 'one\n'), flow('sub/b', 'two\n')]);
        const v1 = await s.flowsVersion();
        assert.equal(await s.deleteFlow('sub/b'), true);
        const v2 = await s.flowsVersion();
        assert.notEqual(v2, v1);
        assert.equal(await s.deleteFlow('sub/b'), false);
        assert.equal(await s.deleteFlow('sub'), false);
        assert.equal(await s.flowsVersion(), v2);
        assert.equal(await s.getFlow('sub/b'), undefined);
        assert.deepEqual(
          (await s.listFlows()).map((f) => f.name),
          ['a'],
        );
        // Deployed again after its delete: written, as a new flow.
        assert.deepEqual(await s.putFlows([flow('sub/b', 'two\n')]), ['sub/b']);
      });

      if (opts.restarts) {
        it('keeps flow records and their version across a restart', async () => {
          await s.putFlows([flow('a', 'one\n'), flow('b/c', 'two\n', { deployed_by: null })]);
          const version = await s.flowsVersion();
          s = await opened.reopen!();
          assert.equal(await s.flowsVersion(), version);
          assert.deepEqual(await s.getFlow('b/c'), flow('b/c', 'two\n', { deployed_by: null }));
          assert.deepEqual(
            (await s.listFlows()).map((f) => [f.name, f.hash]),
            [
              ['a', flowHash('one\n')],
              ['b/c', flowHash('two\n')],
            ],
          );
        });
      }
    });

    describe('schedules and webhooks', () => {
      it('keeps schedules with their inputs, written apart', async () => {
        // As the scheduler does: the inputs first, then the schedule.
        s.putScheduleInputs('s2', [{ n: 1 }, { n: 2 }]);
        s.putSchedule(schedule('s2', { created_at: ts(2), inputs: [{ ignored: true }], inputs_count: 2 }));
        s.putSchedule(schedule('s1', { created_at: ts(1) }));
        let list = await s.listSchedules();
        assert.deepEqual(list, [
          schedule('s1', { created_at: ts(1) }),
          schedule('s2', { created_at: ts(2), inputs: [{ n: 1 }, { n: 2 }], inputs_count: 2 }),
        ]);
        // A put leaves the inputs as they were; putScheduleInputs alone changes them.
        s.putSchedule(schedule('s2', { created_at: ts(2), enabled: false, inputs: null, inputs_count: 2 }));
        list = await s.listSchedules();
        assert.deepEqual(
          list[1],
          schedule('s2', {
            created_at: ts(2),
            enabled: false,
            inputs: [{ n: 1 }, { n: 2 }],
            inputs_count: 2,
          }),
        );
        s.putScheduleInputs('s2', null);
        assert.equal((await s.listSchedules())[1].inputs, null);
        s.putScheduleInputs('s1', [3]);
        assert.deepEqual((await s.listSchedules())[0].inputs, [3]);
        s.deleteSchedule('s1');
        assert.deepEqual(
          (await s.listSchedules()).map((x) => x.id),
          ['s2'],
        );
      });

      it('keeps webhooks, in creation order', async () => {
        s.putWebhook(webhook('w2', { created_at: ts(2), key: 'k' }));
        s.putWebhook(webhook('w1', { created_at: ts(1) }));
        assert.deepEqual(await s.listWebhooks(), [
          webhook('w1', { created_at: ts(1) }),
          webhook('w2', { created_at: ts(2), key: 'k' }),
        ]);
        s.putWebhook(webhook('w2', { created_at: ts(2), enabled: false, updated_at: ts(3) }));
        assert.deepEqual(
          (await s.listWebhooks())[1],
          webhook('w2', { created_at: ts(2), enabled: false, updated_at: ts(3) }),
        );
        s.deleteWebhook('w1');
        s.deleteWebhook('nope');
        assert.deepEqual(
          (await s.listWebhooks()).map((w) => w.id),
          ['w2'],
        );
      });
    });

    describe('schedule firings and users’ tokens', () => {
      it('gives each slot of a schedule to one claim, and never a slot before one claimed', async () => {
        const [t1, t2, t3] = [ts(60), ts(120), ts(180)].map((t) => Date.parse(t));
        assert.equal(await s.claimFiring('s1', t1), true);
        assert.equal(await s.claimFiring('s1', t1), false, 'the same slot again');
        assert.equal(await s.claimFiring('s2', t1), true, 'another schedule’s slot is its own');
        assert.equal(await s.claimFiring('s1', t3), true);
        assert.equal(await s.claimFiring('s1', t2), false, 'a slot older than one claimed (a stale view)');
        const together = await Promise.all([1, 2, 3, 4].map(() => s.claimFiring('s3', t1)));
        assert.deepEqual(together.filter(Boolean).length, 1, 'of claims made at once, one gets the slot');
        // A deleted schedule's claims go with it (a schedule is never made again with its id).
        s.deleteSchedule('s1');
        await s.flush();
        assert.equal(await s.claimFiring('s1', t1), true);
      });

      it('keeps one token hash per user, finds it by hash, notes its use, and forgets it when revoked', async () => {
        const h = (c: string) => c.repeat(64);
        assert.equal(await s.createUserToken({ name: 'bob', hash: h('b'), created_at: ts(2) }), true);
        assert.equal(await s.createUserToken({ name: 'ann', hash: h('a'), created_at: ts(1) }), true);
        assert.equal(
          await s.createUserToken({ name: 'ann', hash: h('c'), created_at: ts(3) }),
          false,
          'one token per user',
        );
        assert.deepEqual(await s.listUserTokens(), [
          { name: 'ann', created_at: ts(1), last_used_at: null },
          { name: 'bob', created_at: ts(2), last_used_at: null },
        ]);
        assert.deepEqual(await s.findUserToken(h('a')), {
          name: 'ann',
          hash: h('a'),
          created_at: ts(1),
          last_used_at: null,
        });
        assert.equal(await s.findUserToken(h('c')), undefined, 'the refused token was not kept');
        await s.touchUserToken('ann', ts(5));
        assert.equal((await s.findUserToken(h('a')))?.last_used_at, ts(5));
        assert.equal(await s.revokeUserToken('ann'), true);
        assert.equal(await s.revokeUserToken('ann'), false);
        assert.equal(await s.findUserToken(h('a')), undefined);
        await s.touchUserToken('ann', ts(6)); // revoked meanwhile: nothing to note
        assert.deepEqual(
          (await s.listUserTokens()).map((t) => t.name),
          ['bob'],
        );
        assert.equal(await s.createUserToken({ name: 'ann', hash: h('d'), created_at: ts(7) }), true);
      });

      if (opts.restarts) {
        it('keeps claimed slots and tokens across a restart', async () => {
          const slot = Date.parse(ts(60));
          assert.equal(await s.claimFiring('s1', slot), true);
          assert.equal(
            await s.createUserToken({ name: 'ann', hash: 'a'.repeat(64), created_at: ts(1) }),
            true,
          );
          s = await opened.reopen!();
          assert.equal(
            await s.claimFiring('s1', slot),
            false,
            'a slot claimed before the restart stays taken',
          );
          assert.equal((await s.findUserToken('a'.repeat(64)))?.name, 'ann');
        });
      }
    });

    describe('runs and children', () => {
      it('keeps a run with its top execution, whose status and updated_at it follows', async () => {
        const top = exec('r1', {
          status: 'RUNNING',
          input_value: { in: 1 },
          output_value: null,
          updated_at: ts(1),
        });
        s.putExecution(top);
        s.putRun(run('r1', { execution_mode: 'ASYNC', inputs_count: 3, callback: 'https://cb' }));
        // Written before its execution: it takes the execution's status when that comes.
        s.putRun(run('r2', { created_at: ts(1), action_name: 'other' }));
        assert.equal(await s.getRun('r2'), undefined, 'a run is read with its execution');
        s.putExecution(
          exec('r2', { status: 'SUCCEEDED', created_at: ts(1), updated_at: ts(2), output_value: 'done' }),
        );
        // A child of r1 does not move r1's status.
        s.putExecution(
          exec('c', {
            parent_execution_id: 'r1',
            top_execution_id: 'r1',
            status: 'FAILED',
            updated_at: ts(9),
          }),
        );

        const r1 = (await s.getRun('r1'))!;
        assert.deepEqual(
          r1.run,
          run('r1', { execution_mode: 'ASYNC', inputs_count: 3, callback: 'https://cb' }),
        );
        assert.deepEqual(r1.execution, top);
        assert.equal((await s.getRun('r2'))!.execution.output_value, 'done');
        assert.equal(await s.getRun('c'), undefined);

        const status = async (q: Partial<ListRunsQuery>) =>
          (await s.listRuns(rq(q))).items.map((r) => [r.run.id, r.execution.status]);
        assert.deepEqual(await status({ status: ['RUNNING'] }), [['r1', 'RUNNING']]);
        assert.deepEqual(await status({ status: ['SUCCEEDED'] }), [['r2', 'SUCCEEDED']]);
        assert.deepEqual(await status({ sort: 'updated_at' }), [
          ['r1', 'RUNNING'],
          ['r2', 'SUCCEEDED'],
        ]);
        s.putExecution({ ...top, status: 'FAILED', updated_at: ts(5), ended_at: ts(5) });
        assert.deepEqual(await status({ status: ['RUNNING'] }), []);
        assert.deepEqual(await status({ status: ['FAILED', 'STOPPED'] }), [['r1', 'FAILED']]);
        assert.deepEqual(await status({ sort: '-updated_at' }), [
          ['r1', 'FAILED'],
          ['r2', 'SUCCEEDED'],
        ]);
        assert.deepEqual(await status({ sort: 'status' }), [
          ['r1', 'FAILED'],
          ['r2', 'SUCCEEDED'],
        ]);
        // A put of the run again changes its fields, not its status.
        s.putRun(run('r1', { execution_mode: 'ASYNC', inputs_count: 4, callback: 'https://cb' }));
        assert.equal((await s.getRun('r1'))!.run.inputs_count, 4);
        assert.deepEqual(await status({ status: ['FAILED'] }), [['r1', 'FAILED']]);
        // A list shows neither input nor output (the single read does).
        const listed = (await s.listRuns(rq({ uid: 'r2' }))).items;
        assert.equal(listed.length, 1);
        assert.equal(listed[0].execution.output_value, null);
        assert.equal(listed[0].execution.input_value, null);
        assert.equal(listed[0].execution.status, 'SUCCEEDED');
      });

      it('filters, sorts, counts and walks runs', async () => {
        const modes = ['LIVE', 'ASYNC', 'SCHEDULE'] as const;
        const statuses: ExecutionStatus[] = ['RUNNING', 'SUCCEEDED', 'FAILED'];
        const runs: Array<{
          id: string;
          mode: string;
          action: string;
          status: ExecutionStatus;
          created: string;
          updated: string;
        }> = [];
        for (let i = 0; i < 30; i++) {
          const id = `run${i}`;
          const r = {
            id,
            mode: modes[i % 3],
            action: i % 4 === 0 ? 'a' : 'b',
            status: statuses[i % 5 === 0 ? 2 : i % 2],
            created: ts(i % 4),
            updated: ts(10 + (i % 3)),
          };
          runs.push(r);
          s.putExecution(exec(id, { status: r.status, created_at: r.created, updated_at: r.updated }));
          s.putRun(
            run(id, {
              execution_mode: r.mode as StoredRun['execution_mode'],
              action_name: r.action,
              created_at: r.created,
            }),
          );
        }
        const cases: Array<{ q: Partial<ListRunsQuery>; match: (r: (typeof runs)[number]) => boolean }> = [
          { q: {}, match: () => true },
          { q: { status: ['FAILED'] }, match: (r) => r.status === 'FAILED' },
          { q: { status: ['RUNNING', 'FAILED'] }, match: (r) => r.status !== 'SUCCEEDED' },
          { q: { execution_mode: ['ASYNC'] }, match: (r) => r.mode === 'ASYNC' },
          {
            q: { execution_mode: ['LIVE', 'SCHEDULE'], status: ['SUCCEEDED'] },
            match: (r) => r.mode !== 'ASYNC' && r.status === 'SUCCEEDED',
          },
          { q: { action_name: 'a' }, match: (r) => r.action === 'a' },
          {
            q: { action_name: 'b', execution_mode: ['LIVE'] },
            match: (r) => r.action === 'b' && r.mode === 'LIVE',
          },
          { q: { uid: 'run7' }, match: (r) => r.id === 'run7' },
          { q: { uid: 'nope' }, match: () => false },
        ];
        for (const c of cases) {
          const want = runs.filter(c.match);
          for (const sort of RUN_SORTS) {
            const what = `${JSON.stringify(c.q)} sort=${sort}`;
            const desc = sort.startsWith('-');
            const field = desc ? sort.slice(1) : sort;
            const key = (r: (typeof runs)[number]): Key =>
              field === 'created_at'
                ? [r.created]
                : field === 'updated_at'
                  ? [r.updated]
                  : [r.status, r.created];
            const one = await s.listRuns(rq({ ...c.q, sort }));
            assert.deepEqual([one.total, one.total_capped, one.next], [want.length, false, null], what);
            assert.deepEqual(new Set(runIds(one.items)), new Set(want.map((r) => r.id)), what);
            const got = one.items.map((i) => runs.find((r) => r.id === i.run.id)!);
            for (let k = 1; k < got.length; k++) {
              const cmp = compareKeys(key(got[k - 1]), key(got[k]));
              assert.ok(desc ? cmp >= 0 : cmp <= 0, `${what}: ${got[k - 1].id} then ${got[k].id}`);
            }
            // By cursor, 3 at a time: the same runs in the same order.
            const paged = await walk((after) => s.listRuns(rq({ ...c.q, sort, limit: 3, after })));
            assert.deepEqual(runIds(paged.items), runIds(one.items), what);
            for (const p of paged.pages) assert.equal(p.total, want.length, what);
          }
        }
        // Offsets, after the cursor.
        const all = runIds((await s.listRuns(rq({ sort: 'status' }))).items);
        const first = await s.listRuns(rq({ sort: 'status', limit: 4 }));
        const page = await s.listRuns(rq({ sort: 'status', limit: 5, offset: 3, after: first.next! }));
        assert.deepEqual(runIds(page.items), all.slice(7, 12));
        assert.deepEqual(runIds((await s.listRuns(rq({ sort: 'status', offset: 28 }))).items), all.slice(28));
      });

      it('counts and lists an execution’s children by status, oldest first', async () => {
        s.putExecution(exec('p'));
        const statuses: ExecutionStatus[] = ['QUEUED', 'RUNNING', 'QUEUED', 'SUCCEEDED', 'QUEUED', 'FAILED'];
        statuses.forEach((status, i) =>
          s.putExecution(
            exec(`c${i}`, {
              parent_execution_id: 'p',
              top_execution_id: 'p',
              status,
              created_at: ts(10 - i),
            }),
          ),
        );
        s.putExecution(exec('gc', { parent_execution_id: 'c0', top_execution_id: 'p' }));
        assert.deepEqual(await s.countChildren('p'), { QUEUED: 3, RUNNING: 1, SUCCEEDED: 1, FAILED: 1 });
        assert.deepEqual(ids(await s.listChildren('p', ['QUEUED'])), ['c4', 'c2', 'c0']);
        assert.deepEqual(ids(await s.listChildren('p', ['QUEUED', 'RUNNING'], 2)), ['c4', 'c2']);
        assert.deepEqual(await s.listChildren('p', []), []);
        assert.deepEqual(await s.countChildren('nobody'), {});
        assert.deepEqual(await s.listChildren('nobody', ['QUEUED']), []);
        s.putExecution(
          exec('c0', {
            parent_execution_id: 'p',
            top_execution_id: 'p',
            status: 'STOPPED',
            created_at: ts(10),
          }),
        );
        assert.deepEqual(await s.countChildren('p'), {
          QUEUED: 2,
          RUNNING: 1,
          SUCCEEDED: 1,
          FAILED: 1,
          STOPPED: 1,
        });
        const listed = await s.listChildren('p', ['STOPPED']);
        assert.deepEqual(listed, [
          exec('c0', {
            parent_execution_id: 'p',
            top_execution_id: 'p',
            status: 'STOPPED',
            created_at: ts(10),
          }),
        ]);
      });

      it('makes a bulk insert visible whole once flushed, without overwriting newer writes', async () => {
        s.putExecution(exec('p', { virtual: true, status: 'RUNNING' }));
        s.expectBulk('p', 250);
        const rows = Array.from({ length: 250 }, (_, k) =>
          exec(`p-${String(k).padStart(3, '0')}`, {
            parent_execution_id: 'p',
            top_execution_id: 'p',
            name: `p [${k}]`,
          }),
        );
        // A child that started before its row was written: the put is newer and stays.
        s.putExecution({ ...rows[0], status: 'RUNNING' });
        s.insertExecutions(rows.slice(0, 100));
        s.insertExecutions(rows.slice(100));
        // …and one that changes after the insert: the put wins again.
        s.putExecution({ ...rows[249], status: 'SUCCEEDED' });
        await s.flush();
        await s.durable();
        await s.committed();
        assert.deepEqual(await s.countChildren('p'), { QUEUED: 248, RUNNING: 1, SUCCEEDED: 1 });
        const page = await s.listExecutions(eq({ parent_execution_id: 'p', sort: 'created_at' }));
        assert.deepEqual([page.total, page.total_capped, page.next], [250, false, null]);
        // Rows created in the same millisecond list in the order they were given (those put on
        // their own aside: where they fall among them is the backend's).
        assert.deepEqual(
          page.items.map((e) => e.name).filter((n) => n !== 'p [0]' && n !== 'p [249]'),
          rows.slice(1, 249).map((e) => e.name),
        );
        assert.deepEqual(await s.getExecution('p-100'), rows[100]);
        assert.equal((await s.getExecution('p-000'))?.status, 'RUNNING');
        assert.equal((await s.getExecution('p-249'))?.status, 'SUCCEEDED');
        // durable() and committed() resolve with nothing queued too.
        await s.durable();
        await s.committed();
      });

      it('commits what is written after a flush that had nothing to write', async () => {
        // The flush's commit round finds nothing queued (PostgresStore's pump once stayed
        // "running" after such a round, and never committed again: a node under load hung).
        await s.flush();
        await new Promise((r) => setImmediate(r));
        s.putExecution(exec('after'));
        let timer: NodeJS.Timeout | undefined;
        const stuck = new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error('the write was never committed')), 5_000);
        });
        await Promise.race([s.durable(), stuck]).finally(() => clearTimeout(timer));
        assert.equal((await s.getExecution('after'))?.id, 'after');
      });
    });

    if (opts.restarts) {
      describe('restarts', () => {
        it('keeps everything across a restart, and its cursors stay valid', async () => {
          assert.ok(opened.reopen, 'open() gives reopen');
          s.putExecution(exec('top', { status: 'RUNNING', input_value: { a: 1 }, created_at: ts(1) }));
          s.putRun(run('top', { execution_mode: 'ASYNC', inputs_count: 2 }));
          s.expectBulk('top', 2);
          s.insertExecutions([
            exec('k1', { parent_execution_id: 'top', top_execution_id: 'top', created_at: ts(2) }),
            exec('k2', { parent_execution_id: 'top', top_execution_id: 'top', created_at: ts(3) }),
          ]);
          s.putExecution(
            exec('k1', {
              parent_execution_id: 'top',
              top_execution_id: 'top',
              created_at: ts(2),
              status: 'SUCCEEDED',
              output_value: [1],
            }),
          );
          s.putExecution(
            exec('top', {
              status: 'PAUSED',
              paused_from: 'RUNNING',
              input_value: { a: 1 },
              created_at: ts(1),
              virtual: true,
            }),
          );
          s.appendLog(log('k1', 1));
          s.appendLog(log('k1', 2));
          s.appendRecording({
            execution_id: 'k1',
            seq: 1,
            kind: 'sleep',
            name: '',
            value: { seconds: 5 },
            ts: ts(4),
          });
          s.putRecord(record('rec', 'setting-a', { data: { value: [1, { b: 2 }] } }));
          s.putMessage(message('m', { execution_id: 'k1' }));
          s.putScheduleInputs('sch', [{ x: 1 }]);
          s.putSchedule(schedule('sch', { inputs_count: 1 }));
          s.putWebhook(webhook('wh'));
          const before = await s.listExecutions(eq({ sort: 'created_at', limit: 1 }));
          await s.durable();

          s = await opened.reopen!();
          assert.deepEqual(
            await s.getExecution('top'),
            exec('top', {
              status: 'PAUSED',
              paused_from: 'RUNNING',
              input_value: { a: 1 },
              created_at: ts(1),
              virtual: true,
            }),
          );
          assert.equal((await s.getRun('top'))?.run.inputs_count, 2);
          assert.deepEqual(
            (await s.listRuns(rq({ status: ['PAUSED'] }))).items.map((r) => r.run.id),
            ['top'],
          );
          assert.deepEqual(await s.countChildren('top'), { SUCCEEDED: 1, QUEUED: 1 });
          assert.deepEqual((await s.getExecution('k1'))?.output_value, [1]);
          assert.deepEqual(await s.getLog('k1', 0, 10), [log('k1', 1), log('k1', 2)]);
          assert.deepEqual(await s.getRecording('k1'), [
            { execution_id: 'k1', seq: 1, kind: 'sleep', name: '', value: { seconds: 5 }, ts: ts(4) },
          ]);
          assert.deepEqual(
            await s.getRecord('setting', 'id', 'rec'),
            record('rec', 'setting-a', { data: { value: [1, { b: 2 }] } }),
          );
          assert.deepEqual(await s.listMessages({ open: true }), [message('m', { execution_id: 'k1' })]);
          assert.deepEqual(await s.listSchedules(), [
            schedule('sch', { inputs_count: 1, inputs: [{ x: 1 }] }),
          ]);
          assert.deepEqual(await s.listWebhooks(), [webhook('wh')]);
          assert.deepEqual(ids(await s.listUnfinished()).sort(), ['k2', 'top']);
          const after = await s.listExecutions(eq({ sort: 'created_at', after: before.next! }));
          assert.deepEqual(ids(after.items), ['k1', 'k2']);
          assert.equal(after.total, 3);
        });

        it('fails, at the next start, a run whose announced children did not all arrive', async () => {
          const child = (id: string, parent: string) =>
            exec(id, { parent_execution_id: parent, top_execution_id: parent });
          s.putExecution(exec('cut', { virtual: true, status: 'RUNNING' }));
          s.expectBulk('cut', 10);
          s.insertExecutions([0, 1, 2, 3, 4].map((k) => child(`cut-${k}`, 'cut')));
          s.putExecution(exec('whole', { virtual: true, status: 'RUNNING' }));
          s.expectBulk('whole', 4);
          s.insertExecutions([child('w-0', 'whole'), child('w-1', 'whole')]);
          await s.flush();
          s.insertExecutions([child('w-2', 'whole'), child('w-3', 'whole')]);
          await s.durable();

          s = await opened.reopen!();
          // Its client was never told the run was accepted: it must not go on with half its inputs.
          assert.equal((await s.getExecution('cut'))?.status, 'FAILED');
          assert.deepEqual(await s.countChildren('cut'), { STOPPED: 5 });
          assert.equal((await s.getExecution('whole'))?.status, 'RUNNING');
          assert.deepEqual(await s.countChildren('whole'), { QUEUED: 4 });
        });
      });
    }
  });
}
