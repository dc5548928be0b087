/**
 * Several runner nodes on one PostgreSQL database (runner/src/store/postgresNodes.ts), at the
 * store level: owners, heartbeats, restoring only one's own, reaping a lost node once, claiming
 * queued work, and a lost node's commits refused.
 */
import assert from 'node:assert/strict';
import { Client } from 'pg';
import {
  HEARTBEAT_MS,
  LEASE_MS,
  NodeLostError,
  REAP_MS,
  claimQueued,
  reapLostNodes,
} from '../../runner/src/store/postgresNodes';
import { PostgresStore } from '../../runner/src/store/postgresStore';
import type { StoredExecution } from '../../runner/src/store/store';
import { usePostgres } from '../support/postgres';
import { until } from '../support/until';
import { exec, ts } from './storeContract';

type Row = Record<string, unknown>;

async function withClient<T>(url: string, fn: (c: Client) => Promise<T>): Promise<T> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

const sql = (url: string, text: string, values: unknown[] = []) =>
  withClient(url, async (c) => (await c.query(text, values)).rows as Row[]);

const owners = async (url: string) =>
  Object.fromEntries(
    (await sql(url, 'SELECT id, owner FROM executions ORDER BY id')).map((r) => [r.id, r.owner]),
  );

/**
 * Makes node `name` look dead while its process lives on (a stall, a partition): its heartbeat
 * is made an hour old and a trigger keeps its renewals from landing.
 */
async function stall(url: string, name: string): Promise<void> {
  await sql(
    url,
    `CREATE TABLE IF NOT EXISTS test_stalled (name text PRIMARY KEY);
     CREATE OR REPLACE FUNCTION test_stall() RETURNS trigger LANGUAGE plpgsql AS $$
     BEGIN
       IF EXISTS (SELECT 1 FROM test_stalled WHERE name = NEW.name) THEN
         NEW.heartbeat_at := OLD.heartbeat_at;
       END IF;
       RETURN NEW;
     END $$;
     CREATE OR REPLACE TRIGGER test_stall BEFORE UPDATE ON nodes FOR EACH ROW EXECUTE FUNCTION test_stall();`,
  );
  await sql(url, 'INSERT INTO test_stalled (name) VALUES ($1) ON CONFLICT DO NOTHING', [name]);
  await withClient(url, async (c) => {
    await c.query('ALTER TABLE nodes DISABLE TRIGGER test_stall');
    await c.query(`UPDATE nodes SET heartbeat_at = clock_timestamp() - interval '1 hour' WHERE name = $1`, [
      name,
    ]);
    await c.query('ALTER TABLE nodes ENABLE TRIGGER test_stall');
  });
}

