/**
 * The scheduler on the engine's executions service, with fake workers and a clock moved by
 * hand: a schedule's SCHEDULE execution follows its runs, and refusals name their field.
 */
import assert from 'node:assert/strict';
import { CreateScheduleBody } from '../../protocol';
import { Batches } from '../../runner/src/engine/batches';
import { Invalid } from '../../runner/src/engine/errors';
import { Scheduler } from '../../runner/src/schedules/scheduler';
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
