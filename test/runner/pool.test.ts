/**
 * The pool of warm worker processes (issue 15): executions reuse a process, yet none sees what
 * the one before left behind; a worker that cannot be restored is retired; cancel, kill -9 and
 * the opt-outs work as with a fork per execution.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { CreateExecutionBody, type ExecutionRecord } from '../../protocol';
import { startRunner, type Runner, type RunnerOptions } from '../../runner/src/runner';
import { flowsFolder, isAlive, tempDir } from './harness';

const FLOWS: Record<string, string> = {
  'counter.py': `
import os
counter = 0

def handler(system, this):
    global counter
    counter += 1
    return {"pid": os.getpid(), "counter": counter}
`,
  'helper.py': `
count = 0
`,
  'uses-helper.py': `
import os
import helper

def handler(system, this):
    helper.count += 1
    return {"pid": os.getpid(), "count": helper.count}
`,
  'messy.py': `
import decimal, os, signal, sys

def handler(system, this):
    decimal.getcontext().prec = 3
    os.chdir("/")
    os.environ["FLOWS_POOL_LEAK"] = "leaked"
    del os.environ["HOME"]
    sys.path.append("/nowhere")
    signal.signal(signal.SIGTERM, lambda *a: None)
    os.umask(0o077)
    return {"pid": os.getpid()}
`,
  'look.py': `
import decimal, os, signal, sys

def handler(system, this):
    return {
        "decimal_prec": decimal.getcontext().prec,
        "pid": os.getpid(),
        "cwd": os.getcwd(),
        "leak": os.environ.get("FLOWS_POOL_LEAK"),
        "home": "HOME" in os.environ,
        "nowhere": "/nowhere" in sys.path,
        "sigterm_default": signal.getsignal(signal.SIGTERM) == signal.SIG_DFL,
        "flow_modules": sorted(m for m in sys.modules if m == "helper"),
    }
`,
  'leaves-thread.py': `
import os, threading, time

def handler(system, this):
    threading.Thread(target=time.sleep, args=(30,)).start()
    return {"pid": os.getpid()}
`,
  'starts-process.py': `
import os, subprocess

def handler(system, this):
    subprocess.run(["true"])
    return {"pid": os.getpid()}
`,
  'isolated.py': `
# flows: isolated
import os

def handler(system, this):
    return {"pid": os.getpid()}
`,
  'sleeper.py': `
import os, time

def handler(system, this, inputs):
    this.log("sleeping")
    time.sleep(inputs.get("seconds", 30))
    return {"pid": os.getpid()}
`,
};

interface PoolRunner {
  runner: Runner;
  run(flow: string, input?: unknown): Promise<ExecutionRecord>;
  create(flow: string, input?: unknown): ExecutionRecord;
  pidOf(rec: ExecutionRecord): number;
  logs: string[];
  stop(): Promise<void>;
}

async function startPoolRunner(flowsDir: string, opts: Partial<RunnerOptions> = {}): Promise<PoolRunner> {
  const logs: string[] = [];
  const runner = await startRunner({
    flowsDir,
    dataDir: tempDir(),
    concurrency: 1,
    log: (m) => logs.push(m),
    ...opts,
  });
  const create = (flow: string, input?: unknown) =>
    runner.engine.createFromApi(CreateExecutionBody.parse({ flow_name: flow, input_value: input }));
  return {
    runner,
    logs,
    create,
    async run(flow, input) {
      const rec = await runner.engine.waitForEnd(create(flow, input).id);
      assert.equal(rec.status, 'SUCCEEDED', `${flow}: ${rec.message}\n${logs.join('\n')}`);
      return rec;
    },
    pidOf: (rec) => (rec.output_value as { pid: number }).pid,
    stop: () => runner.stop(),
  };
}

const workersOf = (r: Runner) => r.engine.opts.workers;

/** Resolves once `cond` holds, checked after each event-loop turn (no fixed sleeps). */
async function until(cond: () => boolean, what: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('runner: the pool of warm workers', function () {
  this.timeout(60_000);
  let flowsDir: string;
  let t: PoolRunner;

  before(async () => {
    flowsDir = flowsFolder(FLOWS, 'flows-pool-');
    t = await startPoolRunner(flowsDir);
  });
  after(async () => {
    await t?.stop();
    fs.rmSync(flowsDir, { recursive: true, force: true });
  });

  it('runs executions one after another in the same warm process', async () => {
    const a = await t.run('counter');
    const b = await t.run('counter');
    assert.equal(t.pidOf(a), t.pidOf(b), 'the same pooled worker ran both');
    assert.deepEqual(workersOf(t.runner).poolStats().pids, [t.pidOf(a)]);
  });

  it("does not show a flow's module globals to the next execution of it", async () => {
    const a = await t.run('counter');
    const b = await t.run('counter');
    assert.equal(t.pidOf(a), t.pidOf(b));
    assert.equal((a.output_value as { counter: number }).counter, 1);
    assert.equal((b.output_value as { counter: number }).counter, 1);
  });

  it('forgets modules imported from the flows folder', async () => {
    const a = await t.run('uses-helper');
    const b = await t.run('uses-helper');
    assert.equal(t.pidOf(a), t.pidOf(b));
    assert.equal((b.output_value as { count: number }).count, 1);
    const look = (await t.run('look')).output_value as { flow_modules: string[] };
    assert.deepEqual(look.flow_modules, []);
  });

  it('restores cwd, environment, sys.path, signal handlers and context variables after an execution', async () => {
    const messy = await t.run('messy');
    const look = await t.run('look');
    assert.equal(t.pidOf(messy), t.pidOf(look), 'the worker was reused');
    assert.deepEqual(look.output_value, {
      pid: t.pidOf(look),
      cwd: fs.realpathSync(flowsDir),
      leak: null,
      home: 'HOME' in process.env,
      nowhere: false,
      sigterm_default: true,
      flow_modules: [],
      decimal_prec: 28,
    });
  });

  it('retires a worker whose flow left a thread running', async () => {
    const before = await t.run('counter');
    const threaded = await t.run('leaves-thread');
    assert.equal(t.pidOf(threaded), t.pidOf(before));
    await until(() => !isAlive(t.pidOf(threaded)), 'the worker to be retired');
    const after = await t.run('counter');
    assert.notEqual(t.pidOf(after), t.pidOf(threaded));
    assert.ok(
      t.logs.some((l) => /retires: its flow left 1 thread\(s\) running/.test(l)),
      t.logs.join('\n'),
    );
  });

  it('retires a worker whose flow started a process', async () => {
    const started = await t.run('starts-process');
    await until(() => !isAlive(t.pidOf(started)), 'the worker to be retired');
    const after = await t.run('counter');
    assert.notEqual(t.pidOf(after), t.pidOf(started));
  });

  it('runs a flow marked `# flows: isolated` in a fresh process, leaving the pool alone', async () => {
    const pooled = await t.run('counter');
    const isolated = await t.run('isolated');
    const again = await t.run('counter');
    assert.notEqual(t.pidOf(isolated), t.pidOf(pooled), 'a process of its own');
    assert.equal(t.pidOf(again), t.pidOf(pooled), 'the pooled worker is still there');
    await until(() => !isAlive(t.pidOf(isolated)), 'the isolated process to end');
  });

  it("runs an execution created with isolation 'process' in a fresh process", async () => {
    const pooled = await t.run('counter');
    const created = t.runner.engine.create({ type: 'FLOW', flow_name: 'counter', isolation: 'process' });
    const isolated = await t.runner.engine.waitForEnd(created.id);
    assert.equal(isolated.status, 'SUCCEEDED');
    assert.notEqual(t.pidOf(isolated), t.pidOf(pooled));
    assert.equal(t.pidOf(await t.run('counter')), t.pidOf(pooled));
  });

  it('turns kill -9 of a pooled worker into FAILED, and the pool refills', async () => {
    const created = t.create('sleeper', { seconds: 30 });
    await until(() => workersOf(t.runner).pid(created.id) !== undefined, 'the sleeper to be running');
    const pid = workersOf(t.runner).pid(created.id)!;
    assert.ok(workersOf(t.runner).poolStats().pids.includes(pid), 'it runs in a pooled worker');
    process.kill(pid, 'SIGKILL');
    const rec = await t.runner.engine.waitForEnd(created.id);
    assert.equal(rec.status, 'FAILED');
    assert.equal(rec.message, 'worker process was killed by signal SIGKILL');
    await until(() => workersOf(t.runner).poolStats().idle === 1, 'the pool to refill');
    const next = await t.run('counter');
    assert.notEqual(t.pidOf(next), pid);
    assert.deepEqual(workersOf(t.runner).poolStats().pids, [t.pidOf(next)]);
  });
});

describe('runner: the pool under load and its settings', function () {
  this.timeout(60_000);
  let flowsDir: string;

  before(() => {
    flowsDir = flowsFolder(FLOWS, 'flows-pool-');
  });
  after(() => fs.rmSync(flowsDir, { recursive: true, force: true }));

  it('cancelling one execution of a busy pool kills only its worker; the others run on', async () => {
    const t = await startPoolRunner(flowsDir, { concurrency: 3 });
    try {
      await until(() => workersOf(t.runner).poolStats().idle === 3, 'a warm pool of 3');
      const recs = [0, 1, 2].map(() => t.create('sleeper', { seconds: 1.5 }));
      await until(() => recs.every((r) => workersOf(t.runner).pid(r.id) !== undefined), 'all three to run');
      const pids = recs.map((r) => workersOf(t.runner).pid(r.id)!);
      assert.equal(new Set(pids).size, 3);
      const cancelled = await t.runner.engine.cancel(recs[0].id);
      assert.equal(cancelled.status, 'STOPPED');
      const [, b, c] = await Promise.all(recs.map((r) => t.runner.engine.waitForEnd(r.id)));
      assert.equal(b.status, 'SUCCEEDED');
      assert.equal(c.status, 'SUCCEEDED');
      assert.deepEqual([t.pidOf(b), t.pidOf(c)], [pids[1], pids[2]], 'they ran on in their workers');
      await until(() => !isAlive(pids[0]), 'the cancelled worker to be gone');
      await until(() => workersOf(t.runner).poolStats().idle === 3, 'the pool to refill');
    } finally {
      await t.stop();
    }
  });

  it("isolation 'process' runs every execution in a fresh process", async () => {
    const t = await startPoolRunner(flowsDir, { isolation: 'process' });
    try {
      const a = await t.run('counter');
      const b = await t.run('counter');
      assert.notEqual(t.pidOf(a), t.pidOf(b));
      assert.equal(workersOf(t.runner).poolStats().workers, 0);
    } finally {
      await t.stop();
    }
  });

  it('replaces a worker after workerMaxExecutions executions', async () => {
    const t = await startPoolRunner(flowsDir, { workerMaxExecutions: 2 });
    try {
      const [a, b, c] = [await t.run('counter'), await t.run('counter'), await t.run('counter')];
      assert.equal(t.pidOf(a), t.pidOf(b));
      assert.notEqual(t.pidOf(c), t.pidOf(b));
    } finally {
      await t.stop();
    }
  });

  it('replaces a worker above the memory ceiling', async () => {
    const t = await startPoolRunner(flowsDir, { workerMaxRssMb: 1 });
    try {
      const a = await t.run('counter');
      const b = await t.run('counter');
      assert.notEqual(t.pidOf(a), t.pidOf(b));
      assert.ok(
        t.logs.some((l) => /retires: it uses \d+ MB \(more than 1 MB\)/.test(l)),
        t.logs.join('\n'),
      );
    } finally {
      await t.stop();
    }
  });

  it('stop() leaves no pooled worker alive', async () => {
    const t = await startPoolRunner(flowsDir, { concurrency: 2 });
    await until(() => workersOf(t.runner).poolStats().idle === 2, 'a warm pool of 2');
    const pids = workersOf(t.runner).poolStats().pids;
    await t.stop();
    await until(() => pids.every((p) => !isAlive(p)), 'the pooled workers to end');
  });
});
