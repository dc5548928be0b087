/**
 * Runner benchmarks: start latency (request → the handler's first line) beside a cold
 * `python3 -c pass` measured in the same run, and throughput of 10,000 trivial executions,
 * each persisted.
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
  const runner = await startRunner({ flowsDir, concurrency: 8, http: { port: 0 }, log: () => undefined });
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
  const forkServerPid = (runner.engine.opts.workers as unknown as { forkServer?: { pid?: number } })
    .forkServer?.pid;

  // Start latency over the whole path: HTTP request → fork → handler → log line on the WebSocket.
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

  // Throughput: 10,000 trivial executions, created over HTTP, run, and persisted.
  const N = 10_000;
  const node0 = process.cpuUsage();
  const py0 = cpuOf(forkServerPid);
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
  const persisted = await runner.engine.list({
    flow_name: 'trivial',
    status: ['SUCCEEDED'],
    limit: 1,
    offset: 0,
    sort: '-created_at',
  });
  ws.close();
  agent.destroy();
  await runner.stop();
  const floor = forkFloor(interpreter, 'pass');
  // Importing the fork server's module imports everything it preloads, without serving.
  const serverFloor = forkFloor(interpreter, 'import flows_worker.forkserver');

  const p50 = percentile(startLatency, 50);
  const coldP50 = percentile(cold, 50);
  process.stdout.write(
    `runner (Python ${runner.engine.opts.workers.pythonVersion}, ${os.cpus().length} cores, concurrency 8)\n`,
  );
  figure(
    'cold `python3 -c pass` spawn p50 / p99',
    `${ms(coldP50)} / ${ms(percentile(cold, 99))}`,
    'baseline',
  );
  figure(
    'start latency (POST → first log line) p50',
    ms(p50),
    `${(coldP50 / p50).toFixed(1)}× faster than a cold spawn`,
  );
  figure('start latency p99', ms(percentile(startLatency, 99)));
  figure(
    `throughput, ${N} trivial executions`,
    `${((N / elapsed) * 1000).toFixed(0)} /s`,
    `${(elapsed / 1000).toFixed(2)} s total, accepted in ${(accepted / 1000).toFixed(2)} s`,
  );
  figure('persisted as SUCCEEDED', String(persisted.total));
  const perExec = (v: number) => `${(v / N).toFixed(2)} ms`;
  figure('CPU per execution: runner (Node, with this client)', perExec((node1.user + node1.system) / 1000));
  figure(
    'CPU per execution: fork server / worker process',
    `${perExec(py1.self - py0.self)} / ${perExec(py1.children - py0.children)}`,
  );
  const atMost = (f: { msPerFork: number }) =>
    `≤ ${((os.cpus().length * 1000) / f.msPerFork).toFixed(0)} /s on ${os.cpus().length} cores doing nothing else`;
  figure('floor: bare Python fork + exit + reap, CPU', ms(floor.msPerFork), `baseline: ${atMost(floor)}`);
  figure(
    "floor: the same from the fork server's image",
    ms(serverFloor.msPerFork),
    `baseline: ${atMost(serverFloor)}; 1,000/s would leave ${os.cpus().length} ms of CPU per execution in all`,
  );
  target('start latency p50 ≤ 5 ms', p50 <= 5);
  target(
    'throughput ≥ 1,000 executions/s, all persisted',
    (N / elapsed) * 1000 >= 1000 && persisted.total === N,
  );
  fs.rmSync(flowsDir, { recursive: true, force: true });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
