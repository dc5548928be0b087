/** The `flows` CLI commands: serve, run, list (deploy: deployCommand.ts; test: testCommand.ts). */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { EXECUTION_STATUSES, isEnded, type ExecutionRecord, type ListExecutionsQuery } from '@flows/protocol';
import { RunnerApi } from '@flows/runner-client/runnerApi';
import { flowNameOf } from '../engine/flowFiles';
import { startRunner, VERSION } from '../runner';
import { DataDirLock, lockOwner, ownerConnection, type LockContent } from '../store/dataDirLock';
import { isLoopback } from '../http/httpServer';
import { checkPostgresUrl, PostgresOpenError } from '../store/postgresConnection';
import { SqliteStore } from '../store/sqliteStore';
import { duration, printTree } from './executionTree';
import { INTERRUPTED, interruptSignal, onAbort } from './interrupt';
import { runOnRunner } from './remoteRun';
import { TEST_USAGE } from './testCommand';
import { TOKEN_USAGE } from './tokenCommand';

export class UsageError extends Error {}

export const USAGE = `flows ${VERSION} — the local runner of Flows for VS Code

Usage:
  flows serve [--port N] [--token T] [--flows DIR] [--data DIR] [--database URL]
              [--concurrency N] [--max-waiting N] [--max-memory-mb N] [--max-cpu-seconds N]
              [--python PATH] [--isolation pool|process] [--worker-max-executions N]
              [--host ADDR] [--tls-cert FILE --tls-key FILE] [--public-host NAME[:PORT]]...
              [--insecure-behind-proxy]
      Serve the REST + WebSocket API on 127.0.0.1 (port 0 = any free port). Prints one JSON
      line {"event":"ready","url":…} when ready. --concurrency executions run at once (8);
      waiting ones (sleeping, waiting for children or answers) keep their process, and at most
      --max-waiting (64) such processes live beyond that before new executions wait.
      --max-memory-mb and --max-cpu-seconds limit each process of an execution (POSIX). The token comes from --token, $FLOWS_TOKEN, or
      is generated; it is written to <data>/runner.token (mode 0600). Its user is "local";
      each person can have a token of their own (flows token, below).
      Executions run in warm worker processes, reused one after another (--isolation pool,
      the default; each is replaced after --worker-max-executions executions, 1000), or each
      in a fresh process (--isolation process; so do flows with a '# flows: isolated' line).
      --database postgres://USER:PASSWORD@HOST:5432/DB (or $FLOWS_DATABASE) keeps executions,
      logs, schedules and records in PostgreSQL instead of the SQLite file in --data (the
      default); the schema is created or upgraded at start. Team mode (a preview, see the
      README): every node gets the same --database and a --data folder of its own (which names
      the node), e.g. three nodes on one host:
        flows serve --database URL --data /srv/flows/n1 --port 8765 --host 0.0.0.0 --tls-cert C --tls-key K
        flows serve --database URL --data /srv/flows/n2 --port 8766 --host 0.0.0.0 --tls-cert C --tls-key K
        flows serve --database URL --data /srv/flows/n3 --port 8767 --host 0.0.0.0 --tls-cert C --tls-key K
      Give each person a token (flows token create NAME --database URL); in VS Code, "Flows:
      Connect to a Team Runner…" takes any node's URL and that token, and "Flows: Deploy Folder
      to Team Runner" (or flows deploy) stores the folder's flows for every node.
      --host ADDR listens there instead of 127.0.0.1. Beyond loopback it needs --tls-cert and
      --tls-key (PEM files: HTTPS and WSS) or --insecure-behind-proxy (a TLS proxy in front is
      the only way in). --public-host names the Host clients send (a DNS name, a proxy's), so
      that the DNS-rebinding check lets them in; the token and Origin checks stay.
  flows run <file.py> [--input JSON] [--try] [--flows DIR] [--data DIR] [--python PATH] [--json]
      Run a flow on an embedded runner and print its execution tree, outputs and logs.
      Exit code 0 only when it SUCCEEDED. --try runs it in development mode. When a serving
      runner (flows serve, the extension's) owns the data folder, the flow runs on that one.
  flows list [--flows DIR] [--data DIR] [--limit N] [--status S] [--json]
      Recent executions, newest first.
  flows deploy [FOLDER] --url URL --token TOKEN [--json]
      Deploy the flows of FOLDER (default: the current folder) to the runner at URL as flow
      records, in one transaction: every .py file with def handler, by its path without .py
      (checks/fraud-score), outside .flows, .git, node_modules, venvs and __pycache__. Only
      flows whose source the runner does not have already are sent. From then on the runner
      (every node of a team runner) runs the deployed source of those names. $FLOWS_URL and
      $FLOWS_TOKEN stand in for the options.
${TOKEN_USAGE}
${TEST_USAGE}

Defaults: --flows is the current folder (for run: the flow file's folder), --data is <flows>/.flows.`;

