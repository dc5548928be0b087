/**
 * An execution's processes live and die with it: each worker leads a process group, and the end
 * of the execution (normal, crash or cancel) kills the whole group. The end of the worker ends
 * the execution, whatever its children hold; and a flow's own fds 1/2 are not the worker's.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { flowsFolder, startTestRunner, type TestRunner } from '../runner/harness';

const FLOWS: Record<string, string> = {
  'popen-and-return.py': `
import subprocess


def handler(system, this):
    p = subprocess.Popen(['sleep', '300'])
    return {'pid': p.pid}
`,
  'fork-and-return.py': `
import os
import time


def handler(system, this):
    pid = os.fork()
    if pid == 0:
        time.sleep(300)
        os._exit(0)
    return {'pid': pid}
`,
  'fork-and-crash.py': `
import os
import signal
import time


def handler(system, this):
    pid = os.fork()
    if pid == 0:
        time.sleep(300)
        os._exit(0)
    print(f'CHILD {pid}', flush=True)
    os.kill(os.getpid(), signal.SIGKILL)
`,
  'escape-and-exit.py': `
import os
import time


def handler(system, this):
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.setsid()  # leaves the execution's process group: only its socket is left to close
        os.write(w, b'x')
        time.sleep(300)
        os._exit(0)
    os.read(r, 1)  # it has left the group
    print(f'CHILD {pid}', flush=True)
    os._exit(1)
`,
  'popen-and-wait.py': `
import subprocess
import time


def handler(system, this):
    p = subprocess.Popen(['sleep', '300'])
    print(f'CHILD {p.pid}', flush=True)
    time.sleep(300)
`,
  'closed-fds.py': `
import os
import subprocess


def handler(system, this):
    os.close(1)
    os.close(2)
    subprocess.run(['echo', 'from a subprocess'])
    child = this.flow('closed-fds-child', inputs={'n': 1})
    print('after the child')
    return {'child': child.get('output_value')}
`,
  'closed-fds-child.py': `
def handler(system, this, inputs):
    return inputs['n'] + 1
`,
};

/** Alive and not a zombie (a killed process whose parent has not reaped it yet is gone). */
function running(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** Resolves once `pid` is gone; fails after `ms`. Polls /proc: there is no event for it. */
async function gone(pid: number, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (running(pid)) {
    if (Date.now() > deadline) {
      process.kill(pid, 'SIGKILL');
      assert.fail(`process ${pid} still runs ${ms} ms after its execution ended`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function childPid(t: TestRunner, executionId: string): Promise<number> {
  const m = await t.waitFor(
    (m) => m.type === 'log' && m.line.execution_id === executionId && m.line.text.startsWith('CHILD '),
    'the CHILD line',
  );
  return Number((m as { line: { text: string } }).line.text.slice(6));
}

const posix = process.platform !== 'win32';

(posix ? describe : describe.skip)('reliability: an execution’s processes', function () {
  this.timeout(60_000);
  let t: TestRunner;
  before(async () => {
    t = await startTestRunner({ flowsDir: flowsFolder(FLOWS, 'flows-processes-') });
  });
  after(() => t?.stop());

  it('kills a subprocess the flow left running when it returns', async () => {
    const rec = await t.run({ flow_name: 'popen-and-return' });
    assert.equal(rec.status, 'SUCCEEDED', rec.message ?? '');
    await gone((rec.output_value as { pid: number }).pid);
  });

  it('ends a flow that returned although a forked child holds its connection, and kills the child', async () => {
    const rec = await t.run({ flow_name: 'fork-and-return' });
    assert.equal(rec.status, 'SUCCEEDED', rec.message ?? '');
    await gone((rec.output_value as { pid: number }).pid);
  });

  it('ends a flow that crashed after forking FAILED at once, and kills the child', async () => {
    const created = await t.api('POST', '/api/latest/execution', { flow_name: 'fork-and-crash' });
    const pid = await childPid(t, created.body.id);
    const rec = await t.waitForStatus(created.body.id, 'ENDED');
    assert.equal(rec.status, 'FAILED');
    assert.match(rec.message ?? '', /killed by signal SIGKILL/);
    await gone(pid);
  });

  it('ends an execution when its worker exits, though an escaped process keeps its connection open', async () => {
    const created = await t.api('POST', '/api/latest/execution', { flow_name: 'escape-and-exit' });
    const pid = await childPid(t, created.body.id);
    try {
      const rec = await t.waitForStatus(created.body.id, 'ENDED');
      assert.equal(rec.status, 'FAILED');
      assert.match(rec.message ?? '', /exited with code 1/);
      assert.ok(running(pid), 'the escaped process lives on (else this proves nothing)');
    } finally {
      process.kill(pid, 'SIGKILL'); // it left the group on purpose: nobody else will
    }
  });

  it('kills the subprocesses of a cancelled execution', async () => {
    const created = await t.api('POST', '/api/latest/execution', { flow_name: 'popen-and-wait' });
    const pid = await childPid(t, created.body.id);
    assert.ok(running(pid));
    const cancel = await t.api('POST', `/api/latest/execution/${created.body.id}/cancel`);
    assert.ok(cancel.status < 300, JSON.stringify(cancel.body));
    const rec = await t.waitForStatus(created.body.id, 'ENDED');
    assert.equal(rec.status, 'STOPPED');
    await gone(pid);
  });

  it('runs a flow that closed its fds 1 and 2, with subprocesses and children, to SUCCEEDED', async () => {
    const rec = await t.run({ flow_name: 'closed-fds' });
    assert.equal(rec.status, 'SUCCEEDED', rec.message ?? '');
    assert.deepEqual(rec.output_value, { child: 2 });
    const log = await t.api('GET', `/api/latest/execution/${rec.id}/log`);
    const text = JSON.stringify(log.body);
    assert.match(text, /from a subprocess/);
    assert.match(text, /after the child/);
  });
});

(posix ? describe : describe.skip)('reliability: memory and CPU-time limits of an execution', function () {
  this.timeout(60_000);
  let t: TestRunner;
  before(async () => {
    t = await startTestRunner({
      flowsDir: flowsFolder(
        {
          'hog-memory.py': `
def handler(system, this):
    return len(bytearray(400 * 1024 * 1024))
`,
          'hog-cpu.py': `
def handler(system, this):
    while True:
        pass
`,
          'modest.py': `
def handler(system, this):
    return len(bytearray(10 * 1024 * 1024))
`,
        },
        'flows-limits-',
      ),
      limits: { max_memory_mb: 300, max_cpu_seconds: 1 },
    });
  });
  after(() => t?.stop());

  it('fails an execution over --max-memory-mb with a MemoryError that names the limit', async () => {
    const rec = await t.run({ flow_name: 'hog-memory' });
    assert.equal(rec.status, 'FAILED');
    assert.match(rec.message ?? '', /MemoryError: over the execution's memory limit of 300 MB/);
  });

  it('ends an execution over --max-cpu-seconds FAILED, saying so', async () => {
    const rec = await t.run({ flow_name: 'hog-cpu' });
    assert.equal(rec.status, 'FAILED');
    assert.match(rec.message ?? '', /used more than its 1 s of CPU time/);
  });

  it('runs an execution within the limits', async () => {
    const rec = await t.run({ flow_name: 'modest' });
    assert.equal(rec.status, 'SUCCEEDED', rec.message ?? '');
    assert.equal(rec.output_value, 10 * 1024 * 1024);
  });
});
