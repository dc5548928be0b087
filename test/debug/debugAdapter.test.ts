/**
 * The `flow` debug adapter over DAP: the bundled adapter (dist/debugAdapter.js) driven by
 * @vscode/debugadapter-testsupport's DebugClient, against a real runner with real Python
 * workers. Most tests share one runner (passed as runnerUrl/runnerToken, as the extension does);
 * one lets the adapter start its own, one runs the runner as a separate process and kills it.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import type { DebugProtocol } from '@vscode/debugprotocol';
import { startTestRunner, tempDir, type TestRunner } from '../runner/harness';
import { DEBUGGED_EXECUTION_EVENT } from '../../protocol';
import { DEBUG_FLOWS, FlowDebugClient, flowFile } from './dapClient';

const BASICS = flowFile('basics');

describe('flow debug adapter (DAP)', function () {
  this.timeout(60_000);
  let t: TestRunner;
  let client: FlowDebugClient;
  let runnerArgs: { runnerUrl: string; runnerToken: string };

  before(async () => {
    t = await startTestRunner({ flowsDir: DEBUG_FLOWS });
    runnerArgs = { runnerUrl: t.runner.url!, runnerToken: t.runner.token! };
  });
  after(async () => {
    await t?.stop();
  });
  beforeEach(async () => {
    client = new FlowDebugClient();
    await client.start();
  });
  afterEach(async () => {
    await client.stop();
  });

  const launch = (program: string, setup = {}, extra: Record<string, unknown> = {}) =>
    client.launch({ program, ...runnerArgs, ...extra }, setup);

  /** The newest execution of a flow, over REST. */
  const latest = async (flowName: string) =>
    (await t.api('GET', `/api/latest/execution?flow_name=${flowName}&sort=-created_at&limit=1`)).body
      .items[0];

  it('announces the capabilities of the issue', async () => {
    const caps = await client.launch({ program: BASICS, ...runnerArgs });
    assert.equal(caps.supportsConditionalBreakpoints, true);
    assert.equal(caps.supportsHitConditionalBreakpoints, true);
    assert.equal(caps.supportsLogPoints, true);
    assert.equal(caps.supportsEvaluateForHovers, true);
    assert.equal(caps.supportsSetVariable, true);
    assert.equal(caps.supportsTerminateRequest, true);
    assert.equal(caps.supportsConfigurationDoneRequest, true);
    assert.equal(caps.supportsDelayedStackTraceLoading, true);
    assert.deepEqual(
      caps.exceptionBreakpointFilters?.map((f) => f.filter),
      ['raised', 'uncaught'],
    );
    assert.match(await client.succeeded(), /basics SUCCEEDED/);
  });

  it('hits a breakpoint in a runner of its own (no runnerUrl) and reports the output at the end', async () => {
    await client.launch({ program: BASICS, input: { unused: true } }, { breakpoints: { [BASICS]: [9] } });
    const { frame, threadId } = await client.stopped('breakpoint');
    assert.equal(frame.source?.path, BASICS);
    assert.equal(frame.line, 9);
    assert.equal(frame.name, 'handler');
    const threads = (await client.dc.threadsRequest()).body.threads;
    assert.deepEqual(
      threads.map((th) => th.id),
      [threadId],
    );
    assert.match(threads[0].name, /^basics \([0-9a-f]{8}\)$/);
    await client.dc.continueRequest({ threadId });
    const report = await client.succeeded();
    assert.match(report, /starting\n/);
    assert.match(report, /basics SUCCEEDED/);
    assert.match(report, /"total": 6/);
  });

  it('stops on entry, and names the execution it debugs (the extension selects it in its tree)', async () => {
    await launch(BASICS, {}, { stopOnEntry: true });
    const { frame, threadId } = await client.stopped('entry');
    const announced = await client.next(DEBUGGED_EXECUTION_EVENT);
    assert.equal(announced.body.execution.id, (await latest('basics')).id);
    assert.equal(announced.body.execution.is_productive, false, 'debugging is a try');
    assert.equal(frame.source?.path, BASICS);
    assert.equal(frame.line, 7, 'the first line of handler');
    await client.dc.continueRequest({ threadId });
    await client.succeeded();
  });

  it('steps in, over and out', async () => {
    await launch(BASICS, { breakpoints: { [BASICS]: [11] } });
    const { threadId } = await client.stopped('breakpoint');

    await client.dc.stepInRequest({ threadId });
    let { frame } = await client.stopped('step');
    assert.equal(frame.name, 'add');
    assert.equal(frame.line, 2);

    await client.dc.nextRequest({ threadId });
    ({ frame } = await client.stopped('step'));
    assert.equal(frame.name, 'add');
    assert.equal(frame.line, 3);

    await client.dc.stepOutRequest({ threadId });
    const out = await client.stopped('step');
    frame = out.frame;
    assert.equal(frame.name, 'handler');
    assert.equal(frame.line, 11);
    assert.ok(!out.frames.some((f) => f.name === 'add'));

    await client.dc.nextRequest({ threadId });
    ({ frame } = await client.stopped('step'));
    assert.equal(frame.line, 10);

    // The breakpoint on line 11 is still there: the next iteration stops on it.
    await client.dc.continueRequest({ threadId });
    ({ frame } = await client.stopped('breakpoint'));
    assert.equal(frame.line, 11);
    assert.equal(await client.evaluate('n', frame.id), '2');
  });

  it('stops on a conditional breakpoint only when the condition holds', async () => {
    await launch(BASICS, { breakpoints: { [BASICS]: [{ line: 11, condition: 'n == 2' }] } });
    const { frame, threadId } = await client.stopped('breakpoint');
    assert.equal(frame.line, 11);
    assert.equal(await client.evaluate('n', frame.id), '2');
    await client.dc.continueRequest({ threadId });
    await client.succeeded(); // no stop for n == 3
  });

  it('stops on a hit-count breakpoint at the given hit', async () => {
    await launch(BASICS, { breakpoints: { [BASICS]: [{ line: 2, hitCondition: '3' }] } });
    const { frame, threadId } = await client.stopped('breakpoint');
    assert.equal(frame.name, 'add');
    assert.equal(await client.evaluate('b', frame.id), '3');
    await client.dc.continueRequest({ threadId });
    await client.succeeded();
  });

  it('prints log points, this.log and print to the debug console without stopping', async () => {
    await launch(BASICS, {
      breakpoints: { [BASICS]: [{ line: 12, logMessage: 'log point: total is {total}' }] },
    });
    await client.output(/starting/);
    await client.output(/log point: total is 6/);
    await client.output(/total=6/, 'stdout');
    await client.succeeded();
    assert.ok(!client.events.some((e) => e.event === 'stopped'), 'a log point does not stop');
  });

  it('shows scopes and variables and evaluates in a frame and for hovers', async () => {
    await launch(BASICS, { breakpoints: { [BASICS]: [14] } });
    const { frame } = await client.stopped('breakpoint');
    const scopes = (await client.dc.scopesRequest({ frameId: frame.id })).body.scopes.map((s) => s.name);
    for (const name of [/local/i, /global/i, /execution/i]) {
      assert.ok(
        scopes.some((s) => name.test(s)),
        `scope ${name} in ${scopes}`,
      );
    }
    const { vars } = await client.scopeVariables(frame.id);
    assert.equal(vars.total.value, '6');
    assert.equal(vars.label.value, "'done'");
    assert.ok(vars.numbers.variablesReference > 0, 'a list can be expanded');
    const items = (await client.dc.variablesRequest({ variablesReference: vars.numbers.variablesReference }))
      .body.variables;
    assert.deepEqual(
      items.filter((v) => /^\d+$/.test(v.name)).map((v) => v.value),
      ['1', '2', '3'],
    );

    // `this` shows its record (not _record, _is_this…), and says the debugger holds it.
    assert.match(vars.this.value, /^Execution 'basics' \(RUNNING, stopped in the debugger\)$/);
    const fields = (await client.dc.variablesRequest({ variablesReference: vars.this.variablesReference }))
      .body.variables;
    assert.deepEqual(
      fields.slice(0, 3).map((v) => v.name),
      ['id', 'name', 'status'],
    );
    assert.deepEqual(
      fields.filter((v) => v.name.startsWith('_')),
      [],
    );
    assert.equal(vars.system.type, 'System');

    const execution = await client.scopeVariables(frame.id, /execution/i);
    const top = await latest('basics');
    assert.ok(
      Object.values(execution.vars).some((v) => v.value.includes(top.id)),
      'the Execution scope shows the execution id',
    );

    assert.equal(await client.evaluate('total * 2', frame.id), '12');
    const hover = await client.dc.evaluateRequest({
      expression: 'numbers',
      frameId: frame.id,
      context: 'hover',
    });
    assert.equal(hover.body.result, '[1, 2, 3]');
    assert.ok(hover.body.variablesReference > 0);
    await assert.rejects(client.evaluate('no_such_name', frame.id), /no_such_name/);
  });

  it('pages the items of a large list', async () => {
    const many = flowFile('many');
    await launch(many, { breakpoints: { [many]: [5] } });
    const { frame } = await client.stopped('breakpoint');
    const { vars } = await client.scopeVariables(frame.id);
    const page = await client.dc.variablesRequest({
      variablesReference: vars.items.variablesReference,
      filter: 'indexed',
      start: 100,
      count: 10,
    });
    assert.deepEqual(
      page.body.variables.map((v) => v.value),
      ['100', '101', '102', '103', '104', '105', '106', '107', '108', '109'],
    );
  });

  it('sets a variable, and the flow goes on with the new value', async () => {
    await launch(BASICS, { breakpoints: { [BASICS]: [14] } });
    const { frame, threadId } = await client.stopped('breakpoint');
    const { scope } = await client.scopeVariables(frame.id);
    const set = await client.dc.setVariableRequest({
      variablesReference: scope.variablesReference,
      name: 'total',
      value: '100',
    });
    assert.equal(set.body.value, '100');
    assert.equal((await client.scopeVariables(frame.id)).vars.total.value, '100');
    await client.dc.continueRequest({ threadId });
    assert.match(await client.succeeded(), /"total": 100/);
  });

  it('stops on raised exceptions, even caught ones', async () => {
    const raises = flowFile('raises');
    await launch(raises, { exceptionFilters: ['raised'] });
    let { frame, threadId } = await client.stopped('exception');
    assert.equal(frame.line, 3);
    await client.dc.continueRequest({ threadId });
    ({ frame, threadId } = await client.stopped('exception'));
    assert.equal(frame.line, 7);
    await client.dc.continueRequest({ threadId });
    assert.match(await client.failed(), /raises FAILED.*KeyError/);
  });

  it('stops on uncaught exceptions only where the flow fails', async () => {
    const raises = flowFile('raises');
    await launch(raises, { exceptionFilters: ['uncaught'] });
    const { frame, threadId, event } = await client.stopped('exception');
    assert.equal(frame.line, 7);
    assert.match(JSON.stringify(event.body), /KeyError/);
    await client.dc.continueRequest({ threadId });
    await client.failed();
  });

  it('pauses a busy loop', async () => {
    await launch(flowFile('busy'));
    const started = await client.next<DebugProtocol.ThreadEvent>(
      'thread',
      (e) => e.body.reason === 'started',
    );
    await client.output(/spinning/);
    await client.dc.pauseRequest({ threadId: started.body.threadId });
    const { frame, threadId } = await client.stopped('pause');
    assert.equal(threadId, started.body.threadId);
    assert.ok([4, 5].includes(frame.line), `paused in the loop, not on line ${frame.line}`);
    assert.equal(await client.evaluate('i > 0', frame.id), 'True');
    assert.equal((await latest('busy')).status, 'PAUSED');
  });

  it('terminates a running flow: the execution ends STOPPED', async () => {
    await launch(flowFile('busy'));
    await client.output(/spinning/);
    await client.dc.terminateRequest();
    assert.match(await client.failed(), /busy STOPPED/);
    assert.equal((await latest('busy')).status, 'STOPPED');
  });

  it('debugs a child flow as a second thread and stops at a breakpoint in its file', async () => {
    const child = flowFile('child');
    await launch(flowFile('parent'), { breakpoints: { [child]: [3] } });
    const { frame, threadId } = await client.stopped('breakpoint');
    assert.equal(frame.source?.path, child);
    assert.equal(frame.line, 3);
    assert.equal(await client.evaluate('value', frame.id), '21');

    const threads = (await client.dc.threadsRequest()).body.threads;
    assert.equal(threads.length, 2);
    const parentThread = threads.find((th) => th.name.startsWith('parent '));
    const childThread = threads.find((th) => th.name.startsWith('child '));
    assert.ok(parentThread && childThread, threads.map((th) => th.name).join(', '));
    assert.equal(threadId, childThread.id);
    const started = client.events.filter((e) => e.event === 'thread' && e.body.reason === 'started');
    assert.equal(started.length, 2);

    await client.dc.continueRequest({ threadId });
    const exited = await client.next<DebugProtocol.ThreadEvent>('thread', (e) => e.body.reason === 'exited');
    assert.equal(exited.body.threadId, childThread.id);
    const report = await client.succeeded();
    assert.match(report, /\[child\] child doubled 21/);
    assert.match(report, /"child": 42/);
  });

  it('attaches to a running execution, pauses it, and detaches leaving it running', async () => {
    const created = await t.api('POST', '/api/latest/execution', { flow_name: 'busy', is_productive: false });
    const id = created.body.id as string;
    await t.waitForStatus(id, 'RUNNING');
    await client.launch({ executionId: id, ...runnerArgs }, {}, 'attach');
    const started = await client.next<DebugProtocol.ThreadEvent>(
      'thread',
      (e) => e.body.reason === 'started',
    );
    await client.dc.pauseRequest({ threadId: started.body.threadId });
    const { frame, threadId } = await client.stopped('pause');
    assert.equal(frame.source?.path, flowFile('busy'));
    await client.dc.continueRequest({ threadId });
    await client.dc.disconnectRequest({});
    const rec = (await t.api('GET', `/api/latest/execution/${id}`)).body;
    assert.ok(['RUNNING', 'PAUSED'].includes(rec.status), `still running after detach, not ${rec.status}`);
    await t.api('POST', `/api/latest/execution/${id}/cancel`);
    await t.waitForStatus(id, 'STOPPED');
  });

  it('ends the session with the message of a flow that cannot load', async () => {
    await launch(flowFile('broken'));
    assert.match(await client.failed(), /broken INVALID: .*line 1/);
  });

  it('refuses a bad launch configuration with a message naming the attribute', async () => {
    await client.dc.initializeRequest();
    await assert.rejects(client.dc.launchRequest({ ...runnerArgs } as never), /'program'/);
  });

  it('refuses a program outside the runner’s flows folder', async () => {
    await client.dc.initializeRequest();
    const elsewhere = path.join(tempDir(), 'elsewhere.py');
    fs.writeFileSync(elsewhere, 'def handler(system, this):\n    pass\n');
    await assert.rejects(
      client.dc.launchRequest({ program: elsewhere, ...runnerArgs } as never),
      /not inside the flows folder/,
    );
  });
});

