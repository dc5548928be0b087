/** The REST and WebSocket surface: security, validation, listing, OpenAPI. */
import assert from 'node:assert/strict';
import http from 'node:http';
import WebSocket from 'ws';
import { WS_PATH } from '../../protocol';
import { startTestRunner, type TestRunner } from './harness';

/** A raw request, so tests can send what fetch would not (a foreign Host, no auth). */
function rawRequest(
  port: number,
  opts: http.RequestOptions,
  body?: string,
): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, ...opts }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode!, body: text ? JSON.parse(text) : undefined }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

function wsRefusal(url: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.on('unexpected-response', (_req, res) => resolve(res.statusCode!));
    ws.on('open', () => reject(new Error('the WebSocket was accepted')));
    ws.on('error', () => undefined);
  });
}

describe('runner: REST API and security', function () {
  let t: TestRunner;
  before(async () => (t = await startTestRunner()));
  after(async () => t?.stop());

  it('refuses requests without the token, with a wrong token, or from a browser Origin', async () => {
    const port = t.runner.port!;
    const none = await rawRequest(port, {
      path: '/api/latest/execution',
      headers: { host: `127.0.0.1:${port}` },
    });
    assert.equal(none.status, 401);
    assert.match(none.body.message, /missing token/);
    const wrong = await t.api('GET', '/api/latest/execution', undefined, { authorization: 'Bearer nope' });
    assert.equal(wrong.status, 401);
    const browser = await t.api('GET', '/api/latest/execution', undefined, {
      origin: 'https://evil.example',
    });
    assert.equal(browser.status, 403);
    const rebinding = await rawRequest(port, {
      path: '/api/latest/execution',
      headers: { host: 'evil.example', authorization: `Bearer ${t.runner.token}` },
    });
    assert.equal(rebinding.status, 403);
  });

  it('refuses WebSocket upgrades without the token or from a browser Origin', async () => {
    const url = `ws://127.0.0.1:${t.runner.port}${WS_PATH}`;
    assert.equal(await wsRefusal(url, {}), 401);
    assert.equal(
      await wsRefusal(url, { authorization: `Bearer ${t.runner.token}`, origin: 'https://evil.example' }),
      403,
    );
  });

  it('rejects a bad body with a 400 that names the field, and loses nothing', async () => {
    const before = (await t.api('GET', '/api/latest/execution?limit=1')).body.total;
    const bad = await t.api('POST', '/api/latest/execution', { flow_name: 'child-echo', priority: 'high' });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.issues[0].path, 'priority');
    assert.match(bad.body.message, /^priority: /);
    const both = await t.api('POST', '/api/latest/execution', { flow_name: 'a', script: 'b' });
    assert.equal(both.status, 400);
    assert.match(both.body.message, /exactly one of flow_name or script/);
    const extra = await t.api('POST', '/api/latest/execution', { flow_name: 'a', colour: 'red' });
    assert.equal(extra.status, 400);
    assert.match(extra.body.message, /unknown field\(s\) colour/);
    const notJson = await t.api('POST', '/api/latest/execution', '{"flow_name":');
    assert.equal(notJson.status, 400);
    assert.match(notJson.body.message, /^body: not valid JSON/);
    const after = (await t.api('GET', '/api/latest/execution?limit=1')).body.total;
    assert.equal(after, before, 'no execution was created by the rejected requests');
  });

  it('limits body size (413)', async () => {
    const huge = JSON.stringify({ flow_name: 'child-echo', input_value: 'x'.repeat(3 * 1024 * 1024) });
    const res = await t.api('POST', '/api/latest/execution', huge);
    assert.equal(res.status, 413);
  });

  it('answers unknown ids and endpoints with 404 and wrong methods with 405', async () => {
    assert.equal((await t.api('GET', '/api/latest/execution/nope')).status, 404);
    assert.equal((await t.api('POST', '/api/latest/execution/nope/cancel')).status, 404);
    assert.equal((await t.api('GET', '/api/latest/nothing')).status, 404);
    assert.equal((await t.api('DELETE', '/api/latest/execution')).status, 405);
  });

  it('lists with filters, paging and sort', async () => {
    const a = await t.run({ flow_name: 'child-echo', input_value: { n: 1 }, priority: 3 });
    const b = await t.run({ flow_name: 'child-echo', input_value: { n: 2 }, priority: 1 });
    const c = await t.run({ flow_name: 'syntax-error' });
    const ok = await t.api(
      'GET',
      '/api/latest/execution?flow_name=child-echo&status=SUCCEEDED&sort=-created_at&limit=2',
    );
    assert.equal(ok.status, 200);
    assert.deepEqual(
      ok.body.items.map((r: { id: string }) => r.id),
      [b.id, a.id],
    );
    const byPriority = await t.api(
      'GET',
      '/api/latest/execution?flow_name=child-echo&sort=-priority&limit=1',
    );
    assert.equal(byPriority.body.items[0].id, a.id);
    const paged = await t.api(
      'GET',
      '/api/latest/execution?flow_name=child-echo&sort=-created_at&limit=1&offset=1',
    );
    assert.equal(paged.body.items[0].id, a.id);
    assert.equal(paged.body.total, 2);
    const invalid = await t.api('GET', '/api/latest/execution?status=INVALID,FAILED');
    assert.ok(invalid.body.items.some((r: { id: string }) => r.id === c.id));
    const badStatus = await t.api('GET', '/api/latest/execution?status=DONE');
    assert.equal(badStatus.status, 400);
    assert.match(badStatus.body.message, /^status/);
    const badSort = await t.api('GET', '/api/latest/execution?sort=colour');
    assert.equal(badSort.status, 400);
    const got = await t.api('GET', `/api/latest/execution/${a.id}`);
    for (const field of [
      'id',
      'name',
      'type',
      'status',
      'flow_name',
      'input_value',
      'output_value',
      'message',
      'parent_execution_id',
      'top_execution_id',
    ]) {
      assert.ok(field in got.body, field);
    }
  });

  it('serves an OpenAPI document generated from the schemas', async () => {
    const doc = await t.api('GET', '/api/openapi.json');
    assert.equal(doc.status, 200);
    assert.equal(doc.body.openapi, '3.0.3');
    const create = doc.body.paths['/api/latest/execution'].post;
    const props = create.requestBody.content['application/json'].schema.properties;
    assert.ok(props.flow_name && props.input_value && props.max_runtime_minutes);
    assert.equal(
      create.responses['201'].content['application/json'].schema.$ref,
      '#/components/schemas/Execution',
    );
    const statuses = doc.body.components.schemas.Execution.properties.status.enum;
    assert.ok(statuses.includes('PARTIAL_SUCCEEDED'));
  });
});
