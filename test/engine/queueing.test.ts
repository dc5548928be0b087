/** The engine with fake workers: an execution's way to its end, and the run queue. */
import assert from 'node:assert/strict';
import { FakeWorkers } from './fakeWorkers';
import { gate, settle, testEngines } from './testEngine';

describe('engine: running and queueing', () => {
  const make = testEngines();

  it('runs a flow: CREATED → QUEUED → RUNNING → SUCCEEDED, with its log and output', async () => {
    const workers = new FakeWorkers().script('hello', (w) => {
      w.log(`hello ${(w.input as { who: string }).who}`);
      w.end('SUCCEEDED', { greeted: true });
    });
    const t = make({ flows: ['hello'], workers });
    const rec = t.engine.create({ type: 'FLOW', flow_name: 'hello', input_value: { who: 'you' } });
    const ended = await t.ended(rec.id);
    assert.deepEqual(t.statuses(rec.id), ['CREATED', 'QUEUED', 'RUNNING', 'SUCCEEDED']);
    assert.deepEqual(ended.output_value, { greeted: true });
    assert.ok(ended.started_at && ended.ended_at);
    const log = await t.engine.log(rec.id, 0, 10);
    assert.deepEqual(
      log.map((l) => [l.seq, l.stream, l.text]),
      [[1, 'log', 'hello you']],
    );
    assert.equal((await t.engine.waitForEnd(rec.id)).status, 'SUCCEEDED');
  });

  it('fails a flow that raises, naming the exception and its line, with the traceback in its log', async () => {
    const workers = new FakeWorkers().script('boom', (w) => w.raise('ValueError', 'boom', 3));
    const t = make({ flows: ['boom'], workers });
    const rec = t.engine.create({ type: 'FLOW', flow_name: 'boom' });
    const ended = await t.ended(rec.id);
    assert.equal(ended.status, 'FAILED');
    assert.equal(ended.message, 'ValueError: boom (line 3)');
    const log = await t.engine.log(rec.id, 0, 10);
    assert.deepEqual(
      log.map((l) => [l.stream, l.text]),
      [['stderr', 'ValueError: boom']],
    );
  });

  it('fails an execution whose process dies before it reports an end', async () => {
    const workers = new FakeWorkers().script('crash', (w) => w.exit({ code: 3, signal: null }));
    const t = make({ flows: ['crash'], workers });
    const rec = t.engine.create({ type: 'FLOW', flow_name: 'crash' });
    const ended = await t.ended(rec.id);
    assert.equal(ended.status, 'FAILED');
    assert.equal(ended.message, 'worker process exited with code 3 before reporting a result');
  });

  it('makes an execution of a flow that does not exist INVALID at once, without a process', async () => {
    const t = make();
    const rec = t.engine.create({ type: 'FLOW', flow_name: 'missing' });
    assert.equal(rec.status, 'INVALID');
    assert.match(rec.message ?? '', /flow 'missing' not found/);
    await t.ended(rec.id);
    assert.equal(t.workers.spawned.length, 0);
  });

  it('holds an execution SCHEDULED until scheduled_for, then runs it', async () => {
    const t = make({ flows: ['later'] });
    const at = new Date(Date.now() + 40).toISOString();
    const rec = t.engine.create({ type: 'FLOW', flow_name: 'later', scheduled_for: at });
    assert.equal(rec.status, 'SCHEDULED');
    await t.ended(rec.id);
    assert.deepEqual(t.statuses(rec.id), ['CREATED', 'SCHEDULED', 'QUEUED', 'RUNNING', 'SUCCEEDED']);
  });

  it('keeps an execution made with start=false CREATED until it is started', async () => {
    const t = make({ flows: ['idle'] });
    const rec = t.engine.create({ type: 'FLOW', flow_name: 'idle', start: false });
    await settle();
    assert.equal((await t.engine.get(rec.id))?.status, 'CREATED');
    assert.equal(t.workers.spawned.length, 0);
    t.engine.start(rec.id);
    assert.equal((await t.ended(rec.id)).status, 'SUCCEEDED');
    assert.throws(() => t.engine.start(rec.id), /cannot start execution .*: it has ended/);
  });

  it('runs at most `concurrency` executions at once; the others wait QUEUED', async () => {
    const release = gate();
    let running = 0;
    let most = 0;
    const workers = new FakeWorkers().script('busy', async (w) => {
      most = Math.max(most, ++running);
      await release.promise;
      running--;
      w.end('SUCCEEDED');
    });
    const t = make({ flows: ['busy'], workers, concurrency: 2 });
    const ids = Array.from({ length: 5 }, () => t.engine.create({ type: 'FLOW', flow_name: 'busy' }).id);
    await settle(10);
    assert.equal(t.workers.spawned.length, 2);
    const statuses = await Promise.all(ids.map(async (id) => (await t.engine.get(id))!.status));
    assert.deepEqual(statuses, ['RUNNING', 'RUNNING', 'QUEUED', 'QUEUED', 'QUEUED']);
    release.open();
    await Promise.all(ids.map((id) => t.ended(id)));
    assert.equal(most, 2);
    assert.equal(t.workers.spawned.length, 5);
  });

  it('starts queued executions by priority, then in the order they were made', async () => {
    const occupied = gate();
    const workers = new FakeWorkers().script('first', async (w) => {
      await occupied.promise;
      w.end('SUCCEEDED');
    });
    const t = make({ flows: ['first', 'next'], workers, concurrency: 1 });
    const first = t.engine.create({ type: 'FLOW', flow_name: 'first' });
    await t.seen((r) => r.id === first.id && r.status === 'RUNNING');
    const made = [0, 5, 2, 5, -1].map(
      (priority, i) =>
        t.engine.create({ type: 'FLOW', flow_name: 'next', name: `p${priority}#${i}`, priority }).id,
    );
    occupied.open();
    await Promise.all(made.map((id) => t.ended(id)));
    const order = t.workers.spawned.slice(1).map((job) => (job.record as { name: string }).name);
    assert.deepEqual(order, ['p5#1', 'p5#3', 'p2#2', 'p0#0', 'p-1#4']);
  });

  it('frees the slot of an execution whose flow blocks, and takes it back when it goes on', async () => {
    const wake = gate();
    const workers = new FakeWorkers().script('sleeper', async (w) => {
      w.status('BLOCKED', 'sleeping');
      await wake.promise;
      w.status('RUNNING');
      w.end('SUCCEEDED');
    });
    const t = make({ flows: ['sleeper', 'quick'], workers, concurrency: 1 });
    const sleeper = t.engine.create({ type: 'FLOW', flow_name: 'sleeper' });
    await t.seen((r) => r.id === sleeper.id && r.status === 'BLOCKED');
    const quick = t.engine.create({ type: 'FLOW', flow_name: 'quick' });
    assert.equal((await t.ended(quick.id)).status, 'SUCCEEDED');
    wake.open();
    assert.equal((await t.ended(sleeper.id)).status, 'SUCCEEDED');
    assert.deepEqual(t.statuses(sleeper.id), [
      'CREATED',
      'QUEUED',
      'RUNNING',
      'BLOCKED',
      'RUNNING',
      'SUCCEEDED',
    ]);
  });

  it('ends running executions FAILED when it shuts down, and starts nothing more', async () => {
    const never = gate();
    const workers = new FakeWorkers().script('forever', () => never.promise);
    const t = make({ flows: ['forever'], workers, concurrency: 1 });
    const running = t.engine.create({ type: 'FLOW', flow_name: 'forever' });
    const queued = t.engine.create({ type: 'FLOW', flow_name: 'forever' });
    await t.seen((r) => r.id === running.id && r.status === 'RUNNING');
    await t.engine.shutdown();
    const ended = await t.ended(running.id);
    assert.equal(ended.message, 'runner stopped while this execution was running');
    assert.equal((await t.engine.get(queued.id))?.status, 'QUEUED');
    assert.equal(t.workers.spawned.length, 1);
  });
});
