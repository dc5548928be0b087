/**
 * Three `flows serve` nodes on one PostgreSQL database, as real processes, under 5,000
 * executions (some with children), while one node is killed (kill -9) in the middle. Each flow
 * appends its execution id to one file: the side effect that tells how often each really ran.
 *
 * The documented outcome (README, "Team mode"): nothing acknowledged is lost; nothing runs
 * twice; an execution the dead node may have started ends FAILED "node <name> lost" (its queued
 * children STOPPED); what it had queued runs on another node, once; nothing is left unfinished.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { LEASE_MS, REAP_MS } from '../../runner/src/store/postgresNodes';
import { sql, usePostgres } from '../support/postgres';
import { until } from '../support/until';
import { endServed, serveNode, nodeName, tempDir, type ServedRunner } from './harness';

const TOP_LEVEL = Number(process.env.FLOWS_TEST_SCALE_TOP ?? 4_950);
/** Of the top-level executions, this many start CHILDREN children each (5,040 in all). */
const PARENTS = 30;
const CHILDREN = 3;
/** Requests in flight at once, spread over the live nodes. */
const IN_FLIGHT = 12;
/**
 * Submissions a second: a paced batch, below what three nodes of concurrency 4 run on two cores,
 * so queues stay short and the kill lands among executions queued, running and ending alike.
 */
const PER_SECOND = 150;

const ENDED = `('SUCCEEDED', 'FAILED', 'STOPPED', 'INVALID', 'PARTIAL_SUCCEEDED')`;

