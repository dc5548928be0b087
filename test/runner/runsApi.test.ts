/**
 * The runs API of seed 004 on a real runner: live, async (a bad input among good ones is marked
 * INVALID and the run ends PARTIAL_SUCCEEDED), schedule; listing with filters, paging bounds and
 * sort; pause/stop/resume; callbacks; and every status of the seed's lifecycle.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { ExecutionRecord, ExecutionStatus, ServerMessage } from '../../protocol';
import { startTestRunner, tempDir, type TestRunner } from './harness';

type ExecutionMessage = Extract<ServerMessage, { type: 'execution' }>;

/** Every status a run's top execution went through, as the WebSocket told it. */
function statusesOf(t: TestRunner, uid: string): ExecutionStatus[] {
  return t.messages
    .filter((m): m is ExecutionMessage => m.type === 'execution' && m.record.id === uid)
    .map((m) => m.record.status)
    .filter((s, i, all) => all[i - 1] !== s);
}

describe('runs API: live and async runs', function () {
  let t: TestRunner;
  before(async () => (t = await startTestRunner()));
  after(async () => t?.stop());

  it('runs one input live and answers with the result', async () => {
    const ok = await t.api('POST', '/v1/actions/batch-item/run/live', { input: { n: 4 } });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.equal(ok.body.status, 'SUCCEEDED');
    assert.equal(ok.body.execution_mode, 'LIVE');
    assert.equal(ok.body.action_name, 'batch-item');
    assert.deepEqual(ok.body.output_value, { n: 4, double: 8 });
    assert.deepEqual(ok.body.counts, { SUCCEEDED: 1 });
    assert.equal((await t.api('GET', `/api/latest/execution/${ok.body.uid}`)).body.type, 'FLOW');

    const failed = await t.api('POST', '/v1/actions/batch-item/run/live', { input: { n: 1, fail: true } });
    assert.equal(failed.body.status, 'FAILED');
    assert.match(failed.body.errors[0].message, /ValueError: input 1 asked to fail/);
    const missing = await t.api('POST', '/v1/actions/no-such-flow/run/live', {});
    assert.equal(missing.status, 200);
    assert.equal(missing.body.status, 'INVALID');
    assert.match(missing.body.message, /not found/);
    const bad = await t.api('POST', '/v1/actions/batch-item/run/live', { input: [1, 2] });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.issues[0].path, 'input');
    assert.equal((await t.api('POST', '/v1/actions/batch-item/run/later', {})).status, 404);
  });

  it('answers an async run at once; a bad input among good ones is INVALID and the run PARTIAL_SUCCEEDED', async () => {
    const inputs = [{ n: 1 }, { n: 2 }, 'not an object', { n: 3, fail: true }, 7];
    const res = await t.api('POST', '/v1/actions/batch-item/run/async', { inputs });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    const uid = res.body.uid;
    assert.equal(res.body.execution_mode, 'ASYNC');
    assert.equal(res.body.inputs_count, 5);
    assert.ok(['QUEUED', 'RUNNING'].includes(res.body.status), res.body.status);
    const ended = await t.waitForStatus(uid, 'ENDED');
    assert.equal(ended.status, 'PARTIAL_SUCCEEDED');
    assert.equal(ended.message, '2 of 5 inputs succeeded; 2 INVALID, 1 FAILED');

    const detail = (await t.api('GET', `/v1/runs/${uid}`)).body;
    assert.deepEqual(detail.counts, { SUCCEEDED: 2, INVALID: 2, FAILED: 1 });
    assert.deepEqual(
      detail.errors.map((e: { status: string; input_value: unknown }) => [e.status, e.input_value]),
      [
        ['INVALID', 'not an object'],
        ['FAILED', { n: 3, fail: true }],
        ['INVALID', 7],
      ],
    );
    assert.match(
      detail.errors[0].message,
      /input 2 must be a JSON object of the flow's inputs, not a string/,
    );
    const kids = (
      await t.api('GET', `/api/latest/execution?parent_execution_id=${uid}&sort=created_at&limit=10`)
    ).body.items;
    assert.deepEqual(
      kids.map((k: ExecutionRecord) => [k.name, k.status]),
      [
        ['batch-item [0]', 'SUCCEEDED'],
        ['batch-item [1]', 'SUCCEEDED'],
        ['batch-item [2]', 'INVALID'],
        ['batch-item [3]', 'FAILED'],
        ['batch-item [4]', 'INVALID'],
      ],
    );
    assert.ok(kids.every((k: ExecutionRecord) => k.top_execution_id === uid));
  });

  it('ends SUCCEEDED, FAILED or INVALID when all inputs did, and refuses 0 or more than 100,000 inputs', async () => {
    const run = async (inputs: unknown[], action = 'batch-item') => {
      const res = await t.api('POST', `/v1/actions/${action}/run/async`, { inputs });
      assert.equal(res.status, 202);
      return t.waitForStatus(res.body.uid, 'ENDED');
    };
    assert.equal((await run([{ n: 1 }, { n: 2 }])).status, 'SUCCEEDED');
    assert.equal((await run([{ n: 1, fail: true }])).status, 'FAILED');
    assert.equal((await run([1, null])).status, 'INVALID');
    const missing = await run([{ n: 1 }], 'no-such-flow');
    assert.equal(missing.status, 'INVALID');
    assert.match(missing.message ?? '', /flow 'no-such-flow' not found/);

    const none = await t.api('POST', '/v1/actions/batch-item/run/async', { inputs: [] });
    assert.equal(none.status, 400);
    assert.equal(none.body.issues[0].path, 'inputs');
    const tooMany = await t.api('POST', '/v1/actions/batch-item/run/async', {
      inputs: Array.from({ length: 100_001 }, () => ({})),
    });
    assert.equal(tooMany.status, 400);
    assert.equal(tooMany.body.issues[0].path, 'inputs');
    assert.match(tooMany.body.message, /100000/);
  });

  it('POSTs the run to its callback URL when it ends', async () => {
    const received: any[] = [];
    let notify: () => void = () => undefined;
    const server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        received.push({ method: req.method, type: req.headers['content-type'], body: JSON.parse(body) });
        res.end('ok');
        notify();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const callback = `http://127.0.0.1:${(server.address() as AddressInfo).port}/done`;
      const arrived = new Promise<void>((r) => (notify = r));
      const res = await t.api('POST', '/v1/actions/batch-item/run/async', {
        inputs: [{ n: 1 }, { n: 2, fail: true }],
        callback,
      });
      await arrived;
      assert.equal(received.length, 1);
      assert.equal(received[0].method, 'POST');
      assert.match(received[0].type, /application\/json/);
      assert.equal(received[0].body.uid, res.body.uid);
      assert.equal(received[0].body.status, 'PARTIAL_SUCCEEDED');
      assert.deepEqual(received[0].body.counts, { SUCCEEDED: 1, FAILED: 1 });
      assert.equal(received[0].body.callback, callback);
      const badUrl = await t.api('POST', '/v1/actions/batch-item/run/async', {
        inputs: [{}],
        callback: 'ftp://x',
      });
      assert.equal(badUrl.status, 400);
      assert.equal(badUrl.body.issues[0].path, 'callback');
    } finally {
      server.close();
    }
  });
});

