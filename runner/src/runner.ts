/**
 * A whole runner, assembled: store, Python workers, engine, and optionally the HTTP/WebSocket
 * server. `flows serve`, `flows run` and the tests all start one through `startRunner`.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type http from 'node:http';
import type { WorkerIsolation, WorkerLimits } from '@flows/protocol';
import { DebugRelay } from './debug/debugRelay';
import { DebugSessions } from './debug/debugSessions';
import { Batches } from './engine/batches';
import { DeployedFlows, flowCacheDir } from './flows/deployedFlows';
import { Engine } from './engine/engine';
import { publicRecord } from './engine/executionTable';
import type { RecordOwner, ViewType } from './engine/records';
import type { ReplayHooks } from './engine/recording';
import type { DebugTargets, ExecutionOwnership, Executions } from './engine/executions';
import { automationPaths } from './http/automationOpenapi';
import { executionRoutes } from './http/executionRoutes';
import { flowPaths, flowRoutes } from './http/flowRoutes';
import { hostPort, isAnyAddress, startHttpServer, type HttpLimits } from './http/httpServer';
import { openApiDocument } from './http/openapi';
import { Router } from './http/router';
import { runsRoutes } from './http/runsRoutes';
import { scheduleRoutes } from './http/scheduleRoutes';
import { testPaths, testRoutes } from './http/testRoutes';
import { tokenPaths, tokenRoutes } from './http/tokenRoutes';
import { TokenCheck } from './http/userTokens';
import { newToken } from './http/security';
import { webhookRoutes } from './http/webhookRoutes';
import { WsHub } from './http/wsHub';
import { Runs } from './runs/runs';
import { systemClock, type Clock } from './schedules/clock';
import { Scheduler } from './schedules/scheduler';
import { DataDirLock } from './store/dataDirLock';
import { PostgresStore } from './store/postgresStore';
import type { Store } from './store/store';
import { statusesBefore } from './engine/lifecycle';
import { ThreadedStore } from './store/threadedStore';
import { Webhooks } from './webhooks/webhooks';
import { PythonWorkers } from './workers/pythonWorkers';
import type { WorkerPool } from './workers/workerPool';

export const VERSION = '0.1.0';

/**
 * The last resort of a serving runner: an error that escapes every request's and execution's own
 * handling (a bug, a callback that throws) is logged and the runner keeps serving, instead of
 * dying with every execution and connection it holds. Installed while a runner serves HTTP.
 */
const lastResortLogs = new Set<(msg: string) => void>();
const onUncaught = (err: unknown, origin?: string) => {
  const text = err instanceof Error ? (err.stack ?? err.message) : String(err);
  for (const log of lastResortLogs)
    log(`${origin ?? 'uncaughtException'} (the runner keeps serving): ${text}`);
};
const onUnhandled = (reason: unknown) => onUncaught(reason, 'unhandledRejection');

function keepServing(log: (msg: string) => void): () => void {
  if (lastResortLogs.size === 0) {
    process.on('uncaughtException', onUncaught);
    process.on('unhandledRejection', onUnhandled);
  }
  lastResortLogs.add(log);
  return () => {
    if (!lastResortLogs.delete(log) || lastResortLogs.size > 0) return;
    process.off('uncaughtException', onUncaught);
    process.off('unhandledRejection', onUnhandled);
  };
}