describe('flows serve: three nodes on one PostgreSQL, 5,000 executions, one node killed', function () {
  this.timeout(600_000);
  const server = usePostgres();
  const started: ServedRunner[] = [];
  after(async () => {
    await Promise.all(started.splice(0).map((s) => endServed(s, 'SIGKILL')));
  });

  it('runs each execution once, loses none, and ends the dead node’s as documented', async () => {
    const url = await server().createDatabase();
    const flows = tempDir();
    const marks = path.join(tempDir(), 'ran.txt');
    // One line per run, appended (O_APPEND: lines of several processes do not mix).
    fs.writeFileSync(
      path.join(flows, 'mark.py'),
      `import time


def handler(system, this):
    with open(${JSON.stringify(marks)}, 'a') as f:
        f.write(this.get('id') + '\\n')
    time.sleep(0.02)
    return 'marked'
`,
    );
    fs.writeFileSync(
      path.join(flows, 'fan.py'),
      `def handler(system, this):
    with open(${JSON.stringify(marks)}, 'a') as f:
        f.write(this.get('id') + '\\n')
    for n in range(${CHILDREN}):
        this.flow('mark', name=f'child {n}')
    return 'fanned'
`,
    );
    const nodes = await Promise.all(
      [0, 1, 2].map(async () => {
        const data = tempDir();
        const s = await serveNode({ url, flows, data, concurrency: 4 });
        started.push(s);
        return { name: nodeName(data), s, alive: true };
      }),
    );
    const victim = nodes[2];

    // Submit, round robin over the live nodes; kill the victim half-way.
    const acked = new Map<string, string>(); // id → the node that acknowledged it
    let next = 0;
    let killedAt = 0;
    const t0 = Date.now();
    const submit = async (): Promise<void> => {
      for (;;) {
        const k = next++;
        if (k >= TOP_LEVEL) return;
        const due = t0 + (k * 1000) / PER_SECOND;
        if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
        if (k === TOP_LEVEL / 2 && victim.alive) {
          victim.alive = false;
          await endServed(victim.s, 'SIGKILL');
          killedAt = Date.now();
        }
        const live = nodes.filter((n) => n.alive);
        const n = live[k % live.length];
        const res = await n.s
          .api('POST', '/api/latest/execution', { flow_name: k < PARENTS ? 'fan' : 'mark' })
          .catch(() => undefined);
        // Refused by a node that was killed meanwhile: never acknowledged, so not counted.
        if (res?.status === 201) acked.set(res.body.id, n.name);
        else if (n.alive) assert.fail(`a live node refused an execution: ${JSON.stringify(res?.body)}`);
      }
    };
    const progress = setInterval(
      () =>
        console.log(
          `      ${acked.size} acknowledged, ${next} sent, ${Math.round((Date.now() - t0) / 1000)} s`,
        ),
      5_000,
    );
    await Promise.all(Array.from({ length: IN_FLIGHT }, submit)).finally(() => clearInterval(progress));
    assert.ok(killedAt > 0, 'the victim was killed in the middle');
    assert.ok(acked.size >= TOP_LEVEL - IN_FLIGHT, `${acked.size} acknowledged`);

    // Everything ends: the dead node's work within the lease and a few rounds of the reaper.
    const unfinished = () =>
      sql(url, `SELECT count(*)::int AS n FROM executions WHERE status NOT IN ${ENDED}`);
    let waited = 0;
    await until(
      unfinished,
      (r) => {
        if (++waited % 20 === 0) console.log(`      ${r[0].n} not ended yet`);
        return r[0].n === 0;
      },
      'every execution to end',
      300_000,
    );
    assert.ok(
      Date.now() - killedAt > 0,
      `ended ${Math.round((Date.now() - killedAt) / 1000)} s after the kill (lease ${LEASE_MS / 1000} s, reaper every ${REAP_MS / 1000} s)`,
    );

    const rows = await sql(
      url,
      `SELECT id, flow_name, status, message, owner, parent_execution_id FROM executions WHERE NOT virtual`,
    );
    const byId = new Map(rows.map((r) => [r.id as string, r]));
    // Nothing acknowledged is lost.
    const lost = [...acked.keys()].filter((id) => !byId.has(id));
    assert.deepEqual(lost, [], 'acknowledged executions missing from the database');
    // Nothing runs twice.
    const runs = new Map<string, number>();
    for (const id of fs.readFileSync(marks, 'utf8').split('\n').filter(Boolean))
      runs.set(id, (runs.get(id) ?? 0) + 1);
    const twice = [...runs].filter(([, n]) => n > 1);
    assert.deepEqual(twice, [], 'executions that ran more than once');

    // Each execution ended as documented.
    const children = rows.filter((r) => r.parent_execution_id);
    assert.equal(children.length > 0, true, 'children were made');
    const outcomes = new Map<string, number>();
    for (const r of rows) {
      const key = `${r.status}${r.status === 'SUCCEEDED' ? '' : `: ${r.message}`}`;
      outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
      if (r.status === 'SUCCEEDED') {
        assert.equal(runs.get(r.id), 1, `${r.id} SUCCEEDED, so it ran exactly once`);
        continue;
      }
      // Only the dead node's: what it may have started ended FAILED, and the children of those
      // that had not started were STOPPED (by the reaper, or by the parent's end where a node
      // learned it first: a released child has no owner then).
      if (r.status === 'FAILED') {
        assert.equal(r.message, `node ${victim.name} lost`, `${r.id} FAILED otherwise`);
        assert.equal(r.owner, victim.name, `${r.id} FAILED "node lost" but belonged to a live node`);
        continue;
      }
      assert.equal(r.status, 'STOPPED', `${r.id}: ${r.status} ${r.message}`);
      assert.ok(r.parent_execution_id, `${r.id} STOPPED but is not a child`);
      const parent = byId.get(r.parent_execution_id);
      assert.equal(
        parent?.message,
        `node ${victim.name} lost`,
        `${r.id} STOPPED, its parent: ${parent?.message}`,
      );
      assert.equal(runs.get(r.id), undefined, `${r.id} STOPPED before it started, but ran`);
    }
    // The victim's queued executions were taken over and ran on live nodes.
    const takenOver = [...acked].filter(
      ([id, by]) => by === victim.name && byId.get(id)?.owner !== victim.name,
    ).length;
    console.log(
      `      ${rows.length} executions (${acked.size} acknowledged top-level, ${children.length} children); ${takenOver} of the victim's ran on other nodes; outcomes ${JSON.stringify(Object.fromEntries(outcomes))}`,
    );
    assert.ok(takenOver > 0, 'some of what the victim had queued ran elsewhere');
    assert.ok(rows.length >= 5_000, `${rows.length} executions`);
  });
});
