/**
 * Runner benchmarks: start latency (request → the handler's first line) beside a cold
 * `python3 -c pass` measured in the same run, and throughput of 10,000 trivial executions
 * (FLOWS_BENCH_N), each persisted; idle memory. Measured twice in one run: with a fork per
 * execution (isolation 'process') and with the warm pool, printed side by side with ratios.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import { ServerMessage, WS_PATH } from '../../protocol';
import { startRunner } from '../../runner/src/runner';
import { figure, ms, percentile, target } from './stats';

const python = process.env.FLOWS_PYTHON ?? 'python3';
const PYTHON_DIR = path.resolve(__dirname, '..', '..', 'runner', 'python');

/**
 * The floor of "one OS process per execution": a warm Python that forks a child which exits at
 * once, and reaps it. No socket, no flow, no store: what any fork-per-execution design pays on
 * this machine before doing anything. Measured twice: from a bare interpreter, and from one that
 * has imported what our fork server imports (a bigger image costs more to fork and to tear down).
 * CPU of parent and child together, since on 2 cores CPU is what bounds the throughput.
 */
function forkFloor(interpreter: string, preload: string): { msPerFork: number } {
  const script = [
    'import os, sys, time, gc',
    `sys.path.insert(0, ${JSON.stringify(PYTHON_DIR)})`,
    preload,
    'gc.freeze()',
    'N = 1000',
    't = os.times()',
    'for _ in range(N):',
    '    pid = os.fork()',
    '    if pid == 0:',
    '        os._exit(0)',
    '    os.waitpid(pid, 0)',
    'u = os.times()',
    'print((u.user + u.system + u.children_user + u.children_system',
    '       - t.user - t.system - t.children_user - t.children_system) * 1000 / N)',
  ].join('\n');
  const run = spawnSync(interpreter, ['-c', script], { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`fork floor script failed: ${run.stderr}`);
  return { msPerFork: Number(run.stdout.trim()) };
}

/** CPU milliseconds of a process and of its reaped children (Linux /proc; zeros elsewhere). */
function cpuOf(pid: number | undefined): { self: number; children: number } {
  try {
    const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
    const tick = 1000 / 100; // USER_HZ is 100 on Linux
    return {
      self: (Number(fields[11]) + Number(fields[12])) * tick,
      children: (Number(fields[13]) + Number(fields[14])) * tick,
    };
  } catch {
    return { self: 0, children: 0 };
  }
}

/**
 * Resident MB of processes, and their proportional share (PSS: a page shared by n processes
 * counts 1/n in each, so forked workers are not counted n times over). Linux /proc; 0 elsewhere.
 */
function memoryMb(pids: Array<number | undefined>): { rss: number; pss: number } {
  let rss = 0;
  let pss = 0;
  for (const pid of pids) {
    try {
      const m = fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
      rss += Number(/^Rss:\s+(\d+) kB/m.exec(m)?.[1] ?? 0);
      pss += Number(/^Pss:\s+(\d+) kB/m.exec(m)?.[1] ?? 0);
    } catch {
      // gone
    }
  }
  return { rss: rss / 1024, pss: pss / 1024 };
}

interface Figures {
  p50: number;
  p99: number;
  perSecond: number;
  elapsed: number;
  accepted: number;
  persisted: number;
  nodeCpu: number;
  forkServerCpu: number;
  workerCpu: number;
  idle: { rss: number; pss: number };
  pythonVersion: string;
  pooled: number;
  forked: number;
}

const N = Number(process.env.FLOWS_BENCH_N ?? 10_000);

/** One runner, `isolation` 'pool' (warm workers) or 'process' (a fork per execution). */
async function measure(flowsDir: string, isolation: 'pool' | 'process'): Promise<Figures> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'flows-bench-data-'));
  const runner = await startRunner({
    flowsDir,
    dataDir,
    concurrency: 8,
    isolation,
    http: { port: 0 },
    log: () => undefined,
  });
  const workers = runner.engine.opts.workers;
  const ws = new WebSocket(`ws://127.0.0.1:${runner.port}${WS_PATH}`, {
    headers: { authorization: `Bearer ${runner.token}` },
  });
  await new Promise((r) => ws.once('open', r));
  ws.send(JSON.stringify({ type: 'subscribe', topics: ['logs', 'executions'] }));
  // A plain keep-alive client: the runner is measured, not the client (fetch costs ~0.3 ms of
  // this process's CPU per request, which the runner's cores would pay here).
  const agent = new http.Agent({ keepAlive: true, maxSockets: 50 });
  const post = (body: object) =>
    new Promise<{ id: string }>((resolve, reject) => {
      const data = JSON.stringify(body);
      const req = http.request(
        `${runner.url}/api/latest/execution`,
        {
          method: 'POST',
          agent,
          headers: {
            authorization: `Bearer ${runner.token}`,
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(data),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            if (res.statusCode !== 201 && res.statusCode !== 200)
              reject(new Error(`POST /execution answered ${res.statusCode}`));
            else resolve(JSON.parse(Buffer.concat(chunks).toString()) as { id: string });
          });
        },
      );
      req.on('error', reject);
      req.end(data);
    });
  const forkServerPid = workers.forkServerPid;

  // Start latency over the whole path: HTTP request → worker → handler → log line on the WebSocket.
  const firstLine = new Map<string, () => void>();
  const pendingLines = new Set<string>();
  ws.on('message', (data) => {
    const m = ServerMessage.parse(JSON.parse(data.toString()));
    if (m.type === 'log') {
      const done = firstLine.get(m.line.execution_id);
      if (done) done();
      else pendingLines.add(m.line.execution_id);
    }
  });
  const startLatency: number[] = [];
  for (let i = 0; i < 220; i++) {
    const t0 = performance.now();
    let id = '';
    await new Promise<void>((resolve) => {
      post({ flow_name: 'first-line' }).then((rec) => {
        id = rec.id;
        if (pendingLines.has(id)) resolve();
        else firstLine.set(id, resolve);
      });
    });
    if (i >= 20) startLatency.push(performance.now() - t0); // the first 20 warm up
    firstLine.delete(id);
    await runner.engine.waitForEnd(id);
  }
  // The pool is idle now (every execution above has ended and its worker restored itself).
  const poolPids = () => workers.poolStats().pids;
  const idle = memoryMb([process.pid, forkServerPid, ...poolPids()]);

  // Throughput: N trivial executions, created over HTTP, run, and persisted.
  const node0 = process.cpuUsage();
  const py0 = cpuOf(forkServerPid);
  const pool0 = new Map(poolPids().map((pid) => [pid, cpuOf(pid).self]));
  const t0 = performance.now();
  const ids: string[] = [];
  for (let i = 0; i < N; i += 50) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(50, N - i) }, () => post({ flow_name: 'trivial' })),
    );
    ids.push(...batch.map((r) => r.id));
  }
  const accepted = performance.now() - t0;
  await Promise.all(ids.map((id) => runner.engine.waitForEnd(id)));
  await runner.engine.store.flush();
  const elapsed = performance.now() - t0;
  const node1 = process.cpuUsage(node0);
  const py1 = cpuOf(forkServerPid);
  let poolCpu = 0;
  for (const pid of poolPids()) poolCpu += cpuOf(pid).self - (pool0.get(pid) ?? 0);
  const persisted = await runner.engine.list({
    flow_name: 'trivial',
    status: ['SUCCEEDED'],
    limit: 1,
    offset: 0,
    sort: '-created_at',
  });
  const { pooled, forked } = workers.counts;
  ws.close();
  agent.destroy();
  await runner.stop();
  fs.rmSync(dataDir, { recursive: true, force: true });
  return {
    p50: percentile(startLatency, 50),
    p99: percentile(startLatency, 99),
    perSecond: (N / elapsed) * 1000,
    elapsed,
    accepted,
    persisted: persisted.total,
    nodeCpu: (node1.user + node1.system) / 1000 / N,
    forkServerCpu: (py1.self - py0.self) / N,
    // Forked workers are counted once reaped (the fork server's children), pooled ones live.
    workerCpu: (py1.children - py0.children + poolCpu) / N,
    idle,
    pythonVersion: workers.pythonVersion,
    pooled,
    forked,
  };
}

