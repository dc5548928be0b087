/**
 * Flow records (flows/deployedFlows.ts): flows deployed to a runner whose flows folder is empty
 * run — top-level, as children, through the runs API, schedules and webhooks — from the node's
 * cache of their sources, the newest deploy winning; a bulk deploy is all or nothing; and
 * `flows deploy` does the same from a terminal.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { MAX_FLOW_SOURCE_BYTES } from '../../protocol';
import { flowHash } from '../../runner-client/flowDeploy';
import { flowsFolder, startTestRunner, tempDir, type TestRunner } from './harness';

const PARENT =
  'def handler(system, this, inputs):\n' +
  "    child = this.flow('checks/double', n=inputs['n'])\n" +
  "    return {'child': child.get('output_value')}\n";
const double = (factor: number) => `def handler(system, this, inputs):\n    return inputs['n'] * ${factor}\n`;
const FAILING =
  'def handler(system, this):\n' + //
  '    x = 1\n' +
  "    raise ValueError('deployed and broken')\n";

/** `flows …` from the source tree (no build needed), awaited to its exit. */
function flowsCli(args: string[], env: Record<string, string> = {}) {
  const main = path.resolve(__dirname, '../../runner/src/main.ts');
  const child = spawn(process.execPath, ['--require', 'tsx/cjs', main, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (status) => resolve({ status, stdout, stderr }));
  });
}

