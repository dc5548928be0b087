/**
 * Debugger benchmarks, all in one run:
 * - a CPU-bound flow's time plain, under our debugger with a breakpoint set but never hit,
 *   under a stock `bdb` breakpoint, and under debugpy (when some python3 can import it), each as
 *   a ratio to plain measured the same way (target for ours: ≤ 1.2×);
 * - step latency (DAP `next` → `stopped`) p50/p99 through the whole path: DAP client → stdio →
 *   dist/debugAdapter.js → WebSocket → runner (a separate `node dist/runner.js serve`) → worker
 *   (target p50 ≤ 5 ms).
 * The flow times itself (time.perf_counter around the work, best of K), so start-up costs and
 * the other processes' start-up work on a small machine are left out.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import readline from 'node:readline';
import { DebugClient } from '@vscode/debugadapter-testsupport';
import type { DebugProtocol } from '@vscode/debugprotocol';
import WebSocket from 'ws';
import { isEnded, ServerMessage, WS_PATH, type ExecutionRecord } from '../../protocol';
import { figure, ms, percentile, target } from './stats';

const ROOT = path.resolve(__dirname, '../..');
const ADAPTER = path.join(ROOT, 'dist/debugAdapter.js');
const RUNNER = path.join(ROOT, 'dist/runner.js');
const OUR_DEBUGGER = path.join(ROOT, 'dist/python/flows_worker/debugger.py');
const python = process.env.FLOWS_PYTHON ?? 'python3';
const N = Number(process.env.FLOWS_BENCH_N ?? 2_000_000);
/** Runs of each kind (the median is shown); each run times work(N) K times and keeps the best. */
const RUNS = 3;
const K = 5;
const STEPS = 300;

const CPU_FLOW = `import time


def work(n):
    total = 0
    for i in range(n):
        if i % 3 == 0:
            total += i
        else:
            total -= 1
    return total


def never_called():
    return 'breakpoint here'


def timed(n, k):
    best = None
    for _ in range(k):
        t0 = time.perf_counter()
        work(n)
        elapsed = time.perf_counter() - t0
        best = elapsed if best is None else min(best, elapsed)
    return best


def handler(system, this, inputs):
    return timed(inputs['n'], inputs['k'])
`;

const STEP_FLOW = `def handler(system, this):
    total = 0
    for i in range(10_000_000):
        total += i
        total -= 1
    return total
`;

/** Runs work(n) of the CPU flow outside the runner: plain, or under bdb with the same breakpoint. */
const DIRECT = `import bdb, importlib.util, sys, time
path, mode, n, k, line = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
spec = importlib.util.spec_from_file_location('cpu', path)
mod = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mod)
if mode == 'bdb':
    class Quiet(bdb.Bdb):
        def user_line(self, frame):
            self.set_continue()
    d = Quiet()
    err = d.set_break(d.canonic(path), line)
    assert err is None, err
    print(d.runcall(mod.timed, n, k), flush=True)
else:
    print(mod.timed(n, k), flush=True)
`;

const lineOf = (src: string, text: string) => src.split('\n').findIndex((l) => l.includes(text)) + 1;
const median = (xs: number[]) => percentile(xs, 50);
const secs = (s: number) => `${(s * 1000).toFixed(1)} ms`;

interface RunnerProcess {
  proc: ChildProcess;
  url: string;
  token: string;
}

async function startRunnerProcess(flowsDir: string): Promise<RunnerProcess> {
  const proc = spawn(
    process.execPath,
    [RUNNER, 'serve', '--port', '0', '--flows', flowsDir, '--data', path.join(flowsDir, '.data')],
    { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, FLOWS_PYTHON: python } },
  );
  const ready = await new Promise<{ url: string; token_file: string }>((resolve, reject) => {
    readline.createInterface({ input: proc.stdout! }).once('line', (l) => resolve(JSON.parse(l)));
    proc.once('exit', (code) => reject(new Error(`the runner exited (${code}) before it was ready`)));
  });
  return { proc, url: ready.url, token: fs.readFileSync(ready.token_file, 'utf8') };
}

