/**
 * Several `flows serve` nodes on one PostgreSQL database (runner/src/store/postgresNodes.ts), as
 * real processes: each restarts without touching the other's executions, and when one is killed
 * (kill -9) while it runs a long flow, the other ends that execution FAILED "node … lost" within
 * the lease, and takes on (claims and runs) what the dead node had queued.
 */
import assert from 'node:assert/strict';
import { LEASE_MS, REAP_MS } from '../../runner/src/store/postgresNodes';
import { ownerOf, sql, usePostgres } from '../support/postgres';
import { until } from '../support/until';
import {
  FIXTURE_FLOWS,
  endServed,
  serveNode,
  nodeName,
  servedExecution,
  servedStatusIs,
  tempDir,
  type ServedRunner,
} from './harness';

interface Node {
  name: string;
  data: string;
  s: ServedRunner;
}

describe('flows serve: several nodes on one PostgreSQL database', function () {
  this.timeout(240_000);
  const server = usePostgres();
  const started: ServedRunner[] = [];

  /** A node (its data folder names it: `host:dataDir`); again with the same `data` = its restart. */
  async function node(url: string, data = tempDir()): Promise<Node> {
    const s = await serveNode({ url, flows: FIXTURE_FLOWS, data, concurrency: 1 });
    started.push(s);
    return { name: nodeName(data), data, s };
  }
  afterEach(async () => {
    await Promise.all(started.splice(0).map((s) => endServed(s, 'SIGKILL')));
  });

  const create = async (n: Node, seconds: number) => {
    const res = await n.s.api('POST', '/api/latest/execution', {
      flow_name: 'sleeper',
      input_value: { seconds },
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body.id as string;
  };
  const get = (n: Node, id: string) => servedExecution(n.s, id);
  const statusIs = (n: Node, id: string, status: string, ms?: number) => servedStatusIs(n.s, id, status, ms);

  it('restarts each node without touching the other’s executions', async () => {
    const url = await server().createDatabase();
    let a = await node(url);
    let b = await node(url);
    const a1 = await create(a, 120);
    const b1 = await create(b, 120);
    const b2 = await create(b, 0.1); // queued behind b1 (concurrency 1)
    await statusIs(a, a1, 'RUNNING');
    await statusIs(b, b1, 'RUNNING');
    assert.equal((await get(b, b2)).status, 'QUEUED');

    // a restarts at once after a kill -9 (within the lease: nobody declared it lost).
    await endServed(a.s, 'SIGKILL');
    a = await node(url, a.data);
    const a1Now = await statusIs(a, a1, 'FAILED');
    assert.match(a1Now.message, /runner restarted/);
    assert.equal((await get(a, b1)).status, 'RUNNING', 'b’s running execution is b’s');
    assert.equal((await get(a, b2)).status, 'QUEUED', 'b’s queued execution is b’s');
    assert.equal(await ownerOf(url, b2), b.name);

    // b restarts the same way, while a runs something of its own.
    const a2 = await create(a, 120);
    await statusIs(a, a2, 'RUNNING');
    await endServed(b.s, 'SIGKILL');
    b = await node(url, b.data);
    const b1Now = await statusIs(b, b1, 'FAILED');
    assert.match(b1Now.message, /runner restarted/);
    await statusIs(b, b2, 'SUCCEEDED'); // its own queued one runs after its restart
    assert.equal((await get(b, a2)).status, 'RUNNING', 'a’s running execution is a’s');
    assert.equal(await ownerOf(url, a2), a.name);
    assert.equal(await ownerOf(url, b2), b.name);
  });

  it('kill -9 of a node: within the lease its running execution ends FAILED "node … lost", its queued one runs elsewhere', async () => {
    const url = await server().createDatabase();
    const a = await node(url);
    const b = await node(url);
    const running = await create(a, 120);
    await statusIs(a, running, 'RUNNING');
    const queued = await create(a, 0.1); // queued behind it (concurrency 1)
    assert.equal((await get(a, queued)).status, 'QUEUED');
    assert.equal(await ownerOf(url, queued), a.name);

    await endServed(a.s, 'SIGKILL');
    const killedAt = Date.now();
    // Seen from the other node's REST API. Bound: the lease, plus a round of looking for lost
    // nodes, plus the last heartbeat's age at the kill (≤ HEARTBEAT_MS ≤ REAP_MS) and slack.
    const bound = LEASE_MS + 2 * REAP_MS + 5_000;
    const failed = await statusIs(b, running, 'FAILED', bound);
    assert.ok(Date.now() - killedAt <= bound, `ended within ${bound} ms of the kill`);
    assert.equal(failed.message, `node ${a.name} lost`);
    assert.ok(failed.ended_at);

    // Released (owner NULL), then claimed by b (free slot) and run there, once.
    const ran = await statusIs(b, queued, 'SUCCEEDED', 3 * REAP_MS + 10_000);
    assert.equal(await ownerOf(url, queued), b.name);
    const log = (await b.s.api('GET', `/api/latest/execution/${queued}/log`)).body;
    const starts = log.items.filter((l: { text: string }) => l.text.includes('sleeping'));
    assert.equal(starts.length, 1, `ran once: ${JSON.stringify(log.items)}`);
    assert.ok(ran.started_at >= failed.ended_at, 'started after the dead node’s execution ended');

    // Nothing of the dead node left unfinished.
    const left = await sql(
      url,
      `SELECT id, status FROM executions WHERE owner = $1
       AND status NOT IN ('SUCCEEDED', 'FAILED', 'STOPPED', 'INVALID', 'PARTIAL_SUCCEEDED')`,
      [a.name],
    );
    assert.deepEqual(left, []);
    assert.ok((await sql(url, 'SELECT lost_at FROM nodes WHERE name = $1', [a.name]))[0].lost_at);
  });

  it('a node that stalls past the lease is declared lost, stops, and its late writes do not land', async () => {
    const url = await server().createDatabase();
    const a = await node(url);
    const b = await node(url);
    const running = await create(a, 120);
    await statusIs(a, running, 'RUNNING');
    // a's heartbeats stop arriving (a stall, a partition) while its process lives on.
    await sql(
      url,
      `CREATE FUNCTION test_stall() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         IF NEW.name = '${a.name.replaceAll("'", "''")}' THEN NEW.heartbeat_at := OLD.heartbeat_at; END IF;
         RETURN NEW;
       END $$;
       UPDATE nodes SET heartbeat_at = clock_timestamp() - interval '1 hour' WHERE name = '${a.name.replaceAll("'", "''")}';
       CREATE TRIGGER test_stall BEFORE UPDATE ON nodes FOR EACH ROW EXECUTE FUNCTION test_stall();`,
    );
    const failed = await statusIs(b, running, 'FAILED', 3 * REAP_MS + 5_000);
    assert.equal(failed.message, `node ${a.name} lost`);
    // a learns it at its next heartbeat and stops (its "runner stopped" is refused).
    const code = await until(
      async () => a.s.child.exitCode ?? a.s.child.signalCode,
      (c) => c !== null,
      'the lost node to exit',
      3 * REAP_MS + 5_000,
    );
    assert.equal(code, 1, 'not a clean stop: a supervisor should start it again');
    assert.equal((await get(b, running)).message, `node ${a.name} lost`);
  });
});
