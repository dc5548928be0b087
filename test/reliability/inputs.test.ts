/**
 * Bounded input on a real runner (real Python, real HTTP and WebSocket): no request's or
 * execution's data can kill the runner or its fork server, or leave an execution holding its
 * slot. Deep JSON is refused where it comes in (400 / error reply naming the field and the
 * limit), a flow whose output is too deep ends FAILED, a fork server that dies takes only the
 * executions it had not started with it — and after each of these, the next execution runs.
 */
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import {
  MAX_JSON_DEPTH,
  MAX_WIRE_DEPTH,
  ServerMessage,
  WS_PATH,
  checkJsonDepth,
  jsonTextWithinDepth,
} from '../../protocol';
import { flowsFolder, startTestRunner, type TestRunner } from '../runner/harness';

/** `{"a":{"a":…1…}}`, `levels` objects deep, as text (JSON.stringify would recurse). */
const deepText = (levels: number): string => '{"a":'.repeat(levels) + '1' + '}'.repeat(levels);
/** The same as a value, built without recursion. */
function deepValue(levels: number): unknown {
  let v: unknown = 1;
  for (let i = 0; i < levels; i++) v = { a: v };
  return v;
}

const FLOWS: Record<string, string> = {
  'echo.py': `
def handler(system, this, inputs):
    return inputs
`,
  'webhook-body.py': `
def handler(system, this, inputs):
    return inputs['body']
`,
  'deep-output.py': `
def handler(system, this, inputs):
    value = 1
    for _ in range(5000):  # built iteratively: a list nested 5,000 deep
        value = [value]
    return value
`,
  // Bypasses the worker's own check: a raw line the runner must refuse by itself.
  'raw-deep.py': `
import time
from flow_api import _context


def handler(system, this, inputs):
    depth = inputs['depth']
    line = '{"type":"end","status":"SUCCEEDED","output_value":' + '[' * depth + ']' * depth + '}\\n'
    _context.current_context()._channel._write(line.encode())
    time.sleep(30)
`,
  'sleeper.py': `
import time


def handler(system, this, inputs):
    this.log('sleeping')
    time.sleep((inputs or {}).get('seconds', 60))
    return 'slept'
`,
};

