/**
 * Team mode throughput (issue 18): N trivial executions (FLOWS_BENCH_CLUSTER_N, default 2,000)
 * submitted over REST (POST /api/latest/execution), round robin over the nodes with IN_FLIGHT
 * requests in flight, each run by a real `flows serve` process and persisted SUCCEEDED; timed
 * from the first submit to the moment a count of the ended executions (one list query with its
 * total, asked of the first node every POLL_MS) reaches N. Four set-ups in one run, each on a
 * fresh store: the SQLite baseline (one node, no --database), then one, two and three nodes on
 * one throwaway PostgreSQL database. Every node has the same --concurrency.
 *
 * Beside each figure: its ratio to the SQLite one, the machine's CPU use meanwhile (and how much
 * of it was other work), where this run's CPU went per execution (the runner processes, their
 * Python workers, PostgreSQL, this client; read from /proc), the throughput that CPU cost allows
 * on every core of the machine (a figure other work on a shared machine moves far less), and
 * PostgreSQL's transactions per execution. Without PostgreSQL the PostgreSQL set-ups are skipped
 * with the reason (never a fake figure; an error where FLOWS_TEST_POSTGRES_REQUIRED is set).
 * Needs dist/runner.js (`npm run bench` builds it).
 */
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { ENDED_STATUSES } from '../../protocol';
import { endServed, RUNNER_JS, serveRunner, tempDir, type ServedRunner } from '../runner/harness';
import { findPostgres, postgresRequired, sql, startPostgres, type PostgresServer } from '../support/postgres';
import { figure, machineCpu, target } from './stats';

const N = Number(process.env.FLOWS_BENCH_CLUSTER_N ?? 2_000);
/** --concurrency of every node. */
const CONCURRENCY = 4;
/** POST requests in flight at once, over all the nodes (the offered load is the same for each set-up). */
const IN_FLIGHT = 16;
/** Executions each node runs before the clock starts: its Python workers are warm by then. */
const WARM_UP = 20;
/** How often the ended executions are counted while waiting for the last. */
const POLL_MS = 20;
/** Longest wait for one set-up's executions to end before the bench gives up. */
const DEADLINE_MS = 120_000;
/** Longest wait for one answer: a node that stops answering fails the bench, never hangs it. */
const REQUEST_MS = 30_000;

const ENDED = [...ENDED_STATUSES].join(',');

/** A keep-alive client per node: the runners are measured, not fetch (it costs this process more). */
interface Node {
  served: ServedRunner;
  agent: http.Agent;
  /** Its data folder (removed when it stops). */
  data: string;
}