async function main() {
  // Baseline: what starting a fresh interpreter per execution would cost.
  // The interpreter itself, not a version-manager shim (pyenv's costs ~80 ms more per start).
  const interpreter = spawnSync(python, ['-c', 'import sys; print(sys.executable)'], {
    encoding: 'utf8',
  }).stdout.trim();
  const cold: number[] = [];
  for (let i = 0; i < 20; i++) {
    const t0 = performance.now();
    spawnSync(interpreter, ['-c', 'pass']);
    cold.push(performance.now() - t0);
  }

  const flowsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'flows-bench-'));
  fs.writeFileSync(
    path.join(flowsDir, 'first-line.py'),
    "def handler(system, this):\n    this.log('first')\n",
  );
  fs.writeFileSync(path.join(flowsDir, 'trivial.py'), 'def handler(system, this):\n    return 1\n');
  const load0 = os.loadavg()[0];
  // The fork per execution first, then the pool, on the same machine in one run.
  const fork = await measure(flowsDir, 'process');
  const pool = await measure(flowsDir, 'pool');
  const load1 = os.loadavg()[0];
  const floor = forkFloor(interpreter, 'pass');
  // Importing the fork server's module imports everything it preloads, without serving.
  const serverFloor = forkFloor(interpreter, 'import flows_worker.forkserver');

  const coldP50 = percentile(cold, 50);
  process.stdout.write(
    `runner (Python ${pool.pythonVersion}, ${os.cpus().length} cores, concurrency 8, ` +
      `load average ${load0.toFixed(2)} before, ${load1.toFixed(2)} after)\n`,
  );
  figure(
    'cold `python3 -c pass` spawn p50 / p99',
    `${ms(coldP50)} / ${ms(percentile(cold, 99))}`,
    'baseline',
  );
  const perExec = (v: number) => `${v.toFixed(2)} ms`;
  for (const [name, f] of [
    ['fork per execution', fork],
    ['warm pool', pool],
  ] as const) {
    process.stdout.write(`  -- ${name} (${f.pooled} pooled, ${f.forked} forked)\n`);
    figure(
      'start latency (POST → first log line) p50',
      ms(f.p50),
      `${(coldP50 / f.p50).toFixed(1)}× faster than a cold spawn`,
    );
    figure('start latency p99', ms(f.p99));
    figure(
      `throughput, ${N} trivial executions`,
      `${f.perSecond.toFixed(0)} /s`,
      `${(f.elapsed / 1000).toFixed(2)} s total, accepted in ${(f.accepted / 1000).toFixed(2)} s`,
    );
    figure('persisted as SUCCEEDED', String(f.persisted));
    figure('CPU per execution: runner (Node, with this client)', perExec(f.nodeCpu));
    figure(
      'CPU per execution: fork server / workers',
      `${perExec(f.forkServerCpu)} / ${perExec(f.workerCpu)}`,
    );
    figure(
      'idle: runner + fork server + pooled workers',
      `${f.idle.rss.toFixed(0)} MB`,
      `RSS; ${f.idle.pss.toFixed(0)} MB PSS (shared pages counted once); the runner process includes this bench`,
    );
  }
  process.stdout.write('  -- pool ÷ fork per execution (same run)\n');
  figure('throughput', `${(pool.perSecond / fork.perSecond).toFixed(2)}×`);
  figure('start latency p50', `${(pool.p50 / fork.p50).toFixed(2)}×`, 'lower is better');
  figure(
    'Python CPU per execution',
    `${((pool.forkServerCpu + pool.workerCpu) / (fork.forkServerCpu + fork.workerCpu)).toFixed(2)}×`,
    'lower is better',
  );
  figure('Node CPU per execution', `${(pool.nodeCpu / fork.nodeCpu).toFixed(2)}×`, 'lower is better');
  const atMost = (f: { msPerFork: number }) =>
    `≤ ${((os.cpus().length * 1000) / f.msPerFork).toFixed(0)} /s on ${os.cpus().length} cores doing nothing else`;
  figure('floor: bare Python fork + exit + reap, CPU', ms(floor.msPerFork), `baseline: ${atMost(floor)}`);
  figure(
    "floor: the same from the fork server's image",
    ms(serverFloor.msPerFork),
    `baseline: ${atMost(serverFloor)}`,
  );
  target('start latency p50 ≤ 2 ms (warm pool)', pool.p50 <= 2);
  target(
    'throughput ≥ 1,500 executions/s (warm pool), all persisted',
    pool.perSecond >= 1500 && pool.persisted === N,
  );
  target('the pool beats a fork per execution', pool.perSecond > fork.perSecond);
  fs.rmSync(flowsDir, { recursive: true, force: true });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
