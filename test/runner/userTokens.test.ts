/**
 * Users' tokens and started_by on a runner of its own (SQLite), as a user meets them: `flows
 * token` against the data folder of a serving `flows serve` (which has the file open, so the
 * CLI asks it), requests and WebSockets with a user's token, what each execution says started
 * it, revocation, and what the database keeps (the hash, never the token).
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import WebSocket from 'ws';
import { SqliteStore } from '../../runner/src/store/sqliteStore';
import { until } from '../support/until';
import { pastTokenCache, requestAs } from '../support/userTokens';
import { endServed, FIXTURE_FLOWS, runCli, serveRunner, tempDir, type ServedRunner } from './harness';

/** Whether a WebSocket with `token` is let in (its hello arrives) or refused (the status). */
function wsWith(s: ServedRunner, token: string): Promise<'hello' | number> {
  const url = `${s.ready.url.replace(/^http/, 'ws')}/api/ws`;
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers: { authorization: `Bearer ${token}` } });
    ws.once('message', () => {
      ws.close();
      resolve('hello');
    });
    ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.once('error', reject);
  });
}

describe('flows token and started_by (SQLite)', function () {
  this.timeout(180_000);
  let s: ServedRunner | undefined;
  afterEach(async () => {
    if (s) await endServed(s, 'SIGTERM');
    s = undefined;
  });

  it('makes a token a request is that user’s by, records who started what, and refuses it once revoked', async () => {
    const data = tempDir();
    s = await serveRunner(['--flows', FIXTURE_FLOWS, '--data', data]);
    const runner = s;
    const created = await runCli(['token', 'create', 'ann', '--data', data]);
    assert.equal(created.status, 0, created.stderr);
    const token = created.stdout.trim();
    assert.match(token, /^flows_[A-Za-z0-9_-]{43}$/, 'one line: the token');
    assert.match(created.stderr, /shown only this once/);

    // A flow with children: every execution of the tree is ann's.
    const made = await requestAs(runner, token, 'POST', '/api/latest/execution', {
      flow_name: 'parent-async',
    });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    assert.equal(made.body.started_by, 'ann');
    await until(
      async () => (await requestAs(runner, token, 'GET', `/api/latest/execution/${made.body.id}`)).body,
      (e) => e.status === 'SUCCEEDED',
      'the parent to succeed',
    );
    const tree = (await runner.api('GET', `/api/latest/execution?top_execution_id=${made.body.id}`)).body;
    assert.equal(tree.items.length, 4);
    assert.deepEqual(
      tree.items.map((e: { started_by: string }) => e.started_by),
      ['ann', 'ann', 'ann', 'ann'],
      'children inherit their parent’s',
    );
    // The runner's own token is "local"; a run of the runs API is the caller's too.
    const mine = await runner.api('POST', '/api/latest/execution', {
      flow_name: 'child-echo',
      input_value: { n: 1 },
    });
    assert.equal(mine.body.started_by, 'local');
    const live = await requestAs(runner, token, 'POST', '/v1/actions/child-echo/run/live', {
      input: { n: 2 },
    });
    assert.equal(live.status, 200, JSON.stringify(live.body));
    assert.equal((await runner.api('GET', `/api/latest/execution/${live.body.uid}`)).body.started_by, 'ann');

    // A webhook's call and a schedule's firing say so; "run now" is the user's who asked.
    const hook = await runner.api('POST', '/api/latest/webhook', {
      name: 'orders',
      flow_name: 'webhook-echo',
    });
    assert.equal(hook.status, 201, JSON.stringify(hook.body));
    const call = await fetch(`${runner.ready.url}/api/latest/webhook/orders/call?async=1`, {
      method: 'POST',
    });
    const called = (await call.json()) as { execution_id: string };
    assert.equal(
      (await runner.api('GET', `/api/latest/execution/${called.execution_id}`)).body.started_by,
      'webhook orders',
    );
    const sched = await requestAs(runner, token, 'POST', '/api/latest/schedule', {
      name: 'nightly',
      flow_name: 'child-echo',
      kind: 'interval',
      interval: 1,
      unit: 'seconds',
      input_value: { n: 3 },
      max_iterations: 1,
    });
    assert.equal(sched.status, 201, JSON.stringify(sched.body));
    const fired = await until(
      async () =>
        (await runner.api('GET', `/api/latest/execution?parent_execution_id=${sched.body.execution_id}`)).body
          .items,
      (items: Array<{ started_by: string }>) => items.length === 1,
      'the firing',
    );
    assert.equal(fired[0].started_by, 'schedule nightly');
    assert.equal(
      (await runner.api('GET', `/api/latest/execution/${sched.body.execution_id}`)).body.started_by,
      'schedule nightly',
    );
    const now = await requestAs(runner, token, 'POST', `/api/latest/schedule/${sched.body.id}/run`);
    assert.equal(now.status, 201, JSON.stringify(now.body));
    assert.equal(now.body.started_by, 'ann');
    assert.equal(await wsWith(runner, token), 'hello');
    // One that stays open, to see what a revocation does to it.
    const open = new WebSocket(`${runner.ready.url.replace(/^http/, 'ws')}/api/ws`, {
      headers: { authorization: `Bearer ${token}` },
    });
    await new Promise((r) => open.once('message', r));
    const closed = new Promise((r) => open.once('close', r));

    // A user's token starts executions; it does not manage tokens.
    const refused = await requestAs(runner, token, 'POST', '/api/latest/token', { name: 'eve' });
    assert.equal(refused.status, 403);
    assert.match(refused.body.message, /runner's own token/);

    // Listed by name, never with the token.
    const listed = await runCli(['token', 'list', '--data', data, '--json']);
    assert.equal(listed.status, 0, listed.stderr);
    assert.ok(!listed.stdout.includes(token));
    const items = JSON.parse(listed.stdout).items;
    assert.deepEqual(
      items.map((t: { name: string }) => t.name),
      ['ann'],
    );
    assert.deepEqual(Object.keys(items[0]).sort(), ['created_at', 'last_used_at', 'name']);
    assert.ok(items[0].last_used_at, 'its use is noted');

    const revoked = await runCli(['token', 'revoke', 'ann', '--data', data]);
    assert.equal(revoked.status, 0, revoked.stderr);
    // A lookup is believed for CACHE_MS at most: a request sent after that is refused.
    await pastTokenCache(Date.now()); // the revocation is committed by now
    const after = await requestAs(runner, token, 'GET', '/api/latest/execution?limit=1');
    assert.equal(after.status, 401);
    assert.equal(after.body.message, 'wrong token');
    assert.equal(await wsWith(runner, token), 401);
    await closed; // the open WebSocket was cut too (its token is looked up again every second)
    assert.equal(
      (await runner.api('GET', '/api/latest/execution?limit=1')).status,
      200,
      'the own token stays',
    );

    // What the file keeps: the SHA-256 of a token, never the token (read once the runner is gone).
    const again = await runCli(['token', 'create', 'bob', '--data', data]);
    const bobToken = again.stdout.trim();
    await endServed(runner, 'SIGTERM');
    s = undefined;
    const files = fs.readdirSync(data).filter((f) => f.startsWith('flows.db'));
    const bytes = Buffer.concat(files.map((f) => fs.readFileSync(path.join(data, f))));
    assert.ok(!bytes.includes(bobToken), 'the token is nowhere in the database files');
    const store = new SqliteStore(path.join(data, 'flows.db'));
    try {
      const hash = crypto.createHash('sha256').update(bobToken).digest('hex');
      assert.equal((await store.findUserToken(hash))?.name, 'bob');
      assert.equal(await store.findUserToken(hash.replace(/^./, (c) => (c === '0' ? '1' : '0'))), undefined);
    } finally {
      await store.close();
    }
  });

  it('refuses a bad NAME, a second token for a user, and revoking one nobody has, naming NAME', async () => {
    const data = tempDir();
    const bad = await runCli(['token', 'create', 'ann smith', '--data', data]);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /NAME: the user's name 'ann smith' may hold only letters, digits/);
    const local = await runCli(['token', 'create', 'local', '--data', data]);
    assert.equal(local.status, 2);
    assert.match(local.stderr, /NAME: .*'local' is the runner's own token's user/);
    assert.equal((await runCli(['token', 'create', 'ann', '--data', data])).status, 0);
    const twice = await runCli(['token', 'create', 'ann', '--data', data]);
    assert.equal(twice.status, 1);
    assert.match(twice.stderr, /NAME: ann has a token already \(one per user\): revoke it first/);
    const unknown = await runCli(['token', 'revoke', 'bob', '--data', data]);
    assert.equal(unknown.status, 1);
    assert.match(unknown.stderr, /NAME: no user named "bob" has a token \(users with one: ann\)/);
    const none = await runCli(['token', 'revoke', '--data', data]);
    assert.equal(none.status, 2);
    assert.match(none.stderr, /flows token revoke needs exactly one NAME/);

    // The same refusals through a serving runner's REST API, named as its fields.
    s = await serveRunner(['--flows', FIXTURE_FLOWS, '--data', data]);
    const viaRunner = await runCli(['token', 'create', 'a/b', '--data', data]);
    assert.equal(viaRunner.status, 2, viaRunner.stderr);
    assert.match(viaRunner.stderr, /NAME: the user's name 'a\/b' may hold only/);
    const rest = await s.api('POST', '/api/latest/token', { name: 'x y' });
    assert.equal(rest.status, 400);
    assert.equal(rest.body.issues[0].path, 'name');
    const gone = await s.api('DELETE', '/api/latest/token/nobody');
    assert.equal(gone.status, 404);
    assert.match(gone.body.message, /^name: no user named "nobody"/);
  });
});