function request(node: Node, method: string, urlPath: string, body?: unknown): Promise<any> {
  const data = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${node.served.ready.url}${urlPath}`,
      {
        method,
        agent: node.agent,
        headers: {
          authorization: `Bearer ${node.served.token}`,
          'content-type': 'application/json',
          ...(data === undefined ? {} : { 'content-length': Buffer.byteLength(data) }),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          if (res.statusCode !== 200 && res.statusCode !== 201)
            reject(new Error(`${method} ${urlPath} answered ${res.statusCode}: ${text}`));
          else resolve(JSON.parse(text));
        });
      },
    );
    req.setTimeout(REQUEST_MS, () =>
      req.destroy(
        new Error(`${method} ${urlPath}: no answer from ${node.served.ready.url} in ${REQUEST_MS / 1000} s`),
      ),
    );
    req.on('error', reject);
    req.end(data);
  });
}

/** How many executions the cluster has with one of `statuses` (a list query's total, one row asked). */
async function countOf(node: Node, statuses: string): Promise<number> {
  return (await request(node, 'GET', `/api/latest/execution?status=${statuses}&limit=1`)).total;
}

/** Waits until `count` executions have ended; throws after DEADLINE_MS. */
async function endedReach(node: Node, count: number): Promise<void> {
  const deadline = performance.now() + DEADLINE_MS;
  for (;;) {
    const ended = await countOf(node, ENDED);
    if (ended >= count) return;
    if (performance.now() > deadline)
      throw new Error(`only ${ended} of ${count} executions ended in ${DEADLINE_MS / 1000} s`);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

/** Submits `n` executions of `trivial`, round robin over `nodes`, IN_FLIGHT at a time. */
async function submit(nodes: Node[], n: number): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(IN_FLIGHT, n) }, async () => {
      while (next < n) {
        const i = next++;
        await request(nodes[i % nodes.length], 'POST', '/api/latest/execution', { flow_name: 'trivial' });
      }
    }),
  );
}

// ---- CPU by process group, from /proc ------------------------------------------------------------

interface Proc {
  ppid: number;
  /** utime + stime of the process itself, in ticks. */
  self: number;
  /** self + cutime + cstime: with the children it has reaped. */
  withReaped: number;
}

function processes(): Map<number, Proc> {
  const out = new Map<number, Proc>();
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const f = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
      const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
      const self = Number(fields[11]) + Number(fields[12]);
      out.set(Number(name), {
        ppid: Number(fields[1]),
        self,
        withReaped: self + Number(fields[13]) + Number(fields[14]),
      });
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/**
 * CPU ticks of `roots` and all their descendants. Each process counts with the children it has
 * reaped, so a worker that ends between two looks still counts (in its parent) and none twice.
 */
function treeTicks(table: Map<number, Proc>, roots: number[]): number {
  const inTree = new Set(roots);
  let grew = true;
  while (grew) {
    grew = false;
    for (const [pid, p] of table)
      if (!inTree.has(pid) && inTree.has(p.ppid)) {
        inTree.add(pid);
        grew = true;
      }
  }
  let ticks = 0;
  for (const pid of inTree) ticks += table.get(pid)?.withReaped ?? 0;
  return ticks;
}

interface CpuLook {
  machine: { busy: number; total: number };
  runners: number;
  workers: number;
  postgres: number;
  bench: number;
}

function lookAtCpu(nodes: Node[], postgresPid: number | undefined): CpuLook {
  const table = processes();
  const pids = nodes.map((n) => n.served.child.pid!);
  const runners = pids.reduce((s, pid) => s + (table.get(pid)?.self ?? 0), 0);
  const bench = process.cpuUsage();
  return {
    machine: machineCpu(),
    runners,
    workers: treeTicks(table, pids) - runners,
    postgres: postgresPid === undefined ? 0 : treeTicks(table, [postgresPid]),
    bench: (bench.user + bench.system) / 10_000, // µs → ticks (USER_HZ 100)
  };
}

// ---- one set-up --------------------------------------------------------------------------------

interface Figures {
  name: string;
  nodes: number;
  perSecond: number;
  seconds: number;
  acceptedSeconds: number;
  succeeded: number;
  machineCpu: number;
  /** Of the machine's CPU, the share of this bench's processes (the rest: other work on it). */
  ownCpu: number;
  /** CPU ms per execution. */
  perExecution: { runners: number; workers: number; postgres: number; bench: number };
  /** Executions each node ran (PostgreSQL: owners in the database). */
  spread?: number[];
  /** PostgreSQL transactions (reads included) per execution, over the set-up's whole life. */
  transactions?: number;
}

async function measure(
  name: string,
  nodes: Node[],
  postgresPid: number | undefined,
  databaseUrl?: string,
): Promise<Figures> {
  const warm = WARM_UP * nodes.length;
  await submit(nodes, warm);
  await endedReach(nodes[0], warm);

  const c0 = lookAtCpu(nodes, postgresPid);
  const t0 = performance.now();
  let accepted = 0;
  const submitted = submit(nodes, N).then(() => (accepted = performance.now() - t0));
  await Promise.all([submitted, endedReach(nodes[0], warm + N)]);
  const elapsed = performance.now() - t0;
  const c1 = lookAtCpu(nodes, postgresPid);

  const succeeded = (await countOf(nodes[0], 'SUCCEEDED')) - warm;
  const perExecution = (a: number, b: number) => ((b - a) * 10) / N;
  const ours = (c: CpuLook) => c.runners + c.workers + c.postgres + c.bench;
  const machineTicks = Math.max(1, c1.machine.total - c0.machine.total);
  const spread = databaseUrl
    ? (
        await sql(
          databaseUrl,
          'SELECT owner, count(*)::int AS n FROM executions GROUP BY owner ORDER BY owner',
        )
      ).map((r) => r.n - WARM_UP)
    : undefined;
  return {
    name,
    nodes: nodes.length,
    perSecond: (N / elapsed) * 1000,
    seconds: elapsed / 1000,
    acceptedSeconds: accepted / 1000,
    succeeded,
    machineCpu: (c1.machine.busy - c0.machine.busy) / machineTicks,
    ownCpu: (ours(c1) - ours(c0)) / machineTicks,
    perExecution: {
      runners: perExecution(c0.runners, c1.runners),
      workers: perExecution(c0.workers, c1.workers),
      postgres: perExecution(c0.postgres, c1.postgres),
      bench: perExecution(c0.bench, c1.bench),
    },
    spread,
  };
}

/** Every process this bench starts, to end whatever happens. */
const started: Node[] = [];

async function startNode(flows: string, database?: string): Promise<Node> {
  const data = tempDir('flows-bench-cluster-data-');
  const served = await serveRunner([
    '--flows',
    flows,
    '--data',
    data,
    '--concurrency',
    String(CONCURRENCY),
    ...(database ? ['--database', database] : []),
  ]);
  const node = { served, data, agent: new http.Agent({ keepAlive: true, maxSockets: IN_FLIGHT }) };
  started.push(node);
  return node;
}

/** SIGTERM (the runner ends its workers and closes the store), SIGKILL if that takes over 10 s. */
async function stopNodes(nodes: Node[]): Promise<void> {
  await Promise.all(
    nodes.map(async (n) => {
      n.agent.destroy();
      const timer = setTimeout(() => void endServed(n.served, 'SIGKILL'), 10_000);
      await endServed(n.served, 'SIGTERM');
      clearTimeout(timer);
      fs.rmSync(n.data, { recursive: true, force: true });
    }),
  );
  for (const n of nodes) started.splice(started.indexOf(n), 1);
}

/** The pid of the PostgreSQL server: the `postgres` process this bench started. */
function postgresPidOf(): number | undefined {
  for (const [pid, p] of processes()) {
    if (p.ppid !== process.pid) continue;
    try {
      if (fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'postgres') return pid;
    } catch {
      // gone
    }
  }
  return undefined;
}

const pct = (x: number) => `${(x * 100).toFixed(0)}%`;

// Stopped from outside (Ctrl-C, a timeout): the nodes go at once; exiting stops PostgreSQL
// (test/support/postgres.ts ends its servers when the process exits).
for (const signal of ['SIGINT', 'SIGTERM'] as const)
  process.once(signal, () => {
    for (const n of started) n.served.child.kill('SIGKILL');
    process.exit(1);
  });

async function main() {
  if (!fs.existsSync(RUNNER_JS)) throw new Error(`${RUNNER_JS} is missing: run \`node esbuild.js\` first`);
  const flows = tempDir('flows-bench-cluster-');
  fs.writeFileSync(path.join(flows, 'trivial.py'), 'def handler(system, this):\n    return 1\n');
  const cores = os.cpus().length;
  const load0 = os.loadavg()[0];
  const results: Figures[] = [];
  let pg: PostgresServer | undefined;
  let skipped = '';
  try {
    const sqlite = [await startNode(flows)];
    results.push(await measure('SQLite, one node (baseline)', sqlite, undefined));
    await stopNodes(sqlite);

    const found = findPostgres();
    if ('missing' in found) {
      if (postgresRequired) throw new Error(`FLOWS_TEST_POSTGRES_REQUIRED is set, but ${found.missing}`);
      skipped = found.missing;
    } else {
      pg = await startPostgres(found.bin);
      const pgPid = postgresPidOf();
      for (const k of [1, 2, 3]) {
        const url = await pg.createDatabase();
        // The first node creates the schema; the others start on it together.
        const nodes = [await startNode(flows, url)];
        nodes.push(...(await Promise.all(Array.from({ length: k - 1 }, () => startNode(flows, url)))));
        const f = await measure(`PostgreSQL, ${k} node${k > 1 ? 's' : ''}`, nodes, pgPid, url);
        await stopNodes(nodes);
        // Counted once the nodes' connections have closed (a backend reports its counts at exit).
        const [x] = await sql(
          url,
          'SELECT xact_commit + xact_rollback AS n FROM pg_stat_database WHERE datname = current_database()',
        );
        results.push({ ...f, transactions: Number(x.n) / (N + WARM_UP * k) });
      }
    }
  } finally {
    await stopNodes([...started]);
    await pg?.stop();
    fs.rmSync(flows, { recursive: true, force: true });
  }
  const load1 = os.loadavg()[0];

  process.stdout.write(
    `team mode throughput (${N} trivial executions over REST, ${IN_FLIGHT} requests in flight round robin, ` +
      `--concurrency ${CONCURRENCY} per node, ${cores} cores, load average ${load0.toFixed(2)} before, ` +
      `${load1.toFixed(2)} after)\n`,
  );
  const base = results[0];
  const c = (f: Figures) => f.perExecution;
  const cpuPerExecution = (f: Figures) => c(f).runners + c(f).workers + c(f).postgres + c(f).bench;
  // Throughput if this run's processes had every core to themselves: the figure other work on
  // the machine (it varies from run to run) moves far less.
  const ceiling = (f: Figures) => (cores * 1000) / cpuPerExecution(f);
  for (const f of results) {
    figure(
      f.name,
      `${f.perSecond.toFixed(0)} /s`,
      `${f === base ? 'baseline' : `${(f.perSecond / base.perSecond).toFixed(2)}× SQLite`}; ` +
        `${f.seconds.toFixed(1)} s (all submitted at ${f.acceptedSeconds.toFixed(1)} s); ` +
        `machine CPU ${pct(f.machineCpu)} of ${cores} cores (${pct(f.ownCpu)} this bench's processes, ` +
        `${pct(Math.max(0, f.machineCpu - f.ownCpu))} other work)`,
    );
    figure(
      '  CPU per execution',
      `${cpuPerExecution(f).toFixed(2)} ms`,
      `runner${f.nodes > 1 ? 's' : ''} ${c(f).runners.toFixed(2)}, Python workers ${c(f).workers.toFixed(2)}, ` +
        `PostgreSQL ${c(f).postgres.toFixed(2)}, this client ${c(f).bench.toFixed(2)}`,
    );
    figure(
      `  ceiling on ${cores} cores (CPU per execution)`,
      `${ceiling(f).toFixed(0)} /s`,
      f === base
        ? 'baseline: what the whole machine could run, other work aside'
        : `${(ceiling(f) / ceiling(base)).toFixed(2)}× SQLite`,
    );
    if (f.spread) figure('  executions per node', f.spread.join(' / '));
    if (f.transactions !== undefined)
      figure('  PostgreSQL transactions per execution', f.transactions.toFixed(1), 'reads included');
  }
  const others = results.map((f) => Math.max(0, f.machineCpu - f.ownCpu));
  if (Math.max(...others) - Math.min(...others) > 0.15)
    process.stdout.write(
      `  note: other work on this machine took ${pct(Math.min(...others))}–${pct(Math.max(...others))} of its CPU ` +
        'from one set-up to the next, so the rates above are not comparable with each other: compare ' +
        'the ceilings (CPU per execution), which other work moves far less.\n',
    );
  if (skipped) process.stdout.write(`  PostgreSQL set-ups skipped: ${skipped}\n`);
  else if (cores <= 4)
    process.stdout.write(
      `  note: on this ${cores}-core machine the nodes share the CPU (with PostgreSQL, the workers and this ` +
        'client), so more nodes cannot add throughput here: the 2- and 3-node figures show what ' +
        'coordinating the nodes costs, not how a cluster of machines scales.\n',
    );
  target(
    'every execution persisted SUCCEEDED, in every set-up',
    results.every((f) => f.succeeded === N),
  );
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