describe('PostgreSQL: several nodes on one database', function () {
  this.timeout(120_000);
  const server = usePostgres();
  const open: PostgresStore[] = [];
  const node = async (url: string, name: string, onLost?: (why: string) => void) => {
    const s = await PostgresStore.open(url, { node: name, onLost });
    open.push(s);
    return s;
  };
  afterEach(async () => {
    await Promise.allSettled(open.splice(0).map((s) => s.close()));
  });

  it('has explicit lease constants: a heartbeat every 2 s, lost after 10 s, looked for every 2 s', () => {
    assert.equal(HEARTBEAT_MS, 2_000);
    assert.equal(LEASE_MS, 10_000);
    assert.equal(REAP_MS, 2_000);
    assert.ok(LEASE_MS >= 4 * HEARTBEAT_MS, 'a node survives a few late heartbeats');
  });

  it('registers each node, renews its heartbeat, and owns the executions it writes', async () => {
    const url = await server().createDatabase();
    const a = await node(url, 'host:a');
    const b = await node(url, 'host:b');
    a.putExecution(exec('a1', { status: 'RUNNING' }));
    a.insertExecutions([exec('a2', { parent_execution_id: 'a1', top_execution_id: 'a1' })]);
    b.putExecution(exec('b1', { status: 'QUEUED' }));
    await Promise.all([a.durable(), b.durable()]);
    assert.deepEqual(await owners(url), { a1: 'host:a', a2: 'host:a', b1: 'host:b' });
    const first = await sql(url, 'SELECT name, heartbeat_at FROM nodes ORDER BY name');
    assert.deepEqual(
      first.map((r) => r.name),
      ['host:a', 'host:b'],
    );
    await until(
      () => sql(url, `SELECT heartbeat_at FROM nodes WHERE name = 'host:a'`),
      (r) => (r[0].heartbeat_at as Date) > (first[0].heartbeat_at as Date),
      'the heartbeat of host:a to be renewed',
      HEARTBEAT_MS * 5,
    );
  });

  it('restores only its own unfinished executions and unowned ones, claiming those', async () => {
    const url = await server().createDatabase();
    const a = await node(url, 'host:a');
    const b = await node(url, 'host:b');
    a.putExecution(exec('a-run', { status: 'RUNNING', created_at: ts(2) }));
    a.putExecution(exec('a-queued', { status: 'QUEUED', created_at: ts(1) }));
    a.putExecution(exec('a-done', { status: 'SUCCEEDED', created_at: ts(0) }));
    b.putExecution(exec('b-run', { status: 'RUNNING' }));
    b.putExecution(exec('b-queued', { status: 'QUEUED', created_at: ts(3) }));
    await Promise.all([a.durable(), b.durable()]);
    // From a database of before team mode, say: nobody's.
    await sql(url, `UPDATE executions SET owner = NULL WHERE id = 'b-queued'`);

    // host:a restarts (the same name, a new process).
    await a.close();
    const a2 = await node(url, 'host:a');
    const ids = (recs: StoredExecution[]) => recs.map((r) => r.id);
    assert.deepEqual(ids(await a2.claimUnfinished()), ['a-queued', 'a-run', 'b-queued']);
    assert.deepEqual(await owners(url), {
      'a-done': 'host:a',
      'a-queued': 'host:a',
      'a-run': 'host:a',
      'b-queued': 'host:a',
      'b-run': 'host:b',
    });
    // host:b's are its own to restore; host:a's are not.
    assert.deepEqual(ids(await b.claimUnfinished()), ['b-run']);
  });

  it('ends a lost node’s started executions FAILED, stops their queued children, releases the rest', async () => {
    const url = await server().createDatabase();
    let lostWhy: string | undefined;
    const a = await node(url, 'host:a', (why) => (lostWhy = why));
    const b = await node(url, 'host:b');
    a.putExecution(exec('running', { status: 'RUNNING', created_at: ts(0) }));
    a.putExecution(exec('blocked', { status: 'BLOCKED', created_at: ts(1) }));
    a.putExecution(exec('paused', { status: 'PAUSED', paused_from: 'RUNNING', created_at: ts(2) }));
    a.putExecution(exec('paused-early', { status: 'PAUSED', paused_from: 'QUEUED', created_at: ts(3) }));
    a.putExecution(exec('queued', { status: 'QUEUED', created_at: ts(4) }));
    a.putExecution(exec('scheduled', { status: 'SCHEDULED', created_at: ts(5) }));
    a.putExecution(
      exec('child', { status: 'QUEUED', parent_execution_id: 'blocked', top_execution_id: 'blocked' }),
    );
    a.putExecution(exec('virtual', { status: 'RUNNING', virtual: true, created_at: ts(6) }));
    a.putExecution(exec('done', { status: 'SUCCEEDED', created_at: ts(7) }));
    b.putExecution(exec('b-running', { status: 'RUNNING' }));
    await Promise.all([a.durable(), b.durable()]);

    await stall(url, 'host:a');
    const status = async () =>
      Object.fromEntries(
        (await sql(url, 'SELECT id, status, message, owner FROM executions ORDER BY id')).map((r) => [
          r.id,
          [r.status, r.message, r.owner],
        ]),
      );
    // host:b's own round finds it within REAP_MS (and host:a's heartbeat is refused meanwhile).
    const after = await until(status, (s) => s.running[0] === 'FAILED', 'host:b to reap host:a', REAP_MS * 5);
    const lost = 'node host:a lost';
    assert.deepEqual(after, {
      running: ['FAILED', lost, 'host:a'],
      blocked: ['FAILED', lost, 'host:a'],
      paused: ['FAILED', lost, 'host:a'],
      'paused-early': ['PAUSED', null, null],
      queued: ['QUEUED', null, null],
      scheduled: ['SCHEDULED', null, null],
      child: ['STOPPED', 'its parent ended: node host:a lost', null],
      virtual: ['RUNNING', null, null],
      done: ['SUCCEEDED', null, 'host:a'],
      'b-running': ['RUNNING', null, 'host:b'],
    });
    assert.ok((await sql(url, `SELECT lost_at FROM nodes WHERE name = 'host:a'`))[0].lost_at);

    // host:a was only slow: it learns it was declared lost, and can write nothing more.
    a.putExecution(exec('running', { status: 'SUCCEEDED', created_at: ts(0) }));
    await assert.rejects(a.durable(), NodeLostError);
    assert.match(lostWhy ?? '', /host:a.*declared lost/);
    assert.equal((await status()).running[0], 'FAILED', 'its late write did not land');
  });

  it('fails a lost node’s async run whose inputs it was still storing, as its own restart would', async () => {
    const url = await server().createDatabase();
    const a = await node(url, 'host:a');
    const child = (id: string) => exec(id, { parent_execution_id: 'cut', top_execution_id: 'cut' });
    a.putExecution(exec('cut', { status: 'RUNNING', virtual: true }));
    a.expectBulk('cut', 10);
    a.insertExecutions([child('cut-0'), child('cut-1')]);
    await a.durable();
    await node(url, 'host:b');
    await stall(url, 'host:a');
    const rows = await until(
      () => sql(url, 'SELECT id, status, owner FROM executions ORDER BY id'),
      (r) => r[0].status === 'FAILED',
      'host:b to reap host:a',
      REAP_MS * 5,
    );
    assert.deepEqual(rows, [
      { id: 'cut', status: 'FAILED', owner: 'host:a' },
      { id: 'cut-0', status: 'STOPPED', owner: 'host:a' },
      { id: 'cut-1', status: 'STOPPED', owner: 'host:a' },
    ]);
    assert.deepEqual(await sql(url, 'SELECT * FROM bulk_inserts'), []);
  });

  it('lets only one node reap a lost node', async () => {
    const url = await server().createDatabase();
    const a = await node(url, 'host:a');
    a.putExecution(exec('running', { status: 'RUNNING' }));
    await a.durable();
    await stall(url, 'host:a');
    const clients = await Promise.all(
      [1, 2, 3].map(async () => {
        const c = new Client({ connectionString: url });
        await c.connect();
        return c;
      }),
    );
    try {
      const reaped = await Promise.all(clients.map((c, i) => reapLostNodes(c, `host:r${i}`)));
      assert.deepEqual(
        reaped.flat().map((r) => [r.name, r.failed]),
        [['host:a', 1]],
      );
    } finally {
      await Promise.all(clients.map((c) => c.end()));
    }
    const rows = await sql(url, `SELECT status, message FROM executions WHERE id = 'running'`);
    assert.deepEqual(rows, [{ status: 'FAILED', message: 'node host:a lost' }]);
  });

  it('claims queued unowned work by priority then age, each execution by one node only', async () => {
    const url = await server().createDatabase();
    const a = await node(url, 'host:a');
    for (let i = 0; i < 40; i++)
      a.putExecution(
        exec(`q${String(i).padStart(2, '0')}`, { status: 'QUEUED', priority: i % 4, created_at: ts(i) }),
      );
    a.putExecution(exec('kid', { status: 'QUEUED', parent_execution_id: 'q00', top_execution_id: 'q00' }));
    await a.durable();
    await sql(url, 'UPDATE executions SET owner = NULL');
    const clients = await Promise.all(
      [1, 2, 3, 4].map(async () => {
        const c = new Client({ connectionString: url });
        await c.connect();
        return c;
      }),
    );
    try {
      const first = await claimQueued(clients[0], 'host:x', 3);
      assert.deepEqual(
        first.map((r) => [r.id, r.priority]),
        [
          ['q03', 3],
          ['q07', 3],
          ['q11', 3],
        ],
      );
      const rest = await Promise.all(clients.map((c, i) => claimQueued(c, `host:${i}`, 20)));
      const ids = [...first, ...rest.flat()].map((r) => r.id);
      assert.equal(ids.length, 40, 'every top-level queued execution claimed');
      assert.equal(new Set(ids).size, 40, 'none by two nodes');
      assert.ok(!ids.includes('kid'), 'children stay with their parent’s node');
    } finally {
      await Promise.all(clients.map((c) => c.end()));
    }
  });

  it('claims in its rounds only as many queued executions as it has free slots', async () => {
    const url = await server().createDatabase();
    const a = await node(url, 'host:a');
    for (const [id, priority] of [
      ['low', 0],
      ['high', 5],
      ['mid', 2],
    ] as const)
      a.putExecution(exec(id, { status: 'QUEUED', priority }));
    await a.durable();
    await sql(url, 'UPDATE executions SET owner = NULL');
    let free = 0;
    let rounds = 0;
    const adopted: string[] = [];
    a.startClaiming({
      freeSlots: () => {
        rounds++;
        return free;
      },
      adopt: async (recs) => {
        adopted.push(...recs.map((r) => r.id));
        free = 0; // taken
      },
    });
    await until(
      async () => rounds,
      (n) => n >= 2,
      'two rounds with no free slot',
      REAP_MS * 4,
    );
    assert.deepEqual(adopted, [], 'no free slot, nothing claimed');
    free = 2;
    await until(
      async () => adopted.length,
      (n) => n > 0,
      'a claim',
      REAP_MS * 4,
    );
    const seen = rounds;
    await until(
      async () => rounds,
      (n) => n >= seen + 1,
      'one more round',
      REAP_MS * 4,
    );
    assert.deepEqual(adopted, ['high', 'mid']);
    assert.deepEqual(await owners(url), { high: 'host:a', low: null, mid: 'host:a' });
  });

  it('refuses to write over an unfinished execution another node owns', async () => {
    const url = await server().createDatabase();
    const a = await node(url, 'host:a');
    const b = await node(url, 'host:b');
    a.putExecution(exec('x', { status: 'RUNNING' }));
    await a.durable();
    b.putExecution(exec('x', { status: 'SUCCEEDED' }));
    await assert.rejects(b.durable(), /owned by another runner node were not written: x/);
    assert.deepEqual(await sql(url, 'SELECT status, owner FROM executions'), [
      { status: 'RUNNING', owner: 'host:a' },
    ]);
    // Ended, it may be taken up again (a stopped run resumed on another node).
    a.putExecution(exec('x', { status: 'STOPPED' }));
    await a.durable();
    b.putExecution(exec('x', { status: 'QUEUED' }));
    await b.durable();
    assert.deepEqual(await sql(url, 'SELECT status, owner FROM executions'), [
      { status: 'QUEUED', owner: 'host:b' },
    ]);
  });
});