function intOption(name: string, value: string | undefined, dflt: number, min = 0): number {
  if (value === undefined) return dflt;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min)
    throw new UsageError(`--${name} must be a whole number ≥ ${min}, not '${value}'`);
  return n;
}

export async function serve(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      port: { type: 'string' },
      token: { type: 'string' },
      flows: { type: 'string' },
      data: { type: 'string' },
      concurrency: { type: 'string' },
      'max-waiting': { type: 'string' },
      'max-memory-mb': { type: 'string' },
      'max-cpu-seconds': { type: 'string' },
      python: { type: 'string' },
      isolation: { type: 'string' },
      'worker-max-executions': { type: 'string' },
      'exit-with-stdin': { type: 'boolean' },
      database: { type: 'string' },
      host: { type: 'string' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      'public-host': { type: 'string', multiple: true },
      'insecure-behind-proxy': { type: 'boolean' },
    },
  });
  // The option beats the environment; either is checked before anything starts.
  const database = values.database ?? (process.env.FLOWS_DATABASE || undefined);
  const databaseSource = values.database !== undefined ? '--database' : 'FLOWS_DATABASE';
  const badUrl = database === undefined ? undefined : checkPostgresUrl(database);
  if (badUrl) throw new UsageError(`${databaseSource} ${badUrl}`);
  const isolation = values.isolation ?? 'pool';
  if (isolation !== 'pool' && isolation !== 'process')
    throw new UsageError(`--isolation must be pool or process, not '${isolation}'`);
  const port = intOption('port', values.port, 0);
  if (port > 65535) throw new UsageError('--port must be at most 65535');
  const token = values.token ?? process.env.FLOWS_TOKEN;
  const exposure = servingExposure(values, port);
  // Team mode: set when another node declares this one lost (RunnerOptions.onLost).
  let lost: string | undefined;
  let stopServing: () => void = () => undefined;
  const runner = await startRunner({
    flowsDir: values.flows ?? process.cwd(),
    dataDir: values.data,
    database,
    python: values.python,
    concurrency: intOption('concurrency', values.concurrency, 8, 1),
    // Absent: the engine's own default.
    maxWaiting:
      values['max-waiting'] === undefined ? undefined : intOption('max-waiting', values['max-waiting'], 0, 0),
    limits: {
      max_memory_mb: intOption('max-memory-mb', values['max-memory-mb'], 0, 0) || undefined,
      max_cpu_seconds: intOption('max-cpu-seconds', values['max-cpu-seconds'], 0, 0) || undefined,
    },
    isolation,
    workerMaxExecutions:
      values['worker-max-executions'] === undefined
        ? undefined
        : intOption('worker-max-executions', values['worker-max-executions'], 0, 1),
    http: { port, token, ...exposure },
    onLost: (why) => {
      lost = why;
      stopServing();
    },
  }).catch((err: unknown) => {
    // Which option named the database, and no stack: the server may just not be up yet.
    throw err instanceof PostgresOpenError ? new Error(`${databaseSource}: ${err.message}`) : err;
  });
  const tokenFile = path.join(runner.dataDir, 'runner.token');
  fs.writeFileSync(tokenFile, runner.token!, { mode: 0o600 });
  fs.chmodSync(tokenFile, 0o600);
  runner.lock.update({ url: runner.url, token_file: tokenFile });
  process.stdout.write(
    `${JSON.stringify({ event: 'ready', url: runner.url, token_file: tokenFile, pid: process.pid, version: VERSION })}\n`,
  );
  await new Promise<void>((resolve) => {
    stopServing = resolve;
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
    // Started by the extension: end with it, even when it could not say goodbye.
    if (values['exit-with-stdin']) process.stdin.on('end', resolve).resume();
  });
  await runner.stop();
  if (lost === undefined) return 0;
  // Declared lost by another node of the cluster: not a clean stop, so that a supervisor restarts it.
  process.stderr.write(`flows serve: ${lost}; this node stopped\n`);
  return 1;
}

