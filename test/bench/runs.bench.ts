/**
 * Runs API benchmark: one async request of 100,000 inputs — time until the answer (every child
 * row persisted by then), and end-to-end throughput of those 100,000 trivial executions — beside
 * the floor measured in the same run: plain Python calling the same handler 100,000 times in one
 * process. A WebSocket client subscribed to executions (as the VS Code views are) listens along.
 * Measured twice in one run: with a fork per execution (isolation 'process') and with the warm
 * pool, printed side by side with their ratio. FLOWS_BENCH_RUN_INPUTS sets the number of inputs.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import { WS_PATH } from '../../protocol';
import { startRunner } from '../../runner/src/runner';
import { figure, target } from './stats';

const python = process.env.FLOWS_PYTHON ?? 'python3';
const N = Number(process.env.FLOWS_BENCH_RUN_INPUTS ?? 100_000);
/**
 * The fork-per-execution baseline runs fewer inputs: at its ~50/s on this kind of machine,
 * 100,000 would take over half an hour. A rate is a rate; the figures say how many each ran.
 */
const FORK_N = Math.min(N, Number(process.env.FLOWS_BENCH_RUN_FORK_INPUTS ?? 3_000));
const CONCURRENCY = 8;

/** The floor: the handler called N times in one warm Python process, nothing else. */
function pythonFloor(flowFile: string): number {
  const script = `
import importlib.util, time
spec = importlib.util.spec_from_file_location('trivial', ${JSON.stringify(flowFile)})
mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
t0 = time.perf_counter()
for i in range(${N}):
    mod.handler(None, None, {'n': i})
print((time.perf_counter() - t0) * 1000)
`;
  const r = spawnSync(python, ['-c', script], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  return Number(r.stdout.trim());
}

interface Figures {
  /** Inputs of the run. */
  n: number;
  acceptMs: number;
  status: string;
  persistedAtAnswer: number;
  totalMs: number;
  perSecond: number;
  ended: { status: string; message: string | null };
  succeeded: number;
  wsMessages: number;
  rssMb: number;
  failures: Array<{ input_value: unknown; status: string; message: string | null }>;
  pythonVersion: string;
}

/** One async run of N inputs on a runner whose workers are pooled, or forked per execution. */
async function measure(flowsDir: string, isolation: 'pool' | 'process', n: number): Promise<Figures> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'flows-bench-runs-data-'));
  const runner = await startRunner({
    flowsDir,
    dataDir,
    concurrency: CONCURRENCY,
    isolation,
    http: { port: 0 },
    log: () => undefined,
  });
  const ws = new WebSocket(`ws://127.0.0.1:${runner.port}${WS_PATH}`, {
    headers: { authorization: `Bearer ${runner.token}` },
  });
  await new Promise((r) => ws.once('open', r));
  let wsMessages = 0;
  ws.on('message', () => wsMessages++);
  ws.send(JSON.stringify({ type: 'subscribe', topics: ['executions'] }));

  const body = JSON.stringify({ inputs: Array.from({ length: n }, (_, i) => ({ n: i })) });
  const t0 = performance.now();
  const res = await fetch(`${runner.url}/v1/actions/trivial/run/async`, {
    method: 'POST',
    headers: { authorization: `Bearer ${runner.token}`, 'content-type': 'application/json' },
    body,
  });
  const run = (await res.json()) as { uid: string; status: string };
  const acceptMs = performance.now() - t0;
  if (res.status !== 202) throw new Error(`async run refused: ${res.status} ${JSON.stringify(run)}`);
  // The route answers after the store flushed the children; count them as they are now.
  const atAnswer = await runner.engine.store.countChildren(run.uid);
  const persistedAtAnswer = Object.values(atAnswer).reduce((s, n) => s + (n ?? 0), 0);

  const ended = await runner.engine.waitForEnd(run.uid);
  const totalMs = performance.now() - t0;
  await runner.engine.store.flush();
  const counts = await runner.engine.store.countChildren(run.uid);
  const failures = await runner.engine.store.listChildren(run.uid, ['FAILED', 'INVALID', 'STOPPED'], 3);
  const rssMb = process.memoryUsage().rss / 1024 / 1024;
  ws.close();
  await runner.stop();
  fs.rmSync(dataDir, { recursive: true, force: true });
  return {
    acceptMs,
    status: run.status,
    persistedAtAnswer,
    totalMs,
    n,
    perSecond: (n / totalMs) * 1000,
    ended,
    succeeded: counts.SUCCEEDED ?? 0,
    wsMessages,
    rssMb,
    failures,
    pythonVersion: runner.engine.opts.workers.pythonVersion,
  };
}

async function main() {
  const flowsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'flows-bench-runs-'));
  const flowFile = path.join(flowsDir, 'trivial.py');
  fs.writeFileSync(flowFile, "def handler(system, this, inputs):\n    return inputs['n']\n");
  const floorMs = pythonFloor(flowFile);
  const load0 = os.loadavg()[0];
  // The fork per execution first, then the pool, on the same machine in one run.
  const fork = await measure(flowsDir, 'process', FORK_N);
  const pool = await measure(flowsDir, 'pool', N);
  const load1 = os.loadavg()[0];
  fs.rmSync(flowsDir, { recursive: true, force: true });

  process.stdout.write(
    `runs API (Python ${pool.pythonVersion}, ${os.cpus().length} cores, concurrency ${CONCURRENCY}, ` +
      `load average ${load0.toFixed(2)} before, ${load1.toFixed(2)} after)\n`,
  );
  figure(
    `plain Python, handler × ${N} in one process`,
    `${((N / floorMs) * 1000).toFixed(0)} /s`,
    `floor: ${floorMs.toFixed(0)} ms in all`,
  );
  for (const [name, f] of [
    ['fork per execution', fork],
    ['warm pool', pool],
  ] as const) {
    process.stdout.write(`  -- ${name}\n`);
    figure(
      `accept an async request of ${f.n} inputs`,
      `${(f.acceptMs / 1000).toFixed(2)} s`,
      `answer ${f.status}`,
    );
    figure('child rows persisted at the answer', String(f.persistedAtAnswer));
    figure(
      `end to end, ${f.n} executions`,
      `${f.perSecond.toFixed(0)} /s`,
      `${(f.totalMs / 1000).toFixed(1)} s, run ${f.ended.status}: ${f.ended.message}`,
    );
    figure('children SUCCEEDED (in the store)', String(f.succeeded));
    figure(
      'WebSocket messages to a subscribed client',
      String(f.wsMessages),
      `${(f.wsMessages / f.n).toFixed(1)} per execution`,
    );
    figure('runner RSS at the end', `${f.rssMb.toFixed(0)} MB`);
    for (const x of f.failures)
      process.stdout.write(`  failed input ${JSON.stringify(x.input_value)}: ${x.status} ${x.message}\n`);
  }
  process.stdout.write('  -- pool ÷ fork per execution (same run)\n');
  figure('end-to-end throughput', `${(pool.perSecond / fork.perSecond).toFixed(2)}×`);
  target(
    'accepted in ≤ 2 s with all rows persisted (warm pool)',
    pool.acceptMs <= 2000 && pool.persistedAtAnswer === pool.n,
  );
  target('end to end ≥ 2,000 /s (warm pool)', pool.perSecond >= 2000);
  target(
    'every input SUCCEEDED (both)',
    pool.succeeded === pool.n && fork.succeeded === fork.n && pool.ended.status === 'SUCCEEDED',
  );
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