describe('flow records: deployed flows on a runner with an empty flows folder', function () {
  this.timeout(120_000);
  let t: TestRunner;
  const empty = tempDir('flows-empty-');

  before(async () => (t = await startTestRunner({ flowsDir: empty })));
  after(() => t?.stop());

  const deploy = (flows: Array<{ name: string; source: string }>) =>
    t.api('POST', '/api/latest/flows/deploy', { flows });
  const names = async () =>
    ((await t.api('GET', '/api/latest/flow')).body.items as Array<{ name: string }>).map((f) => f.name);

  it('runs a deployed flow and its deployed child', async () => {
    const res = await deploy([
      { name: 'parent', source: PARENT },
      { name: 'checks/double', source: double(2) },
    ]);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(res.body, { deployed: ['parent', 'checks/double'], unchanged: [] });
    const rec = await t.run({ flow_name: 'parent', input_value: { n: 21 } });
    assert.equal(rec.status, 'SUCCEEDED', rec.message ?? '');
    assert.deepEqual(rec.output_value, { child: 42 });
    const listed = (await t.api('GET', '/api/latest/flow')).body.items;
    assert.deepEqual(
      listed.map((f: { name: string; hash: string; size: number }) => [f.name, f.hash, f.size]),
      [
        ['checks/double', flowHash(double(2)), double(2).length],
        ['parent', flowHash(PARENT), PARENT.length],
      ],
    );
    assert.equal(listed[0].deployed_by, 'local', 'the runner’s own token');
  });

  it('runs the new source once a changed flow is deployed again, and leaves an unchanged one', async () => {
    const res = await deploy([
      { name: 'parent', source: PARENT },
      { name: 'checks/double', source: double(3) },
    ]);
    assert.deepEqual(res.body, { deployed: ['checks/double'], unchanged: ['parent'] });
    const rec = await t.run({ flow_name: 'parent', input_value: { n: 21 } });
    assert.deepEqual(rec.output_value, { child: 63 });
    // The child as its own top-level run, by the name with .py, as the folder's flows may be named.
    const child = await t.run({ flow_name: 'checks/double.py', input_value: { n: 2 } });
    assert.equal(child.output_value, 6);
  });

  it('names a real line of the cached file in a deployed flow’s traceback', async () => {
    await deploy([{ name: 'broken/flow', source: FAILING }]);
    const rec = await t.run({ flow_name: 'broken/flow' });
    assert.equal(rec.status, 'FAILED');
    const log = (await t.api('GET', `/api/latest/execution/${rec.id}/log`)).body.items as Array<{
      text: string;
    }>;
    const frame = log
      .map((l) => /File "([^"]+)", line (\d+)/.exec(l.text))
      .filter((m): m is RegExpExecArray => m !== null)
      .at(-1);
    assert.ok(frame, `a traceback frame in ${JSON.stringify(log)}`);
    const [, file, line] = frame;
    assert.equal(file, path.join(t.dataDir, 'flow-cache', flowHash(FAILING), 'broken', 'flow.py'));
    assert.equal(fs.readFileSync(file, 'utf8'), FAILING, 'the cached file is the deployed source');
    assert.equal(
      fs.readFileSync(file, 'utf8').split('\n')[Number(line) - 1].trim(),
      "raise ValueError('deployed and broken')",
    );
  });

  it('refuses a bulk deploy as a whole when one flow is invalid, naming that flow', async () => {
    await deploy([{ name: 'parent', source: PARENT }]);
    const before = await names();
    const cases: Array<[Array<{ name: string; source: string }>, string]> = [
      [
        [
          { name: 'fresh/one', source: double(1) },
          { name: '../outside', source: double(1) },
        ],
        'flows.1.name',
      ],
      [
        [
          { name: 'fresh/one', source: double(1) },
          { name: 'parent', source: `# ${'x'.repeat(MAX_FLOW_SOURCE_BYTES)}\n` },
        ],
        'flows.1.source',
      ],
      [
        [
          { name: 'fresh/one', source: double(1) },
          { name: 'fresh/two', source: 'nul \0 here' },
        ],
        'flows.1.source',
      ],
      [
        [
          { name: 'fresh/one', source: double(1) },
          { name: 'fresh/one', source: double(2) },
        ],
        'flows.1.name',
      ],
      [[{ name: 'fresh/one.py', source: double(1) }], 'flows.0.name'],
    ];
    for (const [flows, field] of cases) {
      const res = await deploy(flows);
      assert.equal(res.status, 400, JSON.stringify(res.body).slice(0, 300));
      assert.deepEqual(
        res.body.issues.map((i: { path: string }) => i.path),
        [field],
      );
      assert.ok(res.body.message.startsWith(`${field}: `), res.body.message.slice(0, 200));
    }
    assert.deepEqual(await names(), before, 'nothing was stored');
    const ran = await t.run({ flow_name: 'fresh/one' });
    assert.equal(ran.status, 'INVALID', 'the valid flow of a refused deploy was not deployed either');
    assert.match(ran.message ?? '', /no flow of that name is deployed/);
  });

  it('deploys, reads and deletes one flow by name; a deleted name runs the folder’s file again', async () => {
    const put = await t.api('PUT', '/api/latest/flow/sub/one', { source: double(5) });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    assert.equal(put.body.changed, true);
    assert.equal(put.body.flow.name, 'sub/one');
    assert.equal(put.body.flow.hash, flowHash(double(5)));
    const again = await t.api('PUT', '/api/latest/flow/sub/one', { source: double(5) });
    assert.equal(again.body.changed, false);
    assert.equal(again.body.flow.updated_at, put.body.flow.updated_at, 'unchanged: not written');
    const got = await t.api('GET', '/api/latest/flow/sub/one');
    assert.equal(got.body.source, double(5));
    assert.equal((await t.run({ flow_name: 'sub/one', input_value: { n: 1 } })).output_value, 5);

    // The folder's own sub/one.py: shadowed by the record while it exists.
    fs.mkdirSync(path.join(empty, 'sub'));
    fs.writeFileSync(path.join(empty, 'sub', 'one.py'), double(7));
    try {
      assert.equal((await t.run({ flow_name: 'sub/one', input_value: { n: 1 } })).output_value, 5);
      const del = await t.api('DELETE', '/api/latest/flow/sub/one');
      assert.equal(del.status, 200);
      assert.equal(del.body.name, 'sub/one');
      assert.equal((await t.api('DELETE', '/api/latest/flow/sub/one')).status, 404);
      assert.equal((await t.api('GET', '/api/latest/flow/sub/one')).status, 404);
      assert.equal((await t.run({ flow_name: 'sub/one', input_value: { n: 1 } })).output_value, 7);
    } finally {
      fs.rmSync(path.join(empty, 'sub'), { recursive: true });
    }
    const bad = await t.api('PUT', '/api/latest/flow/a%5Cb', { source: 'x' });
    assert.equal(bad.status, 400);
    assert.deepEqual(
      bad.body.issues.map((i: { path: string }) => i.path),
      ['name'],
    );
    const noSource = await t.api('PUT', '/api/latest/flow/ok', {});
    assert.deepEqual(
      noSource.body.issues.map((i: { path: string }) => i.path),
      ['source'],
    );
  });

  it('resolves deployed flows for the runs API, webhooks and schedules', async () => {
    const live = await t.api('POST', '/v1/actions/checks/double/run/live', { input: { n: 4 } });
    assert.equal(live.status, 200, JSON.stringify(live.body));
    assert.equal(live.body.status, 'SUCCEEDED');
    const hook = await t.api('POST', '/api/latest/webhook', { name: 'deployed-hook', flow_name: 'parent' });
    assert.equal(hook.status, 201, JSON.stringify(hook.body));
    const sched = await t.api('POST', '/api/latest/schedule', {
      name: 'deployed schedule',
      flow_name: 'checks/double',
      kind: 'cron',
      cron: '0 0 1 1 *',
      timezone: 'UTC',
      enabled: false,
    });
    assert.equal(sched.status, 201, JSON.stringify(sched.body));
    const missing = await t.api('POST', '/api/latest/webhook', {
      name: 'missing-hook',
      flow_name: 'nowhere',
    });
    assert.equal(missing.status, 400);
    assert.match(missing.body.message, /^flow_name: .*no flow of that name is deployed/);
  });

  it('is in the OpenAPI document, generated from the same schemas', async () => {
    const doc = (await t.api('GET', '/api/openapi.json')).body;
    const deploy = doc.paths['/api/latest/flows/deploy'].post;
    const body = deploy.requestBody.content['application/json'].schema;
    assert.deepEqual(Object.keys(body.properties), ['flows']);
    assert.deepEqual(Object.keys(body.properties.flows.items.properties).sort(), ['name', 'source']);
    assert.ok(deploy.responses['413']);
    assert.equal(
      deploy.responses['200'].content['application/json'].schema.$ref,
      '#/components/schemas/DeployResult',
    );
    const one = doc.paths['/api/latest/flow/{name}'];
    assert.ok(one.get && one.put && one.delete);
    assert.match(one.put.parameters[0].description, /may contain \//);
    assert.ok(doc.paths['/api/latest/flow'].get);
    assert.deepEqual(Object.keys(doc.components.schemas.FlowInfo.properties).sort(), [
      'deployed_by',
      'hash',
      'name',
      'size',
      'updated_at',
    ]);
  });

  it('flows deploy FOLDER sends the folder’s flows whose source the runner has not got', async () => {
    await deploy([
      { name: 'parent', source: PARENT },
      { name: 'checks/double', source: double(3) },
    ]);
    const folder = flowsFolder({
      'parent.py': PARENT,
      'helper.py': 'X = 1\n', // a module, not a flow: not deployed
    });
    fs.mkdirSync(path.join(folder, 'checks'));
    fs.writeFileSync(path.join(folder, 'checks', 'double.py'), double(4));
    fs.mkdirSync(path.join(folder, '.flows'));
    fs.writeFileSync(path.join(folder, '.flows', 'ignored.py'), double(9));
    const url = t.runner.url!;
    const out = await flowsCli(['deploy', folder, '--url', url, '--token', t.runner.token!]);
    assert.equal(out.status, 0, out.stderr);
    assert.match(out.stdout, /deployed {2}checks\/double\n/);
    assert.match(
      out.stdout,
      new RegExp(`Deployed 1 flow \\(1 unchanged\\) to ${url.replace(/[.]/g, '\\.')}\\.`),
    );
    assert.deepEqual((await t.run({ flow_name: 'parent', input_value: { n: 1 } })).output_value, {
      child: 4,
    });
    assert.ok(!(await names()).includes('helper'));

    const json = await flowsCli(['deploy', folder, '--json'], {
      FLOWS_URL: url,
      FLOWS_TOKEN: t.runner.token!,
    });
    assert.equal(json.status, 0, json.stderr);
    assert.deepEqual(JSON.parse(json.stdout), { deployed: [], unchanged: ['checks/double', 'parent'] });

    const wrong = await flowsCli(['deploy', folder, '--url', url, '--token', 'nope']);
    assert.equal(wrong.status, 1);
    assert.match(wrong.stderr, /refused the deploy \(HTTP 401\): wrong token/);
    const noUrl = await flowsCli(['deploy', folder], { FLOWS_URL: '', FLOWS_TOKEN: '' });
    assert.equal(noUrl.status, 2);
    assert.match(noUrl.stderr, /needs --url URL/);
  });
});
