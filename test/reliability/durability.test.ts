/**
 * Durability across kill -9: `flows serve` (dist/runner.js, so `npm run build` first) takes a
 * paced stream of POST /api/latest/execution, is killed with SIGKILL at a seeded random moment,
 * and is started again on the same data folder. Then:
 * - every execution acknowledged with 201 is stored, and all of them end (none stays QUEUED or
 *   RUNNING once the restarted runner has settled);
 * - no execution ran twice: the flow appends "<execution id> <key>" to a file with O_APPEND, and
 *   every id and every key appears there at most once; whatever ran is stored, and is SUCCEEDED
 *   or FAILED "runner restarted" (it was mid-run);
 * - every end the WebSocket announced before the kill is stored as announced;
 * - only executions that were mid-run at the kill end FAILED "runner restarted" (at most
 *   `--concurrency` of them);
 * - SQLite's integrity_check is ok, on the files as the kill left them and after the restart.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Database } from 'node-sqlite3-wasm';
import WebSocket from 'ws';
import { isEnded, WS_PATH, type ExecutionRecord } from '../../protocol';
import { serveRunner, tempDir, type ServedRunner } from '../runner/harness';

const CONCURRENCY = 8;
/** POSTs per seed, one every PACE_MS (faster than this machine runs them, so a queue builds up). */
const REQUESTS = 200;
const PACE_MS = 10;
const SEEDS = (process.env.DURABILITY_SEEDS ?? '1,2,3').split(',').map(Number);
const RESTARTED = 'runner restarted while this execution was running';

const FLOW = `import os


def handler(system, this, inputs):
    fd = os.open(inputs['file'], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, f"{this.get('id')} {inputs['k']}\\n".encode())
    finally:
        os.close(fd)
    return {'k': inputs['k']}
`;