/**
 * Where `flows serve` listens, and how it may: loopback by default; beyond it only over TLS
 * (--tls-cert/--tls-key) or, with --insecure-behind-proxy, when a TLS-terminating proxy in front
 * of it is the only way in. The token, Origin and Host checks stay in every case.
 */
function servingExposure(
  values: {
    host?: string;
    'tls-cert'?: string;
    'tls-key'?: string;
    'public-host'?: string[];
    'insecure-behind-proxy'?: boolean;
  },
  port: number,
): { host?: string; tls?: { cert: Buffer; key: Buffer }; publicHosts?: string[] } {
  const host = values.host?.trim();
  if (host !== undefined && !host) throw new UsageError('--host must name an address, like 0.0.0.0');
  const certFile = values['tls-cert'];
  const keyFile = values['tls-key'];
  if ((certFile === undefined) !== (keyFile === undefined))
    throw new UsageError('--tls-cert and --tls-key go together: give both, or neither');
  const read = (option: string, file: string): Buffer => {
    try {
      return fs.readFileSync(file);
    } catch (err) {
      throw new UsageError(
        `--${option} ${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? err})`,
      );
    }
  };
  const tls =
    certFile && keyFile ? { cert: read('tls-cert', certFile), key: read('tls-key', keyFile) } : undefined;
  if (host && !isLoopback(host) && !tls && !values['insecure-behind-proxy']) {
    throw new UsageError(
      `--host ${host} reaches beyond this machine, where the token would cross the network in clear: give --tls-cert and --tls-key, or --insecure-behind-proxy when a TLS proxy in front of the runner is the only way in`,
    );
  }
  // A name clients use (a proxy's, a DNS name): host:port, the port added when left out.
  const publicHosts = (values['public-host'] ?? []).map((h) => {
    const name = h.trim().toLowerCase();
    if (!name || /[\s/@]/.test(name)) throw new UsageError(`--public-host '${h}' is not a host name`);
    if (/:\d+$/.test(name)) return name;
    if (port === 0) throw new UsageError(`--public-host ${h}: give its port (host:port) when --port is 0`);
    return `${name}:${port}`;
  });
  return { host, tls, publicHosts };
}

export async function run(argv: string[]): Promise<number> {
  const interrupt = interruptSignal();
  try {
    const code = await runFlow(argv, interrupt.signal);
    return interrupt.signal.aborted ? INTERRUPTED : code;
  } finally {
    interrupt.dispose();
  }
}

async function runFlow(argv: string[], signal: AbortSignal): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      input: { type: 'string' },
      try: { type: 'boolean' },
      flows: { type: 'string' },
      data: { type: 'string' },
      python: { type: 'string' },
      json: { type: 'boolean' },
    },
  });
  if (positionals.length !== 1) throw new UsageError('flows run needs exactly one flow file');
  const file = path.resolve(positionals[0]);
  if (!fs.existsSync(file)) throw new UsageError(`no such file: ${positionals[0]}`);
  let input: unknown = undefined;
  if (values.input !== undefined) {
    try {
      input = JSON.parse(values.input);
    } catch (err) {
      throw new UsageError(`--input is not valid JSON: ${(err as Error).message}`);
    }
  }
  const flowsDir = path.resolve(values.flows ?? path.dirname(file));
  const flowName = flowNameOf(flowsDir, file);
  if (flowName.startsWith('..')) throw new UsageError(`${file} is not inside the flows folder ${flowsDir}`);
  const dataDir = path.resolve(values.data ?? path.join(flowsDir, '.flows'));
  // A serving runner has the database to itself: run there. A `flows run` owner has no API, so
  // startRunner below refuses by name (DataDirBusyError), as before.
  const owner = lockOwner(dataDir);
  const serving = owner && ownerConnection(owner);
  if (serving) {
    if (values.python !== undefined) {
      process.stderr.write(`flows: --python is ignored: the flow runs on the runner at ${serving.url}\n`);
    }
    const { topId, tree } = await runOnRunner(serving, {
      file,
      flowsOption: values.flows,
      dataDir,
      input,
      isProductive: !values.try,
      signal,
    });
    return printTree(tree, topId, values.json === true);
  }
  const runner = await startRunner({ flowsDir, dataDir, python: values.python });
  try {
    const engine = runner.executions;
    const top = engine.create({
      type: 'FLOW',
      flow_name: flowName,
      input_value: input,
      is_productive: !values.try,
    });
    onAbort(signal, () => engine.cancel(top.id, 'cancelled from the terminal'));
    await engine.waitForEnd(top.id);
    // Fire-and-forget children may still run; the tree is done when all of it has ended.
    for (;;) {
      const rest = await engine.list({
        top_execution_id: top.id,
        status: EXECUTION_STATUSES.filter((s) => !isEnded(s)),
        limit: 1000,
        offset: 0,
        sort: 'created_at',
      });
      if (rest.items.length === 0) break;
      await Promise.all(rest.items.map((r) => engine.waitForEnd(r.id)));
    }
    const tree = {
      records: async (topId: string, limit: number) =>
        (await engine.list({ top_execution_id: topId, limit, offset: 0, sort: 'created_at' })).items,
      log: (id: string, limit: number) => engine.log(id, 0, limit),
    };
    return await printTree(tree, top.id, values.json === true);
  } finally {
    await runner.stop();
  }
}

