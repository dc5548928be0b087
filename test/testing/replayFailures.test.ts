/**
 * What a failing replayed case reports, and what to do about it (issue 17): each failure at the
 * line of the flow it comes from (a call that is new, a child called with other inputs, a changed
 * output at the line that sets it), the recorded and replayed execution trees as two texts to
 * diff, and `flows test update` re-recording the case from a new live run while keeping the
 * file's comments and other cases. Then the cases of one file share one set of worker
 * processes, each in isolation. Real runner, real Python, a real local HTTP server, the CLI.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import YAML from 'yaml';
import { TestReportLine } from '../../protocol';
import { startRunner } from '../../runner/src/runner';
import { runTestCase, runTestFiles } from '../../runner/src/testing/runTests';
import { readTestFile } from '../../runner/src/testing/testFile';
import { runCli, tempDir } from '../runner/harness';

// Lines: connect 3, fee 5, save 6.
const PAY = `def handler(system, this, inputs):
    limit = system.setting('limit').get('value')
    rate = this.connect(connector_type='REST', url=inputs['base'] + '/rate', method='GET').get('output_value')['json']['rate']
    this.log('rate', rate)
    fee = this.flow('fee', amount=inputs['amount'])
    this.save(output_value={'total': inputs['amount'] * rate + fee.get('output_value')['fee'], 'limit': limit})
    return this.success('paid')
`;
const FEE = `def handler(system, this, inputs):
    return {'fee': inputs['amount'] // 10}
`;
const VISIT = `def handler(system, this, inputs):
    seen = system.setting('visits')
    before = seen.get('value') if seen.exists() else 0
    seen.save(value=before + 1)
    return {'before': before, 'case': inputs['n']}
`;

type Result = Extract<TestReportLine, { event: 'result' }>;

async function jsonResults(args: string[]): Promise<Result[]> {
  const r = await runCli([...args, '--reporter', 'json']);
  return r.stdout
    .trim()
    .split('\n')
    .map((l) => TestReportLine.parse(JSON.parse(l)))
    .filter((l): l is Result => l.event === 'result');
}

/** The flow line reported for the failure matching `re` (which must be there). */
function flowLineOf(r: Result, re: RegExp) {
  const i = r.failures.findIndex((f) => re.test(f));
  assert.ok(i >= 0, `no failure like ${re}: ${r.failures.join('\n')}`);
  return r.at?.find((a) => a.failure === i);
}