describe('reliability: bounded input', function () {
  let t: TestRunner;
  let ws: WebSocket | undefined;

  before(async () => {
    const flowsDir = flowsFolder(FLOWS, 'flows-limits-');
    // Two slots: an execution that kept its slot would show at once.
    t = await startTestRunner({ flowsDir, concurrency: 2 });
    const open = await t.api('POST', '/api/latest/webhook', { name: 'open', flow_name: 'echo' });
    assert.equal(open.status, 201, JSON.stringify(open.body));
    const body = await t.api('POST', '/api/latest/webhook', { name: 'body', flow_name: 'webhook-body' });
    assert.equal(body.status, 201, JSON.stringify(body.body));
  });
  after(async () => {
    ws?.close();
    await t?.stop();
  });

  /** The runner still runs an ordinary execution, end to end. */
  async function stillServes(): Promise<void> {
    const rec = await t.run({ flow_name: 'echo', input_value: { ok: true } });
    assert.equal(rec.status, 'SUCCEEDED', rec.message ?? '');
    assert.deepEqual(rec.output_value, { ok: true });
  }

  function assertTooDeep(res: { status: number; body: any }, field: RegExp): void {
    assert.equal(res.status, 400, JSON.stringify(res.body));
    assert.equal(res.body.error, 'invalid_request');
    assert.match(res.body.message, field);
    assert.match(res.body.message, new RegExp(`: nested deeper than ${MAX_JSON_DEPTH} levels$`));
    assert.equal(res.body.issues.length, 1);
    assert.match(res.body.issues[0].path, field);
  }

  it('the checker walks 100,000 levels without recursion and names the first spot', () => {
    const v = checkJsonDepth(deepValue(100_000));
    assert.equal(v?.path.length, MAX_JSON_DEPTH);
    assert.equal(v?.message, `a.a.a.a.a.…: nested deeper than ${MAX_JSON_DEPTH} levels`);
    assert.equal(checkJsonDepth(deepValue(MAX_JSON_DEPTH)), undefined);
    assert.ok(checkJsonDepth(deepValue(MAX_JSON_DEPTH + 1)));
    const arr = checkJsonDepth({ x: [1, { y: 2 }, [[[3]]]] }, 4);
    assert.deepEqual(arr?.path, ['x', 2, 0, 0]);
    assert.equal(arr?.message, 'x.2.0.0: nested deeper than 4 levels');
  });

  it('the text check counts brackets outside strings, escapes included, as the parsed walk does', () => {
    const enc = (text: string) => Buffer.from(text);
    const cases = [
      deepText(MAX_JSON_DEPTH),
      deepText(MAX_JSON_DEPTH + 1),
      // Brackets inside strings do not nest; an escaped quote does not end the string.
      String.raw`{"a":"${'['.repeat(200)}","b":"\"${'{'.repeat(200)}"}`,
      String.raw`["\\", "\\\"[", [[[1]]], "]]]]"]`,
      '{"x":[1,{"y":2},[[[3]]]]}',
    ];
    for (const text of cases) {
      for (const max of [2, 4, 5, MAX_JSON_DEPTH]) {
        assert.equal(
          jsonTextWithinDepth(enc(text), max),
          checkJsonDepth(JSON.parse(text), max) === undefined,
          `${text.slice(0, 40)}… at ${max}`,
        );
      }
    }
  });

  it('POST /api/latest/execution: a 10,000-level input is a 400 naming the field and the limit', async () => {
    const res = await t.api(
      'POST',
      '/api/latest/execution',
      `{"flow_name":"echo","input_value":${deepText(10_000)}}`,
    );
    assertTooDeep(res, /^input_value\.a\.a\.a\.a\.…/);
    // Huge: refused by size before it is read as JSON.
    const huge = await t.api('POST', '/api/latest/execution', {
      flow_name: 'echo',
      input_value: { s: 'x'.repeat(2 * 1024 * 1024) },
    });
    assert.equal(huge.status, 413, JSON.stringify(huge.body));
    assert.equal(huge.body.error, 'body_too_large');
    await stillServes();
  });

  it('a body nested deep at its top level is refused too', async () => {
    const res = await t.api('POST', '/api/latest/execution', '['.repeat(6000) + ']'.repeat(6000));
    assertTooDeep(res, /^0\.0\.0\.0\.0\.…/);
    await stillServes();
  });

  it('/v1/actions/<flow>/run/live: a deep input is a 400, and live runs go on', async () => {
    const res = await t.api('POST', '/v1/actions/echo/run/live', `{"input":${deepText(10_000)}}`);
    assertTooDeep(res, /^input\.a\.a\.a\.a\.…/);
    const ok = await t.api('POST', '/v1/actions/echo/run/live', { input: { n: 1 } });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.equal(ok.body.status, 'SUCCEEDED');
    assert.deepEqual(ok.body.output_value, { n: 1 });
  });

  it('a keyless webhook call (no token): a deep JSON body is a 400, a huge one a 413', async () => {
    const call = (body: string) =>
      fetch(`${t.runner.url}/api/latest/webhook/open/call`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      }).then(async (r) => ({ status: r.status, body: JSON.parse(await r.text()) }));
    assertTooDeep(await call(deepText(10_000)), /^body\.a\.a\.a\.a\.…/);
    const huge = await call(JSON.stringify({ s: 'x'.repeat(11 * 1024 * 1024) }));
    assert.equal(huge.status, 413);
    const ok = await call('{"hello":"world"}');
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.deepEqual(ok.body.body, { hello: 'world' });
    await stillServes();
  });

  it('WebSocket: a deep message gets a clear error reply and the connection stays', async () => {
    const received: ServerMessage[] = [];
    const listeners = new Set<() => void>();
    ws = new WebSocket(`ws://127.0.0.1:${t.runner.port}${WS_PATH}`, {
      headers: { authorization: `Bearer ${t.runner.token}` },
    });
    ws.on('message', (data) => {
      received.push(ServerMessage.parse(JSON.parse(data.toString())));
      for (const l of [...listeners]) l();
    });
    await new Promise<void>((resolve, reject) => {
      ws!.once('open', resolve);
      ws!.once('error', reject);
    });
    const next = (pred: (m: ServerMessage) => boolean) =>
      new Promise<ServerMessage>((resolve) => {
        const check = () => {
          const i = received.findIndex(pred);
          if (i === -1) return;
          listeners.delete(check);
          resolve(received.splice(i, 1)[0]);
        };
        listeners.add(check);
        check();
      });

    ws.send(`{"type":"subscribe","topics":["executions"],"x":${deepText(10_000)}}`);
    const err = await next((m) => m.type === 'error');
    assert.equal(
      (err as { message: string }).message,
      `x.a.a.a.a.…: nested deeper than ${MAX_JSON_DEPTH} levels`,
    );

    ws.send(
      `{"type":"debug.launch","request_id":7,"flow_name":"echo","config":{},"input_value":${deepText(10_000)}}`,
    );
    const refused = await next((m) => m.type === 'debug.response');
    assert.deepEqual(refused, {
      type: 'debug.response',
      request_id: 7,
      success: false,
      message: `input_value.a.a.a.a.…: nested deeper than ${MAX_JSON_DEPTH} levels`,
    });

    ws.send('{"type":"ping","id":42}');
    assert.deepEqual(await next((m) => m.type === 'pong'), { type: 'pong', id: 42 });
    assert.equal(ws.readyState, WebSocket.OPEN);
    await stillServes();
  });

  it('an input just under the limit runs end to end (REST and webhook)', async () => {
    // The body is level 1, so its input_value may nest MAX_JSON_DEPTH - 1 levels.
    const input = deepValue(MAX_JSON_DEPTH - 1);
    const rec = await t.run({ flow_name: 'echo', input_value: input });
    assert.equal(rec.status, 'SUCCEEDED', rec.message ?? '');
    assert.deepEqual(rec.output_value, input);
    const one = await t.api(
      'POST',
      '/api/latest/execution',
      `{"flow_name":"echo","input_value":${deepText(MAX_JSON_DEPTH)}}`,
    );
    assertTooDeep(one, /^input_value\.a\.a\.a\.a\.…/);

    // A webhook's body is its own document: MAX_JSON_DEPTH levels, handed to the flow and back.
    const res = await fetch(`${t.runner.url}/api/latest/webhook/body/call`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: deepText(MAX_JSON_DEPTH),
    });
    assert.equal(res.status, 200, await res.clone().text());
    assert.deepEqual(await res.json(), deepValue(MAX_JSON_DEPTH));
  });

  it('a flow whose output is nested 5,000 deep ends FAILED with a clear message; the next one runs', async () => {
    const rec = await t.run({ flow_name: 'deep-output' });
    assert.equal(rec.status, 'FAILED');
    assert.equal(
      rec.message,
      `output_value.0.0.0.0.…: nested deeper than ${MAX_JSON_DEPTH} levels; the output is not saved`,
    );
    assert.equal(rec.output_value, null);
    await stillServes();
  });

  it('a worker that writes a too-deep line itself: FAILED by the runner, which stays up', async () => {
    const rec = await t.run({ flow_name: 'raw-deep', input_value: { depth: 5000 } });
    assert.equal(rec.status, 'FAILED');
    assert.match(
      rec.message ?? '',
      new RegExp(
        `^the worker sent a message the runner refuses: output_value\\.0\\.0\\.0\\.0\\.…: nested deeper than ${MAX_WIRE_DEPTH} levels$`,
      ),
    );
    await stillServes();
  });

  /** The PythonWorkers of the runner (the fork server's pid is on it). */
  const workers = () => t.runner.engine.opts.workers;

  /** Resolves once `cond` holds, looking again each turn of the event loop (no fixed sleep). */
  async function until(cond: () => boolean, what: string): Promise<void> {
    const deadline = Date.now() + 20_000;
    while (!cond()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setImmediate(r));
    }
  }

  it('a fork server that dies fails the executions it had not started, with the reason; later ones run', async () => {
    const pid = workers().forkServerPid!;
    assert.ok(pid);
    // Stopped, it cannot act on the spawn command: the execution is RUNNING with no process.
    process.kill(pid, 'SIGSTOP');
    let id = '';
    try {
      // A fresh fork (isolated): a pooled worker would run it without the fork server.
      const created = await t.api('POST', '/api/latest/execution', {
        script: '# flows: isolated\ndef handler(system, this, inputs):\n    return inputs\n',
        input_value: { n: 1 },
      });
      assert.equal(created.status, 201);
      id = created.body.id;
      await until(() => workers().has(id), 'the spawn command to be written');
    } finally {
      process.kill(pid, 'SIGKILL');
    }
    const rec = await t.waitForStatus(id, 'ENDED');
    assert.equal(rec.status, 'FAILED');
    assert.match(
      rec.message ?? '',
      /^Python fork server exited \(SIGKILL\).*; this execution was not started$/,
    );
    await until(() => !!workers().forkServerPid && workers().forkServerPid !== pid, 'a new fork server');
    await stillServes();
    // Both slots are free: two executions run side by side.
    const [a, b] = await Promise.all([
      t.run({ flow_name: 'sleeper', input_value: { seconds: 0.2 } }),
      t.run({ flow_name: 'sleeper', input_value: { seconds: 0.2 } }),
    ]);
    assert.equal(a.status, 'SUCCEEDED');
    assert.equal(b.status, 'SUCCEEDED');
  });

  it('a worker that runs when its fork server dies ends on its own; the next ones run', async () => {
    const created = await t.api('POST', '/api/latest/execution', {
      flow_name: 'sleeper',
      input_value: { seconds: 1 },
    });
    const id = created.body.id as string;
    await t.waitFor((m) => m.type === 'log' && m.line.execution_id === id && m.line.text === 'sleeping');
    const pid = workers().forkServerPid!;
    process.kill(pid, 'SIGKILL');
    const rec = await t.waitForStatus(id, 'ENDED');
    assert.equal(rec.status, 'SUCCEEDED', rec.message ?? '');
    assert.equal(rec.output_value, 'slept');
    await until(() => !!workers().forkServerPid && workers().forkServerPid !== pid, 'a new fork server');
    await stillServes();
  });
});
