/**
 * Schedules on a real runner with a clock the test moves by hand: timings (interval, daily
 * across a DST change, cron), the SCHEDULE execution and its FLOW children, the overlap policy,
 * enable/disable/delete/run-now, and the one catch-up firing after the runner was down.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { ExecutionRecord, ScheduleRecord, ServerMessage } from '../../protocol';
import { compileTiming, upcoming } from '../../runner/src/schedules/timing';
import { startTestRunner, tempDir, type TestRunner } from './harness';
import { ManualClock } from './manualClock';

const MIN = 60_000;
const iso = (ms: number) => new Date(ms).toISOString();

type ExecutionMessage = Extract<ServerMessage, { type: 'execution' }>;

/** Resolves with the first execution event after now that matches. */
function nextExecution(t: TestRunner, pred: (r: ExecutionRecord) => boolean, what: string) {
  const start = t.messages.length;
  return t
    .waitFor((m) => m.type === 'execution' && pred(m.record) && t.messages.indexOf(m) >= start, what)
    .then((m) => (m as ExecutionMessage).record);
}

async function children(t: TestRunner, parentId: string): Promise<ExecutionRecord[]> {
  const res = await t.api(
    'GET',
    `/api/latest/execution?parent_execution_id=${parentId}&sort=created_at&limit=100`,
  );
  return res.body.items;
}

async function createSchedule(t: TestRunner, body: Record<string, unknown>): Promise<ScheduleRecord> {
  const res = await t.api('POST', '/api/latest/schedule', body);
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body;
}

describe('schedule timings (croner, DST)', function () {
  const times = (spec: Parameters<typeof compileTiming>[0], from: string, n = 3) =>
    upcoming(compileTiming(spec), Date.parse(from), Date.parse(from), n).map(iso);

  it('keeps a daily time in local time across the spring-forward change (23 hours apart)', () => {
    assert.deepEqual(
      times({ kind: 'daily', time: '09:00', timezone: 'Europe/Vienna' }, '2026-03-27T12:00:00Z'),
      ['2026-03-28T08:00:00.000Z', '2026-03-29T07:00:00.000Z', '2026-03-30T07:00:00.000Z'],
    );
  });

  it('runs a daily time inside the DST gap at the end of the gap, and a repeated one once', () => {
    assert.deepEqual(
      times({ kind: 'daily', time: '02:30', timezone: 'Europe/Vienna' }, '2026-03-28T12:00:00Z', 2),
      [
        '2026-03-29T01:00:00.000Z', // 03:00 CEST: 02:30 does not exist that night
        '2026-03-30T00:30:00.000Z',
      ],
    );
    assert.deepEqual(
      times({ kind: 'daily', time: '01:30', timezone: 'America/New_York' }, '2026-10-31T12:00:00Z'),
      ['2026-11-01T05:30:00.000Z', '2026-11-02T06:30:00.000Z', '2026-11-03T06:30:00.000Z'],
    );
  });

  it('counts intervals in elapsed time from the anchor, and reads cron with seconds', () => {
    const every90s = compileTiming({ kind: 'interval', interval: 90, unit: 'seconds' });
    const anchor = Date.parse('2026-01-01T00:00:00Z');
    assert.equal(iso(every90s.next(anchor + 100_000, anchor)!), '2026-01-01T00:03:00.000Z');
    assert.deepEqual(
      times({ kind: 'cron', cron: '*/20 * * * * *', timezone: 'UTC' }, '2026-01-01T00:00:05Z'),
      ['2026-01-01T00:00:20.000Z', '2026-01-01T00:00:40.000Z', '2026-01-01T00:01:00.000Z'],
    );
  });
});

