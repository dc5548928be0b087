/** The runner as a separate process: `flows serve` killed and restarted, `flows run`, `flows list`. */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FIXTURE_FLOWS, RUNNER_JS, runCli, serveRunner, startTestRunner, tempDir } from './harness';

const serve = serveRunner;

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
      const second = spawnSync(process.execPath, [RUNNER_JS, 'serve', '--port', '0', '--data', data], {
        encoding: 'utf8',
      });
      assert.equal(second.status, 1);
      assert.match(
        second.stderr,
        new RegExp(`in use by another Flows runner \\(pid ${s.child.pid}, serving ${s.ready.url}\\)`),
      );
      await assert.rejects(startTestRunner({ dataDir: data }), /in use by another Flows runner/);
      // The database is the owner's alone (exclusive WAL): list goes through its API.
      const list = spawnSync(process.execPath, [RUNNER_JS, 'list', '--data', data], { encoding: 'utf8' });
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

  it('Ctrl-C during flows run stops the whole tree and prints it (the flows get no KeyboardInterrupt)', async () => {
    const r = await ctrlCDuringRun(tempDir('flows-ctrl-c-'), []);
    assertStoppedByCtrlC(r);
    assert.match(r.stdout, /message: cancelled from the terminal/);
  });

  it('says how to name another Python when it does not start: the flag in a terminal, not in an editor', () => {
    const run = (env: NodeJS.ProcessEnv) =>
      spawnSync(
        process.execPath,
        [
          RUNNER_JS,
          'run',
          path.join(FIXTURE_FLOWS, 'child-echo.py'),
          '--python',
          '/nonexistent/python3',
          '--data',
          tempDir(),
        ],
        { encoding: 'utf8', env: { ...process.env, ...env } },
      );
    const terminal = run({ FLOWS_FROM_EDITOR: '' });
    assert.equal(terminal.status, 1);
    assert.match(
      terminal.stderr,
      /cannot start Python \(\/nonexistent\/python3\): spawn \/nonexistent\/python3 ENOENT/,
    );
    assert.match(terminal.stderr, /--python PATH/);
    // VS Code starts the runner with FLOWS_FROM_EDITOR and offers Select Python Interpreter instead.
    const editor = run({ FLOWS_FROM_EDITOR: '1' });
    assert.match(editor.stderr, /cannot start Python/);
    assert.doesNotMatch(editor.stderr, /--python/);
  });

  it('flows run prints the tree and exits 0 only when the flow SUCCEEDED', () => {
    const data = tempDir();
    const ok = spawnSync(
      process.execPath,
      [RUNNER_JS, 'run', path.join(FIXTURE_FLOWS, 'parent-async.py'), '--data', data],
      { encoding: 'utf8' },
    );
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /✔ SUCCEEDED parent-async/);
    assert.equal((ok.stdout.match(/✔ SUCCEEDED child-echo/g) ?? []).length, 3);
    assert.match(ok.stdout, /child 2 running/);
    assert.match(ok.stdout, /message: all three done/);

    const bad = spawnSync(
      process.execPath,
      [RUNNER_JS, 'run', path.join(FIXTURE_FLOWS, 'parent-of-failing.py'), '--data', data],
      { encoding: 'utf8' },
    );
    assert.equal(bad.status, 1);
    assert.match(bad.stdout, /✖ FAILED parent-of-failing/);
    assert.match(bad.stdout, /ValueError: child failed: boom/);

    const input = spawnSync(
      process.execPath,
      [RUNNER_JS, 'run', path.join(FIXTURE_FLOWS, 'child-echo.py'), '--input', '{nope', '--data', data],
      { encoding: 'utf8' },
    );
    assert.equal(input.status, 2);
    assert.match(input.stderr, /--input is not valid JSON/);

    const list = spawnSync(process.execPath, [RUNNER_JS, 'list', '--data', data], { encoding: 'utf8' });
    assert.equal(list.status, 0, list.stderr);
    assert.match(list.stdout, /FAILED\s+run\s+parent-of-failing/);
    assert.match(list.stdout, /2 of 2 top-level executions/);
  });
});

const cli = runCli;