/** Runs the CPU flow in the runner with no debugger (Try mode, no session); returns its time. */
async function plainInRunner(r: RunnerProcess): Promise<number> {
  const ws = new WebSocket(`${r.url.replace(/^http/, 'ws')}${WS_PATH}`, {
    headers: { authorization: `Bearer ${r.token}` },
  });
  await new Promise((resolve) => ws.once('open', resolve));
  const ended = new Map<string, ExecutionRecord>();
  const waiters = new Map<string, (rec: ExecutionRecord) => void>();
  ws.on('message', (data) => {
    const m = ServerMessage.parse(JSON.parse(data.toString()));
    if (m.type !== 'execution' || !isEnded(m.record.status)) return;
    ended.set(m.record.id, m.record);
    waiters.get(m.record.id)?.(m.record);
  });
  ws.send(JSON.stringify({ type: 'subscribe', topics: ['executions'] }));
  ws.send(JSON.stringify({ type: 'ping', id: 1 }));
  await new Promise((resolve) => ws.once('message', resolve));
  const res = await fetch(`${r.url}/api/latest/execution`, {
    method: 'POST',
    headers: { authorization: `Bearer ${r.token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ flow_name: 'cpu', input_value: { n: N, k: K }, is_productive: false }),
  });
  const { id } = (await res.json()) as { id: string };
  const rec = ended.get(id) ?? (await new Promise<ExecutionRecord>((resolve) => waiters.set(id, resolve)));
  ws.close();
  if (rec.status !== 'SUCCEEDED') throw new Error(`cpu flow ${rec.status}: ${rec.message}`);
  return rec.output_value as number;
}

/** A DAP client on the bundled adapter, with every event kept and awaitable. */
function adapterClient() {
  const dc = new DebugClient(process.execPath, ADAPTER, 'flow');
  dc.defaultTimeout = 120_000;
  return dc;
}

async function configured(
  dc: DebugClient,
  args: Record<string, unknown>,
  breakpoints: Record<string, number[]>,
): Promise<void> {
  const configure = dc.waitForEvent('initialized').then(async () => {
    for (const [file, lines] of Object.entries(breakpoints)) {
      await dc.setBreakpointsRequest({
        source: { path: file },
        breakpoints: lines.map((line) => ({ line })),
      });
    }
    await dc.configurationDoneRequest();
  });
  await dc.initializeRequest();
  await Promise.all([configure, dc.launchRequest(args)]);
}

/** Runs the CPU flow under our debugger through the adapter; returns its time. */
async function underOurDebugger(r: RunnerProcess, file: string, lines: number[]): Promise<number> {
  const dc = adapterClient();
  await dc.start();
  let report = '';
  dc.on('output', (e: DebugProtocol.OutputEvent) => (report += e.body.output));
  const exited = dc.waitForEvent('exited');
  await configured(
    dc,
    { program: file, input: { n: N, k: K }, runnerUrl: r.url, runnerToken: r.token },
    { [file]: lines },
  );
  const code = ((await exited) as DebugProtocol.ExitedEvent).body.exitCode;
  await dc.stop();
  const m = /output_value: ([-\d.e]+)/.exec(report);
  if (code !== 0 || !m) throw new Error(`the flow did not succeed under the debugger:\n${report}`);
  return Number(m[1]);
}

function direct(py: string, script: string, file: string, mode: string, line: number, k = K): number {
  const r = spawnSync(py, [script, file, mode, String(N), String(k), String(line)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${py} ${mode}: ${r.stderr.trim().split('\n').pop()}`);
  return Number(r.stdout.trim());
}

/** The first python3 that can import debugpy (Debian's python3-debugpy is for /usr/bin/python3). */
function findDebugpy(): { py?: string; why: string } {
  const tried: string[] = [];
  for (const py of [...new Set([python, 'python3', '/usr/bin/python3'])]) {
    const r = spawnSync(
      py,
      ['-c', 'import debugpy, sys; print(debugpy.__version__, sys.version.split()[0])'],
      {
        encoding: 'utf8',
      },
    );
    if (r.status === 0) return { py, why: `debugpy ${r.stdout.trim().replace(' ', ' on Python ')} (${py})` };
    tried.push(`${py}: ${(r.stderr || r.error?.message || '').trim().split('\n').pop()}`);
  }
  return { why: `debugpy is not importable (${tried.join('; ')}); install Debian's python3-debugpy` };
}

const freePort = () =>
  new Promise<number>((resolve) => {
    const srv = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });

/** A DebugClient on a socket we connected ourselves (DebugClient.start(port) does not retry). */
class SocketDebugClient extends DebugClient {
  over(socket: net.Socket): void {
    this.connect(socket, socket);
  }
}

/** work(n) under debugpy with the same breakpoint set, over DAP on debugpy's own adapter. */
async function underDebugpy(py: string, script: string, file: string, line: number): Promise<number> {
  const port = await freePort();
  const proc = spawn(
    py,
    [
      '-m',
      'debugpy',
      '--listen',
      `127.0.0.1:${port}`,
      '--wait-for-client',
      script,
      file,
      'plain',
      String(N),
      String(K),
      '0',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  let err = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (err += d));
  const exit = new Promise<number | null>((resolve) => proc.once('exit', resolve));
  let socket: net.Socket | undefined;
  try {
    // debugpy's adapter listens a moment after the process starts: retry refused connections.
    for (let attempt = 0; !socket; attempt++) {
      socket = await new Promise<net.Socket | undefined>((resolve) => {
        const s = net.connect(port, '127.0.0.1', () => resolve(s));
        s.once('error', () => resolve(undefined));
      });
      if (!socket) {
        if (attempt > 200 || proc.exitCode !== null) throw new Error(`no DAP server on port ${port}: ${err}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    const dc = new SocketDebugClient('', '', 'python');
    dc.over(socket);
    await dc.initializeRequest({
      adapterID: 'python',
      linesStartAt1: true,
      columnsStartAt1: true,
      pathFormat: 'path',
    });
    const configure = dc.waitForEvent('initialized').then(async () => {
      await dc.setBreakpointsRequest({ source: { path: file }, breakpoints: [{ line }] });
      await dc.configurationDoneRequest();
    });
    await Promise.all([
      configure,
      dc.attachRequest({ justMyCode: true } as DebugProtocol.AttachRequestArguments),
    ]);
    const code = await exit;
    if (code !== 0) throw new Error(`exit ${code}: ${err.trim().split('\n').pop()}`);
    return Number(out.trim().split('\n').pop());
  } finally {
    socket?.destroy();
    if (proc.exitCode === null) proc.kill('SIGKILL');
  }
}

async function stepLatency(r: RunnerProcess, file: string, line: number) {
  const dc = adapterClient();
  await dc.start();
  const stops: ((e: DebugProtocol.StoppedEvent) => void)[] = [];
  dc.on('stopped', (e: DebugProtocol.StoppedEvent) => stops.shift()?.(e));
  const nextStop = () => new Promise<DebugProtocol.StoppedEvent>((resolve) => stops.push(resolve));
  const first = nextStop();
  await configured(dc, { program: file, runnerUrl: r.url, runnerToken: r.token }, { [file]: [line] });
  const threadId = (await first).body.threadId!;
  const toStopped: number[] = [];
  const toFrames: number[] = [];
  for (let i = 0; i < STEPS + 20; i++) {
    const stopped = nextStop();
    const t0 = performance.now();
    await dc.nextRequest({ threadId });
    await stopped;
    const t1 = performance.now();
    await dc.stackTraceRequest({ threadId, startFrame: 0, levels: 20 });
    const t2 = performance.now();
    if (i >= 20) {
      toStopped.push(t1 - t0);
      toFrames.push(t2 - t0);
    }
  }
  const ended = dc.waitForEvent('terminated');
  await dc.terminateRequest();
  await ended;
  await dc.stop();
  return { toStopped, toFrames };
}

async function main() {
  const flowsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'flows-debug-bench-'));
  const cpu = path.join(flowsDir, 'cpu.py');
  const step = path.join(flowsDir, 'step.py');
  const directScript = path.join(flowsDir, 'direct_bench.py');
  fs.writeFileSync(cpu, CPU_FLOW);
  fs.writeFileSync(step, STEP_FLOW);
  fs.writeFileSync(directScript, DIRECT);
  const bpLine = lineOf(CPU_FLOW, "return 'breakpoint here'");
  const version = spawnSync(python, ['-c', 'import sys; print(sys.version.split()[0])'], {
    encoding: 'utf8',
  });
  const runner = await startRunnerProcess(flowsDir);
  const ours = fs.existsSync(OUR_DEBUGGER);
  try {
    process.stdout.write(
      `debugger (Python ${version.stdout.trim()}, ${os.cpus().length} cores; CPU flow: work(${N}), best of ${K} in a run, median of ${RUNS} runs)\n`,
    );
    // Plain in the runner is the baseline for our debugger; plain in a bare python3 the
    // baseline for bdb and debugpy (each ratio compares like with like).
    const plain: number[] = [];
    const oursHit: number[] = [];
    const oursNone: number[] = [];
    const plainDirect: number[] = [];
    const bdbTimes: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      plain.push(await plainInRunner(runner));
      plainDirect.push(direct(python, directScript, cpu, 'plain', bpLine));
      if (ours) {
        oursNone.push(await underOurDebugger(runner, cpu, []));
        oursHit.push(await underOurDebugger(runner, cpu, [bpLine]));
      }
    }
    // bdb is some 40× slower: one timing per run is plenty.
    for (let i = 0; i < 3; i++) bdbTimes.push(direct(python, directScript, cpu, 'bdb', bpLine, 1));
    const base = median(plain);
    const baseDirect = median(plainDirect);
    figure('plain (runner, Try, no debug session)', secs(base), '1.00×');
    if (ours) {
      figure(
        'our debugger, session with no breakpoints',
        secs(median(oursNone)),
        `${(median(oursNone) / base).toFixed(2)}×`,
      );
      figure(
        'our debugger, breakpoint set, never hit',
        secs(median(oursHit)),
        `${(median(oursHit) / base).toFixed(2)}×`,
      );
    } else {
      figure('our debugger', 'n/a', `${path.relative(ROOT, OUR_DEBUGGER)} is missing`);
    }
    figure('plain (bare python3)', secs(baseDirect), '1.00× (baseline for bdb)');
    figure(
      'stock bdb, breakpoint set, never hit',
      secs(median(bdbTimes)),
      `${(median(bdbTimes) / baseDirect).toFixed(2)}×`,
    );
    const dp = findDebugpy();
    if (dp.py) {
      try {
        const dpPlain: number[] = [];
        const dpTimes: number[] = [];
        for (let i = 0; i < 3; i++) {
          dpPlain.push(direct(dp.py, directScript, cpu, 'plain', bpLine));
          dpTimes.push(await underDebugpy(dp.py, directScript, cpu, bpLine));
        }
        figure(`plain (${dp.py})`, secs(median(dpPlain)), '1.00× (baseline for debugpy)');
        figure(
          'debugpy, breakpoint set, never hit',
          secs(median(dpTimes)),
          `${(median(dpTimes) / median(dpPlain)).toFixed(2)}×  ${dp.why}`,
        );
      } catch (err) {
        figure('debugpy', 'n/a', `could not run: ${(err as Error).message}`);
      }
    } else {
      figure('debugpy', 'n/a', dp.why);
    }
    if (ours) {
      const stepLine = lineOf(STEP_FLOW, 'total += i');
      const { toStopped, toFrames } = await stepLatency(runner, step, stepLine);
      figure(
        `step latency next → stopped p50 / p99 (${STEPS})`,
        `${ms(percentile(toStopped, 50))} / ${ms(percentile(toStopped, 99))}`,
      );
      figure(
        'next → stopped → stackTrace answered p50 / p99',
        `${ms(percentile(toFrames, 50))} / ${ms(percentile(toFrames, 99))}`,
      );
      target('breakpoint set but not hit ≤ 1.2× plain', median(oursHit) / base <= 1.2);
      target('step latency p50 ≤ 5 ms', percentile(toStopped, 50) <= 5);
    } else {
      figure('step latency', 'n/a', 'our debugger is missing');
    }
  } finally {
    runner.proc.kill('SIGTERM');
    await new Promise((resolve) => runner.proc.once('exit', resolve));
    fs.rmSync(flowsDir, { recursive: true, force: true });
  }
}

main().then(
  // Leftover handles (a debugger's socket) must not keep the benchmark from ending.
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
