/**
 * The runner's store keeps pages of the executions list until a write that could change them
 * (runner/src/store/listCache.ts). A page answered from memory must be the page the database
 * would give: random lifecycle-true writes and random lists, each list answered by the cache and
 * by the store's thread directly, must agree item for item, total for total.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import type { ExecutionStatus, ListExecutionsQuery } from '@flows/protocol';
import { nextStatuses, statusesBefore } from '../../runner/src/engine/lifecycle';
import type { ExecutionField, ListPage, StoredExecution } from '../../runner/src/store/store';
import { ThreadedStore } from '../../runner/src/store/threadedStore';
import { tempDir } from '../runner/harness';
import { eq, exec, ts } from './storeContract';

type JsonPage = ListPage<{ id: string; json: string }>;

/** The page straight from the store's thread, past the cache. */
const uncached = (store: ThreadedStore, q: ListExecutionsQuery): Promise<JsonPage> =>
  (store as unknown as { call: (m: string, q: unknown) => Promise<JsonPage> }).call('listExecutionsJson', q);

/** An item as a failure shows it: enough to see why it is (not) in a page. */
const brief = ({ json }: { json: string }): string => {
  const r = JSON.parse(json) as StoredExecution;
  return `${r.id} ${r.status} ${r.flow_name} ${r.parent_execution_id} ${r.is_productive} ${r.updated_at.slice(11, 19)}`;
};