describe('flow tests: failures at the flow’s line, tree diff, update recording, shared runner', function () {
  this.timeout(180_000);
  let dir: string;
  let server: http.Server;
  let rate = 2;
  let file: string;
  const payFile = () => path.join(dir, 'pay.py');

  before(async () => {
    dir = tempDir('flows-replay-failures-');
    fs.writeFileSync(payFile(), PAY);
    fs.writeFileSync(path.join(dir, 'fee.py'), FEE);
    fs.writeFileSync(path.join(dir, 'visit.py'), VISIT);
    server = http.createServer((_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ rate }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    // The recorded run, in the folder's own data folder (as `flows serve` would keep it).
    const runner = await startRunner({ flowsDir: dir, concurrency: 2, log: () => undefined });
    let id: string;
    try {
      await runner.engine.records.save({ type: 'setting', key: 'limit', by: 'name', fields: { value: 100 } });
      const top = runner.executions.create({
        type: 'FLOW',
        flow_name: 'pay',
        input_value: { base, amount: 10 },
      });
      const ended = await runner.executions.waitForEnd(top.id);
      assert.equal(ended.status, 'SUCCEEDED', ended.message ?? '');
      id = top.id;
    } finally {
      await runner.stop();
    }
    const made = await runCli(['test', 'create', id, '--flows', dir]);
    assert.equal(made.status, 0, made.stderr);
    file = path.join(dir, 'tests', 'pay.flowtest.yaml');
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('shows a new call and a changed output at the lines of the flow that made them', async () => {
    fs.writeFileSync(payFile(), PAY.replace("method='GET'", "method='POST'"));
    const [r] = await jsonResults(['test', file]);
    assert.equal(r.passed, false);
    const at = (re: RegExp) => flowLineOf(r, re);
    // The connector call the recording lacks, and child 1's other inputs: line 3, the connect().
    assert.deepEqual(at(/connector call REST .* is not in the recording/), {
      failure: 0,
      file: payFile(),
      line: 3,
    });
    const child = at(/^child 1 \(connector REST\) inputs\.method/);
    assert.equal(child?.line, 3);
    assert.equal(child?.file, payFile());
  });

  it('shows a child flow called with other inputs at its call, a changed output at the line that sets it, and both trees', async () => {
    fs.writeFileSync(payFile(), PAY.replace("amount=inputs['amount'])", "amount=inputs['amount'] + 10)"));
    const [r] = await jsonResults(['test', file]);
    assert.equal(r.passed, false);
    const lineOf = (re: RegExp) => flowLineOf(r, re)?.line;
    assert.equal(lineOf(/^child 2 \(flow fee\) inputs\.amount: expected 10, got 20/), 5);
    assert.equal(lineOf(/^output_value\.total: expected 21, got 22/), 6);
    // The trees, as two texts that differ where the run did.
    assert.ok(r.trees, 'a failed case carries its trees');
    const expected = r.trees.expected.split('\n');
    const actual = r.trees.actual.split('\n');
    assert.equal(expected[0], 'flow pay');
    assert.ok(expected.includes('  2. flow fee {"amount":10}'), r.trees.expected);
    assert.ok(actual.includes('  2. flow fee {"amount":20}'), r.trees.actual);
    assert.ok(expected.includes('       → SUCCEEDED {"fee":1}'), r.trees.expected);
    assert.ok(expected.some((l) => /^ {2}1\. connector REST /.test(l)));
    assert.equal(
      expected.find((l) => l.startsWith('  1. ')),
      actual.find((l) => l.startsWith('  1. ')),
      'the unchanged connector call reads the same on both sides',
    );
    assert.ok(expected.includes('  output: {"total":21,"limit":100}'));
    assert.ok(actual.includes('  output: {"total":22,"limit":100}'));
  });

  it('`flows test update` re-records the case from a new live run, keeping comments and other cases', async () => {
    // The flow changed on purpose, and so did the service it calls.
    fs.writeFileSync(payFile(), PAY.replace("amount=inputs['amount'])", "amount=inputs['amount'] + 10)"));
    rate = 3;
    const doc = YAML.parseDocument(fs.readFileSync(file, 'utf8'));
    const name = readTestFile(file).tests[0].name;
    const first = doc.getIn(['tests', 0]) as YAML.YAMLMap;
    (first.items.find((p) => (p.key as YAML.Scalar).value === 'input')!.key as YAML.Scalar).commentBefore =
      ' my note: amount 10 is the smallest order';
    doc.setIn(['tests', 0, 'timeout_seconds'], 30);
    (doc.get('tests') as YAML.YAMLSeq).add(
      doc.createNode({ name: 'hand written', input: { base: 'x', amount: 1 }, expect: { status: 'FAILED' } }),
    );
    fs.writeFileSync(file, doc.toString());
    const r = await runCli(['test', 'update', file, '--case', name, '--flows', dir]);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(
      r.stdout,
      new RegExp(`Recorded "${name.replace(/[()]/g, '.')}" again from execution \\S+ \\(SUCCEEDED\\)`),
    );
    const text = fs.readFileSync(file, 'utf8');
    assert.match(text, /# my note: amount 10 is the smallest order/);
    assert.match(text, /# Connector calls return the results recorded under `calls`/);
    const updated = readTestFile(file);
    assert.deepEqual(
      updated.tests.map((t) => t.name),
      [name, 'hand written'],
    );
    const [c, hand] = updated.tests;
    assert.equal(c.timeout_seconds, 30, 'the user’s own settings of the case stay');
    assert.deepEqual(c.expect.output, { total: 32, limit: 100 });
    assert.deepEqual(c.expect.children?.[1], { flow: 'fee', inputs: { amount: 20 } });
    assert.equal((c.calls[0].output as { json: { rate: number } }).json.rate, 3);
    assert.deepEqual(hand.expect, { status: 'FAILED' });
    // And the re-recorded case passes on replay, with the service gone.
    rate = -1;
    const results = await jsonResults(['test', file, '--name', name]);
    assert.equal(results[0].passed, true, results[0].failures.join('\n'));
  });

  it('refuses to update a case the file does not have', async () => {
    const r = await runCli(['test', 'update', file, '--case', 'no such case', '--flows', dir]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /has no test case named 'no such case'/);
  });

  it('runs the cases of a file on one set of worker processes, each case isolated, faster than a runner each', async () => {
    const visits = path.join(dir, 'tests', 'visit.flowtest.yaml');
    const cases = [1, 2, 3, 4, 5].flatMap((n) => [
      `  - name: visit ${n}`,
      `    input: {n: ${n}}`,
      `    expect: {status: SUCCEEDED, output: {before: 0, case: ${n}}}`,
    ]);
    fs.writeFileSync(visits, ['flow: visit', 'tests:', ...cases, ''].join('\n'));
    // Each case saves the setting; each sees none: its settings (and files, recordings) are its own.
    let started = Date.now();
    const shared = await runTestFiles([visits]);
    const sharedMs = Date.now() - started;
    assert.deepEqual(
      shared.map((r) => [r.name, r.passed, r.failures]),
      [1, 2, 3, 4, 5].map((n) => [`visit ${n}`, true, []]),
    );
    // As before: each case on a runner with worker processes of its own.
    const doc = readTestFile(visits);
    started = Date.now();
    for (const tc of doc.tests) assert.ok((await runTestCase(visits, 'visit', tc, { flowsDir: dir })).passed);
    const ownMs = Date.now() - started;
    console.log(
      `      5 cases: ${sharedMs} ms on shared workers, ${ownMs} ms with a runner's own workers each`,
    );
    assert.ok(sharedMs < ownMs, `shared ${sharedMs} ms, own ${ownMs} ms`);
  });
});
