/**
 * The HTTP front door under careless and hostile callers, on a real runner: broken
 * percent-encoding, browser pages calling webhooks, bodies that never arrive, too many
 * connections, bad message queries. Raw sockets where the exact bytes matter.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import type { Engine } from '../../runner/src/engine/engine';
import { startHttpServer } from '../../runner/src/http/httpServer';
import { Router } from '../../runner/src/http/router';
import type { WsHub } from '../../runner/src/http/wsHub';
import { Webhooks } from '../../runner/src/webhooks/webhooks';
import { flowsFolder, startTestRunner, type TestRunner } from '../runner/harness';

const FLOWS: Record<string, string> = {
  'hook.py':
    "def handler(system, this, inputs):\n    return {'method': inputs['method'], 'path': inputs['path']}\n",
  'slow.py':
    "import time\n\n\ndef handler(system, this, inputs):\n    time.sleep(float(inputs['query'].get('s', '0')))\n    return 'slept'\n",
};
const KEY = 'sesame-0123456789';

const flowsDir = () => flowsFolder(FLOWS, 'flows-http-');

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: any;
}

/** A request with exactly these headers (no fetch additions), the path sent as is. */
function request(
  port: number,
  method: string,
  urlPath: string,
  headers: Record<string, string> = {},
  body?: string,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, method, path: urlPath, headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = text;
          try {
            parsed = JSON.parse(text);
          } catch {
            // not JSON
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: parsed });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** A chunked body, if all of it is there: its bytes and how many bytes of `buf` it took. */
function dechunk(buf: Buffer): { body: Buffer; used: number } | undefined {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const eol = buf.indexOf('\r\n', at);
    if (eol < 0) return undefined;
    const size = parseInt(buf.subarray(at, eol).toString('latin1'), 16);
    if (buf.length < eol + 2 + size + 2) return undefined;
    if (size === 0) return { body: Buffer.concat(parts), used: eol + 4 };
    parts.push(buf.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
}

/** A raw connection: write bytes, read the first answer, see when the server closes it. */
class RawConnection {
  readonly socket: net.Socket;
  readonly connected: Promise<void>;
  /** Resolves when the server ends the connection (or it fails). */
  readonly closed: Promise<void>;
  private buf = Buffer.alloc(0);
  private waiters: Array<() => void> = [];

  constructor(port: number) {
    this.socket = net.connect(port, '127.0.0.1');
    this.connected = new Promise((resolve, reject) => {
      this.socket.once('connect', resolve);
      this.socket.once('error', reject);
    });
    this.closed = new Promise((resolve) => this.socket.once('close', () => resolve()));
    this.socket.on('error', () => undefined);
    this.socket.on('data', (c: Buffer) => {
      this.buf = Buffer.concat([this.buf, c]);
      for (const w of this.waiters.splice(0)) w();
    });
    this.socket.on('close', () => {
      for (const w of this.waiters.splice(0)) w();
    });
  }

  write(text: string): void {
    this.socket.write(text);
  }

  /** The next complete answer (status, headers, body by Content-Length). */
  async response(): Promise<{ status: number; headers: Record<string, string>; body: string }> {
    for (;;) {
      const end = this.buf.indexOf('\r\n\r\n');
      if (end >= 0) {
        const [statusLine, ...lines] = this.buf.subarray(0, end).toString('latin1').split('\r\n');
        const headers: Record<string, string> = {};
        for (const l of lines) {
          const i = l.indexOf(':');
          headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
        }
        const status = Number(statusLine.split(' ')[1]);
        const rest = this.buf.subarray(end + 4);
        if (headers['transfer-encoding'] === 'chunked') {
          const chunks = dechunk(rest);
          if (chunks) {
            this.buf = rest.subarray(chunks.used);
            return { status, headers, body: chunks.body.toString('utf8') };
          }
        } else {
          const length = Number(headers['content-length'] ?? 0);
          if (rest.length >= length) {
            this.buf = rest.subarray(length);
            return { status, headers, body: rest.subarray(0, length).toString('utf8') };
          }
        }
      }
      if (this.socket.destroyed) throw new Error(`connection closed; got ${this.buf.toString('latin1')}`);
      await new Promise<void>((r) => this.waiters.push(r));
    }
  }
}

const head = (port: number, method: string, urlPath: string, headers: Record<string, string | number>) =>
  `${method} ${urlPath} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n` +
  Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('') +
  '\r\n';

describe('reliability: HTTP front door', function () {
  this.timeout(60_000);
  let t: TestRunner;
  let port: number;
  const auth = () => ({ authorization: `Bearer ${t.runner.token}` });
  const executionCount = async () =>
    (await t.api('GET', '/api/latest/execution?limit=1')).body.total as number;

  before(async () => {
    t = await startTestRunner({
      flowsDir: flowsDir(),
      httpLimits: { bodyIdleTimeoutMs: 1_000, headersTimeoutMs: 1_000, requestTimeoutMs: 2_000 },
    });
    port = t.runner.port!;
    for (const body of [
      { name: 'open', flow_name: 'hook' },
      { name: 'keyed', flow_name: 'hook', key: KEY },
      { name: 'public', flow_name: 'hook', allow_browsers: true },
      { name: 'slow', flow_name: 'slow' },
    ]) {
      const created = await t.api('POST', '/api/latest/webhook', body);
      assert.equal(created.status, 201, JSON.stringify(created.body));
    }
  });
  after(() => t?.stop());

  describe('malformed percent-encoding in the path', () => {
    it('answers 400 naming the segment on every kind of route, and keeps serving', async () => {
      const cases: Array<[string, string, Record<string, string>]> = [
        ['GET', '/api/latest/execution/%ZZ', auth()],
        ['POST', '/api/latest/execution/%E0%A4%A/cancel', auth()],
        ['GET', '/api/latest/execution/%C0%AF/log', auth()],
        ['GET', '/api/latest/webhook/%ZZ', auth()],
        ['GET', '/v1/runs/%', auth()],
        ['GET', '/api/latest/webhook/%ZZ/call', {}],
        ['POST', '/api/latest/webhook/open/call/a/%ZZ/b', {}],
      ];
      for (const [method, urlPath, headers] of cases) {
        const res = await request(port, method, urlPath, headers);
        assert.equal(res.status, 400, `${method} ${urlPath}: ${JSON.stringify(res.body)}`);
        assert.equal(res.body.error, 'invalid_request');
        assert.match(res.body.message, /percent-encoding/);
        const segment = urlPath.split('/').find((s) => s.includes('%'))!;
        assert.ok(res.body.message.includes(`'${segment}'`), `${res.body.message} names ${segment}`);
      }
      // Without the token a token route still says 401 first.
      assert.equal((await request(port, 'GET', '/api/latest/execution/%ZZ')).status, 401);
      assert.equal(t.logs.filter((l) => l.includes('internal error')).length, 0, t.logs.join('\n'));
      assert.equal((await request(port, 'GET', '/api/latest/execution', auth())).status, 200);
      // A well-encoded id still decodes.
      const ok = await request(port, 'GET', '/api/latest/execution/no%20such', auth());
      assert.equal(ok.status, 404);
      assert.match(ok.body.message, /no such/);
    });
  });

  describe('webhooks and browser pages', () => {
    it('refuses calls that carry browser signatures with 403, and creates no execution', async () => {
      const before = await executionCount();
      const browserCalls: Array<[string, Record<string, string>]> = [
        // <img src=…>: no Origin, but Sec-Fetch-Site.
        ['GET', { 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'no-cors', 'sec-fetch-dest': 'image' }],
        // fetch(…, {mode: 'no-cors', method: 'POST'}) and form posts carry an Origin.
        ['POST', { origin: 'https://evil.example', 'content-type': 'text/plain' }],
        ['POST', { origin: 'null', 'content-type': 'application/x-www-form-urlencoded' }],
        ['GET', { 'sec-fetch-site': 'same-site', 'sec-fetch-mode': 'navigate' }],
        // An Origin of this runner on another port is another site.
        ['POST', { origin: `http://127.0.0.1:${port + 1}`, 'sec-fetch-site': 'same-site' }],
      ];
      for (const name of ['open', 'keyed']) {
        for (const [method, headers] of browserCalls) {
          const res = await request(
            port,
            method,
            `/api/latest/webhook/${name}/call?key=${KEY}`,
            headers,
            method === 'POST' ? 'a=1' : undefined,
          );
          assert.equal(
            res.status,
            403,
            `${name} ${method} ${JSON.stringify(headers)}: ${JSON.stringify(res.body)}`,
          );
          assert.equal(res.body.error, 'forbidden');
          assert.match(res.body.message, /browser pages/);
          assert.match(res.body.message, /allow_browsers/);
        }
      }
      assert.equal(await executionCount(), before, 'no execution was created');
    });

    it('runs the flow for programs, typed URLs and same-origin pages', async () => {
      const before = await executionCount();
      const calls: Array<Record<string, string>> = [
        { 'user-agent': 'curl/8.5.0', accept: '*/*' },
        { 'sec-fetch-site': 'none', 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'document' },
        { 'sec-fetch-site': 'same-origin', 'sec-fetch-mode': 'cors', origin: `http://127.0.0.1:${port}` },
        { 'sec-fetch-site': 'same-origin', origin: `http://localhost:${port}` },
      ];
      for (const headers of calls) {
        const res = await request(port, 'GET', '/api/latest/webhook/open/call/x', headers);
        assert.equal(res.status, 200, `${JSON.stringify(headers)}: ${JSON.stringify(res.body)}`);
        assert.deepEqual(res.body, { method: 'GET', path: '/x' });
      }
      assert.equal(await executionCount(), before + calls.length);
    });

    it('accepts cross-site calls on a webhook with allow_browsers, and the field defaults to false', async () => {
      const res = await request(port, 'GET', '/api/latest/webhook/public/call', {
        'sec-fetch-site': 'cross-site',
        'sec-fetch-mode': 'no-cors',
      });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      const posted = await request(
        port,
        'POST',
        '/api/latest/webhook/public/call',
        { origin: 'https://shop.example', 'content-type': 'text/plain' },
        'hi',
      );
      assert.equal(posted.status, 200, JSON.stringify(posted.body));
      assert.equal((await t.api('GET', '/api/latest/webhook/public')).body.allow_browsers, true);
      assert.equal((await t.api('GET', '/api/latest/webhook/open')).body.allow_browsers, false);

      // Switched on and off with PATCH.
      const cross = { 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'no-cors' };
      assert.equal((await t.api('PATCH', '/api/latest/webhook/open', { allow_browsers: true })).status, 200);
      assert.equal((await request(port, 'GET', '/api/latest/webhook/open/call', cross)).status, 200);
      assert.equal((await t.api('PATCH', '/api/latest/webhook/open', { allow_browsers: false })).status, 200);
      assert.equal((await request(port, 'GET', '/api/latest/webhook/open/call', cross)).status, 403);
      const bad = await t.api('PATCH', '/api/latest/webhook/open', { allow_browsers: 'yes' });
      assert.equal(bad.status, 400);
      assert.equal(bad.body.issues[0].path, 'allow_browsers');
      // The rest of the API still refuses any Origin, token or not.
      const api = await request(port, 'GET', '/api/latest/execution', {
        ...auth(),
        origin: `http://127.0.0.1:${port}`,
      });
      assert.equal(api.status, 403);
    });

    it('reads webhooks stored before allow_browsers existed as false', async () => {
      const legacy = {
        id: 'w1',
        name: 'old',
        flow_name: 'hook',
        key: null,
        enabled: true,
        is_productive: true,
        priority: 0,
        max_runtime_minutes: 0,
        url_path: '/api/latest/webhook/old/call',
        created_at: '2025-01-01T00:00:00.000Z',
        updated_at: '2025-01-01T00:00:00.000Z',
      };
      const engine = { store: { listWebhooks: async () => [legacy] } } as unknown as Engine;
      const webhooks = new Webhooks(engine);
      await webhooks.load();
      assert.equal(webhooks.find('old')?.allow_browsers, false);
    });
  });

  describe('bodies that never arrive', () => {
    const callHead = (name: string, extra: Record<string, string | number> = {}) =>
      head(port, 'POST', `/api/latest/webhook/${name}/call`, {
        'content-type': 'text/plain',
        'content-length': 100_000,
        ...extra,
      });

    it('answers a missing webhook 404 without waiting for the body, and closes', async () => {
      const before = await executionCount();
      const c = new RawConnection(port);
      await c.connected;
      c.write(callHead('nobody') + '0123456789');
      const res = await c.response();
      assert.equal(res.status, 404, res.body);
      assert.equal(res.headers.connection, 'close');
      await c.closed;
      assert.equal(await executionCount(), before);
    });

    it('answers a wrong key 403 without waiting for the body', async () => {
      const c = new RawConnection(port);
      await c.connected;
      c.write(callHead('keyed', { 'x-flows-webhook-key': 'wrong-key-123' }) + '0123456789');
      const res = await c.response();
      assert.equal(res.status, 403, res.body);
      assert.match(res.body, /wrong or missing key/);
      await c.closed;
    });

    it('answers a browser call 403 and a too large Content-Length 413 without reading', async () => {
      const browser = new RawConnection(port);
      await browser.connected;
      browser.write(callHead('open', { origin: 'https://evil.example' }) + '0123456789');
      assert.equal((await browser.response()).status, 403);
      await browser.closed;

      const huge = new RawConnection(port);
      await huge.connected;
      huge.write(callHead('open', { 'content-length': 1e12 }) + '0123456789');
      const res = await huge.response();
      assert.equal(res.status, 413, res.body);
      await huge.closed;
    });

    it('answers a token route without the token 401 without waiting for the body', async () => {
      const c = new RawConnection(port);
      await c.connected;
      c.write(
        head(port, 'POST', '/api/latest/execution', {
          'content-type': 'application/json',
          'content-length': 100_000,
        }) + '{"flow_nam',
      );
      assert.equal((await c.response()).status, 401);
      await c.closed;
    });

    it('gives up on a valid call whose body stalls: 408 and the connection closed; no execution', async () => {
      const before = await executionCount();
      const c = new RawConnection(port);
      await c.connected;
      const started = Date.now();
      c.write(callHead('open') + '0123456789');
      const res = await c.response();
      assert.equal(res.status, 408, res.body);
      assert.match(res.body, /no body bytes arrived/);
      await c.closed;
      assert.ok(Date.now() - started >= 900, `closed after ${Date.now() - started} ms`);
      assert.equal(await executionCount(), before);
    });

    it('keeps a body that takes longer than the idle timeout but never pauses that long', async () => {
      const c = new RawConnection(port);
      await c.connected;
      // 1.35 s in all, longer than the 1 s idle timeout, but never 1 s without a byte (and
      // within the 2 s request timeout): pacing, not waiting for something.
      const parts = ['one-', 'two-', 'three'];
      c.write(callHead('open', { 'content-length': parts.join('').length }));
      for (const p of parts) {
        await new Promise((r) => setTimeout(r, 450));
        c.write(p);
      }
      const res = await c.response();
      assert.equal(res.status, 200, res.body);
      c.socket.destroy();
    });

    it('cuts a body that trickles in forever at the request timeout', async () => {
      const c = new RawConnection(port);
      await c.connected;
      const started = Date.now();
      c.write(callHead('open'));
      const timer = setInterval(() => c.write('x'), 300);
      try {
        await c.closed;
      } finally {
        clearInterval(timer);
      }
      assert.ok(Date.now() - started >= 1_900, `closed after ${Date.now() - started} ms`);
    });

    it('closes a connection whose headers never end', async () => {
      const c = new RawConnection(port);
      await c.connected;
      c.write(`GET /api/latest/execution HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nX-Slow: `);
      await c.closed;
    });

    it('does not limit the answer: a synchronous webhook may take longer than every timeout', async () => {
      const res = await request(
        port,
        'POST',
        '/api/latest/webhook/slow/call?s=2.5',
        { 'content-type': 'text/plain' },
        'x',
      );
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body, 'slept');
    });
  });

  describe('message query', () => {
    it('validates the query of GET /api/latest/message and names the field', async () => {
      const ok = await t.api('GET', '/api/latest/message?open=true');
      assert.equal(ok.status, 200);
      assert.deepEqual(ok.body.items, []);
      assert.equal((await t.api('GET', '/api/latest/message?open=false&execution_id=abc')).status, 200);
      for (const [query, field] of [
        ['open=yes', 'open'],
        ['execution_id=', 'execution_id'],
        ['bogus=1', 'query'],
      ]) {
        const res = await t.api('GET', `/api/latest/message?${query}`);
        assert.equal(res.status, 400, `${query}: ${JSON.stringify(res.body)}`);
        assert.equal(res.body.issues[0].path, field);
      }
    });
  });
});

