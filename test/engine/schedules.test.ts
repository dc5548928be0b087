/**
 * The scheduler on the engine's executions service, with fake workers and a clock moved by
 * hand: a schedule's SCHEDULE execution follows its runs, and refusals name their field.
 */
import assert from 'node:assert/strict';
import { CreateScheduleBody } from '../../protocol';
import { Batches } from '../../runner/src/engine/batches';
import { Invalid } from '../../runner/src/engine/errors';
import { Scheduler } from '../../runner/src/schedules/scheduler';
import { MemoryStore } from '../../runner/src/store/memoryStore';
import { until } from '../support/until';
import { ManualClock } from '../runner/manualClock';
import { testEngines, type TestEngine } from './testEngine';

const T0 = Date.parse('2025-03-01T12:00:00Z');

describe('engine: schedules on the executions service', () => {
  const make = testEngines();
  const schedulerOn = (t: TestEngine, clock: ManualClock) =>
    new Scheduler({
      executions: t.engine,
      batches: new Batches({ executions: t.engine, store: t.store }),
      store: t.store,
      clock,
      log: () => undefined,
    });

  it('fires runs below its SCHEDULE execution, which ends SUCCEEDED after max_iterations', async () => {
    const t = make({ flows: ['tick'] });
    const clock = new ManualClock(T0);
    const scheduler = schedulerOn(t, clock);
    const schedule = scheduler.create(
      CreateScheduleBody.parse({
        kind: 'interval',
        interval: 1,
        unit: 'minutes',
        flow_name: 'tick',
        max_iterations: 2,
      }),
    );
    const top = schedule.execution_id!;
    assert.equal(t.engine.activeRecord(top)?.status, 'SCHEDULED');
    clock.advance(60_000);
    const first = await t.seen((r) => r.parent_execution_id === top && r.status === 'SUCCEEDED');
    assert.equal(first.schedule_id, schedule.id);
    clock.advance(60_000);
    const ended = await t.ended(top);
    assert.equal(ended.status, 'SUCCEEDED');
    assert.equal(ended.message, 'ran 2 times (max_iterations)');
    assert.equal(scheduler.get(schedule.id).enabled, false);
    assert.equal((await t.list({ parent_execution_id: top })).length, 2);
  });

  it('fires a slot only when its claim in the store succeeds, and claims again after a failed claim', async () => {
    const store = new MemoryStore();
    let failNext = false;
    // Another node, as the store sees it: it claims slots too; and a database that goes away once.
    const claimFiring = store.claimFiring.bind(store);
    store.claimFiring = async (id, slot) => {
      if (failNext) {
        failNext = false;
        throw new Error('connection refused');
      }
      return claimFiring(id, slot);
    };
    const t = make({ flows: ['tick'], store });
    const clock = new ManualClock(T0);
    const logs: string[] = [];
    const scheduler = new Scheduler({
      executions: t.engine,
      batches: new Batches({ executions: t.engine, store }),
      store,
      clock,
      log: (m) => logs.push(m),
    });
    const schedule = scheduler.create(
      CreateScheduleBody.parse({ kind: 'interval', interval: 1, unit: 'minutes', flow_name: 'tick' }),
    );
    const top = schedule.execution_id!;
    const runs = async () => (await t.list({ parent_execution_id: top })).length;

    // The first slot was fired by another node: nothing runs here, and the schedule is not written.
    assert.equal(await store.claimFiring(schedule.id, T0 + 60_000), true);
    clock.advance(60_000);
    const line = (
      await until(
        async () => (await store.getLog(top, 0, 100)).map((l) => l.text),
        (lines) => lines.some((l) => l.includes('was started by another runner node')),
        'the lost claim',
      )
    ).find((l) => l.includes('another runner node'));
    assert.equal(
      line,
      `the run due at ${new Date(T0 + 60_000).toISOString()} was started by another runner node`,
    );
    assert.equal(await runs(), 0);
    assert.equal(scheduler.get(schedule.id).iterations, 0);
    assert.equal(scheduler.get(schedule.id).next_fire_at, new Date(T0 + 120_000).toISOString());

    // The next claim fails: the slot stays due and is claimed again a second later, once.
    failNext = true;
    clock.advance(60_000);
    await until(
      async () => logs.join('\n'),
      (l) => /claiming its run due at .* failed/.test(l),
      'the failed claim',
    );
    assert.equal(await runs(), 0);
    clock.advance(1_000);
    const run = await t.seen((r) => r.parent_execution_id === top && r.status === 'SUCCEEDED');
    assert.equal(run.started_by, `schedule ${schedule.name}`);
    assert.equal(scheduler.get(schedule.id).iterations, 1);
    assert.equal(await runs(), 1);
    assert.deepEqual(
      (await store.getLog(run.id, 0, 1)).map((l) => l.text),
      [`run of schedule ${schedule.name} due at ${new Date(T0 + 120_000).toISOString()}`],
    );
    scheduler.stop();
  });

  it('goes on with a new timing given while a slot was being claimed, whose timer came due meanwhile', async () => {
    const store = new MemoryStore();
    const pending: Array<() => void> = [];
    const claimFiring = store.claimFiring.bind(store);
    // A slow database: each claim waits until the test lets it through.
    store.claimFiring = (id, slot) =>
      new Promise((resolve) => pending.push(() => resolve(claimFiring(id, slot))));
    const t = make({ flows: ['tick'], store });
    const clock = new ManualClock(T0);
    const scheduler = schedulerOn(t, clock);
    const schedule = scheduler.create(
      CreateScheduleBody.parse({ kind: 'interval', interval: 1, unit: 'minutes', flow_name: 'tick' }),
    );
    clock.advance(60_000);
    assert.equal(pending.length, 1, 'the first slot is being claimed');
    const changed = scheduler.update(schedule.id, { interval: 2 });
    assert.equal(changed.next_fire_at, new Date(T0 + 3 * 60_000).toISOString());
    clock.advance(2 * 60_000); // its timer comes due while the claim is still on its way
    assert.equal(pending.length, 1, 'one claim at a time');
    pending.shift()!(); // the old slot's claim ends: its firing is off, the new slot is armed
    await until(
      async () => clock.nextTimer(),
      (at) => at !== undefined,
      'the new slot armed',
    );
    clock.advance(0);
    await until(
      async () => pending.length,
      (n) => n === 1,
      'the new slot claimed',
    );
    pending.shift()!();
    const run = await t.seen(
      (r) => r.parent_execution_id === schedule.execution_id && r.status === 'SUCCEEDED',
    );
    assert.equal(scheduler.get(schedule.id).iterations, 1);
    assert.equal((await t.list({ parent_execution_id: schedule.execution_id! })).length, 1);
    assert.deepEqual(
      (await store.getLog(run.id, 0, 1)).map((l) => l.text),
      [`run of schedule ${schedule.name} due at ${new Date(T0 + 3 * 60_000).toISOString()}`],
    );
    scheduler.stop();
  });

  it('refuses a schedule of a flow that does not exist, naming flow_name', () => {
    const t = make();
    const scheduler = schedulerOn(t, new ManualClock(T0));
    assert.throws(
      () =>
        scheduler.create(CreateScheduleBody.parse({ kind: 'cron', cron: '* * * * *', flow_name: 'nope' })),
      (err) =>
        err instanceof Invalid && err.field === 'flow_name' && /flow 'nope' not found/.test(err.message),
    );
  });
});
