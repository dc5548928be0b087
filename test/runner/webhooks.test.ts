/**
 * Webhooks on a real runner: CRUD under the bearer token, and calls from "other programs" —
 * plain fetch without the token, authenticated by the webhook's key — answered synchronously
 * with what the flow set, or at once with ?async=1.
 */
import assert from 'node:assert/strict';
import { startTestRunner, type TestRunner } from './harness';

const KEY = 'sesame-0123456789';

describe('runner: webhooks', function () {
  let t: TestRunner;
  /** A call as another program makes it: no bearer token. */
  const call = async (urlPath: string, init: RequestInit = {}) => {
    const res = await fetch(`${t.runner.url}${urlPath}`, init);
    const text = await res.text();
    let body: any = text;
    try {
      body = JSON.parse(text);
    } catch {
      // not JSON: keep the text
    }
    return { status: res.status, headers: res.headers, body };
  };

  before(async () => {
    t = await startTestRunner();
    const created = await t.api('POST', '/api/latest/webhook', {
      name: 'echo',
      flow_name: 'webhook-echo',
      key: KEY,
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const open = await t.api('POST', '/api/latest/webhook', { name: 'open', flow_name: 'webhook-echo' });
    assert.equal(open.status, 201);
  });
  after(async () => t?.stop());

  it('creates, lists, reads, changes and deletes webhooks; names and flows are checked', async () => {
    const w = (await t.api('GET', '/api/latest/webhook/echo')).body;
    assert.equal(w.flow_name, 'webhook-echo');
    assert.equal(w.key, KEY);
    assert.equal(w.enabled, true);
    assert.equal(w.url_path, '/api/latest/webhook/echo/call');
    const list = (await t.api('GET', '/api/latest/webhook')).body.items.map((x: { name: string }) => x.name);
    assert.deepEqual(list.sort(), ['echo', 'open']);

    assert.equal(
      (await t.api('POST', '/api/latest/webhook', { name: 'echo', flow_name: 'child-echo' })).status,
      409,
    );
    const badName = await t.api('POST', '/api/latest/webhook', {
      name: 'no spaces',
      flow_name: 'child-echo',
    });
    assert.equal(badName.status, 400);
    assert.equal(badName.body.issues[0].path, 'name');
    const badFlow = await t.api('POST', '/api/latest/webhook', { name: 'x', flow_name: 'no-such-flow' });
    assert.equal(badFlow.status, 400);
    assert.equal(badFlow.body.issues[0].path, 'flow_name');
    const shortKey = await t.api('POST', '/api/latest/webhook', {
      name: 'x',
      flow_name: 'child-echo',
      key: 'abc',
    });
    assert.equal(shortKey.body.issues[0].path, 'key');

    const temp = await t.api('POST', '/api/latest/webhook', { name: 'temp', flow_name: 'child-echo' });
    const renamed = await t.api('PATCH', '/api/latest/webhook/temp', { name: 'temp2', enabled: false });
    assert.equal(renamed.body.name, 'temp2');
    assert.equal(renamed.body.id, temp.body.id);
    assert.equal(renamed.body.url_path, '/api/latest/webhook/temp2/call');
    assert.equal((await t.api('GET', '/api/latest/webhook/temp')).status, 404);
    assert.equal((await t.api('DELETE', '/api/latest/webhook/temp2')).status, 200);
    assert.equal((await t.api('GET', '/api/latest/webhook/temp2')).status, 404);
    // CRUD needs the bearer token like the rest of the API.
    assert.equal((await call('/api/latest/webhook')).status, 401);
  });

  it('answers a synchronous call with what the flow set (status, headers, JSON) and hands it the request', async () => {
    const res = await call('/api/latest/webhook/echo/call/orders/42?x=1&x=2&y=3', {
      method: 'PUT',
      headers: { 'content-type': 'application/json', 'x-flows-webhook-key': KEY, 'user-agent': 'shop/1.0' },
      body: JSON.stringify({ order: 42 }),
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal(res.headers.get('x-answer'), 'yes');
    assert.match(res.headers.get('content-type') ?? '', /application\/json/);
    assert.deepEqual(res.body, {
      method: 'PUT',
      path: '/orders/42',
      query: { x: ['1', '2'], y: '3' },
      body: { order: 42 },
      body_encoding: 'json',
      has_key_header: false,
      has_authorization: false,
      user_agent: 'shop/1.0',
    });
    const id = res.headers.get('x-flows-execution-id')!;
    const rec = (await t.api('GET', `/api/latest/execution/${id}`)).body;
    assert.equal(rec.status, 'SUCCEEDED');
    assert.equal(rec.webhook_id, (await t.api('GET', '/api/latest/webhook/echo')).body.id);
    assert.equal(rec.input_value.method, 'PUT');
  });

  it('passes form and text bodies, answers HTML, the output as JSON, or 500 when the flow fails', async () => {
    const form = await call('/api/latest/webhook/open/call', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'a=1&b=two',
    });
    assert.deepEqual([form.body.body, form.body.body_encoding], [{ a: '1', b: 'two' }, 'form']);
    const text = await call('/api/latest/webhook/open/call', { method: 'POST', body: 'plain words' });
    assert.deepEqual([text.body.body, text.body.body_encoding], ['plain words', 'text']);
    const get = await call('/api/latest/webhook/open/call');
    assert.deepEqual([get.body.method, get.body.body, get.body.body_encoding], ['GET', null, 'none']);

    const html = await call('/api/latest/webhook/open/call/html');
    assert.equal(html.status, 200);
    assert.match(html.headers.get('content-type') ?? '', /text\/html/);
    assert.equal(html.body, '<h1>hello</h1>');
    const output = await call('/api/latest/webhook/open/call/none', { method: 'DELETE' });
    assert.equal(output.status, 200);
    assert.deepEqual(output.body, { method: 'DELETE', seen: true });
    const failed = await call('/api/latest/webhook/open/call/fail');
    assert.equal(failed.status, 500);
    assert.equal(failed.body.status, 'FAILED');
    assert.match(failed.body.message, /RuntimeError: webhook flow failed/);
    const badJson = await call('/api/latest/webhook/open/call', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"nope',
    });
    assert.equal(badJson.status, 400);
  });

  it('answers 202 with the execution id at once with ?async=1', async () => {
    const res = await call(`/api/latest/webhook/echo/call/later?async=1&key=${KEY}`, {
      method: 'POST',
      body: 'x',
    });
    assert.equal(res.status, 202);
    assert.ok(res.body.execution_id);
    assert.ok(['QUEUED', 'RUNNING'].includes(res.body.status), res.body.status);
    const rec = await t.waitForStatus(res.body.execution_id, 'ENDED');
    assert.equal(rec.status, 'SUCCEEDED');
    assert.deepEqual(
      rec.input_value && (rec.input_value as { query: unknown }).query,
      {},
      'key and async are not passed on',
    );
  });

  it('needs the key (header or ?key=) instead of the token; 403 without it; browsers are refused', async () => {
    assert.equal((await call('/api/latest/webhook/echo/call')).status, 403);
    assert.equal((await call('/api/latest/webhook/echo/call?key=wrong-key-123')).status, 403);
    const withToken = await call('/api/latest/webhook/echo/call', {
      headers: { authorization: `Bearer ${t.runner.token}` },
    });
    assert.equal(withToken.status, 403, 'the runner token does not replace the key');
    assert.equal((await call(`/api/latest/webhook/echo/call?key=${KEY}`)).status, 201);
    const browser = await call(`/api/latest/webhook/echo/call?key=${KEY}`, {
      headers: { origin: 'https://evil.example' },
    });
    assert.equal(browser.status, 403);
    assert.match(browser.body.message, /browser/);
  });

  it('answers 404 for a disabled or unknown webhook', async () => {
    await t.api('PATCH', '/api/latest/webhook/open', { enabled: false });
    const disabled = await call('/api/latest/webhook/open/call');
    assert.equal(disabled.status, 404);
    assert.equal((await call('/api/latest/webhook/nobody/call')).status, 404);
    await t.api('PATCH', '/api/latest/webhook/open', { enabled: true });
    assert.equal((await call('/api/latest/webhook/open/call/none')).status, 200);
  });
});
