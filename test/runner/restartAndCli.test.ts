/** The runner as a separate process: `flows serve` killed and restarted, `flows run`, `flows list`. */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { FIXTURE_FLOWS, startTestRunner, tempDir } from './harness';

const RUNNER = path.resolve(__dirname, '../../dist/runner.js');

async function serve(args: string[]) {
  const child = spawn(process.execPath, [RUNNER, 'serve', '--port', '0', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines = readline.createInterface({ input: child.stdout! });
  const ready = await new Promise<{ url: string; token_file: string }>((resolve, reject) => {
    lines.once('line', (l) => resolve(JSON.parse(l)));
    child.once('exit', (code) => reject(new Error(`flows serve exited with ${code}`)));
  });
  const token = fs.readFileSync(ready.token_file, 'utf8');
  const api = async (method: string, p: string, body?: unknown) => {
    const res = await fetch(`${ready.url}${p}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as any };
  };
  return { child, ready, token, api };
}

describe('runner: restart and CLI', function () {
  it('flows serve prints a ready line and writes its token to a 0600 file', async () => {
    const data = tempDir();
    const s = await serve(['--flows', FIXTURE_FLOWS, '--data', data]);
    try {
      assert.match(s.ready.url, /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.equal(fs.statSync(s.ready.token_file).mode & 0o777, 0o600);
      assert.ok(s.token.length >= 32);
      assert.equal((await s.api('GET', '/api/latest/execution')).status, 200);
    } finally {
      s.child.kill('SIGTERM');
    }
  });

  it('after a crash, QUEUED executions still run and RUNNING ones end FAILED ("runner restarted")', async () => {
    const data = tempDir();
    const gateFile = path.join(tempDir(), 'never');
    const s = await serve(['--flows', FIXTURE_FLOWS, '--data', data, '--concurrency', '1']);
    const gate = await s.api('POST', '/api/latest/execution', {
      flow_name: 'gate',
      input_value: { file: gateFile },
    });
    const queued = [];
    for (const n of [1, 2]) {
      queued.push(
        (await s.api('POST', '/api/latest/execution', { flow_name: 'child-echo', input_value: { n } })).body,
      );
    }
    assert.deepEqual(
      queued.map((q) => q.status),
      ['QUEUED', 'QUEUED'],
    );
    // Wait until the gate is really running: its first log line is in the store.
    for (;;) {
      const log = await s.api('GET', `/api/latest/execution/${gate.body.id}/log`);
      if (log.body.items.length) break;
      await new Promise((r) => setImmediate(r));
    }
    const exited = new Promise((r) => s.child.once('exit', r));
    s.child.kill('SIGKILL');
    await exited;

    const t = await startTestRunner({ dataDir: data });
    try {
      // From the engine, not the WebSocket: they may end before the test's socket subscribes.
      const ended = await Promise.all(queued.map((q) => t.runner.engine.waitForEnd(q.id)));
      assert.deepEqual(
        ended.map((r) => [r.status, r.output_value]),
        [
          ['SUCCEEDED', { n: 1, double: 2 }],
          ['SUCCEEDED', { n: 2, double: 4 }],
        ],
      );
      const g = await t.api('GET', `/api/latest/execution/${gate.body.id}`);
      assert.equal(g.body.status, 'FAILED');
      assert.equal(g.body.message, 'runner restarted while this execution was running');
      const all = await t.api('GET', '/api/latest/execution?limit=100');
      assert.equal(all.body.total, 3, 'nothing dropped, nothing duplicated');
    } finally {
      await t.stop();
    }
  });

  it('one runner per data folder: a second one is refused by name, flows list asks the owner', async () => {
    const data = tempDir();
    const s = await serve(['--flows', FIXTURE_FLOWS, '--data', data]);
    try {
      await s.api('POST', '/api/latest/execution', { flow_name: 'child-echo', input_value: { n: 1 } });
      const second = spawnSync(process.execPath, [RUNNER, 'serve', '--port', '0', '--data', data], {
        encoding: 'utf8',
      });
      assert.equal(second.status, 1);
      assert.match(
        second.stderr,
        new RegExp(`in use by another Flows runner \\(pid ${s.child.pid}, serving ${s.ready.url}\\)`),
      );
      await assert.rejects(startTestRunner({ dataDir: data }), /in use by another Flows runner/);
      // The database is the owner's alone (exclusive WAL): list goes through its API.
      const list = spawnSync(process.execPath, [RUNNER, 'list', '--data', data], { encoding: 'utf8' });
      assert.equal(list.status, 0, list.stderr);
      assert.match(list.stdout, /child-echo/);
      assert.match(list.stdout, /1 of 1 top-level executions/);
    } finally {
      const exited = new Promise((r) => s.child.once('exit', r));
      s.child.kill('SIGTERM');
      await exited;
    }
    // A stopped runner leaves the folder free.
    assert.ok(!fs.existsSync(path.join(data, 'runner.lock')));
    const t = await startTestRunner({ dataDir: data });
    await t.stop();
  });

  it('flows run prints the tree and exits 0 only when the flow SUCCEEDED', () => {
    const data = tempDir();
    const ok = spawnSync(
      process.execPath,
      [RUNNER, 'run', path.join(FIXTURE_FLOWS, 'parent-async.py'), '--data', data],
      { encoding: 'utf8' },
    );
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /✔ SUCCEEDED parent-async/);
    assert.equal((ok.stdout.match(/✔ SUCCEEDED child-echo/g) ?? []).length, 3);
    assert.match(ok.stdout, /child 2 running/);
    assert.match(ok.stdout, /message: all three done/);

    const bad = spawnSync(
      process.execPath,
      [RUNNER, 'run', path.join(FIXTURE_FLOWS, 'parent-of-failing.py'), '--data', data],
      { encoding: 'utf8' },
    );
    assert.equal(bad.status, 1);
    assert.match(bad.stdout, /✖ FAILED parent-of-failing/);
    assert.match(bad.stdout, /ValueError: child failed: boom/);

    const input = spawnSync(
      process.execPath,
      [RUNNER, 'run', path.join(FIXTURE_FLOWS, 'child-echo.py'), '--input', '{nope', '--data', data],
      { encoding: 'utf8' },
    );
    assert.equal(input.status, 2);
    assert.match(input.stderr, /--input is not valid JSON/);

    const list = spawnSync(process.execPath, [RUNNER, 'list', '--data', data], { encoding: 'utf8' });
    assert.equal(list.status, 0, list.stderr);
    assert.match(list.stdout, /FAILED\s+run\s+parent-of-failing/);
    assert.match(list.stdout, /2 of 2 top-level executions/);
  });
});
