/**
 * POST /api/latest/execution/{id}/test on a real runner (`flows serve`, its own process, real
 * Python): a test made by the runner that serves the folder, the refusals naming the field and
 * reason, `flows test create` going through it while the runner holds the data folder, and
 * `flows test --reporter json` reporting the case for the editor's Testing view.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { TestReportLine } from '../../protocol';
import { readTestFile } from '../../runner/src/testing/testFile';
import { runCli, serveRunner, tempDir, type ServedRunner } from '../runner/harness';

const GREET = `def handler(system, this, inputs):
    part = this.flow('shout', text=inputs['name'])
    this.save(output_value={'greeting': 'hello ' + part.get('output_value')['text']})
    return this.success('greeted')
`;
const SHOUT = `def handler(system, this, inputs):
    return {'text': inputs['text'].upper()}
`;
const ASK = `def handler(system, this):
    answer = system.message('Go on?', body={'ok': {'type': 'boolean'}}).wait().get('response')
    return {'ok': answer['ok']}
`;

const cli = runCli;

describe('flow tests: POST /api/latest/execution/{id}/test', function () {
  this.timeout(120_000);
  let dir: string;
  let served: ServedRunner;
  let greetId: string;

  /** Runs `flow` through the API and waits (by polling the record) until it has ended. */
  async function runToEnd(flow: string, input?: unknown): Promise<string> {
    const created = await served.api('POST', '/api/latest/execution', {
      flow_name: flow,
      input_value: input,
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    for (;;) {
      const rec = await served.api('GET', `/api/latest/execution/${created.body.id}`);
      if (['SUCCEEDED', 'FAILED', 'STOPPED', 'INVALID', 'PARTIAL_SUCCEEDED'].includes(rec.body.status))
        return created.body.id as string;
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  before(async () => {
    dir = tempDir('flows-create-test-');
    fs.writeFileSync(path.join(dir, 'greet.py'), GREET);
    fs.writeFileSync(path.join(dir, 'shout.py'), SHOUT);
    fs.writeFileSync(path.join(dir, 'ask.py'), ASK);
    served = await serveRunner(['--flows', dir]);
    greetId = await runToEnd('greet', { name: 'ada' });
  });

  after(async () => {
    if (served) {
      const exited = new Promise((r) => served.child.once('exit', r));
      served.child.kill('SIGTERM');
      await exited;
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('writes a case of an ended execution next to its flow and says where', async () => {
    const res = await served.api('POST', `/api/latest/execution/${greetId}/test`);
    assert.equal(res.status, 201, JSON.stringify(res.body));
    const file = path.join(fs.realpathSync(dir), 'tests', 'greet.flowtest.yaml');
    assert.deepEqual(res.body, {
      file,
      path: path.join('tests', 'greet.flowtest.yaml'),
      name: 'greet succeeded: greeted',
      flow: 'greet',
    });
    // The child's inputs are under `calls` and `expect.children`, each written out (no YAML alias).
    assert.doesNotMatch(fs.readFileSync(file, 'utf8'), /[&*]a\d/);
    const [c] = readTestFile(file).tests;
    assert.equal(c.recorded_from, greetId);
    assert.deepEqual(c.input, { name: 'ada' });
    assert.deepEqual(c.expect.output, { greeting: 'hello ADA' });
    assert.deepEqual(c.expect.children, [{ flow: 'shout', inputs: { text: 'ada' } }]);
    // Once more: another case in the same file, with a name of its own.
    const again = await served.api('POST', `/api/latest/execution/${greetId}/test`, {});
    assert.equal(again.status, 201);
    assert.equal(again.body.name, 'greet succeeded: greeted (2)');
    assert.equal(readTestFile(file).tests.length, 2);
  });

  it('writes to `out`, a path inside the flows folder, and refuses one outside it', async () => {
    const res = await served.api('POST', `/api/latest/execution/${greetId}/test`, {
      out: 'suite/greet-more.flowtest.yaml',
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.ok(fs.existsSync(path.join(dir, 'suite', 'greet-more.flowtest.yaml')));
    for (const out of ['../elsewhere.flowtest.yaml', '/tmp/x.flowtest.yaml', 'notes.txt']) {
      const bad = await served.api('POST', `/api/latest/execution/${greetId}/test`, { out });
      assert.equal(bad.status, 400, out);
      assert.equal(bad.body.issues[0].path, 'out', JSON.stringify(bad.body));
      assert.match(bad.body.message, /^out: /);
    }
    const unknown = await served.api('POST', `/api/latest/execution/${greetId}/test`, { overwrite: true });
    assert.equal(unknown.status, 400);
    assert.match(unknown.body.message, /unknown field\(s\) overwrite/);
  });

  it('refuses an execution that is still running (409), is not a flow’s, or does not exist (404)', async () => {
    const created = await served.api('POST', '/api/latest/execution', { flow_name: 'ask' });
    const id = created.body.id as string;
    let open: { id: string }[] = [];
    while (open.length === 0) {
      open = (await served.api('GET', `/api/latest/message?open=true&execution_id=${id}`)).body.items;
      if (open.length === 0) await new Promise((r) => setTimeout(r, 50));
    }
    const running = await served.api('POST', `/api/latest/execution/${id}/test`);
    assert.equal(running.status, 409);
    assert.equal(running.body.error, 'conflict');
    assert.match(running.body.message, /is BLOCKED: make a test from an execution that has ended/);
    await served.api('POST', `/api/latest/message/${open[0].id}/response`, { response: { ok: true } });

    const script = await served.api('POST', '/api/latest/execution', {
      script: 'def handler(system, this):\n    pass\n',
    });
    const scriptTest = await served.api('POST', `/api/latest/execution/${script.body.id}/test`);
    assert.equal(scriptTest.status, 409);
    assert.match(scriptTest.body.message, /is a SCRIPT: tests are made from runs of flows/);

    const missing = await served.api('POST', '/api/latest/execution/no-such-id/test');
    assert.equal(missing.status, 404);
    assert.match(missing.body.message, /no execution with id no-such-id/);
  });

  it('is in the OpenAPI document, token-checked as every route', async () => {
    const doc = await served.api('GET', '/api/openapi.json');
    const op = doc.body.paths['/api/latest/execution/{id}/test'].post;
    assert.equal(
      op.responses['201'].content['application/json'].schema.$ref,
      '#/components/schemas/CreatedTest',
    );
    assert.ok(op.requestBody.content['application/json'].schema.properties.out);
    const res = await fetch(`${served.ready.url}/api/latest/execution/${greetId}/test`, { method: 'POST' });
    assert.equal(res.status, 401);
  });

  it('`flows test create` goes through the runner that holds the data folder', async () => {
    const r = await cli(
      ['test', 'create', greetId, '--flows', dir, '--out', path.join(dir, 'cli.flowtest.yaml')],
      dir,
    );
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /Added the test "greet succeeded: greeted" of greet to cli\.flowtest\.yaml/);
    assert.equal(readTestFile(path.join(dir, 'cli.flowtest.yaml')).tests.length, 1);
    const refused = await cli(['test', 'create', 'no-such-id', '--flows', dir], dir);
    assert.equal(refused.status, 1);
    assert.match(refused.stderr, /no execution with id no-such-id/);
  });

  it('`flows test --reporter json` prints each result and the end as JSON lines', async () => {
    const r = await cli(['test', path.join(dir, 'tests', 'greet.flowtest.yaml'), '--reporter', 'json'], dir);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    const lines = r.stdout
      .trim()
      .split('\n')
      .map((l) => TestReportLine.parse(JSON.parse(l)));
    assert.deepEqual(
      lines.map((l) =>
        l.event === 'result'
          ? [l.name, l.passed]
          : l.event === 'end'
            ? [l.event, l.passed, l.failed]
            : [l.event],
      ),
      [
        ['greet succeeded: greeted', true],
        ['greet succeeded: greeted (2)', true],
        ['end', 2, 0],
      ],
    );
    const first = lines[0];
    assert.ok(first.event === 'result' && first.actual);
    assert.deepEqual(first.actual.output_value, { greeting: 'hello ADA' });
  });
});