describe('runner: schedules', function () {
  const T0 = Date.parse('2026-03-28T06:00:00Z');
  let t: TestRunner;
  let clock: ManualClock;

  before(async () => {
    clock = new ManualClock(T0);
    t = await startTestRunner({ clock });
  });
  after(async () => t?.stop());
  afterEach(async () => {
    for (const s of (await t.api('GET', '/api/latest/schedule')).body.items) {
      await t.api('DELETE', `/api/latest/schedule/${s.id}`);
    }
  });

  it('previews the next three fire times, or names the field that is wrong', async () => {
    const every5 = await t.api('POST', '/api/latest/schedule/preview', { kind: 'interval', interval: 5 });
    assert.equal(every5.status, 200);
    const now = clock.now();
    assert.deepEqual(every5.body.next, [now + 5 * MIN, now + 10 * MIN, now + 15 * MIN].map(iso));
    assert.equal(every5.body.description, 'every 5 minutes');
    const daily = await t.api('POST', '/api/latest/schedule/preview', {
      kind: 'daily',
      time: '09:00',
      timezone: 'Europe/Vienna',
    });
    assert.deepEqual(daily.body.next, [
      '2026-03-28T08:00:00.000Z',
      '2026-03-29T07:00:00.000Z',
      '2026-03-30T07:00:00.000Z',
    ]);
    assert.equal(daily.body.description, 'daily at 09:00 (Europe/Vienna)');
    const cron = await t.api('POST', '/api/latest/schedule/preview', {
      kind: 'cron',
      cron: '0 */6 * * *',
      timezone: 'UTC',
    });
    assert.deepEqual(cron.body.next, [
      '2026-03-28T12:00:00.000Z',
      '2026-03-28T18:00:00.000Z',
      '2026-03-29T00:00:00.000Z',
    ]);

    for (const [body, field, message] of [
      [{ kind: 'cron', cron: '61 * * * *' }, 'cron', /minute/],
      [{ kind: 'cron', cron: '* * *' }, 'cron', /five, six, or seven/],
      [{ kind: 'cron' }, 'cron', /required/],
      [{ kind: 'daily', time: '25:00' }, 'time', /HH:MM/],
      [{ kind: 'daily' }, 'time', /required/],
      [{ kind: 'interval' }, 'interval', /required/],
      [{ kind: 'interval', interval: 0 }, 'interval', /./],
      [{ kind: 'daily', time: '09:00', timezone: 'Mars/Olympus_Mons' }, 'timezone', /IANA/],
      [{ kind: 'weekly' }, 'kind', /./],
    ] as const) {
      const res = await t.api('POST', '/api/latest/schedule/preview', body);
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.equal(res.body.issues[0].path, field, JSON.stringify(res.body));
      assert.match(res.body.issues[0].message, message);
    }
  });

  it('refuses a schedule of a flow that does not exist, or with a bad cron, naming the field', async () => {
    const missing = await t.api('POST', '/api/latest/schedule', {
      flow_name: 'no-such-flow',
      kind: 'interval',
      interval: 1,
    });
    assert.equal(missing.status, 400);
    assert.equal(missing.body.issues[0].path, 'flow_name');
    const bad = await t.api('POST', '/api/latest/schedule', {
      flow_name: 'child-echo',
      kind: 'cron',
      cron: 'every day',
    });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.issues[0].path, 'cron');
    // One input per run, or an async run of several per firing: both at once would lose one.
    const both = await t.api('POST', '/api/latest/schedule', {
      flow_name: 'child-echo',
      kind: 'interval',
      interval: 1,
      input_value: { a: 1 },
      inputs: [{ a: 2 }],
    });
    assert.equal(both.status, 400);
    assert.equal(both.body.issues[0].path, 'inputs');
    assert.match(both.body.issues[0].message, /either input_value .* or inputs/);
    assert.equal((await t.api('GET', '/api/latest/schedule')).body.items.length, 0);
  });

  it('fires an interval schedule: one SCHEDULE execution, a FLOW child per firing, max_iterations', async () => {
    const start = clock.now();
    const s = await createSchedule(t, {
      flow_name: 'child-echo',
      kind: 'interval',
      interval: 1,
      unit: 'minutes',
      input_value: { n: 3 },
      max_iterations: 2,
    });
    assert.equal(s.enabled, true);
    assert.equal(s.timezone.length > 0, true);
    assert.equal(s.next_fire_at, iso(start + MIN));
    const exec = await t.waitForStatus(s.execution_id!, 'SCHEDULED');
    assert.equal(exec.type, 'SCHEDULE');
    assert.equal(exec.schedule_id, s.id);
    await t.waitFor(
      (m) => m.type === 'schedule' && m.event === 'created' && m.schedule.id === s.id,
      'created event',
    );

    const firstRun = nextExecution(t, (r) => r.parent_execution_id === exec.id, 'the first run');
    clock.advance(MIN);
    const first = await firstRun;
    assert.equal(first.type, 'FLOW');
    assert.equal(first.schedule_id, s.id);
    assert.equal(first.top_execution_id, exec.id);
    const firstDone = await t.waitForStatus(first.id, 'ENDED');
    assert.equal(firstDone.status, 'SUCCEEDED');
    assert.deepEqual(firstDone.output_value, { n: 3, double: 6 });
    assert.ok(
      t.messages.some(
        (m) => m.type === 'execution' && m.record.id === exec.id && m.record.status === 'RUNNING',
      ),
    );

    const after1 = (await t.api('GET', `/api/latest/schedule/${s.id}`)).body;
    assert.equal(after1.iterations, 1);
    assert.equal(after1.last_execution_id, first.id);
    assert.equal(after1.last_fire_at, iso(start + MIN));
    assert.equal(after1.next_fire_at, iso(start + 2 * MIN));

    const done = nextExecution(
      t,
      (r) => r.id === exec.id && r.status === 'SUCCEEDED',
      'the schedule to complete',
    );
    clock.advance(MIN);
    const ended = await done;
    assert.equal(ended.message, 'ran 2 times (max_iterations)');
    assert.equal((await children(t, exec.id)).length, 2);
    const final = (await t.api('GET', `/api/latest/schedule/${s.id}`)).body;
    assert.equal(final.enabled, false);
    assert.equal(final.next_fire_at, null);
    clock.advance(10 * MIN);
    assert.equal((await children(t, exec.id)).length, 2, 'nothing fires after max_iterations');
  });

  it('fires a daily schedule at local time across a DST change, and a cron schedule', async () => {
    clock.set(Date.parse('2026-03-28T07:30:00Z'));
    const daily = await createSchedule(t, {
      flow_name: 'child-echo',
      kind: 'daily',
      time: '09:00',
      timezone: 'Europe/Vienna',
      input_value: { n: 1 },
    });
    assert.equal(daily.next_fire_at, '2026-03-28T08:00:00.000Z');
    const cron = await createSchedule(t, {
      flow_name: 'child-echo',
      kind: 'cron',
      cron: '15 */4 * * *',
      timezone: 'UTC',
      input_value: { n: 2 },
    });
    assert.equal(cron.next_fire_at, '2026-03-28T08:15:00.000Z');

    const firings: Array<[string, string]> = [];
    const runs = new Map([
      [daily.execution_id!, 'daily'],
      [cron.execution_id!, 'cron'],
    ]);
    const seen = () =>
      t.messages.filter(
        (m): m is ExecutionMessage =>
          m.type === 'execution' && m.event === 'created' && runs.has(m.record.parent_execution_id ?? ''),
      );
    // Step from timer to timer, as a day and a half goes by.
    const until = Date.parse('2026-03-29T09:00:00Z');
    for (let next = clock.nextTimer(); next !== undefined && next <= until; next = clock.nextTimer()) {
      const before = seen().length;
      clock.set(next);
      await t.waitFor(() => seen().length > before, `a run at ${iso(next)}`);
      const run = seen().at(-1)!.record;
      firings.push([runs.get(run.parent_execution_id!)!, iso(next)]);
      // Let it end: the next firing would otherwise be skipped (overlap: skip).
      await t.waitForStatus(run.id, 'ENDED');
    }
    assert.deepEqual(firings, [
      ['daily', '2026-03-28T08:00:00.000Z'],
      ['cron', '2026-03-28T08:15:00.000Z'],
      ['cron', '2026-03-28T12:15:00.000Z'],
      ['cron', '2026-03-28T16:15:00.000Z'],
      ['cron', '2026-03-28T20:15:00.000Z'],
      ['cron', '2026-03-29T00:15:00.000Z'],
      ['cron', '2026-03-29T04:15:00.000Z'],
      ['daily', '2026-03-29T07:00:00.000Z'], // 09:00 CEST, 23 hours after 09:00 CET
      ['cron', '2026-03-29T08:15:00.000Z'],
    ]);
    const after = (await t.api('GET', `/api/latest/schedule/${daily.id}`)).body;
    assert.equal(after.next_fire_at, '2026-03-30T07:00:00.000Z');
  });

  it('skips a firing while the previous run goes on (overlap: skip), runs it anyway with overlap: run', async () => {
    const gate = path.join(tempDir(), 'open');
    const s = await createSchedule(t, {
      flow_name: 'gate',
      kind: 'interval',
      interval: 1,
      input_value: { file: gate },
    });
    const execId = s.execution_id!;
    const firstRun = nextExecution(t, (r) => r.parent_execution_id === execId, 'the first run');
    clock.advance(MIN);
    const first = await firstRun;
    await t.waitForStatus(first.id, 'RUNNING');

    const skipped = t.waitFor(
      (m) => m.type === 'log' && m.line.execution_id === execId && /skipped the run due at/.test(m.line.text),
      'the skip to be logged',
    );
    clock.advance(MIN);
    const line = await skipped;
    assert.ok(line.type === 'log' && line.line.text.includes(first.id));
    assert.equal((await children(t, execId)).length, 1);
    let rec = (await t.api('GET', `/api/latest/schedule/${s.id}`)).body;
    assert.equal(rec.iterations, 1, 'a skipped firing is not an iteration');

    const patched = await t.api('PATCH', `/api/latest/schedule/${s.id}`, { overlap: 'run' });
    assert.equal(patched.status, 200);
    assert.equal(patched.body.overlap, 'run');
    const secondRun = nextExecution(t, (r) => r.parent_execution_id === execId, 'the overlapping run');
    clock.advance(MIN);
    const second = await secondRun;
    assert.notEqual(second.id, first.id);
    const idle = nextExecution(
      t,
      (r) => r.id === execId && r.status === 'SCHEDULED',
      'the schedule to wait again',
    );
    fs.writeFileSync(gate, '');
    await Promise.all([t.waitForStatus(first.id, 'ENDED'), t.waitForStatus(second.id, 'ENDED'), idle]);
    rec = (await t.api('GET', `/api/latest/schedule/${s.id}`)).body;
    assert.equal(rec.iterations, 2);
  });

  it('runs now, disables (its SCHEDULE execution waits paused), enables it again, and deletes keeping one history', async () => {
    const s = await createSchedule(t, {
      flow_name: 'child-echo',
      kind: 'interval',
      interval: 1,
      unit: 'hours',
      input_value: { n: 4 },
    });
    const exec1 = s.execution_id!;
    const now1 = await t.api('POST', `/api/latest/schedule/${s.id}/run`);
    assert.equal(now1.status, 201);
    assert.equal(now1.body.parent_execution_id, exec1);
    assert.equal((await t.waitForStatus(now1.body.id, 'ENDED')).status, 'SUCCEEDED');

    const off = await t.api('PATCH', `/api/latest/schedule/${s.id}`, { enabled: false });
    assert.equal(off.body.enabled, false);
    assert.equal(off.body.next_fire_at, null);
    const paused = await t.waitForStatus(exec1, 'PAUSED');
    assert.equal(paused.message, 'schedule disabled');
    const now2 = await t.api('POST', `/api/latest/schedule/${s.id}/run`);
    assert.equal(now2.body.parent_execution_id, exec1, 'a disabled schedule runs under its history too');
    assert.equal(now2.body.schedule_id, s.id);
    assert.equal((await t.waitForStatus(now2.body.id, 'ENDED')).status, 'SUCCEEDED');

    const on = await t.api('PATCH', `/api/latest/schedule/${s.id}`, { enabled: true });
    assert.equal(on.body.execution_id, exec1, 'enabled again under the same SCHEDULE execution');
    assert.equal(on.body.next_fire_at, iso(clock.now() + 60 * MIN));
    assert.equal((await t.api('GET', `/api/latest/execution/${exec1}`)).body.status, 'SCHEDULED');
    // Disabled again, then resumed from the tree: that enables the schedule.
    await t.api('PATCH', `/api/latest/schedule/${s.id}`, { enabled: false });
    await t.api('POST', `/api/latest/execution/${exec1}/resume`);
    await t.waitFor(
      (m) =>
        m.type === 'schedule' &&
        m.schedule.id === s.id &&
        m.schedule.enabled &&
        m.schedule.execution_id === exec1,
      'the schedule to be enabled by the resume',
    );
    // Cancelling the SCHEDULE execution in the tree disables the schedule.
    await t.api('POST', `/api/latest/execution/${exec1}/cancel`);
    await t.waitFor(
      (m) =>
        m.type === 'schedule' &&
        m.schedule.id === s.id &&
        m.schedule.execution_id === exec1 &&
        !m.schedule.enabled,
      'the schedule to be disabled',
    );

    const del = await t.api('DELETE', `/api/latest/schedule/${s.id}`);
    assert.equal(del.status, 200);
    assert.equal((await t.api('GET', `/api/latest/schedule/${s.id}`)).status, 404);
    await t.waitFor(
      (m) => m.type === 'schedule' && m.event === 'deleted' && m.schedule.id === s.id,
      'deleted event',
    );
    const history = await t.api('GET', `/api/latest/execution?schedule_id=${s.id}&limit=100`);
    assert.equal(history.body.total, 3, 'one SCHEDULE execution and its two runs stay');
  });
});

