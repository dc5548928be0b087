/**
 * Runner benchmarks: start latency (request → the handler's first line) beside a cold
 * `python3 -c pass` measured in the same run, and throughput of 10,000 trivial executions,
 * each persisted.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import { ServerMessage, WS_PATH } from '../../protocol';
import { startRunner } from '../../runner/src/runner';
import { figure, ms, percentile, target } from './stats';

const python = process.env.FLOWS_PYTHON ?? 'python3';

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
  const post = (body: object) =>
    fetch(`${runner.url}/api/latest/execution`, {
      method: 'POST',
      headers: { authorization: `Bearer ${runner.token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    }).then((r) => r.json() as Promise<{ id: string }>);

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
  const persisted = await runner.engine.list({
    flow_name: 'trivial',
    status: ['SUCCEEDED'],
    limit: 1,
    offset: 0,
    sort: '-created_at',
  });
  ws.close();
  await runner.stop();

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