export interface RunnerOptions {
  flowsDir: string;
  /** Folder of the SQLite file and the runner's files; default `<flowsDir>/.flows`. */
  dataDir?: string;
  /**
   * A PostgreSQL URL (postgres://…): keep executions, logs, schedules and records there instead
   * of the SQLite file in dataDir (which still holds the token and the files of system.file).
   */
  database?: string;
  python?: string;
  concurrency?: number;
  /** Worker processes allowed beyond `concurrency` for waiting executions (EngineOptions). */
  maxWaiting?: number;
  /** Memory and CPU-time limits of each execution's processes (none by default). */
  limits?: WorkerLimits;
  /** Serve HTTP + WebSocket; `false` for an embedded runner (flows run). */
  http?: {
    port: number;
    token?: string;
    /** The address to listen on (default 127.0.0.1); see `exposure` in http/httpServer.ts. */
    host?: string;
    /** Serve HTTPS (and WSS) with this certificate and key (PEM). */
    tls?: { cert: string | Buffer; key: string | Buffer };
    /** Host headers to accept besides loopback's (the name clients use: `flows.example.com:8765`). */
    publicHosts?: string[];
    /** Timeouts and the connection cap; defaults DEFAULT_HTTP_LIMITS (http/httpServer.ts). */
    limits?: Partial<HttpLimits>;
  };
  workerMode?: 'fork' | 'spawn';
  /**
   * 'pool' (default): warm worker processes, one per concurrency slot, run one execution after
   * another; 'process': a fresh fork per execution. See workers/pythonWorkers.ts.
   */
  isolation?: WorkerIsolation;
  /** Executions a pooled worker runs before it is replaced (flows.workerMaxExecutions; 1000). */
  workerMaxExecutions?: number;
  /** Resident MB above which a pooled worker is replaced (default 512; 0 = no ceiling). */
  workerMaxRssMb?: number;
  log?: (msg: string) => void;
  /**
   * Fire schedules; default: when serving HTTP. An embedded runner (`flows run`) leaves them
   * alone, so running one flow never fires (or makes up) the folder's schedules.
   */
  schedules?: boolean;
  /** The scheduler's clock (tests move it by hand); default the system clock. */
  clock?: Clock;
  /** Replay mode, for tests made from runs (engine/recording.ts, testing/). */
  replay?: ReplayHooks;
  /** Sleeps of flows take no time (tests). */
  virtualClock?: boolean;
  /**
   * Team mode: another node declared this one lost; the runner stops itself, then this is called
   * (`flows serve` exits non-zero, so a supervisor restarts it).
   */
  onLost?: (why: string) => void;
}

export interface Runner<W extends WorkerPool = PythonWorkers> {
  /** What the rest of the runner (and the CLI) may do with executions: the engine's facade. */
  executions: Executions;
  /** The engine itself, for tests that reach its workers and records. */
  engine: Engine<W>;
  /** Present when the runner fires schedules. */
  scheduler?: Scheduler;
  webhooks: Webhooks;
  runs: Runs;
  url?: string;
  token?: string;
  port?: number;
  dataDir: string;
  /** The data folder's lock; `flows serve` adds its URL and token file to it. */
  lock: DataDirLock;
  stop(): Promise<void>;
}

/** Where the Python packages are: beside the bundle (dist/python) or in the source tree. */
export function pythonDir(): string {
  const candidates = [
    path.join(__dirname, 'python'),
    path.join(__dirname, '..', 'python'),
    path.resolve('runner/python'),
  ];
  return candidates.find((d) => fs.existsSync(path.join(d, 'flows_worker'))) ?? candidates[0];
}

export function startRunner(opts: RunnerOptions): Promise<Runner> {
  return startRunnerOn(opts, async (log) => {
    const workers = new PythonWorkers({
      python:
        opts.python ?? process.env.FLOWS_PYTHON ?? (process.platform === 'win32' ? 'python' : 'python3'),
      pythonDir: pythonDir(),
      mode: opts.workerMode,
      poolSize: opts.concurrency ?? 8,
      isolation: opts.isolation,
      maxExecutions: opts.workerMaxExecutions,
      maxRssMb: opts.workerMaxRssMb,
      log,
    });
    await workers.start();
    return workers;
  });
}

/**
 * A runner on the worker processes `workers` makes (started and ready); the engine stops them
 * when the runner stops. Tests made from runs give each case a runner of its own on one shared
 * set of processes (testing/workerLease.ts); `python` and the worker options are then unused.
 */
