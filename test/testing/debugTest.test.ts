/**
 * Debugging a flow test (issue 17): `flows test <file> --name CASE --debug --reporter json` starts
 * the case's replaying runner with an API and says where; a `flow` launch on it (what the Testing
 * view's Debug profile starts, over the bundled debug adapter here) stops at a breakpoint in the
 * flow while the connector call returns its recorded result without touching the network, and the
 * case's result arrives when the run ends. Real runner, real Python, real DAP.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { TestReportLine } from '../../protocol';
import { FlowDebugClient } from '../debug/dapClient';
import { RUNNER_JS, tempDir } from '../runner/harness';

// The connector's URL leads nowhere: only a replay can get its result.
const QUOTE = `def handler(system, this, inputs):
    price = this.connect(connector_type='REST', url='http://127.0.0.1:9/quote', method='GET').get('output_value')['price']
    total = price * inputs['qty']
    return {'total': total}
`;

describe('flow tests: debugging a case replays its connectors under the debugger', function () {
  this.timeout(120_000);
  let dir: string;
  let file: string;
  let client: FlowDebugClient;

  before(() => {
    dir = tempDir('flows-debug-test-');
    fs.writeFileSync(path.join(dir, 'quote.py'), QUOTE);
    fs.mkdirSync(path.join(dir, 'tests'));
    file = path.join(dir, 'tests', 'quote.flowtest.yaml');
    fs.writeFileSync(
      file,
      [
        'flow: quote',
        'tests:',
        '  - name: three',
        '    input: {qty: 3}',
        '    calls:',
        "      - {connector: REST, inputs: {url: 'http://127.0.0.1:9/quote', method: GET}, output: {price: 7}}",
        '    expect: {status: SUCCEEDED, output: {total: 21}}',
        '',
      ].join('\n'),
    );
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  afterEach(() => client?.stop());

  it('stops at a breakpoint with the recorded connector result, then reports the case', async () => {
    const cli = spawn(
      process.execPath,
      [RUNNER_JS, 'test', file, '--name', 'three', '--debug', '--reporter', 'json'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stderr = '';
    cli.stderr.on('data', (d) => (stderr += d));
    const lines = readline.createInterface({ input: cli.stdout });
    const reports: TestReportLine[] = [];
    const waiters: Array<() => void> = [];
    lines.on('line', (l) => {
      reports.push(TestReportLine.parse(JSON.parse(l)));
      waiters.splice(0).forEach((w) => w());
    });
    const next = <E extends TestReportLine['event']>(event: E) =>
      new Promise<Extract<TestReportLine, { event: E }>>((resolve, reject) => {
        const check = () => {
          const found = reports.find((r) => r.event === event);
          if (found) resolve(found as Extract<TestReportLine, { event: E }>);
          else waiters.push(check);
        };
        cli.once('close', () => reject(new Error(`flows test ended before its '${event}' line: ${stderr}`)));
        check();
      });

    const target = await next('debug');
    assert.equal(target.name, 'three');
    assert.equal(target.program, path.join(dir, 'quote.py'));
    assert.deepEqual(target.input, { qty: 3 });

    client = new FlowDebugClient();
    await client.start();
    await client.launch(
      { program: target.program, input: target.input, runnerUrl: target.url, runnerToken: target.token },
      { breakpoints: { [target.program]: [3] } },
    );
    const { frame, threadId } = await client.stopped('breakpoint');
    assert.equal(frame.line, 3);
    assert.equal(await client.evaluate('price', frame.id), '7');
    await client.dc.continueRequest({ threadId });
    await client.succeeded();

    const result = await next('result');
    assert.equal(result.passed, true, result.failures.join('\n'));
    assert.deepEqual(result.actual?.output_value, { total: 21 });
    const code = await new Promise((r) => (cli.exitCode !== null ? r(cli.exitCode) : cli.once('close', r)));
    assert.equal(code, 0, stderr);
  });
});