describe('runs API: listing', function () {
  let t: TestRunner;
  const uids: Record<string, string> = {};
  before(async () => {
    t = await startTestRunner();
    for (let n = 0; n < 11; n++) {
      const r = await t.api('POST', '/v1/actions/batch-item/run/live', { input: { n } });
      uids[`live${n}`] = r.body.uid;
    }
    const failed = await t.api('POST', '/v1/actions/batch-item/run/live', { input: { n: 99, fail: true } });
    uids.failed = failed.body.uid;
    const async = await t.api('POST', '/v1/actions/child-echo/run/async', { inputs: [{ n: 1 }, { n: 2 }] });
    uids.async = async.body.uid;
    await t.waitForStatus(async.body.uid, 'ENDED');
  });
  after(async () => t?.stop());

  it('pages with limit (default 10, at most 100) and offset, and refuses more than 100', async () => {
    const first = await t.api('GET', '/v1/runs');
    assert.equal(first.status, 200);
    assert.equal(first.body.items.length, 10);
    assert.equal(first.body.total, 13);
    assert.deepEqual([first.body.limit, first.body.offset], [10, 0]);
    const rest = await t.api('GET', '/v1/runs?offset=10');
    assert.equal(rest.body.items.length, 3);
    const all = await t.api('GET', '/v1/runs?limit=100');
    assert.equal(all.body.items.length, 13);
    for (const q of ['limit=101', 'limit=0', 'limit=ten', 'offset=-1']) {
      const bad = await t.api('GET', `/v1/runs?${q}`);
      assert.equal(bad.status, 400, q);
      assert.equal(bad.body.issues[0].path, q.split('=')[0]);
    }
    assert.equal((await t.api('GET', '/v1/runs?colour=red')).status, 400);
  });

  it('sorts by created_at, status or updated_at, - for descending', async () => {
    const ids = async (sort: string) =>
      (await t.api('GET', `/v1/runs?limit=100&sort=${sort}`)).body.items.map((r: { uid: string }) => r.uid);
    const newest = await ids('-created_at');
    assert.equal(newest[0], uids.async);
    assert.deepEqual(await ids('created_at'), [...newest].reverse());
    assert.equal((await ids('-status'))[0], uids.async, 'SUCCEEDED sorts after FAILED');
    assert.equal((await ids('status'))[0], uids.failed);
    assert.equal((await ids('-updated_at'))[0], uids.async);
    const bad = await t.api('GET', '/v1/runs?sort=name');
    assert.equal(bad.status, 400);
    assert.equal(bad.body.issues[0].path, 'sort');
  });

  it('filters by status, action_name, execution_mode and uid', async () => {
    const q = async (query: string) => (await t.api('GET', `/v1/runs?limit=100&${query}`)).body;
    assert.deepEqual(
      (await q('status=FAILED')).items.map((r: { uid: string }) => r.uid),
      [uids.failed],
    );
    assert.equal((await q('status=SUCCEEDED,FAILED')).total, 13);
    assert.equal((await q('action_name=child-echo')).total, 1);
    assert.equal((await q('action_name=batch-item')).total, 12);
    assert.deepEqual(
      (await q('execution_mode=ASYNC')).items.map((r: { uid: string }) => r.uid),
      [uids.async],
    );
    assert.equal((await q('execution_mode=LIVE,ASYNC')).total, 13);
    assert.equal((await q('execution_mode=SCHEDULE')).total, 0);
    const one = await q(`uid=${uids.live3}`);
    assert.equal(one.total, 1);
    assert.equal(one.items[0].uid, uids.live3);
    assert.equal((await t.api('GET', '/v1/runs?execution_mode=BATCH')).status, 400);
    assert.equal((await t.api('GET', '/v1/runs/nope')).status, 404);
  });

  it('is in the OpenAPI document, with schedules and webhooks', async () => {
    const doc = (await t.api('GET', '/api/openapi.json')).body;
    const list = doc.paths['/v1/runs'].get;
    assert.ok(list.parameters.some((p: { name: string }) => p.name === 'execution_mode'));
    assert.equal(
      list.responses['200'].content['application/json'].schema.$ref,
      '#/components/schemas/RunList',
    );
    assert.ok(doc.components.schemas.RunDetail.properties.counts);
    assert.ok(doc.paths['/api/latest/schedule/preview'].post);
    assert.deepEqual(doc.paths['/api/latest/webhook/{name}/call'].post.security, []);
    assert.ok(doc.components.schemas.Schedule.properties.next_fire_at);
  });
});