export async function startRunnerOn<W extends WorkerPool>(
  opts: RunnerOptions,
  makeWorkers: (log: (msg: string) => void) => Promise<W>,
): Promise<Runner<W>> {
  const log = opts.log ?? ((m: string) => process.stderr.write(`[runner] ${m}\n`));
  const flowsDir = path.resolve(opts.flowsDir);
  const dataDir = path.resolve(opts.dataDir ?? path.join(flowsDir, '.flows'));
  const filesDir = path.join(dataDir, 'files');
  fs.mkdirSync(filesDir, { recursive: true });
  const lock = DataDirLock.acquire(dataDir);
  keepOutOfGit(dataDir);
  let store: Store;
  // Team mode: another node declared this one lost (postgresNodes.ts); set once assembled.
  let onLost: (why: string) => void = () => undefined;
  try {
    // SQLite on a thread of its own: its queries, commits and checkpoints never hold up
    // requests or the dispatch of executions (threadedStore.ts). PostgreSQL is a server of its
    // own already; this node's name (its host and data folder) marks what it writes there.
    store = opts.database
      ? await PostgresStore.open(opts.database, {
          node: `${os.hostname()}:${dataDir}`,
          log,
          onLost: (why) => onLost(why),
          // Off only to test the polling that stands in for missed notifications.
          listen: process.env.FLOWS_POSTGRES_LISTEN !== '0',
        })
      : await ThreadedStore.open(path.join(dataDir, 'flows.db'), log).then((s) => {
          // Its list cache knows that an execution that ended was never in another end before.
          s.listCache.statusesBefore = statusesBefore;
          return s;
        });
  } catch (err) {
    lock.release();
    throw err;
  }
  let workers: W;
  try {
    workers = await makeWorkers(log);
  } catch (err) {
    await store.close();
    lock.release();
    throw err;
  }
  // Made first: the engine asks them for the debugger settings of every execution it starts.
  const debugSessions = new DebugSessions();
  // Webhooks and schedules own their records, and are made after the engine (they need it).
  const recordOwners: Partial<Record<ViewType, RecordOwner>> = {};
  // Flow records: deployed flows resolve before the flows folder's (flows/deployedFlows.ts).
  const flows = new DeployedFlows({
    store,
    cacheDir: flowCacheDir(dataDir),
    shared: store instanceof PostgresStore,
    log,
  });
  const engine = new Engine({
    store,
    workers,
    flowsDir,
    filesDir,
    flows,
    concurrency: opts.concurrency ?? 8,
    maxWaiting: opts.maxWaiting,
    limits: opts.limits,
    log,
    debugConfigFor: (rec) => debugSessions.configFor(rec),
    recordOwners: (type) => recordOwners[type],
    replay: opts.replay,
    virtualClock: opts.virtualClock,
    cluster: store instanceof PostgresStore ? store.cluster : undefined,
  });
  try {
    const runner = await assemble(opts, {
      log,
      dataDir,
      lock,
      store,
      engine,
      debugSessions,
      recordOwners,
      flows,
    });
    // A node declared lost can commit nothing more: it stops (its executions were failed or
    // handed on by the node that declared it lost).
    onLost = (why) =>
      void runner
        .stop()
        .catch((err: unknown) => log(`stopping the lost node failed: ${String(err)}`))
        .finally(() => opts.onLost?.(why));
    return runner;
  } catch (err) {
    // A runner that cannot start (a port in use, say) leaves nothing behind: no workers, no lock.
    flows.stop();
    await engine.shutdown().catch(() => undefined);
    await store.close().catch(() => undefined);
    lock.release();
    throw err;
  }
}

