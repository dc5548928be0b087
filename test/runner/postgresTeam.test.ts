/**
 * Team mode beyond executions, with real `flows serve` processes on one PostgreSQL database:
 * a schedule fires each slot once however many nodes run (its node holds it; when that node
 * is killed another takes it over and makes up the missed slots once; after a stop of the
 * cluster the missed slots are made up once, not once per node), and users' tokens made with
 * `flows token --database` work on every node, record who started what, and are refused on
 * every node at once when revoked. The database keeps hashes, never tokens.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { LEASE_MS, REAP_MS } from '../../runner/src/store/postgresNodes';
import { SYNC_MS } from '../../runner/src/schedules/scheduler';
import { ownerOf, sql, usePostgres } from '../support/postgres';
import { until } from '../support/until';
import { pastTokenCache, requestAs } from '../support/userTokens';
import { endServed, FIXTURE_FLOWS, nodeName, runCli, serveNode, tempDir, type ServedRunner } from './harness';

describe('flows serve: team mode on one PostgreSQL database (schedules, users)', function () {
  this.timeout(300_000);
  const server = usePostgres();
  const started: ServedRunner[] = [];

  async function node(
    url: string,
    data = tempDir(),
  ): Promise<{ name: string; data: string; s: ServedRunner }> {
    const s = await serveNode({ url, flows: FIXTURE_FLOWS, data, concurrency: 8 });
    started.push(s);
    return { name: nodeName(data), data, s };
  }
  afterEach(async () => {
    await Promise.all(started.splice(0).map((s) => endServed(s, 'SIGKILL')));
  });

  it('fires a schedule once per slot on two nodes; a killed node’s schedule is taken over and its missed slots made up once', async () => {
    const url = await server().createDatabase();
    const a = await node(url);
    const b = await node(url);
    const made = await a.s.api('POST', '/api/latest/schedule', {
      name: 'every-second',
      flow_name: 'child-echo',
      kind: 'interval',
      interval: 1,
      unit: 'seconds',
      overlap: 'run',
      input_value: { n: 1 },
    });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    const id: string = made.body.id;
    const top: string = made.body.execution_id;

    /**
     * Every run of the schedule, under whichever SCHEDULE execution (there must be one), with
     * the slot it was fired for (its log's first line says).
     */
    const runs = async (via: ServedRunner) => {
      const all = (await via.api('GET', `/api/latest/execution?schedule_id=${id}&limit=1000&sort=created_at`))
        .body.items as Array<{ id: string; type: string; parent_execution_id: string; started_by: string }>;
      assert.deepEqual(
        all.filter((r) => r.type === 'SCHEDULE').map((r) => r.id),
        [top],
        'one SCHEDULE execution: one history',
      );
      const items = all.filter((r) => r.type === 'FLOW');
      assert.ok(items.every((r) => r.parent_execution_id === top));
      return Promise.all(
        items.map(async (r) => {
          const log = (await via.api('GET', `/api/latest/execution/${r.id}/log?limit=1`)).body.items;
          const slot = /due at (\S+)$/.exec(log[0]?.text ?? '')?.[1];
          assert.ok(slot, `run ${r.id} names its slot: ${JSON.stringify(log)}`);
          assert.equal(r.started_by, 'schedule every-second');
          return slot;
        }),
      );
    };
    const oncePerSlot = (slots: string[]) =>
      assert.deepEqual(
        slots.filter((x, i) => slots.indexOf(x) !== i),
        [],
        `no slot fired twice: ${slots.join(' ')}`,
      );
    const topLog = async (via: ServedRunner) =>
      (
        (await via.api('GET', `/api/latest/execution/${top}/log?limit=1000`)).body.items as Array<{
          text: string;
        }>
      ).map((l) => l.text);
    const missedLines = async (via: ServedRunner) =>
      (await topLog(via)).filter((t) => /was missed while the runner was down; it runs once now/.test(t));
    const owner = (execId: string) => ownerOf(url, execId);

    // Both nodes up: a's schedule, fired by a alone, each slot once.
    await until(
      () => runs(b.s),
      (slots) => slots.length >= 4,
      'four firings',
    );
    oncePerSlot(await runs(b.s));
    assert.equal(await owner(top), a.name);
    // b knows it (within SYNC_MS), and sends changes to the node that holds it.
    const seen = await until(
      () => b.s.api('GET', `/api/latest/schedule/${id}`),
      (r) => r.status === 200,
      'b to know the schedule',
      SYNC_MS * 5,
    );
    assert.equal(seen.body.name, 'every-second');
    const patch = await b.s.api('PATCH', `/api/latest/schedule/${id}`, { name: 'renamed' });
    assert.equal(patch.status, 409, JSON.stringify(patch.body));
    assert.match(patch.body.message, /run by another runner node .*through that node/);

    // a is killed: after the lease, b takes the schedule over and makes up the missed slots once.
    await endServed(a.s, 'SIGKILL');
    const killedAt = Date.now();
    const before = (await runs(b.s)).length;
    await until(
      () => owner(top),
      (o) => o === b.name,
      'b to hold the schedule',
      LEASE_MS + 4 * REAP_MS + 2 * SYNC_MS + 10_000,
    );
    assert.ok(Date.now() - killedAt >= LEASE_MS - 1_000, 'not before the lease ran out');
    const afterTakeover = await until(
      () => runs(b.s),
      (slots) => slots.length >= before + 4,
      'b to fire',
    );
    oncePerSlot(afterTakeover);
    assert.equal((await missedLines(b.s)).length, 1, 'the missed slots made up once');
    assert.ok((await topLog(b.s)).some((t) => /taken over by this runner node/.test(t)));
    // Changes go through b now.
    const renamed = await b.s.api('PATCH', `/api/latest/schedule/${id}`, { max_iterations: null });
    assert.equal(renamed.status, 200, JSON.stringify(renamed.body));

    // The whole cluster stops for a few slots; both nodes start again together: one catch-up.
    await endServed(b.s, 'SIGTERM');
    const nextFire = async () =>
      Date.parse(
        (await sql(url, "SELECT data->>'next_fire_at' AS t FROM schedules WHERE id = $1", [id]))[0].t,
      );
    const due = await nextFire();
    await until(
      async () => Date.now(),
      (t) => t > due + 2_000,
      'slots to pass while no node runs',
      10_000,
      100,
    );
    const [a2, b2] = await Promise.all([node(url), node(url, b.data)]);
    await until(
      () => missedLines(a2.s),
      (lines) => lines.length === 2,
      'the catch-up after the restart',
    );
    const final = await until(
      () => runs(b2.s),
      (slots) => slots.length >= afterTakeover.length + 3,
      'firings after the restart',
    );
    oncePerSlot(final);
    assert.equal((await missedLines(b2.s)).length, 2, 'once, not once per node');
    const holder = await owner(top);
    assert.ok(holder === a2.name || holder === b2.name, `one of the nodes holds it: ${holder}`);
    // Every slot claimed moved one row: the high-water mark, at the newest slot fired.
    const mark = await sql(url, 'SELECT slot FROM schedule_firings WHERE schedule_id = $1', [id]);
    assert.equal(mark.length, 1);
    assert.ok(Number(mark[0].slot) >= Date.parse(final.at(-1)!), 'at the newest slot fired, or beyond');
  });

  it('users’ tokens from `flows token --database` work on every node, record the user, and are refused everywhere once revoked', async () => {
    const url = await server().createDatabase();
    // Before any node has started on the database: the command prepares its schema itself.
    const made = await runCli(['token', 'create', 'ann', '--database', url]);
    assert.equal(made.status, 0, made.stderr);
    const token = made.stdout.trim();
    const a = await node(url);
    const b = await node(url);
    for (const n of [a, b]) {
      const res = await requestAs(n.s, token, 'POST', '/api/latest/execution', {
        flow_name: 'child-echo',
        input_value: { n: 1 },
      });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      assert.equal(res.body.started_by, 'ann');
      const read = await n.s.api('GET', `/api/latest/execution/${res.body.id}`);
      assert.equal(read.body.started_by, 'ann', 'as stored');
      const other = n === a ? b : a;
      const listed = (await other.s.api('GET', `/api/latest/execution?limit=100`)).body.items;
      assert.equal(
        listed.find((e: { id: string }) => e.id === res.body.id)?.started_by,
        'ann',
        'as listed by the other node',
      );
    }

    const list = await runCli(['token', 'list', '--database', url]);
    assert.equal(list.status, 0, list.stderr);
    assert.match(
      list.stdout,
      /^NAME +CREATED \(UTC\) +LAST USED \(UTC\)\nann +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d +\d{4}-/,
    );
    assert.ok(!list.stdout.includes(token));
    // The table holds the SHA-256 of the token, and nothing of the token itself.
    const rows = await sql(url, 'SELECT row_to_json(t)::text AS j, hash FROM user_tokens t');
    assert.equal(rows.length, 1);
    assert.equal(rows[0].hash, crypto.createHash('sha256').update(token).digest('hex'));
    assert.ok(!rows[0].j.includes(token.slice('flows_'.length, 20)));

    const revoked = await runCli(['token', 'revoke', 'ann', '--database', url]);
    assert.equal(revoked.status, 0, revoked.stderr);
    // Every lookup made before the revocation is believed for CACHE_MS at most: a request sent
    // after that is refused on every node, however busy the machine.
    await pastTokenCache(Date.now()); // the revocation is committed by now
    for (const n of [a, b]) {
      const refused = await requestAs(n.s, token, 'GET', '/api/latest/execution?limit=1');
      assert.equal(refused.status, 401, `${n.name} refuses the revoked token`);
      assert.equal(refused.body.message, 'wrong token');
    }
    for (const n of [a, b]) assert.equal((await n.s.api('GET', '/api/latest/execution?limit=1')).status, 200);
  });
});
