/**
 * Debugged executions on the engine with fake workers: the debugger settings come from the debug
 * sessions the engine was given (no hook assigned afterwards), and the debugger's stops pause.
 */
import assert from 'node:assert/strict';
import type { ExecutionRecord, ServerMessage } from '../../protocol';
import { DebugRelay } from '../../runner/src/debug/debugRelay';
import { DebugSessions } from '../../runner/src/debug/debugSessions';
import { FakeWorkers, type FakeWorker } from './fakeWorkers';
import { gate, testEngines } from './testEngine';

const config = { breakpoints: {}, exception_filters: [], stop_on_entry: true };

describe('engine: debugged executions', () => {
  const make = testEngines();

  it('starts a launched tree with its debugger on, stopping on entry at the top only', async () => {
    const sessions = new DebugSessions();
    const stopped = gate();
    const workers = new FakeWorkers()
      .script('parent', async (w) => {
        const child = (await w.call('execution.create', {
          type: 'FLOW',
          flow_name: 'child',
        })) as ExecutionRecord;
        await w.call('execution.wait', { ids: [child.id] });
        w.debugEvent('stopped', { reason: 'breakpoint' });
        await stopped.promise;
        w.debugEvent('continued');
        w.end('SUCCEEDED');
      })
      .script('child', (w) => w.end('SUCCEEDED'));
    const t = make({ flows: ['parent', 'child'], workers, debugConfigFor: (rec) => sessions.configFor(rec) });
    const relay = new DebugRelay({ executions: t.engine, sessions, log: () => undefined });
    const sent: ServerMessage[] = [];
    await relay.handle(
      { type: 'debug.launch', request_id: 1, flow_name: 'parent', config },
      (m) => sent.push(m),
      {},
    );
    const launched = sent.find((m) => m.type === 'debug.launched');
    assert.ok(launched && launched.type === 'debug.launched');
    const top = launched.execution.id;
    const paused = await t.seen((r) => r.id === top && r.status === 'PAUSED');
    assert.equal(paused.message, 'paused (breakpoint)');
    assert.ok(sent.some((m) => m.type === 'debug.event' && m.event === 'stopped'));
    stopped.open();
    assert.equal((await t.ended(top)).status, 'SUCCEEDED');
    assert.deepEqual(t.statuses(top).slice(-3), ['PAUSED', 'RUNNING', 'SUCCEEDED']);
    const [parentJob, childJob] = t.workers.spawned;
    const session = launched.session_id;
    assert.deepEqual(parentJob.debug, { session_id: session, ...config, stop_on_entry: true });
    assert.deepEqual(childJob.debug, { session_id: session, ...config, stop_on_entry: false });
  });

  it('starts productive executions without a debugger, even inside a debugged tree', async () => {
    const sessions = new DebugSessions();
    const t = make({ flows: ['run'], debugConfigFor: (rec) => sessions.configFor(rec) });
    const rec = t.engine.create({ type: 'FLOW', flow_name: 'run', start: false });
    sessions.open(rec.id, config, () => undefined, {});
    t.engine.start(rec.id);
    await t.ended(rec.id);
    assert.equal(t.workers.spawned[0].debug, null);
  });

  it('passes a debug request to the worker of a running execution, and its answer back', async () => {
    const sessions = new DebugSessions();
    const running = gate();
    const workers = new FakeWorkers().script('flow', async (w: FakeWorker) => {
      const req = await w.until((m) => m.type === 'debug' && m.command === 'threads');
      w.debugResponse(req.seq as number, { threads: [] });
      await running.promise;
      w.end('SUCCEEDED');
    });
    const t = make({ flows: ['flow'], workers, debugConfigFor: (rec) => sessions.configFor(rec) });
    const relay = new DebugRelay({ executions: t.engine, sessions, log: () => undefined });
    const sent: ServerMessage[] = [];
    const send = (m: ServerMessage) => sent.push(m);
    await relay.handle({ type: 'debug.launch', request_id: 1, flow_name: 'flow', config }, send, {});
    const launched = sent.find((m) => m.type === 'debug.launched');
    assert.ok(launched && launched.type === 'debug.launched');
    await t.workers.started((r) => r.id === launched.execution.id);
    await relay.handle(
      {
        type: 'debug.request',
        request_id: 2,
        session_id: launched.session_id,
        execution_id: launched.execution.id,
        command: 'threads',
        arguments: {},
      },
      send,
      {},
    );
    const answer = sent.find((m) => m.type === 'debug.response' && m.request_id === 2);
    assert.deepEqual(answer, {
      type: 'debug.response',
      request_id: 2,
      success: true,
      body: { threads: [] },
      message: undefined,
    });
    running.open();
    await t.ended(launched.execution.id);
  });
});
