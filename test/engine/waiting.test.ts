/**
 * What flows wait on, on the engine with fake workers: children past the cap on waiting
 * processes, the nesting limit, forms, locks, and the codes of refused calls.
 */
import assert from 'node:assert/strict';
import type { ExecutionRecord, MessageRecord } from '../../protocol';
import { MAX_EXECUTION_DEPTH } from '../../runner/src/engine/engine';
import { Conflict, NotFound } from '../../runner/src/engine/errors';
import { CallFailed, FakeWorkers, type FakeWorker } from './fakeWorkers';
import { gate, testEngines } from './testEngine';

const create = async (w: FakeWorker, flow_name: string) =>
  (await w.call('execution.create', { type: 'FLOW', flow_name })) as ExecutionRecord;

describe('engine: waiting', () => {
  const make = testEngines();

  it('past maxWaiting, starts only what a waiting execution waits for', async () => {
    const workers = new FakeWorkers().script('waiter', async (w) => {
      const child = await create(w, 'child');
      await w.call('execution.wait', { ids: [child.id] });
      w.end('SUCCEEDED');
    });
    // One slot, no process beyond it: the waiter keeps its process while BLOCKED.
    const t = make({ flows: ['waiter', 'child', 'other'], workers, concurrency: 1, maxWaiting: 0 });
    const waiter = t.engine.create({ type: 'FLOW', flow_name: 'waiter' });
    await t.seen((r) => r.id === waiter.id && r.status === 'RUNNING');
    // Queued before the child exists: it would run first, but would be one process too many.
    const other = t.engine.create({ type: 'FLOW', flow_name: 'other' });
    await t.ended(other.id);
    assert.equal((await t.ended(waiter.id)).status, 'SUCCEEDED');
    const order = t.workers.spawned.map((job) => (job.record as ExecutionRecord).flow_name);
    assert.deepEqual(order, ['waiter', 'child', 'other']);
  });

  it('says how many it still waits for, as the executions it waits on end', async () => {
    const fail = gate();
    const release = gate();
    const workers = new FakeWorkers()
      .script('parent', async (w) => {
        const a = await create(w, 'fails');
        const b = await create(w, 'slow');
        await w.call('execution.wait', { ids: [a.id, b.id] });
        w.end('SUCCEEDED');
      })
      .script('fails', async (w) => {
        await fail.promise;
        w.end('FAILED');
      })
      .script('slow', async (w) => {
        await release.promise;
        w.end('SUCCEEDED');
      });
    const t = make({ flows: ['parent', 'fails', 'slow'], workers, concurrency: 4 });
    const parent = t.engine.create({ type: 'FLOW', flow_name: 'parent' });
    const blocked = (message: string) => (r: ExecutionRecord) =>
      r.id === parent.id && r.status === 'BLOCKED' && r.message === message;
    await t.seen(blocked('waiting for 2 executions'));
    // One failed, one to go: the row says so, not "waiting for 2" until the end.
    fail.open();
    await t.seen(blocked('waiting for 1 execution'));
    release.open();
    assert.equal((await t.ended(parent.id)).status, 'SUCCEEDED');
  });

  it(`refuses a child below level ${MAX_EXECUTION_DEPTH}, as an invalid call`, async () => {
    const workers = new FakeWorkers().script('recurse', async (w) => {
      try {
        const child = await create(w, 'recurse');
        const { records } = (await w.call('execution.wait', { ids: [child.id] })) as {
          records: ExecutionRecord[];
        };
        w.end('SUCCEEDED', records[0].output_value);
      } catch (err) {
        w.end('SUCCEEDED', { code: (err as CallFailed).code, message: (err as Error).message });
      }
    });
    const t = make({ flows: ['recurse'], workers, concurrency: 1 });
    const top = t.engine.create({ type: 'FLOW', flow_name: 'recurse' });
    const ended = await t.ended(top.id);
    assert.deepEqual(ended.output_value, {
      code: 'invalid',
      message: `executions nest at most ${MAX_EXECUTION_DEPTH} levels deep; this one would be level ${MAX_EXECUTION_DEPTH + 1}`,
    });
    assert.equal((await t.list({ top_execution_id: top.id })).length, MAX_EXECUTION_DEPTH);
  });

  it('blocks a flow on a form until it is answered, and refuses a second answer', async () => {
    const workers = new FakeWorkers().script('asks', async (w) => {
      const { id } = (await w.call('message.create', { subject: 'Approve?' })) as { id: string };
      const { response } = (await w.call('message.wait', { id })) as { response: unknown };
      w.end('SUCCEEDED', response);
    });
    const t = make({ flows: ['asks'], workers });
    const messages: MessageRecord[] = [];
    t.engine.on('message', (_event, msg) => messages.push(msg));
    const rec = t.engine.create({ type: 'FLOW', flow_name: 'asks' });
    const blocked = await t.seen((r) => r.id === rec.id && r.status === 'BLOCKED');
    assert.equal(blocked.message, 'waiting for an answer to "Approve?"');
    const [open] = await t.engine.messages({ open: true });
    assert.equal(open.subject, 'Approve?');
    await t.engine.answerMessage(open.id, { ok: true });
    assert.deepEqual((await t.ended(rec.id)).output_value, { ok: true });
    await assert.rejects(
      t.engine.answerMessage(open.id, { ok: false }),
      (err) => err instanceof Conflict && err.message === `message ${open.id} was already answered`,
    );
    await assert.rejects(
      t.engine.answerMessage('nope', {}),
      (err) => err instanceof NotFound && err.message === 'no message nope',
    );
    assert.deepEqual(
      messages.map((m) => m.responded_at !== null),
      [false, true],
    );
  });

  it('hands a lock to the next flow when its holder ends, holding the waiter BLOCKED meanwhile', async () => {
    const release = gate();
    const workers = new FakeWorkers()
      .script('first', async (w) => {
        await w.call('lock.acquire', { name: 'L' });
        await release.promise;
        w.end('SUCCEEDED'); // without lock.release: ending lets go of it
      })
      .script('second', async (w) => {
        await w.call('lock.acquire', { name: 'L' });
        w.end('SUCCEEDED', 'got it');
      });
    const t = make({ flows: ['first', 'second'], workers });
    const first = t.engine.create({ type: 'FLOW', flow_name: 'first' });
    await t.seen((r) => r.id === first.id && r.status === 'RUNNING');
    await new Promise((r) => setTimeout(r, 5));
    assert.equal(t.engine.locks.holder('L'), first.id);
    const second = t.engine.create({ type: 'FLOW', flow_name: 'second' });
    const blocked = await t.seen((r) => r.id === second.id && r.status === 'BLOCKED');
    assert.equal(blocked.message, "waiting for lock 'L'");
    release.open();
    assert.equal((await t.ended(second.id)).output_value, 'got it');
  });

  it('answers refused calls with the code of their kind', async () => {
    const codes: Array<string | undefined> = [];
    const workers = new FakeWorkers().script('caller', async (w) => {
      for (const [method, params] of [
        ['execution.get', { id: 'nope' }],
        ['no.such.call', {}],
        ['execution.wait', { ids: 'not a list' }],
        ['lock.acquire', { name: 'held', timeout: 0.01 }],
        [
          'message.wait',
          { id: ((await w.call('message.create', { subject: 's' })) as { id: string }).id, timeout: 0.01 },
        ],
        ['execution.pause', { id: 'nope' }],
      ] as Array<[string, Record<string, unknown>]>) {
        await w.call(method, params).then(
          () => codes.push('ok'),
          (err: CallFailed) => codes.push(err.code),
        );
      }
      w.end('SUCCEEDED');
    });
    const t = make({ flows: ['caller'], workers });
    t.engine.locks.acquire('someone-else', 'held', null, () => undefined);
    const rec = t.engine.create({ type: 'FLOW', flow_name: 'caller' });
    await t.ended(rec.id);
    assert.deepEqual(codes, ['not_found', 'invalid', 'invalid', 'lock_timeout', 'timeout', undefined]);
  });
});
