/**
 * Several `flows serve` nodes on one PostgreSQL database acting as one cluster through
 * LISTEN/NOTIFY (runner/src/store/postgresCluster.ts), as real processes: a flow on one node
 * waiting for an execution another node runs wakes when it ends (and, with LISTEN off, by
 * polling); a WebSocket client of one node sees the executions of the others; cancel, pause
 * and resume asked of one node are done by the node that runs the execution; and what a lost
 * node left (an async run, a queued execution) is taken up, or cancelled, without a restart.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import WebSocket from 'ws';
import { ServerMessage, WS_PATH } from '../../protocol';
import { CONTROL_TIMEOUT_MS, POLL_MS } from '../../runner/src/store/postgresCluster';
import { LEASE_MS, REAP_MS } from '../../runner/src/store/postgresNodes';
import { EXECUTIONS_CHANNEL, type ChangesPayload } from '../../runner/src/store/postgresNotify';
import { PostgresStore } from '../../runner/src/store/postgresStore';
import { executionRecord } from '../support/records';
import { ownerOf, sql, usePostgres } from '../support/postgres';
import { until } from '../support/until';
import {
  flowsFolder,
  endServed,
  serveNode,
  servedExecution,
  servedStatusIs,
  tempDir,
  type ServedRunner,
} from './harness';

interface Node {
  name: string;
  s: ServedRunner;
}

/** Waits for each id in turn and notes when it woke (the node's clock: the test's machine). */
const WAIT_FOR = `import time


def handler(system, this, inputs):
    woke = []
    for id in inputs['ids']:
        system.execution(id).wait()
        woke.append(time.time())
    return {'woke': woke}
`;
const FORM = `def handler(system, this):
    answer = system.message('Approve?', body={'ok': {'type': 'boolean'}}).wait().get('response')
    return {'approved': answer['ok']}
`;
const SLEEPER = `import time


def handler(system, this, inputs):
    this.log('sleeping')
    time.sleep((inputs or {}).get('seconds', 60))
`;

/** A WebSocket client of a node, subscribed to executions, keeping what it hears. */
async function watch(n: Node): Promise<{ messages: ServerMessage[]; close: () => void }> {
  const ws = new WebSocket(`${n.s.ready.url.replace(/^http/, 'ws')}${WS_PATH}`, {
    headers: { authorization: `Bearer ${n.s.token}` },
  });
  const messages: ServerMessage[] = [];
  ws.on('message', (d) => messages.push(ServerMessage.parse(JSON.parse(d.toString()))));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  ws.send(JSON.stringify({ type: 'subscribe', topics: ['executions'] }));
  ws.send(JSON.stringify({ type: 'ping', id: 1 }));
  await until(
    async () => messages.some((m) => m.type === 'pong'),
    (v) => v,
    'the subscription',
  );
  return { messages, close: () => ws.close() };
}

const executionEvents = (messages: ServerMessage[], id: string) =>
  messages.flatMap((m) => (m.type === 'execution' && m.record.id === id ? [m] : []));

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

