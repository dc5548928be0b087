/**
 * The bundled adapter against a scripted runner (FakeRunner): threads per execution, frame and
 * variable ids mapped per execution, events translated, the session's end and a lost runner.
 * The same things run against the real runner and Python debugger in debugAdapter.test.ts.
 */
import assert from 'node:assert/strict';
import type { DebugProtocol } from '@vscode/debugprotocol';
import { FlowDebugClient, flowFile, DEBUG_FLOWS } from './dapClient';
import { FakeRunner, record } from './fakeRunner';

const SESSION = 'session-1';
const TOP = 'aaaaaaaa-top';
const CHILD = 'bbbbbbbb-child';
const PARENT_FILE = flowFile('parent');
const CHILD_FILE = flowFile('child');

describe('flow debug adapter against a scripted runner', function () {
  this.timeout(30_000);
  let fake: FakeRunner;
  let client: FlowDebugClient;

  beforeEach(async () => {
    fake = await FakeRunner.start(DEBUG_FLOWS);
    fake.onLaunch = (msg) => {
      // As the runner does: the top's record comes before the answer, then it starts.
      const top = record({ id: TOP, flow_name: msg.flow_name, status: 'CREATED' });
      fake.record(top, 'created');
      fake.send({ type: 'debug.launched', request_id: msg.request_id, session_id: SESSION, execution: top });
      fake.record({ ...top, status: 'RUNNING' });
    };
    // Every worker numbers its frames and references from 1: the adapter must keep them apart.
    fake.answers.set('stackTrace', (m) => ({
      success: true,
      body: {
        stackFrames: [
          {
            id: 1,
            name: 'handler',
            line: 3,
            column: 1,
            source: { path: m.execution_id === TOP ? PARENT_FILE : CHILD_FILE },
          },
        ],
        totalFrames: 1,
      },
    }));
    fake.answers.set('scopes', () => ({
      success: true,
      body: { scopes: [{ name: 'Locals', variablesReference: 1, expensive: false }] },
    }));
    fake.answers.set('variables', (m) => ({
      success: true,
      body: {
        variables: [
          { name: 'who', value: `'${m.execution_id}'`, variablesReference: 0 },
          { name: 'nested', value: '{…}', variablesReference: 2 },
        ],
      },
    }));
    client = new FlowDebugClient();
    await client.start();
  });

  afterEach(async () => {
    await client.stop();
    await fake.stop();
  });

  const launch = (setup = {}) =>
    client.launch({ program: PARENT_FILE, runnerUrl: fake.url, runnerToken: fake.token }, setup);

  it('sends the breakpoints and the flow name in the launch, relative to the runner’s folder', async () => {
    await launch({
      breakpoints: { [CHILD_FILE]: [{ line: 3, condition: 'value > 1' }] },
      exceptionFilters: ['uncaught'],
    });
    const msg = await fake.waitFor((m) => m.type === 'debug.launch');
    assert.deepEqual(msg, {
      type: 'debug.launch',
      request_id: msg.request_id,
      flow_name: 'parent',
      config: {
        breakpoints: { [CHILD_FILE]: [{ line: 3, condition: 'value > 1' }] },
        exception_filters: ['uncaught'],
        stop_on_entry: false,
      },
    });
  });

  it('keeps the frames and variables of two threads apart and routes requests to the right worker', async () => {
    await launch();
    const top = await client.next<DebugProtocol.ThreadEvent>('thread');
    fake.event(SESSION, TOP, 'stopped', { reason: 'breakpoint', threadId: 99, hitBreakpointIds: [7] });
    const parent = await client.stopped('breakpoint');
    assert.equal(parent.threadId, top.body.threadId);
    assert.equal(parent.event.body.hitBreakpointIds, undefined, 'worker breakpoint ids are not passed on');

    fake.record(
      record({ id: CHILD, flow_name: 'child', top_execution_id: TOP, parent_execution_id: TOP }),
      'created',
    );
    const childThread = await client.next<DebugProtocol.ThreadEvent>(
      'thread',
      (e) => e.body.reason === 'started',
    );
    fake.event(SESSION, CHILD, 'stopped', { reason: 'step' });
    const child = await client.stopped('step');
    assert.equal(child.threadId, childThread.body.threadId);
    assert.notEqual(child.frame.id, parent.frame.id);
    assert.equal(child.frame.source?.path, CHILD_FILE);
    const names = (await client.dc.threadsRequest()).body.threads.map((t) => t.name).sort();
    assert.deepEqual(names, ['child (bbbbbbbb)', 'parent (aaaaaaaa)']);

    const childVars = await client.scopeVariables(child.frame.id);
    const parentVars = await client.scopeVariables(parent.frame.id);
    assert.equal(childVars.vars.who.value, `'${CHILD}'`);
    assert.equal(parentVars.vars.who.value, `'${TOP}'`);
    assert.notEqual(childVars.vars.nested.variablesReference, parentVars.vars.nested.variablesReference);
    const asked = fake.received.filter((m) => m.type === 'debug.request' && m.command === 'scopes');
    assert.deepEqual(
      asked.map((m) => m.type === 'debug.request' && [m.execution_id, m.arguments.frameId]),
      [
        [CHILD, 1],
        [TOP, 1],
      ],
    );

    // The parent runs on: its ids die, the child's stay.
    await client.dc.continueRequest({ threadId: parent.threadId });
    await assert.rejects(client.dc.scopesRequest({ frameId: parent.frame.id }), /no longer valid/);
    await client.dc.variablesRequest({ variablesReference: childVars.vars.nested.variablesReference });
    const last = fake.received.at(-1)!;
    assert.ok(last.type === 'debug.request' && last.execution_id === CHILD);
    assert.equal(last.type === 'debug.request' && last.arguments.variablesReference, 2);
  });

  it('turns logs, log point output and moved breakpoints into DAP events', async () => {
    await launch();
    const placed = (await client.setBreakpoints(CHILD_FILE, [2, 9])).body.breakpoints;
    fake.record(
      record({ id: CHILD, flow_name: 'child', top_execution_id: TOP, parent_execution_id: TOP }),
      'created',
    );
    fake.log({ execution_id: TOP, stream: 'log', text: 'from the parent' });
    fake.log({ execution_id: CHILD, stream: 'stderr', text: 'from the child' });
    fake.log({ execution_id: 'someone-else', stream: 'log', text: 'not ours' });
    fake.event(SESSION, CHILD, 'output', { category: 'console', output: 'log point says hi\n' });
    fake.event(SESSION, CHILD, 'breakpoint', {
      reason: 'changed',
      breakpoint: { verified: true, line: 3, source: { path: CHILD_FILE } },
    });
    assert.equal((await client.output(/from the parent/)).body.category, 'stdout');
    const fromChild = await client.output(/from the child/);
    assert.equal(fromChild.body.output, '[child] from the child\n');
    assert.equal(fromChild.body.category, 'stderr');
    await client.output(/log point says hi/);
    const moved = await client.next<DebugProtocol.BreakpointEvent>('breakpoint');
    assert.equal(moved.body.breakpoint.id, placed[0].id);
    assert.equal(moved.body.breakpoint.line, 3);
    assert.ok(!client.events.some((e) => e.event === 'output' && /not ours/.test(e.body.output)));
  });

  it('ends with the top execution: threads exit, the status and output are reported', async () => {
    await launch();
    fake.record(
      record({ id: CHILD, flow_name: 'child', top_execution_id: TOP, parent_execution_id: TOP }),
      'created',
    );
    await client.next('thread', (e) => e.body.reason === 'started');
    await client.next('thread', (e) => e.body.reason === 'started');
    fake.record(
      record({
        id: TOP,
        flow_name: 'parent',
        status: 'FAILED',
        message: 'ValueError: no (line 4)',
        output_value: { a: 1 },
      }),
    );
    const report = await client.failed();
    assert.match(report, /parent FAILED: ValueError: no \(line 4\)\noutput_value: \{\n {2}"a": 1\n\}/);
    const exits = client.events.filter((e) => e.event === 'thread' && e.body.reason === 'exited');
    assert.equal(exits.length, 2);
  });

  it('answers with an error when the worker does, and when the thread is gone', async () => {
    fake.answers.set('evaluate', () => ({ success: false, message: "NameError: name 'x' is not defined" }));
    await launch();
    fake.event(SESSION, TOP, 'stopped', { reason: 'pause' });
    const { frame } = await client.stopped('pause');
    await assert.rejects(client.evaluate('x', frame.id), /NameError/);
    await assert.rejects(client.dc.stackTraceRequest({ threadId: 12345 }), /thread 12345 has ended/);
    await assert.rejects(client.evaluate('x'), /NameError/, 'a REPL evaluate goes to the stopped thread');
  });

  it('ends the session with a message when the runner connection is lost', async () => {
    await launch();
    await client.next('thread');
    fake.drop();
    const message = await client.output(/Lost the connection to the Flows runner/);
    assert.equal(message.body.category, 'stderr');
    await client.next('terminated');
    await assert.rejects(client.dc.stackTraceRequest({ threadId: 1 }), /ended/);
  });

  it('fails launch with a clear message when the runner refuses the token', async () => {
    await client.dc.initializeRequest();
    await assert.rejects(
      client.dc.launchRequest({ program: PARENT_FILE, runnerUrl: fake.url, runnerToken: 'wrong' } as never),
      /Cannot connect to the Flows runner at .*refused the token/,
    );
  });
});