async function assemble<W extends WorkerPool>(
  opts: RunnerOptions,
  parts: {
    log: (msg: string) => void;
    dataDir: string;
    lock: DataDirLock;
    store: Store;
    engine: Engine<W>;
    debugSessions: DebugSessions;
    recordOwners: Partial<Record<ViewType, RecordOwner>>;
    flows: DeployedFlows;
  },
): Promise<Runner<W>> {
  const { log, dataDir, lock, store, engine, debugSessions, recordOwners, flows } = parts;
  // Before anything is restored: a restored execution's flow may be a deployed one.
  await flows.load();
  // Services get the executions service (the engine's narrow side) and their part of the store.
  const executions: Executions & ExecutionOwnership & DebugTargets = engine;
  const restored = await engine.restore();
  if (restored.failed || restored.requeued) {
    log(
      `restored: ${restored.requeued} queued execution(s) will run, ${restored.failed} were running and ended FAILED`,
    );
  }
  const batches = new Batches({ executions, store });
  await batches.restore(restored.virtual);
  // Team mode: each cluster round, free slots claim queued executions no node owns, and trees a
  // lost node left (an async run is taken up as after a restart); requests of other nodes for
  // executions of this one are done here.
  if (store instanceof PostgresStore) {
    store.startClaiming({
      freeSlots: () => engine.freeSlots(),
      adopt: (recs) => engine.adopt(recs),
      takeUp: async (recs) => batches.restore((await engine.takeUp(recs)).virtual),
    });
    store.cluster.serve({ act: (op, id, reason) => engine.actHere(op, id, reason) });
  }
  const scheduler =
    (opts.schedules ?? !!opts.http)
      ? new Scheduler({ executions, batches, store, clock: opts.clock ?? systemClock, log })
      : undefined;
  await scheduler?.start();
  const webhooks = new Webhooks({ store, resolveFlow: (name) => executions.resolveFlow(name) });
  await webhooks.load();
  // record.* calls on webhooks and schedules go through their services (routes, timers).
  recordOwners.webhook = webhooks;
  if (scheduler) recordOwners.schedule = scheduler;
  const runs = new Runs({ executions, batches, scheduler, store, log });
  await runs.load();

  let server: http.Server | undefined;
  let stopKeepingServing: (() => void) | undefined;
  let hub: WsHub | undefined;
  let url: string | undefined;
  let port: number | undefined;
  let token: string | undefined;
  if (opts.http) {
    token = opts.http.token ?? newToken();
    hub = new WsHub(executions, {
      version: VERSION,
      flowsDir: path.resolve(opts.flowsDir),
      log,
      debug: new DebugRelay({ executions, sessions: debugSessions, log }),
    });
    // Team mode: what other nodes' executions do is announced here too.
    if (store instanceof PostgresStore) {
      const wsHub = hub;
      store.cluster.watch({
        wanted: () => wsHub.wants('executions'),
        changed: (event, rec) =>
          wsHub.publish('executions', { type: 'execution', event, record: publicRecord(rec) }),
      });
    }
    const router = new Router().add(...executionRoutes(executions), {
      method: 'GET',
      pattern: '/api/openapi.json',
      handler: () => ({
        status: 200,
        body: openApiDocument(VERSION, {
          ...automationPaths(),
          ...testPaths(),
          ...flowPaths(),
          ...tokenPaths(),
        }),
      }),
    });
    router.add(...webhookRoutes(executions, webhooks), ...runsRoutes(runs));
    router.add(...testRoutes(executions, store, path.resolve(opts.flowsDir)));
    router.add(...tokenRoutes(store));
    if (scheduler) {
      router.add(...scheduleRoutes(scheduler));
      const wsHub = hub;
      scheduler.on('schedule', (event, schedule) =>
        wsHub.publish('schedules', { type: 'schedule', event, schedule }),
      );
    }
    // Deploys, and (once any request that may start a flow has seen other nodes' deploys) the rest.
    router.add(...flowRoutes(flows)).beforeChanges(() => executions.refreshFlows());
    // The runner's own token is "local"; users' tokens are looked up in the store (userTokens.ts).
    const tokens = new TokenCheck(store, token, log);
    const started = await startHttpServer({
      router,
      hub,
      token,
      userOf: (given) => tokens.userOf(given),
      port: opts.http.port,
      host: opts.http.host,
      tls: opts.http.tls,
      publicHosts: opts.http.publicHosts,
      limits: opts.http.limits,
      log,
    });
    server = started.server;
    stopKeepingServing = keepServing(log);
    port = started.port;
    // The address this process itself reaches it at (the lock file, the CLI's own clients).
    const scheme = opts.http.tls ? 'https' : 'http';
    const reachable =
      opts.http.host && !isAnyAddress(opts.http.host) ? hostPort(opts.http.host, port) : `127.0.0.1:${port}`;
    url = `${scheme}://${reachable}`;
  }

  let stopping: Promise<void> | undefined;
  return {
    executions,
    engine,
    scheduler,
    webhooks,
    runs,
    url,
    token,
    port,
    dataDir,
    lock,
    stop: () =>
      (stopping ??= (async () => {
        scheduler?.stop();
        flows.stop();
        hub?.close();
        if (server) {
          server.closeAllConnections();
          await new Promise<void>((r) => server!.close(() => r()));
        }
        await engine.shutdown();
        await store.close();
        lock.release();
        stopKeepingServing?.();
      })()),
  };
}

/**
 * The data folder (database, token, files) usually sits inside the user's workspace: a
 * `.gitignore` of `*` in it keeps `git add .` from committing them. One the user wrote stays.
 */
function keepOutOfGit(dataDir: string): void {
  try {
    fs.writeFileSync(
      path.join(dataDir, '.gitignore'),
      "# The Flows runner's data (database, token, files): not for version control.\n*\n",
      { flag: 'wx' },
    );
  } catch {
    // there already (ours or the user's), or a read-only folder: nothing to do
  }
}