describe('flow debug adapter when the runner goes away', function () {
  this.timeout(60_000);
  let runner: ChildProcess | undefined;

  afterEach(() => {
    // The runner was started detached, in a process group of its own with its Python children.
    if (runner?.pid) {
      try {
        process.kill(-runner.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });

  it('ends the session with a clear message when the runner is killed', async () => {
    const dataDir = tempDir();
    runner = spawn(
      process.execPath,
      [
        path.resolve(__dirname, '../../dist/runner.js'),
        'serve',
        '--port',
        '0',
        '--flows',
        DEBUG_FLOWS,
        '--data',
        dataDir,
      ],
      { detached: true, stdio: ['ignore', 'pipe', 'ignore'] },
    );
    const ready = await new Promise<{ url: string; token_file: string }>((resolve, reject) => {
      readline.createInterface({ input: runner!.stdout! }).once('line', (line) => resolve(JSON.parse(line)));
      runner!.once('exit', (code) => reject(new Error(`runner exited (${code}) before it was ready`)));
    });
    const client = new FlowDebugClient();
    await client.start();
    try {
      await client.launch(
        { program: BASICS, runnerUrl: ready.url, runnerToken: fs.readFileSync(ready.token_file, 'utf8') },
        { breakpoints: { [BASICS]: [9] } },
      );
      await client.stopped('breakpoint');
      process.kill(-runner.pid!, 'SIGKILL');
      const message = await client.output(/Lost the connection to the Flows runner/);
      assert.equal(message.body.category, 'stderr');
      await client.next('terminated');
    } finally {
      await client.stop();
    }
  });
});