/** A small seeded PRNG (mulberry32): the same seed gives the same kill moment. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Served = ServedRunner & { url: string };

async function serve(flows: string, data: string): Promise<Served> {
  const served = await serveRunner(['--flows', flows, '--data', data, '--concurrency', String(CONCURRENCY)]);
  return { ...served, url: served.ready.url };
}

/** Every `execution` record the runner announces, in order. */
async function watch(s: Served): Promise<ExecutionRecord[]> {
  const seen: ExecutionRecord[] = [];
  const ws = new WebSocket(`${s.url.replace(/^http/, 'ws')}${WS_PATH}`, {
    headers: { authorization: `Bearer ${s.token}` },
  });
  ws.on('error', () => undefined); // the kill closes it
  const subscribed = new Promise<void>((resolve, reject) => {
    ws.on('message', (data) => {
      const m = JSON.parse(data.toString());
      if (m.type === 'pong') resolve();
      if (m.type === 'execution') seen.push(m.record);
    });
    ws.once('error', reject);
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  ws.send(JSON.stringify({ type: 'subscribe', topics: ['executions'] }));
  ws.send(JSON.stringify({ type: 'ping', id: 1 }));
  await subscribed;
  return seen;
}

function integrity(file: string): string {
  const db = new Database(file);
  try {
    // As the store opens it: a write-ahead log through this VFS needs exclusive locking.
    db.exec('PRAGMA locking_mode = EXCLUSIVE');
    return String(db.get('PRAGMA integrity_check')?.integrity_check);
  } finally {
    db.close();
  }
}

/** Polls until no execution is unfinished (a deadline, not a sleep, bounds the wait). */
async function settle(s: Served, deadlineMs: number): Promise<void> {
  const unfinished = 'CREATED,QUEUED,SCHEDULED,RUNNING,BLOCKED,PAUSED';
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const res = await s.api('GET', `/api/latest/execution?status=${unfinished}&limit=10`);
    assert.equal(res.status, 200);
    if (res.body.total === 0) return;
    if (Date.now() > deadline) {
      assert.fail(
        `still unfinished after the restart: ${res.body.items.map((r: ExecutionRecord) => `${r.id} ${r.status}`).join(', ')}`,
      );
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function listAll(s: Served): Promise<ExecutionRecord[]> {
  const all: ExecutionRecord[] = [];
  for (let offset = 0; ; offset += 1000) {
    const res = await s.api('GET', `/api/latest/execution?limit=1000&offset=${offset}&sort=created_at`);
    all.push(...res.body.items);
    if (res.body.items.length < 1000) return all;
  }
}

async function crashAndRestart(seed: number) {
  const rnd = random(seed);
  const flows = tempDir('flows-durability-');
  const data = tempDir('flows-durability-data-');
  const sideEffects = path.join(flows, 'ran.txt');
  fs.writeFileSync(path.join(flows, 'append-id.py'), FLOW);

  const first = await serve(flows, data);
  const announced = await watch(first);
  const exited = new Promise<void>((r) => first.child.once('exit', () => r()));
  // Anywhere from the first requests to well after the last one (while the queue drains).
  const killAt = 150 + rnd() * (REQUESTS * PACE_MS + 1500);
  const acked = new Map<string, string>(); // key → execution id
  const latencies: number[] = [];
  let killed = false;
  const t0 = Date.now();
  const killer = setTimeout(() => {
    killed = true;
    first.child.kill('SIGKILL');
  }, killAt);
  const requests: Promise<void>[] = [];
  for (let i = 0; i < REQUESTS && !killed; i++) {
    const k = `s${seed}-${i}`;
    const sent = Date.now();
    requests.push(
      first
        .api('POST', '/api/latest/execution', {
          flow_name: 'append-id',
          input_value: { file: sideEffects, k },
        })
        .then(
          (res) => {
            assert.equal(res.status, 201, JSON.stringify(res.body));
            acked.set(k, res.body.id);
            latencies.push(Date.now() - sent);
          },
          () => undefined, // cut off by the kill: not acknowledged
        ),
    );
    await new Promise((r) => setTimeout(r, PACE_MS));
  }
  await Promise.all(requests);
  await exited;
  clearTimeout(killer);
  const killedAfter = Date.now() - t0;

  // What the runner said had ended before it died.
  const endedBeforeKill = new Map<string, ExecutionRecord>();
  for (const r of announced) if (isEnded(r.status)) endedBeforeKill.set(r.id, r);

  // The files as the kill left them (a copy: opening them would recover the WAL in place).
  const crashCopy = tempDir('flows-durability-crash-');
  for (const f of fs.readdirSync(data)) {
    if (/^flows\.db(-wal|-journal)?$/.test(f)) fs.copyFileSync(path.join(data, f), path.join(crashCopy, f));
  }
  assert.equal(integrity(path.join(crashCopy, 'flows.db')), 'ok');

  const second = await serve(flows, data);
  let stopped = false;
  try {
    await settle(second, 40_000);
    const all = await listAll(second);
    const byId = new Map(all.map((r) => [r.id, r]));

    for (const [k, id] of acked) {
      const r = byId.get(id);
      assert.ok(r, `acknowledged execution ${id} (${k}) was lost`);
      assert.ok(isEnded(r.status), `${id} is ${r.status}`);
    }
    assert.equal(all.filter((r) => !isEnded(r.status)).length, 0);

    // Side effects: nothing ran twice, and whatever ran is stored.
    const ran = fs.existsSync(sideEffects)
      ? fs.readFileSync(sideEffects, 'utf8').split('\n').filter(Boolean)
      : [];
    const runsOfId = new Map<string, number>();
    const runsOfKey = new Map<string, number>();
    for (const line of ran) {
      const [id, k] = line.split(' ');
      runsOfId.set(id, (runsOfId.get(id) ?? 0) + 1);
      runsOfKey.set(k, (runsOfKey.get(k) ?? 0) + 1);
    }
    const twice = [...runsOfId].filter(([, n]) => n > 1).map(([id]) => id);
    assert.deepEqual(twice, [], 'executions that ran twice');
    const keyTwice = [...runsOfKey].filter(([, n]) => n > 1).map(([k]) => k);
    assert.deepEqual(keyTwice, [], 'requests whose flow ran twice');
    for (const id of runsOfId.keys()) {
      const r = byId.get(id);
      assert.ok(r, `execution ${id} ran but is not stored`);
      assert.ok(
        r.status === 'SUCCEEDED' || (r.status === 'FAILED' && r.message === RESTARTED),
        `${id} ran and is ${r.status} (${r.message})`,
      );
    }
    for (const r of all) {
      if (r.status === 'SUCCEEDED') assert.equal(runsOfId.get(r.id), 1, `${r.id} SUCCEEDED without running`);
    }

    // Ends announced before the kill are kept as announced.
    for (const [id, before] of endedBeforeKill) {
      const after = byId.get(id);
      assert.ok(after, `${id} ended (${before.status}) before the kill but is not stored`);
      assert.deepEqual(
        [after.status, after.output_value, after.message],
        [before.status, before.output_value, before.message],
        `${id}: its end before the kill was not kept`,
      );
    }

    // Only executions that were mid-run at the kill end "runner restarted".
    const restarted = all.filter((r) => r.message === RESTARTED);
    assert.ok(restarted.length <= CONCURRENCY, `${restarted.length} ended "runner restarted"`);
    for (const r of restarted) assert.ok(!endedBeforeKill.has(r.id));

    const exitedAgain = new Promise<void>((r) => second.child.once('exit', () => r()));
    second.child.kill('SIGTERM');
    await exitedAgain;
    stopped = true;
    assert.equal(integrity(path.join(data, 'flows.db')), 'ok');

    latencies.sort((a, b) => a - b);
    return {
      killedAfter,
      sent: requests.length,
      acked: acked.size,
      stored: all.length,
      ran: ran.length,
      endedBeforeKill: endedBeforeKill.size,
      restarted: restarted.length,
      p50: latencies[Math.floor(latencies.length / 2)] ?? 0,
    };
  } finally {
    if (!stopped) second.child.kill('SIGKILL');
  }
}

describe('reliability: kill -9 during a stream of POSTs, then a restart', function () {
  this.timeout(60_000);

  for (const seed of SEEDS) {
    it(`seed ${seed}: every 201 is stored and ends, nothing runs twice, announced ends are kept`, async () => {
      const r = await crashAndRestart(seed);
      console.log(
        `      seed ${seed}: killed after ${r.killedAfter} ms; ${r.acked}/${r.sent} POSTs acknowledged ` +
          `(p50 ${r.p50} ms), ${r.stored} stored, ${r.ran} ran, ${r.endedBeforeKill} ended before the kill, ` +
          `${r.restarted} "runner restarted"`,
      );
    });
  }
});