/** `flows list` through the REST API of the runner that owns the data folder. */
async function listFromRunner(
  dataDir: string,
  owner: LockContent,
  query: ListExecutionsQuery,
): Promise<{ items: ExecutionRecord[]; total: number }> {
  const conn = ownerConnection(owner);
  if (!conn) {
    throw new Error(
      `${dataDir} is in use by a running \`flows run\` (pid ${owner.pid}); list again when it has ended.`,
    );
  }
  return new RunnerApi(conn.url, conn.token).listExecutions({
    limit: query.limit,
    offset: 0,
    sort: query.sort,
    parent_execution_id: 'none',
    status: query.status,
  });
}

export async function list(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      flows: { type: 'string' },
      data: { type: 'string' },
      limit: { type: 'string' },
      status: { type: 'string' },
      json: { type: 'boolean' },
    },
  });
  const dataDir = path.resolve(values.data ?? path.join(values.flows ?? process.cwd(), '.flows'));
  const dbFile = path.join(dataDir, 'flows.db');
  if (!fs.existsSync(dbFile)) {
    process.stdout.write(`No executions yet (no ${dbFile}). Run one with: flows run <file.py>\n`);
    return 0;
  }
  const status = values.status?.split(',').map((s) => s.trim().toUpperCase()) as
    ExecutionRecord['status'][] | undefined;
  const query: ListExecutionsQuery = {
    limit: intOption('limit', values.limit, 20, 1),
    offset: 0,
    sort: '-created_at',
    status,
    parent_execution_id: 'none',
  };
  // A runner that owns the folder has the database open exclusively: ask it instead.
  const owner = lockOwner(dataDir);
  let found: { items: ExecutionRecord[]; total: number };
  if (owner) {
    found = await listFromRunner(dataDir, owner, query);
  } else {
    const lock = DataDirLock.acquire(dataDir);
    const store = new SqliteStore(dbFile);
    try {
      found = await store.listExecutions(query);
    } finally {
      await store.close();
      lock.release();
    }
  }
  {
    const { items, total } = found;
    if (values.json) {
      process.stdout.write(`${JSON.stringify({ items, total }, null, 2)}\n`);
      return 0;
    }
    if (items.length === 0) {
      process.stdout.write('No executions yet. Run one with: flows run <file.py>\n');
      return 0;
    }
    const rows = items.map((r) => [
      r.created_at.replace('T', ' ').slice(0, 19),
      r.status,
      r.is_productive ? 'run' : 'try',
      r.name,
      isEnded(r.status) ? duration(r) : '',
      r.id,
      r.message ?? '',
    ]);
    const header = ['CREATED (UTC)', 'STATUS', 'MODE', 'NAME', 'TOOK', 'ID', 'MESSAGE'];
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
    for (const row of [header, ...rows]) {
      process.stdout.write(
        `${row.map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i]))).join('  ')}\n`,
      );
    }
    process.stdout.write(`${items.length} of ${total} top-level executions\n`);
    return 0;
  }
}
