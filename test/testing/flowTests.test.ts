/**
 * Tests made from runs (issue 17), end to end on a real runner with real Python: a run of a flow
 * that calls a REST connector (against a local HTTP server), a child flow, reads a setting and a
 * file and asks a form is recorded; `flows test create` turns it into a test file; `flows test`
 * replays it with the HTTP server stopped, and fails, naming the difference, once the flow changes.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import YAML from 'yaml';
import { startRunner } from '../../runner/src/runner';
import { readTestFile } from '../../runner/src/testing/testFile';
import { runCli, tempDir } from '../runner/harness';

const ORDER = `import flow_api


def handler(system, this, inputs):
    discount = system.setting('discount').get('value')
    note = system.file('notes/greeting.txt').get('content')
    url = inputs['base'] + '/price/' + str(inputs['item'])
    price = this.connect(connector_type='REST', url=url, method='GET').get('output_value')['json']['price']
    tax = this.flow('tax', amount=price).get('output_value')['tax']
    answer = system.message('Approve order?', body={'ok': {'type': 'boolean'}}).wait().get('response')
    this.sleep(0.05)
    total = price - discount + tax
    this.save(output_value={'total': total, 'approved': answer['ok'], 'note': note})
    return this.success(f'total {total}')
`;

const TAX = `def handler(system, this, inputs):
    return {'tax': inputs['amount'] // 10}
`;

const SLEEPY = `import time


def handler(system, this):
    started = time.time()
    real = time.monotonic()
    this.sleep(3600)
    this.sleep_until(time.time() + 7200)
    return {'slept': True, 'seconds': int(time.time() - started), 'real_seconds': int(time.monotonic() - real)}
`;

const cli = runCli;

describe('flow tests: record a run, replay it as a test', function () {
  this.timeout(120_000);
  let dir: string;
  let server: http.Server;
  let requests = 0;
  let executionId: string;

  before(async () => {
    dir = tempDir('flows-testing-');
    fs.writeFileSync(path.join(dir, 'order.py'), ORDER);
    fs.writeFileSync(path.join(dir, 'tax.py'), TAX);
    fs.writeFileSync(path.join(dir, 'sleepy.py'), SLEEPY);
    server = http.createServer((req, res) => {
      requests++;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ item: req.url, price: 40 }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;

    // The recorded run: a setting and a file to read, a form answered by "the user".
    const runner = await startRunner({ flowsDir: dir, concurrency: 2, log: () => undefined });
    try {
      await runner.engine.records.save({
        type: 'setting',
        key: 'discount',
        by: 'name',
        fields: { value: 5 },
      });
      fs.mkdirSync(path.join(runner.dataDir, 'files', 'notes'), { recursive: true });
      fs.writeFileSync(path.join(runner.dataDir, 'files', 'notes', 'greeting.txt'), 'hello');
      runner.executions.on('message', (event, msg) => {
        if (event === 'created') void runner.executions.answerMessage(msg.id, { ok: true });
      });
      const top = runner.executions.create({
        type: 'FLOW',
        flow_name: 'order',
        input_value: { base, item: 7 },
      });
      const ended = await runner.executions.waitForEnd(top.id);
      assert.equal(ended.status, 'SUCCEEDED', ended.message ?? '');
      assert.deepEqual(ended.output_value, { total: 39, approved: true, note: 'hello' });
      executionId = top.id;
      // What it read and its sleep are in its recording, in order.
      const recording = await runner.engine.store.getRecording(top.id);
      assert.deepEqual(
        recording.map((e) => [e.kind, e.name]),
        [
          ['setting', 'discount'],
          ['file', 'notes/greeting.txt'],
          ['sleep', ''],
        ],
      );
      assert.equal((recording[0].value as { value: number }).value, 5);
      assert.deepEqual(recording[1].value, { content: 'hello', is_binary: false });
      assert.deepEqual(recording[2].value, { seconds: 0.05 });
    } finally {
      await runner.stop();
    }
    assert.equal(requests, 1);
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('creates a readable test file next to the flow from the execution', async () => {
    const made = await cli(['test', 'create', executionId, '--flows', dir]);
    assert.equal(made.status, 0, made.stderr);
    const file = path.join(dir, 'tests', 'order.flowtest.yaml');
    assert.match(made.stdout, /Added the test "order succeeded: total 39" of order/);
    const text = fs.readFileSync(file, 'utf8');
    assert.match(text, /^# Tests of the flow 'order'/);
    assert.match(text, /# Connector calls return the results recorded under `calls`/);
    const doc = readTestFile(file);
    assert.equal(doc.flow, 'order');
    const [c] = doc.tests;
    assert.equal(c.recorded_from, executionId);
    assert.deepEqual(c.replay, { connectors: true, flows: [] });
    assert.deepEqual(c.settings, { discount: { value: 5 } });
    assert.deepEqual(c.files, { 'notes/greeting.txt': 'hello' });
    assert.deepEqual(c.forms, [{ subject: 'Approve order?', answer: { ok: true } }]);
    assert.deepEqual(
      c.calls.map((k) => [k.connector ?? k.flow, k.status]),
      [
        ['REST', 'SUCCEEDED'],
        ['tax', 'SUCCEEDED'],
      ],
    );
    assert.equal((c.calls[0].output as { json: { price: number } }).json.price, 40);
    assert.deepEqual(c.calls[1].output, { tax: 4 });
    assert.equal(c.expect.status, 'SUCCEEDED');
    assert.equal(c.expect.message, 'total 39');
    assert.deepEqual(c.expect.output, { total: 39, approved: true, note: 'hello' });
    assert.deepEqual(
      c.expect.children?.map((k) => k.connector ?? k.flow),
      ['REST', 'tax'],
    );
    assert.deepEqual(c.expect.children?.[1].inputs, { amount: 40 });
  });

  it('replays it with the HTTP server stopped: it passes, and writes JUnit XML', async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
    const before = requests;
    const junit = path.join(dir, 'out', 'junit.xml');
    const r = await cli(['test', path.join(dir, 'tests'), '--junit', junit]);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /✔ order › order succeeded: total 39/);
    assert.match(r.stdout, /1 passed, 0 failed/);
    assert.equal(requests, before, 'the replay made no HTTP request');
    const xml = fs.readFileSync(junit, 'utf8');
    assert.match(xml, /<testsuite name="order" [^>]*tests="1" failures="0"/);
    assert.match(xml, /<testcase name="order succeeded: total 39" classname="order"/);
  });

  it('fails, naming the difference, when the flow’s output changes', async () => {
    const file = path.join(dir, 'order.py');
    fs.writeFileSync(file, ORDER.replace("'note': note}", "'note': note.upper()}"));
    try {
      const junit = path.join(dir, 'out', 'junit-failed.xml');
      const r = await cli(['test', path.join(dir, 'tests', 'order.flowtest.yaml'), '--junit', junit]);
      assert.equal(r.status, 1, r.stdout + r.stderr);
      assert.match(r.stdout, /✘ order › order succeeded: total 39/);
      assert.match(r.stdout, /output_value\.note: expected "hello", got "HELLO"/);
      assert.match(r.stdout, /0 passed, 1 failed/);
      assert.match(
        fs.readFileSync(junit, 'utf8'),
        /<failure message="output_value\.note: expected &quot;hello&quot;, got &quot;HELLO&quot;"/,
      );
    } finally {
      fs.writeFileSync(file, ORDER);
    }
  });

  it('fails on a call the recording does not have, naming the closest recorded one', async () => {
    const file = path.join(dir, 'order.py');
    fs.writeFileSync(file, ORDER.replace("method='GET'", "method='POST'"));
    try {
      const r = await cli(['test', path.join(dir, 'tests')]);
      assert.equal(r.status, 1, r.stdout + r.stderr);
      assert.match(
        r.stdout,
        /connector call REST with inputs \{"url":"http:\/\/127\.0\.0\.1:\d+\/price\/7","method":"POST"\} is not in the recording; the closest recorded one is connector call REST with inputs .*, which differs in method: "POST" \(recorded "GET"\)/,
      );
    } finally {
      fs.writeFileSync(file, ORDER);
    }
  });

  it('replays child flows named under replay.flows from the recording instead of running them', async () => {
    const file = path.join(dir, 'tests', 'order.flowtest.yaml');
    const doc = YAML.parseDocument(fs.readFileSync(file, 'utf8'));
    doc.setIn(['tests', 0, 'replay', 'flows'], ['tax']);
    fs.writeFileSync(file, doc.toString());
    fs.writeFileSync(
      path.join(dir, 'tax.py'),
      "def handler(system, this, inputs):\n    raise RuntimeError('not replayed')\n",
    );
    try {
      const r = await cli(['test', file]);
      assert.equal(r.status, 0, r.stdout + r.stderr);
    } finally {
      fs.writeFileSync(path.join(dir, 'tax.py'), TAX);
    }
  });

  it('runs sleep and sleep_until on a virtual clock: an hour-long flow tests in well under a second', async () => {
    const file = path.join(dir, 'tests', 'sleepy.flowtest.yaml');
    // Written by hand, as a user would: nobody waits three hours to record this run.
    fs.writeFileSync(
      file,
      [
        'flow: sleepy',
        'tests:',
        '  - name: sleeps three hours',
        '    expect:',
        '      status: SUCCEEDED',
        '      output: {slept: true, seconds: 10800, real_seconds: 0}',
        '',
      ].join('\n'),
    );
    const started = Date.now();
    const r = await cli(['test', file]);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    // The run itself (its start to its end); starting the replay's runner is not the flow's time.
    const ms = Number(/sleeps three hours {2}\(run (\d+) ms/.exec(r.stdout)?.[1]);
    assert.ok(ms < 1000, `the run took ${ms} ms: ${r.stdout}`);
    assert.ok(Date.now() - started < 60_000);
  });

  it('refuses to make a test of an execution that does not exist', async () => {
    const r = await cli(['test', 'create', 'no-such-id', '--flows', dir]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /no execution no-such-id/);
  });
});
