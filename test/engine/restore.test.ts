/**
 * Restore after a restart, on the engine with fake workers: a second engine on the store the
 * first one left behind (the first is abandoned, as a crash leaves it).
 */
import assert from 'node:assert/strict';
import type { ExecutionRecord } from '../../protocol';
import { Batches } from '../../runner/src/engine/batches';
import { MemoryStore } from '../../runner/src/store/memoryStore';
import { FakeWorkers } from './fakeWorkers';
import { gate, settle, testEngines } from './testEngine';

describe('engine: restore after a restart', () => {
  const start = testEngines();

  it('fails what was running, queues what was queued or scheduled, keeps what was held', async () => {
    const store = new MemoryStore();
    const never = gate();
    const before = start({
      flows: ['job'],
      store,
      workers: new FakeWorkers().script('job', (w) => {
        w.log('line 1');
        w.log('line 2');
        return never.promise;
      }),
      concurrency: 1,
    });
    const running = before.engine.create({ type: 'FLOW', flow_name: 'job' });
    const queued = before.engine.create({ type: 'FLOW', flow_name: 'job' });
    const created = before.engine.create({ type: 'FLOW', flow_name: 'job', start: false });
    const later = new Date(Date.now() + 3_600_000).toISOString();
    const scheduled = before.engine.create({ type: 'FLOW', flow_name: 'job', scheduled_for: later });
    const paused = before.engine.create({ type: 'FLOW', flow_name: 'job' });
    before.engine.pause(paused.id);
    before.engine.logSystem(scheduled.id, 'first line');
    await before.seen((r) => r.id === running.id && r.status === 'RUNNING');
    await settle();
    assert.equal((await store.getLog(running.id, 0, 10)).length, 2);

    // The restart: a new engine on the same store, with new workers that finish at once.
    const after = start({ flowsDir: before.flowsDir, store, concurrency: 1 });
    const restored = await after.engine.restore();
    assert.deepEqual(
      { requeued: restored.requeued, failed: restored.failed, virtual: restored.virtual },
      { requeued: 2, failed: 1, virtual: [] },
    );
    const failed = await after.ended(running.id);
    assert.equal(failed.status, 'FAILED');
    assert.equal(failed.message, 'runner restarted while this execution was running');
    assert.equal((await after.ended(queued.id)).status, 'SUCCEEDED');
    assert.equal((await after.engine.get(created.id))?.status, 'CREATED');
    assert.equal((await after.engine.get(scheduled.id))?.status, 'SCHEDULED');
    assert.equal((await after.engine.get(paused.id))?.status, 'PAUSED');
    // Held ones go on when asked.
    after.engine.resume(paused.id);
    after.engine.start(created.id);
    assert.equal((await after.ended(paused.id)).status, 'SUCCEEDED');
    assert.equal((await after.ended(created.id)).status, 'SUCCEEDED');
    // A restored execution's log goes on after the lines it had.
    after.engine.logSystem(scheduled.id, 'second line');
    assert.deepEqual(
      (await store.getLog(scheduled.id, 0, 10)).map((l) => [l.seq, l.text]),
      [
        [1, 'first line'],
        [2, 'second line'],
      ],
    );
  });

  it('takes an async run up again: its running input failed, the rest run, and it settles', async () => {
    const store = new MemoryStore();
    const never = gate();
    const before = start({
      flows: ['item'],
      store,
      workers: new FakeWorkers().script('item', () => never.promise),
      concurrency: 1,
    });
    const run = new Batches({ executions: before.engine, store }).start({ flow_name: 'item' }, [
      { i: 0 },
      { i: 1 },
      { i: 2 },
    ]);
    await run.created;
    await before.seen((r) => r.parent_execution_id === run.rec.id && r.status === 'RUNNING');

    const after = start({ flowsDir: before.flowsDir, store, concurrency: 1 });
    const restored = await after.engine.restore();
    assert.deepEqual(
      restored.virtual.map((r: ExecutionRecord) => r.id),
      [run.rec.id],
    );
    await new Batches({ executions: after.engine, store }).restore(restored.virtual);
    const ended = await after.ended(run.rec.id);
    assert.equal(ended.status, 'PARTIAL_SUCCEEDED');
    assert.equal(ended.message, '2 of 3 inputs succeeded; 1 FAILED');
  });
});