describe('reliability: HTTP connection cap', function () {
  this.timeout(60_000);
  const CAP = 6;
  let t: TestRunner;
  before(async () => {
    t = await startTestRunner({
      flowsDir: flowsDir(),
      httpLimits: { maxConnections: CAP, keepAliveTimeoutMs: 60_000 },
    });
  });
  after(() => t?.stop());

  it('closes connections beyond the cap while the open ones keep working', async () => {
    const port = t.runner.port!;
    const get = head(port, 'GET', '/api/latest/execution?limit=1', {
      authorization: `Bearer ${t.runner.token}`,
    });
    // The harness's WebSocket holds one connection; fill the rest with keep-alive ones.
    const open: RawConnection[] = [];
    for (let i = 0; i < CAP - 1; i++) {
      const c = new RawConnection(port);
      await c.connected;
      c.write(get);
      assert.equal((await c.response()).status, 200);
      open.push(c);
    }
    const extra = new RawConnection(port);
    extra.write(get);
    await extra.closed;
    await assert.rejects(extra.response(), /connection closed/);

    for (const c of open) {
      c.write(get);
      assert.equal((await c.response()).status, 200, 'an open connection still works');
    }
    // A connection that ends frees its place.
    open.pop()!.socket.end();
    let served = false;
    for (let attempt = 0; attempt < 50 && !served; attempt++) {
      const c = new RawConnection(port);
      c.write(get);
      try {
        served = (await c.response()).status === 200;
      } catch {
        await new Promise((r) => setImmediate(r));
      }
      c.socket.destroy();
    }
    assert.ok(served, 'a new connection is served once one closed');
    for (const c of open) c.socket.destroy();
  });
});

describe('reliability: HTTP 500s', () => {
  it('logs the path of a failed request, never its query string', async () => {
    const logs: string[] = [];
    const router = new Router().add({
      method: 'GET',
      pattern: '/boom',
      auth: 'handler',
      handler: () => {
        throw new Error('kaboom');
      },
    });
    const { server, port } = await startHttpServer({
      router,
      hub: {} as WsHub,
      token: 'x',
      port: 0,
      log: (m) => logs.push(m),
    });
    try {
      const res = await request(port, 'GET', '/boom?key=secret-webhook-key');
      assert.equal(res.status, 500);
      assert.equal(logs.length, 1);
      assert.match(logs[0], /internal error on GET \/boom:/);
      assert.ok(!logs[0].includes('secret-webhook-key'), logs[0]);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});
