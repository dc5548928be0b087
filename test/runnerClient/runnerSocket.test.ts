/**
 * The one WebSocket client of the runner, against a real runner: subscriptions confirmed before
 * connect() resolves, a refused token said as such, debug requests answered, and a background
 * socket that comes back when its runner restarts on the same port.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { RunnerSocket } from '../../runner-client/runnerSocket';
import { startRunner } from '../../runner/src/runner';
import { FIXTURE_FLOWS, startTestRunner, tempDir, type TestRunner } from '../runner/harness';

describe('runner-client: RunnerSocket', function () {
  this.timeout(60_000);
  let t: TestRunner;
  before(async () => {
    t = await startTestRunner();
  });
  after(() => t?.stop());

  it('resolves once subscribed, so the events of an execution created next all arrive', async () => {
    const socket = await RunnerSocket.connect({
      url: t.runner.url!,
      token: t.runner.token!,
      topics: ['executions'],
    });
    try {
      assert.equal(socket.hello?.flows_dir, FIXTURE_FLOWS);
      const seen: { id: string; status: string }[] = [];
      socket.on('execution', (m) => seen.push({ id: m.record.id, status: m.record.status }));
      const created = await t.api('POST', '/api/latest/execution', {
        flow_name: 'child-echo',
        input_value: { n: 1 },
      });
      const id: string = created.body.id;
      await new Promise<void>((resolve) => {
        const check = () => seen.some((s) => s.id === id && s.status === 'SUCCEEDED') && resolve();
        socket.on('execution', check);
        check();
      });
      // Subscribed before the create: this socket saw the execution from its first event on.
      const ours = seen.filter((s) => s.id === id).map((s) => s.status);
      assert.equal(ours[0], 'CREATED');
      assert.ok(ours.includes('RUNNING'), ours.join(' '));
    } finally {
      socket.close();
    }
  });

  it('says the runner refused the token', async () => {
    await assert.rejects(
      RunnerSocket.connect({ url: t.runner.url!, token: 'wrong', topics: ['executions'] }),
      /Cannot connect to the Flows runner at http:\/\/127\.0\.0\.1:\d+: it refused the token \(HTTP 401\)/,
    );
  });

  it('answers a debug request with the runner’s response', async () => {
    const socket = await RunnerSocket.connect({ url: t.runner.url!, token: t.runner.token!, topics: [] });
    try {
      const answer = await socket.request({
        type: 'debug.request',
        session_id: 'no-such-session',
        execution_id: 'no-such-execution',
        command: 'threads',
        arguments: {},
      });
      assert.equal(answer.type, 'debug.response');
      assert.equal(answer.type === 'debug.response' && answer.success, false);
    } finally {
      socket.close();
    }
  });

  it('reconnects in the background when its runner restarts on the same port', async () => {
    const flowsDir = FIXTURE_FLOWS;
    const dataDir = tempDir();
    let runner = await startRunner({ flowsDir, dataDir, http: { port: 0 } });
    const port = Number(new URL(runner.url!).port);
    const token = runner.token!;
    const socket = RunnerSocket.background({ url: runner.url!, token, topics: ['executions'] });
    try {
      await once(socket, 'connected');
      const firstPid = socket.hello?.pid;
      const dropped = once(socket, 'disconnected');
      await runner.stop();
      await dropped;
      assert.equal(socket.isConnected, false);
      runner = await startRunner({ flowsDir, dataDir, http: { port, token } });
      const [hello] = await once(socket, 'connected');
      assert.equal(hello.pid, firstPid); // same process here; a new connection all the same
      assert.equal(socket.isConnected, true);
    } finally {
      socket.close();
      await runner.stop();
    }
  });
});