/** A seeded generator (mulberry32): a failure names its seed and replays. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('the executions list cache', function () {
  this.timeout(120_000);
  let store: ThreadedStore;

  beforeEach(async () => {
    store = await ThreadedStore.open(path.join(tempDir('flows-list-cache-'), 'flows.db'));
    // As the runner wires it (runner.ts).
    store.listCache.statusesBefore = statusesBefore;
  });
  afterEach(() => store.close());

  it('answers a page again from memory, and drops it when a write joins it', async () => {
    store.putExecution(exec('a', { status: 'FAILED', flow_name: 'f' }));
    const first = await store.listExecutionsJson(eq({ status: ['FAILED'] }));
    const hits = store.listCache.hits;
    assert.deepEqual(await store.listExecutionsJson(eq({ status: ['FAILED'] })), first);
    assert.equal(store.listCache.hits, hits + 1, 'the second identical list came from memory');
    store.putExecution(exec('b', { status: 'FAILED', created_at: ts(1), updated_at: ts(1) }));
    const after = await store.listExecutionsJson(eq({ status: ['FAILED'] }));
    assert.deepEqual(
      after.items.map((i) => i.id),
      ['b', 'a'],
      'a client that wrote and then listed sees its write',
    );
    assert.equal(after.total, 2);
  });

  it('keeps "status=FAILED" while executions run and succeed, and drops "status=RUNNING"', async () => {
    store.putExecution(exec('bad', { status: 'FAILED' }));
    store.putExecution(exec('run', { status: 'QUEUED', parent_execution_id: 'p' }));
    await store.listExecutionsJson(eq({ status: ['FAILED'] }));
    await store.listExecutionsJson(eq({ status: ['RUNNING'] }));
    store.putExecution(exec('run', { status: 'RUNNING', parent_execution_id: 'p', updated_at: ts(1) }), [
      'status',
      'updated_at',
    ]);
    const hits = store.listCache.hits;
    await store.listExecutionsJson(eq({ status: ['FAILED'] }));
    assert.equal(store.listCache.hits, hits + 1, 'an execution starting cannot change the failed ones');
    const running = await store.listExecutionsJson(eq({ status: ['RUNNING'] }));
    assert.deepEqual(
      running.items.map((i) => i.id),
      ['run'],
    );
    store.putExecution(exec('run', { status: 'SUCCEEDED', parent_execution_id: 'p', updated_at: ts(2) }), [
      'status',
      'updated_at',
    ]);
    assert.deepEqual((await store.listExecutionsJson(eq({ status: ['RUNNING'] }))).items, []);
    const top = await store.listExecutionsJson(eq({ parent_execution_id: 'none' }));
    const before = store.listCache.hits;
    store.insertExecutions([exec('child', { parent_execution_id: 'p' })]);
    assert.deepEqual(await store.listExecutionsJson(eq({ parent_execution_id: 'none' })), top);
    assert.equal(store.listCache.hits, before + 1, 'a child inserted cannot change the top-level list');
  });

  it('does not keep an answer that a write overtook on its way', async () => {
    store.putExecution(exec('a', { status: 'FAILED' }));
    const asked = store.listExecutionsJson(eq({ status: ['FAILED'] }));
    // Written after the list was asked for, before its answer came back.
    store.putExecution(exec('b', { status: 'FAILED', created_at: ts(1), updated_at: ts(1) }));
    assert.ok((await asked).items.some((i) => i.id === 'a'));
    assert.deepEqual(
      (await store.listExecutionsJson(eq({ status: ['FAILED'] }))).items.map((i) => i.id),
      ['b', 'a'],
    );
  });

  it('gives the pages the database gives, through 3,000 random writes and lists', async () => {
    const seed = Number(process.env.FLOWS_TEST_SEED ?? 20261207);
    const rnd = random(seed);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)];
    const rows = new Map<string, StoredExecution>();
    const parents = [null, 'p1', 'p2'];
    let clock = 0;
    const queries = (): ListExecutionsQuery => {
      const q: Partial<ListExecutionsQuery> = { limit: pick([3, 20]) };
      if (rnd() < 0.5)
        q.status = [pick(['QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'STOPPED', 'PAUSED'] as const)];
      if (rnd() < 0.2) q.status = ['QUEUED', 'RUNNING', 'BLOCKED', 'PAUSED'];
      if (rnd() < 0.3) q.flow_name = pick(['f1', 'f2']);
      if (rnd() < 0.3) q.parent_execution_id = pick(['none', 'p1', 'p2']);
      if (rnd() < 0.2) q.is_productive = pick([true, false]);
      if (rnd() < 0.3) q.sort = pick(['-updated_at', 'status', 'created_at']);
      return eq(q);
    };
    // A few lists asked again and again, as views poll them.
    const pool = Array.from({ length: 12 }, queries);
    let checked = 0;
    for (let step = 0; step < 3000; step++) {
      const r = rnd();
      if (r < 0.25 || rows.size === 0) {
        const id = `e${rows.size}`;
        const rec = exec(id, {
          status: pick(['CREATED', 'QUEUED'] as const),
          flow_name: pick(['f1', 'f2']),
          parent_execution_id: pick(parents),
          is_productive: rnd() < 0.5,
          created_at: ts(++clock),
          updated_at: ts(clock),
        });
        rows.set(id, rec);
        if (rnd() < 0.5) store.insertExecutions([rec]);
        else store.putExecution(rec);
      } else if (r < 0.6) {
        // A lifecycle-true change of status (the engine checks every one against the table).
        const rec = pick([...rows.values()]);
        const next = nextStatuses(rec.status);
        if (next.length === 0) continue;
        const status: ExecutionStatus = pick(next);
        const changed: ExecutionField[] = ['status', 'updated_at'];
        const updated = { ...rec, status, updated_at: ts(++clock) };
        if (rnd() < 0.3) {
          updated.message = `m${step}`;
          changed.push('message');
        }
        rows.set(rec.id, updated);
        store.putExecution(updated, rnd() < 0.9 ? changed : undefined);
      } else {
        const q = pick(pool);
        // Bulk rows land in slices of their own, and the store's answers do not wait for them:
        // two reads either side of a landing differ without any cache. Compare once they landed
        // (mostly), and otherwise only when no insert was on its way.
        if (rnd() < 0.7) await store.durable();
        const landing = (store.listCache as unknown as { landing: Set<unknown> }).landing.size > 0;
        const [cached, direct] = [await store.listExecutionsJson(q), await uncached(store, q)];
        if (landing) continue;
        assert.deepEqual(
          { items: cached.items.map(brief), total: cached.total, next: cached.next },
          { items: direct.items.map(brief), total: direct.total, next: direct.next },
          `seed ${seed}, step ${step}: ${JSON.stringify(q)}`,
        );
        checked++;
      }
    }
    assert.ok(checked > 800, `${checked} lists compared`);
    assert.ok(store.listCache.hits > 50, `${store.listCache.hits} answered from memory: the cache was used`);
  });
});