describe('runner: schedules across a restart', function () {
  it('makes up a missed firing once (not once per missed slot) and goes on from the next slot', async () => {
    const dataDir = tempDir();
    const T0 = Date.parse('2026-06-01T10:00:00Z');
    const first = await startTestRunner({ dataDir, clock: new ManualClock(T0) });
    let s: ScheduleRecord;
    try {
      s = await createSchedule(first, {
        flow_name: 'child-echo',
        kind: 'interval',
        interval: 1,
        input_value: { n: 5 },
      });
      assert.equal(s.next_fire_at, iso(T0 + MIN));
    } finally {
      await first.stop();
    }

    // Down for ten and a half minutes: ten slots passed.
    const clock = new ManualClock(T0 + 10.5 * MIN);
    const second = await startTestRunner({ dataDir, clock });
    try {
      const rec = (await second.api('GET', `/api/latest/schedule/${s.id}`)).body as ScheduleRecord;
      assert.equal(rec.execution_id, s.execution_id, 'the same SCHEDULE execution goes on');
      assert.equal(rec.iterations, 1);
      assert.equal(rec.next_fire_at, iso(T0 + 11 * MIN));
      const runs = await children(second, s.execution_id!);
      assert.equal(runs.length, 1, 'one run for all the missed slots');
      const done = await second.runner.engine.waitForEnd(runs[0].id);
      assert.equal(done.status, 'SUCCEEDED');
      const log = await second.api('GET', `/api/latest/execution/${s.execution_id}/log`);
      assert.ok(
        log.body.items.some((l: { text: string }) =>
          /was missed while the runner was down; it runs once now/.test(l.text),
        ),
      );

      const nextRun = nextExecution(second, (r) => r.parent_execution_id === s.execution_id, 'the next slot');
      clock.advance(0.5 * MIN);
      await second.waitForStatus((await nextRun).id, 'ENDED');
      assert.equal((await children(second, s.execution_id!)).length, 2);
    } finally {
      await second.stop();
    }
  });
});