/** A flow whose child marks when it runs, then waits to be stopped. */
const WAITS_FOR_CTRL_C = `import time


def handler(system, this):
    this.flow('sleeper', wait=False)
    time.sleep(60)
`;
// The child makes no API call, so it has no I/O thread: a SIGINT reaching its process would
// interrupt its sleep at once (with that thread, the signal may land there and wait). It sets
// Python's own handler because a test run in the background inherits SIGINT ignored.
const SLEEPER = `import signal
import time


def handler(system, this):
    signal.signal(signal.SIGINT, signal.default_int_handler)
    open('started.marker', 'w').close()
    try:
        time.sleep(60)
    except KeyboardInterrupt:
        open('interrupted.marker', 'w').close()  # the terminal's Ctrl-C reached the flow
        raise
`;

/** Resolves once `file` exists (watching its folder; no polling). */
function fileAppears(file: string): Promise<void> {
  return new Promise((resolve) => {
    const watcher = fs.watch(path.dirname(file), () => check());
    const check = () => {
      if (!fs.existsSync(file)) return;
      watcher.close();
      resolve();
    };
    check();
  });
}

/**
 * `flows run` in a process group of its own, as a terminal's foreground job, and Ctrl-C (SIGINT
 * to the whole group, as the terminal sends it) once the flow runs.
 */
