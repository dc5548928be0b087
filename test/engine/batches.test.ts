/** Async runs (engine/batches.ts) on the engine with fake workers: how a run settles. */
import assert from 'node:assert/strict';
import { Batches } from '../../runner/src/engine/batches';
import { FakeWorkers } from './fakeWorkers';
import { gate, testEngines } from './testEngine';

/** `item` succeeds with its input's x, or fails when x is negative. */
const items = () =>
  new FakeWorkers().script('item', (w) => {
    const x = (w.input as { x: number }).x;
    if (x < 0) w.raise('ValueError', `negative: ${x}`);
    else w.end('SUCCEEDED', x);
  });

describe('engine: async runs (batches)', () => {
  const make = testEngines();
  /** An async run of `flow` over `inputs` on `t` (by default: 'item' runs, two at a time). */
  const start = (
    inputs: unknown[],
    flow = 'item',
    t = make({ flows: ['item'], workers: items(), concurrency: 2 }),
  ) => {
    const batches = new Batches({ executions: t.engine, store: t.store });
    return { t, batches, ...batches.start({ flow_name: flow, name: 'run' }, inputs) };
  };

  it('ends SUCCEEDED when every input succeeded, its status following its children meanwhile', async () => {
    const { t, rec, created } = start([{ x: 1 }, { x: 2 }, { x: 3 }]);
    assert.equal(rec.status, 'QUEUED');
    assert.equal(rec.message, '3 inputs');
    await created;
    const ended = await t.ended(rec.id);
    assert.equal(ended.status, 'SUCCEEDED');
    assert.equal(ended.message, '3 of 3 inputs succeeded');
    const statuses = t.statuses(rec.id);
    assert.deepEqual(statuses.slice(0, 3), ['CREATED', 'QUEUED', 'RUNNING']);
    assert.equal(statuses.at(-1), 'SUCCEEDED');
    const counts = await t.store.countChildren(rec.id);
    assert.deepEqual(counts, { SUCCEEDED: 3 });
  });

  it('ends PARTIAL_SUCCEEDED when some did, naming what the others did', async () => {
    const { t, rec } = start([{ x: 1 }, { x: -1 }, { x: 2 }, 'not an object']);
    const ended = await t.ended(rec.id);
    assert.equal(ended.status, 'PARTIAL_SUCCEEDED');
    assert.equal(ended.message, '2 of 4 inputs succeeded; 1 INVALID, 1 FAILED');
  });

  it('ends INVALID when every input is invalid, without starting a process', async () => {
    const { t, rec } = start([1, null, ['a']]);
    const ended = await t.ended(rec.id);
    assert.equal(ended.status, 'INVALID');
    assert.equal(ended.message, '0 of 3 inputs succeeded; 3 INVALID');
    const children = await t.store.listChildren(rec.id, ['INVALID']);
    assert.deepEqual(
      children.map((c) => c.message),
      [
        "input 0 must be a JSON object of the flow's inputs, not a number",
        "input 1 must be a JSON object of the flow's inputs, not null",
        "input 2 must be a JSON object of the flow's inputs, not an array",
      ],
    );
    assert.equal(t.workers.spawned.length, 0);
  });

  it('ends FAILED when every input failed', async () => {
    const { t, rec } = start([{ x: -1 }, { x: -2 }]);
    const ended = await t.ended(rec.id);
    assert.equal(ended.status, 'FAILED');
    assert.equal(ended.message, '0 of 2 inputs succeeded; 2 FAILED');
  });

  it('is INVALID at once when its flow does not exist', async () => {
    const { rec, created, batches } = start([{ x: 1 }], 'missing');
    assert.equal(rec.status, 'INVALID');
    await created;
    assert.equal(batches.isBatch(rec.id), false);
  });

  it('ends STOPPED when cancelled, with its children', async () => {
    const never = gate();
    const t = make({
      flows: ['item'],
      workers: new FakeWorkers().script('item', () => never.promise),
      concurrency: 1,
    });
    const { rec, created } = start([{ x: 1 }, { x: 2 }, { x: 3 }], 'item', t);
    await created;
    await t.seen((r) => r.id === rec.id && r.status === 'RUNNING');
    await t.engine.cancel(rec.id);
    const ended = await t.ended(rec.id);
    assert.equal(ended.status, 'STOPPED');
    assert.deepEqual(await t.store.countChildren(rec.id), { STOPPED: 3 });
  });
});
