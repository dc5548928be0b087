/** The engine through its real API: trees of executions, failures, cancel, kills, limits. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { isAlive, startTestRunner, tempDir, treeOf, type TestRunner } from './harness';

describe('runner: execution lifecycle', function () {
  let t: TestRunner;
  before(async () => {
    process.env.FLOWS_TEST_NUMBER = '41';
    t = await startTestRunner({ concurrency: 4 });
  });
  after(async () => t?.stop());

  it('runs a parent that starts three children with run_async + wait_for', async () => {
    const rec = await t.run({ flow_name: 'parent-async' });
    assert.equal(rec.status, 'SUCCEEDED', rec.message ?? '');
    assert.equal(rec.message, 'all three done');
    assert.deepEqual(rec.output_value, {
      results: [0, 1, 2].map((n) => ({ n, double: n * 2 })),
    });
    const tree = await treeOf(t, rec.id);
    const children = tree.filter((r) => r.parent_execution_id === rec.id);
    assert.equal(children.length, 3);
    for (const c of children) {
      assert.equal(c.status, 'SUCCEEDED');
      assert.equal(c.type, 'FLOW');
      assert.equal(c.flow_name, 'child-echo');
      assert.equal(c.top_execution_id, rec.id);
      assert.equal(c.is_productive, true);
    }
    // The parent was BLOCKED (its slot free) while it waited.
    assert.ok(
      t.messages.some(
        (m) => m.type === 'execution' && m.record.id === rec.id && m.record.status === 'BLOCKED',
      ),
    );
  });

  // The tree in VS Code drops the expand arrow of a row that ends with no children (it would
  // open to nothing); list answers say so, and the end event must too.
  it('says in the event of its end whether an execution has children', async () => {
    const rec = await t.run({ flow_name: 'parent-async' });
    assert.equal(rec.has_children, true, 'the parent started three children');
    const child = (await treeOf(t, rec.id)).find((r) => r.parent_execution_id === rec.id)!;
    const childEnd = t.messages.find(
      (m) => m.type === 'execution' && m.record.id === child.id && m.record.status === 'SUCCEEDED',
    );
    assert.ok(childEnd?.type === 'execution');
    assert.equal(childEnd.record.has_children, false, 'a child that started none');
    const running = t.messages.find(
      (m) => m.type === 'execution' && m.record.id === rec.id && m.record.status === 'RUNNING',
    );
    assert.ok(running?.type === 'execution');
    assert.equal(running.record.has_children, undefined, 'only the end says it');
  });

  it('fails the parent when a child fails, naming the child', async () => {
    const rec = await t.run({ flow_name: 'parent-of-failing' });
    assert.equal(rec.status, 'FAILED');
    assert.match(rec.message ?? '', /child-fails/);
    const [child] = (await treeOf(t, rec.id)).filter((r) => r.parent_execution_id === rec.id);
    assert.equal(child.status, 'FAILED');
    assert.match(child.message ?? '', /ValueError: child failed: boom/);
    assert.match(child.message ?? '', /line 2/);
  });

  it('a Try run passes development mode down to its children', async () => {
    const rec = await t.run({ flow_name: 'parent-async', is_productive: false });
    const tree = await treeOf(t, rec.id);
    assert.equal(tree.length, 4);
    assert.ok(tree.every((r) => r.is_productive === false));
  });

  it('cancels a running tree: every process ends and every execution is STOPPED', async () => {
    const created = await t.api('POST', '/api/latest/execution', { flow_name: 'parent-of-sleeper' });
    const parentId = created.body.id;
    const sleeperLog = await t.waitFor(
      (m) => m.type === 'log' && m.line.text === 'sleeping' && m.line.execution_id !== parentId,
      'the child to start sleeping',
    );
    const childId = sleeperLog.type === 'log' ? sleeperLog.line.execution_id : '';
    const childPid = t.runner.engine.opts.workers.pid(childId)!;
    const parentPid = t.runner.engine.opts.workers.pid(parentId)!;
    assert.ok(isAlive(childPid) && isAlive(parentPid));
    const childGone = new Promise<void>((resolve) =>
      t.runner.engine.opts.workers.on('exit', (id) => id === childId && resolve()),
    );
    const res = await t.api('POST', `/api/latest/execution/${parentId}/cancel`);
    assert.equal(res.status, 200);
    assert.equal(res.body.status, 'STOPPED');
    const child = await t.waitForStatus(childId, 'ENDED');
    assert.equal(child.status, 'STOPPED');
    assert.equal(child.message, 'parent cancelled');
    await childGone;
    assert.equal(isAlive(childPid), false, 'the child process is gone');
  });

  it('turns a worker killed with SIGKILL into FAILED and carries on', async () => {
    const created = await t.api('POST', '/api/latest/execution', {
      flow_name: 'sleeper',
      input_value: { seconds: 60 },
    });
    await t.waitFor((m) => m.type === 'log' && m.line.execution_id === created.body.id, 'the sleeper to log');
    process.kill(t.runner.engine.opts.workers.pid(created.body.id)!, 'SIGKILL');
    const rec = await t.waitForStatus(created.body.id, 'ENDED');
    assert.equal(rec.status, 'FAILED');
    assert.equal(rec.message, 'worker process was killed by signal SIGKILL');
    const next = await t.run({ flow_name: 'child-echo', input_value: { n: 5 } });
    assert.equal(next.status, 'SUCCEEDED');
  });

  it('marks a flow with a syntax error INVALID with the Python error and line', async () => {
    const rec = await t.run({ flow_name: 'syntax-error' });
    assert.equal(rec.status, 'INVALID');
    assert.match(rec.message ?? '', /SyntaxError/);
    assert.match(rec.message ?? '', /line [23]/);
  });

  it('marks a missing flow and a name outside the flows folder INVALID', async () => {
    const missing = await t.run({ flow_name: 'no-such-flow' });
    assert.equal(missing.status, 'INVALID');
    assert.match(missing.message ?? '', /flow 'no-such-flow' not found/);
    const escape = await t.run({ flow_name: '../../etc/passwd' });
    assert.equal(escape.status, 'INVALID');
    assert.match(escape.message ?? '', /outside the flows folder/);
  });

  it('stops an execution that exceeds max_runtime_minutes', async () => {
    const rec = await t.run({
      flow_name: 'sleeper',
      input_value: { seconds: 60 },
      max_runtime_minutes: 0.005,
    });
    assert.equal(rec.status, 'STOPPED');
    assert.equal(rec.message, 'max_runtime_minutes (0.005) exceeded');
  });

  it('keeps print(), stderr, subprocess output and this.log in the log, in order', async () => {
    const rec = await t.run({ flow_name: 'logs' });
    assert.equal(rec.status, 'SUCCEEDED');
    assert.equal(rec.output_value, 'done');
    const log = await t.api('GET', `/api/latest/execution/${rec.id}/log`);
    const lines = log.body.items.map((l: { stream: string; text: string }) => `${l.stream}:${l.text}`);
    assert.deepEqual(
      lines.filter((l: string) => !l.startsWith('stdout:from a subprocess')),
      ['log:first line', 'stdout:printed line', 'stderr:to stderr', 'log:{"a": 1}'],
    );
    assert.ok(lines.includes('stdout:from a subprocess'), lines.join('\n'));
  });

  it('keeps settings between executions (system.setting)', async () => {
    const a = await t.run({ flow_name: 'settings' });
    const b = await t.run({ flow_name: 'settings' });
    assert.deepEqual(a.output_value, { counter: 1 });
    assert.deepEqual(b.output_value, { counter: 2 });
  });

  it('runs CONNECTION children: SHELL, SQLITE (through this.task) and a named connector with an env secret', async () => {
    const rec = await t.run({ flow_name: 'connections' });
    assert.equal(rec.status, 'SUCCEEDED', rec.message ?? '');
    assert.deepEqual(rec.output_value, { shell: 'hi', sqlite: 42, named: 42 });
    const kids = (await treeOf(t, rec.id)).filter((r) => r.parent_execution_id === rec.id);
    assert.deepEqual(
      kids.map((k) => [k.type, k.connector_type]),
      [
        ['CONNECTION', 'SHELL'],
        ['CONNECTION', 'SQLITE'],
        ['CONNECTION', 'SQLITE'],
      ],
    );
  });

  it('fails an unknown connector type with a clear message', async () => {
    const rec = await t.run({ flow_name: 'unknown-connector' });
    assert.equal(rec.status, 'FAILED');
    const [child] = (await treeOf(t, rec.id)).filter((r) => r.parent_execution_id === rec.id);
    assert.match(child.message ?? '', /unknown connector type 'MAINFRAME'/);
  });

  it('runs ad-hoc scripts (type SCRIPT) with the third inputs parameter', async () => {
    const rec = await t.run({
      script: 'def handler(system, this, inputs):\n    return inputs["x"] + 1\n',
      input_value: { x: 1 },
    });
    assert.equal(rec.type, 'SCRIPT');
    assert.equal(rec.status, 'SUCCEEDED');
    assert.equal(rec.output_value, 2);
  });

  it('answers a system.message form over REST and the flow continues', async () => {
    const created = await t.api('POST', '/api/latest/execution', { flow_name: 'form' });
    const m = await t.waitFor(
      (m) => m.type === 'message' && m.message.execution_id === created.body.id,
      'the form',
    );
    assert.ok(m.type === 'message');
    assert.equal(m.message.subject, 'Approve the deployment?');
    await t.waitForStatus(created.body.id, 'BLOCKED');
    const answered = await t.api('POST', `/api/latest/message/${m.message.id}/response`, {
      response: { ok: true },
    });
    assert.equal(answered.status, 200);
    const rec = await t.waitForStatus(created.body.id, 'ENDED');
    assert.deepEqual(rec.output_value, { approved: true });
    // Answered twice: a conflict; a form that does not exist: not found.
    const again = await t.api('POST', `/api/latest/message/${m.message.id}/response`, { response: {} });
    assert.deepEqual([again.status, again.body.error], [409, 'conflict']);
    const none = await t.api('POST', '/api/latest/message/nope/response', { response: {} });
    assert.deepEqual([none.status, none.body.error], [404, 'not_found']);
  });

  it('pauses and resumes a running execution (SIGSTOP/SIGCONT) and one that paused itself', async () => {
    const gateFile = path.join(tempDir(), 'open');
    const created = await t.api('POST', '/api/latest/execution', {
      flow_name: 'gate',
      input_value: { file: gateFile },
    });
    const id = created.body.id;
    await t.waitFor((m) => m.type === 'log' && m.line.execution_id === id);
    const paused = await t.api('POST', `/api/latest/execution/${id}/pause`);
    assert.equal(paused.body.status, 'PAUSED');
    fs.writeFileSync(gateFile, '');
    const resumed = await t.api('POST', `/api/latest/execution/${id}/resume`);
    assert.equal(resumed.body.status, 'RUNNING');
    assert.equal((await t.waitForStatus(id, 'ENDED')).status, 'SUCCEEDED');

    const self = await t.api('POST', '/api/latest/execution', { flow_name: 'self-pause' });
    await t.waitForStatus(self.body.id, 'PAUSED');
    await t.api('POST', `/api/latest/execution/${self.body.id}/resume`);
    const done = await t.waitForStatus(self.body.id, 'ENDED');
    assert.equal(done.output_value, 'resumed');
  });

  it('holds an execution with scheduled_for in the future as SCHEDULED, then runs it', async () => {
    const when = new Date(Date.now() + 300).toISOString();
    const created = await t.api('POST', '/api/latest/execution', {
      flow_name: 'child-echo',
      input_value: { n: 1 },
      scheduled_for: when,
    });
    assert.equal(created.body.status, 'SCHEDULED');
    const rec = await t.waitForStatus(created.body.id, 'ENDED');
    assert.equal(rec.status, 'SUCCEEDED');
    assert.ok(Date.parse(rec.started_at!) >= Date.parse(when));
  });
});

describe('runner: queue order', function () {
  it('starts higher priorities first, then in creation order, within the concurrency limit', async () => {
    const t = await startTestRunner({ concurrency: 1 });
    try {
      const gateFile = path.join(tempDir(), 'open');
      const gate = await t.api('POST', '/api/latest/execution', {
        flow_name: 'gate',
        input_value: { file: gateFile },
      });
      await t.waitForStatus(gate.body.id, 'RUNNING');
      const ids: Record<string, string> = {};
      for (const [name, priority] of [
        ['low', 0],
        ['high', 10],
        ['mid-a', 5],
        ['mid-b', 5],
      ] as const) {
        const r = await t.api('POST', '/api/latest/execution', {
          flow_name: 'child-echo',
          name,
          priority,
          input_value: { n: 0 },
        });
        assert.equal(r.body.status, 'QUEUED');
        ids[r.body.id] = name;
      }
      fs.writeFileSync(gateFile, '');
      await Promise.all(Object.keys(ids).map((id) => t.waitForStatus(id, 'ENDED')));
      const order = t.messages
        .filter((m) => m.type === 'execution' && m.record.status === 'RUNNING' && ids[m.record.id])
        .map((m) => (m.type === 'execution' ? ids[m.record.id] : ''));
      assert.deepEqual(order, ['high', 'mid-a', 'mid-b', 'low']);
    } finally {
      await t.stop();
    }
  });
});