describe('flows serve: nodes on one PostgreSQL database act as one cluster (LISTEN/NOTIFY)', function () {
  this.timeout(240_000);
  const server = usePostgres();
  const started: ServedRunner[] = [];
  const flows = flowsFolder(
    { 'wait-for.py': WAIT_FOR, 'sleeper.py': SLEEPER, 'form.py': FORM },
    'flows-cluster-',
  );

  async function node(url: string, env: Record<string, string> = {}): Promise<Node> {
    const data = tempDir();
    const saved = { ...process.env };
    Object.assign(process.env, env);
    try {
      const s = await serveNode({ url, flows, data, concurrency: 1 });
      started.push(s);
      return { name: `${os.hostname()}:${path.resolve(data)}`, s };
    } finally {
      for (const k of Object.keys(env)) {
        if (saved[k] === undefined) delete process.env[k];
        else process.env[k] = saved[k];
      }
    }
  }
  afterEach(async () => {
    await Promise.all(started.splice(0).map((s) => endServed(s, 'SIGKILL')));
  });

  const create = async (n: Node, flow: string, input: Record<string, unknown>) => {
    const res = await n.s.api('POST', '/api/latest/execution', { flow_name: flow, input_value: input });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body.id as string;
  };
  const get = (n: Node, id: string) => servedExecution(n.s, id);
  const statusIs = (n: Node, id: string, status: string, ms?: number) => servedStatusIs(n.s, id, status, ms);

  /** Nodes a and b on a new database, and a long sleeper running on b. */
  async function runningOnB() {
    const url = await server().createDatabase();
    const a = await node(url);
    const b = await node(url);
    const id = await create(b, 'sleeper', { seconds: 120 });
    await statusIs(b, id, 'RUNNING');
    return { url, a, b, id };
  }

  /**
   * A flow on `a` waits in turn for three sleepers `b` runs one after another (concurrency 1);
   * resolves with how long after each sleeper's end (its ended_at) the flow woke.
   */
  async function wakeLatencies(a: Node, b: Node, url: string): Promise<number[]> {
    const sleepers = [await create(b, 'sleeper', { seconds: 1 })];
    sleepers.push(await create(b, 'sleeper', { seconds: 1 }), await create(b, 'sleeper', { seconds: 1 }));
    const waiter = await create(a, 'wait-for', { ids: sleepers });
    await statusIs(a, waiter, 'BLOCKED');
    const done = await statusIs(a, waiter, 'SUCCEEDED', 30_000);
    assert.equal(await ownerOf(url, waiter), a.name);
    for (const id of sleepers) assert.equal(await ownerOf(url, id), b.name, 'each sleeper ran on b');
    const ends = await Promise.all(sleepers.map(async (id) => Date.parse((await get(a, id)).ended_at)));
    return (done.output_value.woke as number[]).map((w, i) => Math.round(w * 1000 - ends[i]));
  }

  it('a commit of 2,000 executions is announced in about 15 notifications, each under 8000 bytes', async () => {
    const url = await server().createDatabase();
    const store = await PostgresStore.open(url, { node: 'n1' });
    const listener = new Client({ connectionString: url });
    await listener.connect();
    const heard: string[] = [];
    listener.on('notification', (n) => heard.push(n.payload ?? ''));
    await listener.query(`LISTEN ${EXECUTIONS_CHANNEL}`);
    try {
      const recs = Array.from({ length: 2_000 }, () => ({
        ...executionRecord({ id: crypto.randomUUID() }),
        paused_from: null,
      }));
      const changes = async (n: number) => {
        const got = await until(
          async () => heard.flatMap((p) => (JSON.parse(p) as ChangesPayload).e ?? []),
          (e) => e.length >= n,
          `${n} changes heard`,
        );
        const notifications = heard.splice(0);
        return { got, notifications };
      };
      for (const r of recs) store.putExecution(r);
      await store.durable();
      const first = await changes(2_000);
      console.log(`      2,000 executions in one commit: ${first.notifications.length} notifications`);
      assert.ok(first.notifications.length <= 20, `${first.notifications.length} notifications`);
      for (const p of first.notifications) assert.ok(Buffer.byteLength(p) < 8000);
      assert.deepEqual(new Set(first.got.map((e) => e[0])), new Set(recs.map((r) => r.id)));
      assert.ok(
        first.got.every((e) => e[1] === 'RUNNING' && e[2] === 1),
        'created',
      );
      for (const r of recs)
        store.putExecution({ ...r, status: 'SUCCEEDED', ended_at: new Date().toISOString() });
      await store.durable();
      const second = await changes(2_000);
      assert.ok(
        second.got.every((e) => e[1] === 'SUCCEEDED' && e[2] === 0),
        'updated, not created',
      );
      assert.ok(
        second.notifications.every((p) => (JSON.parse(p) as ChangesPayload).n !== ''),
        'sent by the node',
      );
    } finally {
      await listener.end();
      await store.close();
    }
  });

  it('a flow on node A waiting for executions node B runs wakes within a second of each end', async () => {
    const url = await server().createDatabase();
    const a = await node(url);
    const b = await node(url);
    const latencies = await wakeLatencies(a, b, url);
    console.log(
      `      wake-up across nodes (NOTIFY): ${latencies.join(', ')} ms (median ${median(latencies)})`,
    );
    for (const ms of latencies) assert.ok(ms >= 0 && ms < 1_000, `woke ${ms} ms after the end`);
  });

  it('with LISTEN off, the wait ends by polling, within the poll interval', async () => {
    const url = await server().createDatabase();
    const off = { FLOWS_POSTGRES_LISTEN: '0' };
    const a = await node(url, off);
    const b = await node(url, off);
    const latencies = await wakeLatencies(a, b, url);
    console.log(`      wake-up across nodes (polling only): ${latencies.join(', ')} ms`);
    for (const ms of latencies) assert.ok(ms >= 0 && ms < POLL_MS + 1_500, `woke ${ms} ms after the end`);
  });

  it('a form answered through node A wakes the flow node B runs', async () => {
    const url = await server().createDatabase();
    const a = await node(url);
    const b = await node(url);
    const id = await create(b, 'form', {});
    await statusIs(b, id, 'BLOCKED');
    const open = await until(
      async () => (await a.s.api('GET', `/api/latest/message?open=true&execution_id=${id}`)).body.items,
      (items) => items.length === 1,
      'the form',
    );
    const t0 = Date.now();
    const answered = await a.s.api('POST', `/api/latest/message/${open[0].id}/response`, {
      response: { ok: true },
    });
    assert.equal(answered.status, 200, JSON.stringify(answered.body));
    const done = await statusIs(a, id, 'SUCCEEDED', 10_000);
    assert.deepEqual(done.output_value, { approved: true });
    console.log(`      a form answered on the other node: its flow ended ${Date.now() - t0} ms later`);
  });

  it('a WebSocket client of node A sees the executions node B runs, and B announces its own once', async () => {
    const url = await server().createDatabase();
    const a = await node(url);
    const b = await node(url);
    const onA = await watch(a);
    const onB = await watch(b);
    try {
      const id = await create(b, 'sleeper', { seconds: 0.2 });
      await until(
        async () => executionEvents(onA.messages, id),
        (evs) => evs.some((m) => m.record.status === 'SUCCEEDED'),
        `node A's client to see ${id} SUCCEEDED`,
        20_000,
      );
      const seenOnA = executionEvents(onA.messages, id);
      assert.equal(seenOnA[0].event, 'created', 'first as created');
      assert.ok(seenOnA.some((m) => m.record.status === 'RUNNING' || m.record.status === 'SUCCEEDED'));
      // B's own client: its engine's events only, none of them again from the notifications.
      await until(
        async () => executionEvents(onB.messages, id),
        (evs) => evs.some((m) => m.record.status === 'SUCCEEDED'),
        `node B's client to see ${id} SUCCEEDED`,
      );
      // One more round trip through both nodes, so a late duplicate would have arrived.
      const marker = await create(a, 'sleeper', { seconds: 0 });
      await until(
        async () => executionEvents(onB.messages, marker),
        (evs) => evs.some((m) => m.record.status === 'SUCCEEDED'),
        `node B's client to see ${marker} from A`,
      );
      const ends = executionEvents(onB.messages, id).filter((m) => m.record.status === 'SUCCEEDED');
      assert.equal(ends.length, 1, 'B announced its own end once');
      assert.equal(executionEvents(onB.messages, id).filter((m) => m.event === 'created').length, 1);
    } finally {
      onA.close();
      onB.close();
    }
  });

  it('pause, resume and cancel asked of node A are done by node B, which runs the execution', async () => {
    const { url, a, b, id } = await runningOnB();

    const timed = async (op: string) => {
      const t0 = Date.now();
      const res = await a.s.api('POST', `/api/latest/execution/${id}/${op}`);
      return { ...res, ms: Date.now() - t0 };
    };
    const paused = await timed('pause');
    assert.equal(paused.status, 200, JSON.stringify(paused.body));
    assert.equal(paused.body.status, 'PAUSED', 'the answer is the record after it');
    assert.equal((await get(b, id)).status, 'PAUSED');
    const resumed = await timed('resume');
    assert.equal(resumed.status, 200, JSON.stringify(resumed.body));
    assert.equal(resumed.body.status, 'RUNNING');
    const cancelled = await timed('cancel');
    assert.equal(cancelled.status, 200, JSON.stringify(cancelled.body));
    assert.equal(cancelled.body.status, 'STOPPED');
    assert.equal(cancelled.body.message, 'cancelled');
    console.log(
      `      answered through the other node: pause ${paused.ms} ms, resume ${resumed.ms} ms, cancel ${cancelled.ms} ms`,
    );
    const onB = await get(b, id);
    assert.equal(onB.status, 'STOPPED');
    assert.equal(await ownerOf(url, id), b.name, 'B ended it');
    // B's refusal comes back as it is: a stopped execution cannot be paused.
    const refused = await a.s.api('POST', `/api/latest/execution/${id}/pause`);
    assert.equal(refused.status, 409, JSON.stringify(refused.body));
  });

  it('an owner that does not answer: 503 naming it, at once when its heartbeat is old', async () => {
    const { url, a, b, id } = await runningOnB();
    // B stalls: it hears nothing and answers nothing (and, past the lease, is declared lost).
    b.s.child.kill('SIGSTOP');
    try {
      const t0 = Date.now();
      const res = await a.s.api('POST', `/api/latest/execution/${id}/cancel`);
      const ms = Date.now() - t0;
      assert.equal(res.status, 503, JSON.stringify(res.body));
      assert.match(res.body.message, new RegExp(`node ${b.name.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}`));
      assert.match(res.body.message, /did not cancel it within 5 s/);
      assert.ok(ms >= CONTROL_TIMEOUT_MS - 100 && ms < CONTROL_TIMEOUT_MS + 2_000, `answered after ${ms} ms`);
      // Its heartbeat is older than the lease by now, or will be soon: then it is not asked.
      await until(
        async () =>
          (
            await sql(url, 'SELECT heartbeat_at < now() - $1::interval AS old FROM nodes WHERE name = $2', [
              `${LEASE_MS} milliseconds`,
              b.name,
            ])
          )[0].old,
        (old) => old === true,
        'b to be silent past the lease',
        LEASE_MS + 5_000,
      );
      const again = await a.s.api('POST', `/api/latest/execution/${id}/pause`);
      // Not yet reaped: not asked (503 at once); reaped: it has ended, and cannot be paused (409).
      assert.ok(again.status === 503 || again.status === 409, JSON.stringify(again.body));
      if (again.status === 503) assert.match(again.body.message, /not heard from for \d+ s/);
    } finally {
      b.s.child.kill('SIGCONT');
    }
  });

  it('what a lost node left: a queued execution is cancelled in the database, an async run is taken up by a node with a free slot', async () => {
    const url = await server().createDatabase();
    const x = await node(url);
    const a = await node(url);
    const b = await node(url);
    // Every slot busy, so that nobody claims what x leaves until a slot is freed.
    const busyA = await create(a, 'sleeper', { seconds: 120 });
    const busyB = await create(b, 'sleeper', { seconds: 120 });
    const running = await create(x, 'sleeper', { seconds: 120 });
    await statusIs(a, busyA, 'RUNNING');
    await statusIs(b, busyB, 'RUNNING');
    await statusIs(x, running, 'RUNNING');
    const queued = await create(x, 'sleeper', { seconds: 0.1 });
    const run = await x.s.api('POST', '/v1/actions/sleeper/run/async', {
      inputs: [{ seconds: 0.1 }, { seconds: 0.1 }],
    });
    assert.equal(run.status, 202, JSON.stringify(run.body));
    const runId = run.body.uid as string;

    await endServed(x.s, 'SIGKILL');
    const lost = await statusIs(a, running, 'FAILED', LEASE_MS + 2 * REAP_MS + 5_000);
    assert.equal(lost.message, `node ${x.name} lost`);
    assert.equal(await ownerOf(url, queued), null, 'released');
    assert.equal(await ownerOf(url, runId), null, 'released');

    // No node owns the queued one: the node asked cancels it in the database.
    const cancelled = await b.s.api('POST', `/api/latest/execution/${queued}/cancel`);
    assert.equal(cancelled.status, 200, JSON.stringify(cancelled.body));
    assert.equal(cancelled.body.status, 'STOPPED');
    assert.equal((await get(a, queued)).status, 'STOPPED');
    assert.equal(await ownerOf(url, queued), null);

    // A frees its slot (cancelled through B, which asks A): A takes the run up, whole.
    const freed = await b.s.api('POST', `/api/latest/execution/${busyA}/cancel`);
    assert.equal(freed.status, 200, JSON.stringify(freed.body));
    const done = await statusIs(b, runId, 'SUCCEEDED', 3 * REAP_MS + 20_000);
    assert.equal(done.message, '2 of 2 inputs succeeded');
    const tree = await sql(url, 'SELECT owner, status FROM executions WHERE parent_execution_id = $1', [
      runId,
    ]);
    assert.deepEqual(
      tree.map((r) => [r.owner, r.status]),
      [
        [a.name, 'SUCCEEDED'],
        [a.name, 'SUCCEEDED'],
      ],
    );
    assert.equal(await ownerOf(url, runId), a.name);
  });
});
