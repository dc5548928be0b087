/**
 * The engine with fake workers: trees of executions made by flows (execution.create / wait),
 * and cancel, pause and resume cascading through them.
 */
import assert from 'node:assert/strict';
import type { ExecutionRecord } from '../../protocol';
import { Conflict } from '../../runner/src/engine/errors';
import { FakeWorkers, type FakeWorker } from './fakeWorkers';
import { gate, settle, testEngines } from './testEngine';

/** A parent that starts `n` children of `child` and waits for them all, then sums their outputs. */
function parentOf(child: string, n: number) {
  return async (w: FakeWorker) => {
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      const rec = (await w.call('execution.create', {
        type: 'FLOW',
        flow_name: child,
        input_value: { i },
      })) as ExecutionRecord;
      ids.push(rec.id);
    }
    const { records } = (await w.call('execution.wait', { ids })) as { records: ExecutionRecord[] };
    w.end(
      'SUCCEEDED',
      records.reduce((sum, r) => sum + (r.output_value as number), 0),
    );
  };
}

describe('engine: execution trees', () => {
  const make = testEngines();

  it('runs children a flow makes, BLOCKED while it waits for them, with its mode and priority', async () => {
    const workers = new FakeWorkers()
      .script('parent', parentOf('child', 3))
      .script('child', (w) => w.end('SUCCEEDED', (w.input as { i: number }).i * 10));
    const t = make({ flows: ['parent', 'child'], workers, concurrency: 1 });
    const top = t.engine.create({ type: 'FLOW', flow_name: 'parent', is_productive: false, priority: 3 });
    const ended = await t.ended(top.id);
    assert.equal(ended.status, 'SUCCEEDED');
    assert.equal(ended.output_value, 30);
    // With one slot, the children can only run because the waiting parent gave its slot up.
    assert.deepEqual(t.statuses(top.id), ['CREATED', 'QUEUED', 'RUNNING', 'BLOCKED', 'RUNNING', 'SUCCEEDED']);
    const items = await t.list({ parent_execution_id: top.id });
    assert.equal(items.length, 3);
    for (const c of items) {
      assert.equal(c.top_execution_id, top.id);
      assert.equal(c.is_productive, false);
      assert.equal(c.priority, 3);
    }
  });

  it('cancels a tree: every execution below ends STOPPED and every process is killed', async () => {
    const never = gate();
    const workers = new FakeWorkers()
      .script('parent', parentOf('middle', 2))
      .script('middle', parentOf('leaf', 1))
      .script('leaf', () => never.promise);
    const t = make({ flows: ['parent', 'middle', 'leaf'], workers });
    const top = t.engine.create({ type: 'FLOW', flow_name: 'parent' });
    await t.seen((r) => r.flow_name === 'leaf' && r.status === 'RUNNING');
    await t.seen(
      (r) =>
        r.flow_name === 'leaf' &&
        r.status === 'RUNNING' &&
        t.events.filter((x) => x.flow_name === 'leaf' && x.status === 'RUNNING').length === 2,
    );
    await t.engine.cancel(top.id);
    const ended = await t.ended(top.id);
    assert.equal(ended.status, 'STOPPED');
    assert.equal(ended.message, 'cancelled');
    const items = await t.list({ top_execution_id: top.id });
    assert.equal(items.length, 5);
    for (const r of items.filter((x) => x.id !== top.id)) {
      assert.equal(r.status, 'STOPPED', r.name);
      // The level below the cancelled one was cancelled by its parent; further down, stopped.
      assert.equal(r.message, r.parent_execution_id === top.id ? 'parent cancelled' : 'parent stopped');
    }
    await settle();
    assert.equal(t.workers.size, 0, 'every process is gone');
    // Cancelling what has ended answers it as it is.
    assert.equal((await t.engine.cancel(top.id)).status, 'STOPPED');
    await assert.rejects(t.engine.cancel('nope'), /no execution nope/);
  });

  it('pauses a tree (queued ones held, running ones frozen) and resumes each where it was', async () => {
    const go = gate();
    const workers = new FakeWorkers().script('parent', parentOf('child', 2)).script('child', async (w) => {
      await go.promise;
      w.end('SUCCEEDED', 1);
    });
    // One slot: the parent blocks and gives it up, one child runs, the other waits QUEUED.
    const t = make({ flows: ['parent', 'child'], workers, concurrency: 1 });
    const top = t.engine.create({ type: 'FLOW', flow_name: 'parent' });
    const children = () => t.list({ parent_execution_id: top.id });
    await t.seen((r) => r.parent_execution_id === top.id && r.status === 'RUNNING');
    await t.seen((r) => r.id === top.id && r.status === 'BLOCKED');
    await settle();
    const [running, queued] = await children();
    assert.equal(running.status, 'RUNNING');
    assert.equal(queued.status, 'QUEUED');

    t.engine.pause(top.id);
    assert.deepEqual(
      (await children()).map((c) => c.status),
      ['PAUSED', 'PAUSED'],
    );
    assert.equal((await t.engine.get(top.id))?.status, 'PAUSED');
    assert.equal(t.workers.worker(running.id)?.frozen, true);
    go.open();
    await settle();
    // Frozen: the child's end waits for SIGCONT; the queued one does not start while paused.
    assert.equal((await t.engine.get(running.id))?.status, 'PAUSED');
    assert.equal(t.workers.spawned.length, 2);

    t.engine.resume(top.id);
    assert.equal((await t.engine.get(top.id))?.status, 'BLOCKED');
    const ended = await t.ended(top.id);
    assert.equal(ended.output_value, 2);
    assert.deepEqual(t.statuses(running.id), [
      'CREATED',
      'QUEUED',
      'RUNNING',
      'PAUSED',
      'RUNNING',
      'SUCCEEDED',
    ]);
    assert.deepEqual(t.statuses(queued.id), [
      'CREATED',
      'QUEUED',
      'PAUSED',
      'QUEUED',
      'RUNNING',
      'SUCCEEDED',
    ]);
  });

  it('refuses to pause, resume or start what has ended', async () => {
    const t = make({ flows: ['quick'] });
    const rec = t.engine.create({ type: 'FLOW', flow_name: 'quick' });
    await t.ended(rec.id);
    for (const op of ['pause', 'resume', 'start'] as const) {
      assert.throws(
        () => t.engine[op](rec.id),
        (err) => err instanceof Conflict && /it has ended or does not exist/.test(err.message),
        op,
      );
    }
  });

  it('resumes a flow that paused itself with a message, not a signal', async () => {
    const workers = new FakeWorkers().script('self-pause', async (w) => {
      w.status('PAUSED', 'waiting for a human');
      await w.until((m) => m.type === 'resume');
      w.end('SUCCEEDED');
    });
    const t = make({ flows: ['self-pause'], workers });
    const rec = t.engine.create({ type: 'FLOW', flow_name: 'self-pause' });
    const paused = await t.seen((r) => r.id === rec.id && r.status === 'PAUSED');
    assert.equal(paused.message, 'waiting for a human');
    t.engine.resume(rec.id);
    assert.equal((await t.ended(rec.id)).status, 'SUCCEEDED');
    assert.equal(t.workers.worker(rec.id)?.frozen ?? false, false);
  });

  it('stops an execution below its parent when a flow cancels it', async () => {
    const never = gate();
    const workers = new FakeWorkers()
      .script('canceller', async (w) => {
        const child = (await w.call('execution.create', {
          type: 'FLOW',
          flow_name: 'stuck',
        })) as ExecutionRecord;
        const stopped = (await w.call('execution.cancel', { id: child.id })) as ExecutionRecord;
        w.end('SUCCEEDED', stopped.status);
      })
      .script('stuck', () => never.promise);
    const t = make({ flows: ['canceller', 'stuck'], workers });
    const rec = t.engine.create({ type: 'FLOW', flow_name: 'canceller' });
    assert.equal((await t.ended(rec.id)).output_value, 'STOPPED');
  });
});