async function ctrlCDuringRun(flowsDir: string, args: string[]) {
  fs.writeFileSync(path.join(flowsDir, 'waits-for-ctrl-c.py'), WAITS_FOR_CTRL_C);
  fs.writeFileSync(path.join(flowsDir, 'sleeper.py'), SLEEPER);
  const marker = path.join(flowsDir, 'started.marker');
  fs.rmSync(marker, { force: true });
  fs.rmSync(path.join(flowsDir, 'interrupted.marker'), { force: true });
  const child = spawn(
    process.execPath,
    [RUNNER_JS, 'run', path.join(flowsDir, 'waits-for-ctrl-c.py'), ...args],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const closed = new Promise<number | null>((resolve) => child.once('close', resolve));
  await Promise.race([fileAppears(marker), closed]);
  process.kill(-child.pid!, 'SIGINT');
  const status = await closed;
  return { status, stdout, stderr, flowGotSigint: fs.existsSync(path.join(flowsDir, 'interrupted.marker')) };
}

/** What Ctrl-C during `flows run` must leave: the tree STOPPED (not a KeyboardInterrupt), exit 130. */
function assertStoppedByCtrlC(r: Awaited<ReturnType<typeof ctrlCDuringRun>>): void {
  assert.equal(r.status, 130, r.stderr);
  assert.equal(
    r.flowGotSigint,
    false,
    "the flow got a KeyboardInterrupt: its process is in the terminal's group",
  );
  assert.match(r.stderr, /cancelling the execution/);
  assert.match(r.stdout, /■ STOPPED waits-for-ctrl-c/);
  assert.match(r.stdout, /└─ ■ STOPPED sleeper/);
  assert.doesNotMatch(r.stdout, /KeyboardInterrupt/);
}

describe('runner: flows run on the serving runner of the same data folder', function () {
  let flows: string;
  let s: Awaited<ReturnType<typeof serve>>;

  before(async () => {
    flows = tempDir('flows-remote-');
    for (const f of ['parent-async', 'child-echo', 'parent-of-failing', 'child-fails']) {
      fs.copyFileSync(path.join(FIXTURE_FLOWS, `${f}.py`), path.join(flows, `${f}.py`));
    }
    fs.writeFileSync(
      path.join(flows, 'leaves-a-child.py'),
      "def handler(system, this):\n    this.flow('slow-child', run=False).run_async()\n    return this.success('left it running')\n",
    );
    // Slower than its parent, so that the tree is still open when the top execution ends.
    fs.writeFileSync(
      path.join(flows, 'slow-child.py'),
      "import time\n\n\ndef handler(system, this):\n    time.sleep(0.3)\n    this.log('slow child done')\n",
    );
    s = await serve(['--flows', flows]); // data: <flows>/.flows, the folder flows run picks too
  });

  after(async () => {
    const exited = new Promise((r) => s.child.once('exit', r));
    s.child.kill('SIGTERM');
    await exited;
  });

  it('runs the flow there and prints the tree; exit 0 on SUCCEEDED', async () => {
    const ok = await cli(['run', path.join(flows, 'parent-async.py'), '--python', '/no/such/python']);
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stderr, /--python is ignored: the flow runs on the runner at http:\/\/127\.0\.0\.1:\d+/);
    assert.match(ok.stdout, /✔ SUCCEEDED parent-async/);
    assert.equal((ok.stdout.match(/✔ SUCCEEDED child-echo/g) ?? []).length, 3);
    assert.match(ok.stdout, /child 2 running/);
    assert.match(ok.stdout, /message: all three done/);
    // Proof that it ran on the serving runner: its API has the tree.
    const short = /SUCCEEDED parent-async .* ([0-9a-f]{8})$/m.exec(ok.stdout)![1];
    const top = (await s.api('GET', '/api/latest/execution?parent_execution_id=none')).body.items.find(
      (r: { id: string }) => r.id.startsWith(short),
    );
    assert.equal(top?.status, 'SUCCEEDED');
    const tree = await s.api('GET', `/api/latest/execution?top_execution_id=${top.id}`);
    assert.equal(tree.body.total, 4);
  });

  it('Ctrl-C cancels the tree on the serving runner, which keeps serving', async () => {
    assertStoppedByCtrlC(await ctrlCDuringRun(flows, []));
    const top = (await s.api('GET', '/api/latest/execution?flow_name=waits-for-ctrl-c')).body.items[0];
    assert.equal(top.status, 'STOPPED');
    assert.equal(s.child.exitCode, null, 'flows serve is still running');
  });

  it('exits 1 when the flow FAILED', async () => {
    const bad = await cli(['run', path.join(flows, 'parent-of-failing.py'), '--try']);
    assert.equal(bad.status, 1, bad.stderr);
    assert.match(bad.stdout, /✖ FAILED parent-of-failing/);
    assert.match(bad.stdout, /ValueError: child failed: boom/);
    const top = (await s.api('GET', '/api/latest/execution?flow_name=parent-of-failing')).body.items[0];
    assert.deepEqual([top.status, top.is_productive], ['FAILED', false]);
  });

  it('waits for children that outlive their parent', async () => {
    const ok = await cli(['run', path.join(flows, 'leaves-a-child.py')]);
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /✔ SUCCEEDED leaves-a-child/);
    assert.match(ok.stdout, /└─ ✔ SUCCEEDED slow-child/);
    assert.match(ok.stdout, /slow child done/);
  });

  it('--json prints the document an embedded run prints', async () => {
    const args = ['run', path.join(flows, 'child-echo.py'), '--input', '{"n": 3}', '--json'];
    const remote = await cli(args);
    const embedded = await cli([...args, '--data', tempDir()]);
    assert.equal(remote.status, 0, remote.stderr);
    assert.equal(embedded.status, 0, embedded.stderr);
    // Equal but for ids and times (field order included: both are the engine's records).
    const neutral = (out: string) =>
      out
        .replace(/[0-9a-f]{8}-[0-9a-f-]{27}/g, 'ID')
        .replace(/\d{4}-\d\d-\d\dT[\d:.]+Z/g, 'TIME')
        .replace(/"seq": \d+/g, '"seq": N');
    assert.equal(neutral(remote.stdout), neutral(embedded.stdout));
  });

  it('refuses, naming both folders, a file or --flows the serving runner would resolve differently', async () => {
    const elsewhere = tempDir('flows-elsewhere-');
    fs.copyFileSync(path.join(FIXTURE_FLOWS, 'child-echo.py'), path.join(elsewhere, 'child-echo.py'));
    const data = path.join(flows, '.flows');
    const outside = await cli(['run', path.join(elsewhere, 'child-echo.py'), '--data', data]);
    assert.equal(outside.status, 1);
    assert.match(
      outside.stderr,
      new RegExp(`${elsewhere}/child-echo.py is not inside ${flows}, the flows folder`),
    );
    assert.match(outside.stderr, /stop that runner, or give this run its own data folder with --data DIR/);
    const otherFlows = await cli([
      'run',
      path.join(flows, 'child-echo.py'),
      '--flows',
      os.tmpdir(),
      '--data',
      data,
    ]);
    assert.equal(otherFlows.status, 1);
    assert.match(otherFlows.stderr, new RegExp(`--flows ${os.tmpdir()} is not ${flows}, the flows folder`));
  });
});