describe('runs API: pause, stop, resume and the status lifecycle', function () {
  let t: TestRunner;
  const seen = new Set<ExecutionStatus>();
  before(async () => (t = await startTestRunner({ concurrency: 1 })));
  after(async () => t?.stop());

  const asyncRun = async (action: string, inputs: unknown[]) => {
    const res = await t.api('POST', `/v1/actions/${action}/run/async`, { inputs });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    return res.body.uid as string;
  };
  const record = (uid: string) => statusesOf(t, uid).forEach((s) => seen.add(s));

  it('is CREATED, then QUEUED while no slot is free, RUNNING, and SUCCEEDED', async () => {
    const gate = path.join(tempDir(), 'open');
    const blocker = await t.api('POST', '/api/latest/execution', {
      flow_name: 'gate',
      input_value: { file: gate },
    });
    await t.waitForStatus(blocker.body.id, 'RUNNING');
    const res = await t.api('POST', '/v1/actions/batch-item/run/async', { inputs: [{ n: 1 }, { n: 2 }] });
    assert.equal(res.body.status, 'QUEUED');
    const uid = res.body.uid;
    const created = await t.waitFor(
      (m) => m.type === 'execution' && m.event === 'created' && m.record.id === uid,
    );
    assert.ok(created.type === 'execution' && created.record.status === 'CREATED');
    fs.writeFileSync(gate, '');
    assert.equal((await t.waitForStatus(uid, 'ENDED')).status, 'SUCCEEDED');
    assert.deepEqual(statusesOf(t, uid), ['CREATED', 'QUEUED', 'RUNNING', 'SUCCEEDED']);
    record(uid);
  });

  it('is BLOCKED while its inputs wait (on a form)', async () => {
    const uid = await asyncRun('form', [{}]);
    await t.waitForStatus(uid, 'BLOCKED');
    const m = await t.waitFor((m) => m.type === 'message' && m.event === 'created', 'the form');
    assert.ok(m.type === 'message');
    await t.api('POST', `/api/latest/message/${m.message.id}/response`, { response: { ok: true } });
    assert.equal((await t.waitForStatus(uid, 'ENDED')).status, 'SUCCEEDED');
    record(uid);
  });

  it('pauses a run and resumes it', async () => {
    const gate = path.join(tempDir(), 'open');
    const uid = await asyncRun('gate', [{ file: gate }, { file: gate }]);
    await t.waitForStatus(uid, 'RUNNING');
    const paused = await t.api('POST', `/v1/runs/${uid}/pause`);
    assert.equal(paused.status, 200);
    assert.equal(paused.body.status, 'PAUSED');
    assert.deepEqual(paused.body.counts, { PAUSED: 2 });
    fs.writeFileSync(gate, '');
    const resumed = await t.api('POST', `/v1/runs/${uid}/resume`);
    assert.equal(resumed.status, 200);
    assert.notEqual(resumed.body.status, 'PAUSED');
    assert.equal((await t.waitForStatus(uid, 'ENDED')).status, 'SUCCEEDED');
    const again = await t.api('POST', `/v1/runs/${uid}/resume`);
    assert.equal(again.status, 409);
    assert.match(again.body.message, /only a PAUSED or STOPPED run can be resumed/);
    record(uid);
  });

  it('resumes a STOPPED run: only its unfinished (stopped) inputs run again', async () => {
    const dir = tempDir();
    const open = path.join(dir, 'open');
    const later = path.join(dir, 'later');
    fs.writeFileSync(open, '');
    const uid = await asyncRun('gate', [{ file: open }, { file: later }, { file: later }]);
    const running = await t.waitFor(
      (m) =>
        m.type === 'execution' &&
        m.record.parent_execution_id === uid &&
        m.record.name === 'gate [1]' &&
        m.record.status === 'RUNNING',
      'input 1 to run',
    );
    const second = (running as ExecutionMessage).record;
    const stopped = await t.api('POST', `/v1/runs/${uid}/stop`);
    assert.equal(stopped.body.status, 'STOPPED');
    assert.deepEqual(stopped.body.counts, { SUCCEEDED: 1, STOPPED: 2 });
    const kids = async () =>
      (await t.api('GET', `/api/latest/execution?parent_execution_id=${uid}&sort=created_at`)).body
        .items as ExecutionRecord[];
    const before = await kids();
    assert.ok(
      !t.messages.some(
        (m) =>
          m.type === 'execution' &&
          m.record.parent_execution_id === uid &&
          m.record.name === 'gate [2]' &&
          m.record.status === 'RUNNING',
      ),
      'stopping the run did not start its queued input on the way',
    );

    fs.writeFileSync(later, '');
    const resumed = await t.api('POST', `/v1/runs/${uid}/resume`);
    assert.equal(resumed.status, 200);
    assert.ok(['QUEUED', 'RUNNING'].includes(resumed.body.status), resumed.body.status);
    const ended = await t.waitForStatus(uid, 'SUCCEEDED');
    assert.equal(ended.message, '3 of 3 inputs succeeded');
    const afterKids = await kids();
    assert.equal(afterKids.length, 3, 'the same executions, none added');
    assert.equal(afterKids[0].ended_at, before[0].ended_at, 'the input that had succeeded did not run again');
    assert.equal(afterKids[1].id, second.id);
    assert.ok(afterKids.every((k) => k.status === 'SUCCEEDED'));
    record(uid);
  });

  it('schedules: SCHEDULED while waiting for the cron; stop and resume keep its uid; bad cron is a 400', async () => {
    const res = await t.api('POST', '/v1/actions/child-echo/run/schedule', {
      cron: '0 9 * * *',
      timezone: 'Europe/Vienna',
      input: { n: 1 },
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    const uid = res.body.uid;
    assert.equal(res.body.execution_mode, 'SCHEDULE');
    assert.equal(res.body.status, 'SCHEDULED');
    assert.equal(res.body.schedule.kind, 'cron');
    assert.equal(res.body.schedule.execution_id, uid);
    assert.equal(res.body.schedule_id, res.body.schedule.id);
    const listed = (await t.api('GET', '/v1/runs?execution_mode=SCHEDULE')).body.items;
    assert.deepEqual(
      listed.map((r: { uid: string }) => r.uid),
      [uid],
    );
    const stopped = await t.api('POST', `/v1/runs/${uid}/stop`);
    assert.equal(stopped.body.status, 'STOPPED');
    assert.equal((await t.api('GET', `/api/latest/schedule/${res.body.schedule.id}`)).body.enabled, false);
    const resumed = await t.api('POST', `/v1/runs/${uid}/resume`);
    assert.equal(resumed.body.status, 'SCHEDULED');
    const schedule = (await t.api('GET', `/api/latest/schedule/${res.body.schedule.id}`)).body;
    assert.equal(schedule.enabled, true);
    assert.equal(schedule.execution_id, uid);
    record(uid);
    await t.api('DELETE', `/api/latest/schedule/${schedule.id}`);

    const bad = await t.api('POST', '/v1/actions/child-echo/run/schedule', { cron: '0 25 * * *' });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.issues[0].path, 'cron');
    const both = await t.api('POST', '/v1/actions/child-echo/run/schedule', {
      cron: '0 9 * * *',
      input: {},
      inputs: [{}],
    });
    assert.equal(both.status, 400);
    assert.equal(both.body.issues[0].path, 'inputs');
  });

  it('reaches FAILED, PARTIAL_SUCCEEDED and INVALID too: every status of the lifecycle', async () => {
    for (const inputs of [[{ n: 1, fail: true }], [{ n: 1 }, { n: 2, fail: true }], ['x']]) {
      const uid = await asyncRun('batch-item', inputs);
      await t.waitForStatus(uid, 'ENDED');
      record(uid);
    }
    const lifecycle: ExecutionStatus[] = [
      'CREATED',
      'INVALID',
      'QUEUED',
      'SCHEDULED',
      'BLOCKED',
      'STOPPED',
      'RUNNING',
      'FAILED',
      'PARTIAL_SUCCEEDED',
      'SUCCEEDED',
    ];
    assert.deepEqual(
      lifecycle.filter((s) => !seen.has(s)),
      [],
    );
  });
});

describe('runs API: across a restart', function () {
  it('an async run goes on after the runner restarts: queued inputs run, the run ends with all counted', async () => {
    const dataDir = tempDir();
    const gate = path.join(tempDir(), 'open');
    const first = await startTestRunner({ dataDir, concurrency: 1 });
    let uid: string;
    try {
      const res = await first.api('POST', '/v1/actions/gate/run/async', {
        inputs: [{ file: gate }, { file: gate }, { file: gate }],
      });
      uid = res.body.uid;
      await first.waitFor(
        (m) => m.type === 'execution' && m.record.name === 'gate [0]' && m.record.status === 'RUNNING',
        'input 0 to run',
      );
    } finally {
      await first.stop(); // input 0 ends FAILED ("runner stopped"), 1 and 2 stay QUEUED
    }
    fs.writeFileSync(gate, '');
    const second = await startTestRunner({ dataDir, concurrency: 1 });
    try {
      const ended = await second.runner.engine.waitForEnd(uid);
      assert.equal(ended.status, 'PARTIAL_SUCCEEDED');
      assert.equal(ended.message, '2 of 3 inputs succeeded; 1 FAILED');
      const detail = (await second.api('GET', `/v1/runs/${uid}`)).body;
      assert.deepEqual(detail.counts, { SUCCEEDED: 2, FAILED: 1 });
      assert.match(detail.errors[0].message, /runner stopped/);
    } finally {
      await second.stop();
    }
  });
});
