/**
 * The Python processes behind the engine: one warm fork server per runner, and a pool of warm
 * worker processes forked from it that run one execution after another (pool.py restores what a
 * flow can see in between, and retires a worker that cannot be restored). An execution that
 * needs a process of its own (isolation 'process', a `# flows: isolated` line in its flow, a
 * debugged one) or finds every pooled worker busy gets a fresh fork instead, as every execution
 * did before the pool. Where fork does not exist (Windows) each execution spawns its own
 * interpreter.
 *
 * This module knows processes and messages, not statuses: it reports what a worker says and when
 * it is gone, once, with the exit code or signal.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import {
  ForkServerEvent,
  JsonTooDeepError,
  MAX_WIRE_DEPTH,
  PoolWorkerMessage,
  WorkerMessage,
  checkJsonDepth,
  type WorkerIsolation,
  type WorkerJob,
} from '@flows/protocol';
import { jsonLine, readJsonLines } from './jsonLines';
import type { WorkerExit, WorkerPool, WorkerPoolEvents } from './workerPool';

export type { WorkerExit } from './workerPool';

/**
 * Python processes get a process group of their own (POSIX): Ctrl-C in the terminal of
 * `flows run` or `flows serve` goes to the whole foreground group, and would otherwise raise
 * KeyboardInterrupt in every running flow (FAILED instead of STOPPED) and kill the fork server
 * with a traceback. The runner alone decides: it cancels or stops them. (On Windows `detached`
 * opens a console window per process, so there they stay attached.)
 */
const DETACHED = process.platform !== 'win32';

/**
 * Signal a worker and every process its flow started: a worker leads its own process group
 * (forkserver.py), whose id is its pid. Until the worker has made its group (just after the
 * fork) only the worker itself can be reached; `alsoPid` covers that moment.
 */
function signalGroup(pid: number, sig: NodeJS.Signals, alsoPid = true): boolean {
  let reached = false;
  if (process.platform !== 'win32') {
    try {
      process.kill(-pid, sig);
      reached = true;
    } catch {
      // no such group (yet, or any more)
    }
  }
  if (alsoPid && !reached) {
    try {
      process.kill(pid, sig);
      reached = true;
    } catch {
      // already gone
    }
  }
  return reached;
}

export interface PythonWorkersOptions {
  python: string;
  /** Folder holding the flow_api and flows_worker packages. */
  pythonDir: string;
  /** 'fork' (default on POSIX) or 'spawn' (one interpreter per execution). */
  mode?: 'fork' | 'spawn';
  /** Warm pooled workers kept (fork mode; the runner passes its concurrency). 0: none. */
  poolSize?: number;
  /** 'process': every execution gets a fresh fork, no pool. Default 'pool'. */
  isolation?: WorkerIsolation;
  /** Executions a pooled worker runs before it is replaced (default DEFAULT_MAX_EXECUTIONS). */
  maxExecutions?: number;
  /** Resident MB above which a pooled worker is replaced after an execution (0: no ceiling). */
  maxRssMb?: number;
  log: (msg: string) => void;
}

export const DEFAULT_MAX_EXECUTIONS = 1000;
export const DEFAULT_MAX_RSS_MB = 512;

/** A flow file with such a line runs in a fresh process (see WorkerJob.isolation). */
const ISOLATED_MARKER = /^#\s*flows:\s*isolated\b/m;

/** A pooled worker process (pool.py) and the execution it runs. */
interface PoolProc {
  /** Its id in the fork server's events (`pool-N`). */
  id: string;
  pid?: number;
  /** Its control connection (`ready`, `retire` in; `job` out). */
  control?: net.Socket;
  forkServer: ChildProcess;
  state: 'starting' | 'idle' | 'busy' | 'retiring';
  current?: Worker;
  /** SIGSTOPped for its current execution (a pause), and not continued since. */
  frozen: boolean;
  everReady: boolean;
  /** Its fork server is gone: it finishes what it runs, then is killed. */
  orphan: boolean;
}

interface Worker {
  executionId: string;
  pid?: number;
  socket?: net.Socket;
  /** Messages for the worker written before it connected. */
  outbox: string[];
  processGone: boolean;
  socketGone: boolean;
  exit?: WorkerExit;
  child?: ChildProcess;
  /** The fork server its spawn command went to (fork mode). */
  forkServer?: ChildProcess;
  /** Set once: see WorkerExit.reason. */
  failure?: string;
  fallbackTimer?: NodeJS.Timeout;
  socketTimer?: NodeJS.Timeout;
  /** The pooled worker that runs it (or ran it: see PoolProc.current). */
  proc?: PoolProc;
  /** Its `end` message arrived (a pooled worker lives on after it). */
  ended?: boolean;
  /** Waiting for a pooled worker to be ready; `held` while paused there. */
  job?: WorkerJob;
  pending?: boolean;
  held?: boolean;
}

export type PythonWorkersEvents = WorkerPoolEvents;

/** How long a worker whose process is gone may still take to connect (see gone()). */
const CONNECT_GRACE_MS = 1000;
/** How long the connection of a worker whose process is gone may stay open (see gone()). */
const SOCKET_GRACE_MS = 1000;
/** A fork server that dies before it is ready is started again after this (doubling, capped). */
const RESTART_DELAY_MS = 500;
const MAX_RESTART_DELAY_MS = 30_000;

const SIGNAL_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(os.constants.signals).map(([name, num]) => [num, name]),
);

export class PythonWorkers extends EventEmitter<PythonWorkersEvents> implements WorkerPool {
  private readonly workers = new Map<string, Worker>();
  /** Accepted sockets that have not said hello yet. */
  private readonly unidentified = new Set<net.Socket>();
  /** Every open worker socket (stop() closes them all, or the server would never close). */
  private readonly sockets = new Set<net.Socket>();
  private readonly secret = crypto.randomBytes(16).toString('hex');
  private server?: net.Server;
  private address = '';
  private socketDir?: string;
  private forkServer?: ChildProcess;
  /** Pid of the running fork server (tests kill it to see the runner cope). */
  forkServerPid?: number;
  private restartDelay = RESTART_DELAY_MS;
  private restartTimer?: NodeJS.Timeout;
  /** Why there is no fork server right now (between a failed restart and the next try). */
  private forkServerDown?: string;
  private started = false;
  private stopping = false;
  readonly mode: 'fork' | 'spawn';
  pythonVersion = '';
  /** Pooled workers by id, alive or being started. */
  private readonly procs = new Map<string, PoolProc>();
  private procSeq = 0;
  /** Executions waiting for a pooled worker that will be ready soon (FIFO). */
  private pending: Worker[] = [];
  /** Pooled workers in a row that died before they were ready: the pool refills more slowly. */
  private poolFailures = 0;
  private poolTimer?: NodeJS.Timeout;
  readonly poolSize: number;
  /** Executions run in a pooled worker / in a fresh fork (the bench and tests read them). */
  readonly counts = { pooled: 0, forked: 0, retired: 0 };

  constructor(private readonly opts: PythonWorkersOptions) {
    super();
    this.mode = opts.mode ?? (process.platform === 'win32' ? 'spawn' : 'fork');
    this.poolSize =
      this.mode === 'fork' && opts.isolation !== 'process' ? Math.max(0, opts.poolSize ?? 0) : 0;
  }

  async start(): Promise<void> {
    await this.listen();
    if (this.mode === 'fork') await this.startForkServer();
    else this.pythonVersion = await this.probePython();
    this.started = true;
  }

  private env(): NodeJS.ProcessEnv {
    return {
      ...process.env,
      PYTHONPATH: [this.opts.pythonDir, process.env.PYTHONPATH].filter(Boolean).join(path.delimiter),
      PYTHONUNBUFFERED: '1',
      PYTHONDONTWRITEBYTECODE: '1',
      FLOWS_WORKER_ADDRESS: this.address,
      FLOWS_WORKER_SECRET: this.secret,
    };
  }

  /** Workers connect back here. A private 0700 folder keeps other users' processes out. */
  private async listen(): Promise<void> {
    this.server = net.createServer((socket) => this.accept(socket));
    if (process.platform === 'win32') {
      await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
      const port = (this.server.address() as net.AddressInfo).port;
      this.address = `tcp:127.0.0.1:${port}`;
      return;
    }
    this.socketDir = fs.mkdtempSync(path.join(os.tmpdir(), 'flows-'));
    this.address = path.join(this.socketDir, 'w.sock');
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(this.address, resolve);
    });
  }

  private accept(socket: net.Socket): void {
    socket.setNoDelay(true);
    let worker: Worker | undefined;
    /** Set when this is a pooled worker's control connection. */
    let proc: PoolProc | undefined;
    this.unidentified.add(socket);
    this.sockets.add(socket);
    readJsonLines(
      socket,
      (raw) => {
        if (proc || (!worker && (raw as { type?: unknown } | null)?.type === 'ready')) {
          const control = PoolWorkerMessage.safeParse(raw);
          if (!control.success) {
            this.opts.log(
              `pooled worker ${proc?.id ?? '?'} sent an invalid message: ${control.error.message}`,
            );
            return;
          }
          if (!proc) {
            const m = control.data;
            const p = m.type === 'ready' && m.worker_id ? this.procs.get(m.worker_id) : undefined;
            if (!p || m.type !== 'ready' || m.secret !== this.secret || p.control) {
              socket.destroy();
              return;
            }
            if (this.stopping) {
              if (m.pid) this.killPid(m.pid);
              socket.destroy();
              return;
            }
            this.unidentified.delete(socket);
            proc = p;
            p.control = socket;
            p.pid = p.pid ?? m.pid;
          }
          this.onPoolMessage(proc, control.data);
          return;
        }
        const parsed = WorkerMessage.safeParse(raw);
        if (!parsed.success) {
          this.opts.log(
            `worker ${worker?.executionId ?? '?'} sent an invalid message: ${parsed.error.message}`,
          );
          return;
        }
        const msg = parsed.data;
        if (!worker) {
          if (msg.type !== 'hello' || msg.secret !== this.secret || !this.workers.has(msg.execution_id)) {
            socket.destroy();
            return;
          }
          if (this.stopping) {
            // Forked just before stop(): its pid was not known when stop() killed the others.
            this.killPid(msg.pid);
            socket.destroy();
            return;
          }
          this.unidentified.delete(socket);
          worker = this.workers.get(msg.execution_id)!;
          worker.socket = worker.socket ?? socket;
          worker.pid = worker.pid ?? msg.pid;
          for (const line of worker.outbox) socket.write(line);
          worker.outbox = [];
          return;
        }
        if (worker.failure) return; // ended by the runner: nothing it says counts any more
        if (msg.type === 'end') worker.ended = true;
        try {
          this.emit('message', worker.executionId, msg);
        } catch (err) {
          // The runner could not take it in (say, not store it): this execution's failure.
          this.fail(
            worker,
            `the runner could not handle a message of this execution: ${(err as Error).message}`,
          );
        }
      },
      (err) => {
        if (proc) {
          // The pool's own protocol broke: this worker cannot be trusted with another job.
          this.opts.log(`pooled worker ${proc.id}: ${err.message}`);
          this.retireProc(proc);
          return;
        }
        this.opts.log(`worker ${worker?.executionId ?? '?'}: ${err.message}`);
        if (worker && err instanceof JsonTooDeepError) {
          this.fail(worker, `the worker sent a message the runner refuses: ${err.message}`);
        }
        socket.destroy();
      },
    );
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.unidentified.delete(socket);
      this.sockets.delete(socket);
      if (proc) return this.controlClosed(proc);
      if (!worker) return;
      worker.socketGone = true;
      if (worker.proc) {
        // A pooled worker closes an execution's connection after its end and lives on; closed
        // without an end, the worker is broken: killed, its exit ends the execution.
        if (worker.processGone) {
          // its worker's exit was reported first (killed, say)
        } else if (worker.ended || worker.proc.current !== worker) {
          this.gone(worker, { processGone: true, exit: { code: 0, signal: null } });
        } else if (worker.proc.pid !== undefined) {
          this.killPid(worker.proc.pid);
        }
        this.maybeExit(worker);
        return;
      }
      // The process's exit status comes from the fork server; if that never arrives (fork
      // server gone), do not leave the execution hanging.
      if (!worker.processGone) {
        const orphan = this.mode === 'fork' && worker.forkServer !== this.forkServer;
        worker.fallbackTimer = setTimeout(() => this.gone(worker!, { processGone: true }), orphan ? 0 : 3000);
      }
      this.maybeExit(worker);
    });
  }

  private async startForkServer(): Promise<void> {
    const script = path.join(this.opts.pythonDir, 'flows_worker', 'forkserver.py');
    const child = spawn(this.opts.python, ['-u', script], {
      env: this.env(),
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: DETACHED,
    });
    this.forkServer = child;
    this.forkServerPid = child.pid;
    this.forkServerDown = undefined;
    let isReady = false;
    // A write racing the fork server's exit fails with EPIPE; the exit handler deals with that.
    child.stdin!.on('error', (err) => this.opts.log(`fork server stdin: ${err.message}`));
    const ready = new Promise<void>((resolve, reject) => {
      let stderr = '';
      child.stderr!.on('data', (d: Buffer) => {
        stderr += d.toString();
        if (stderr.length > 20000) stderr = stderr.slice(-20000);
      });
      child.once('error', (err) =>
        reject(new Error(`cannot start Python (${this.opts.python}): ${err.message}`)),
      );
      child.once('exit', (code, signal) => {
        if (this.forkServer === child) {
          this.forkServer = undefined;
          this.forkServerPid = undefined;
        }
        if (this.stopping) return;
        const tail = stderr.trim().split('\n').slice(-3).join(' | ');
        const why = `Python fork server exited (${signal ?? `code ${code}`})${tail ? `: ${tail}` : ''}`;
        reject(new Error(why));
        this.opts.log(stderr ? `${why}\n${stderr.trim()}` : why);
        this.restartForkServer(isReady, why);
        // Spawn commands it had not acted on are lost with it: their executions end, with the
        // reason, once its last events are read ('exit' can come before them; only the fork
        // server writes to its stdout). Workers it forked live on; their sockets tell when they end.
        const out = child.stdout!;
        const sweep = () => {
          for (const w of [...this.workers.values()]) {
            if (w.forkServer !== child || w.pid !== undefined || w.socket) continue;
            this.fail(w, `${why}; this execution was not started`);
          }
          this.orphanPool(child);
        };
        if (out.readableEnded || out.destroyed) sweep();
        else {
          const t = setTimeout(sweep, 1000);
          out.once('close', () => {
            clearTimeout(t);
            sweep();
          });
        }
      });
      readJsonLines(
        child.stdout!,
        (raw) => {
          const parsed = ForkServerEvent.safeParse(raw);
          if (!parsed.success) {
            this.opts.log(`fork server sent an invalid event: ${JSON.stringify(raw).slice(0, 200)}`);
            return;
          }
          const ev = parsed.data;
          if (ev.event === 'ready') {
            this.pythonVersion = ev.python;
            isReady = true;
            this.restartDelay = RESTART_DELAY_MS;
            resolve();
            this.fillPool();
          } else if (ev.event === 'spawned') {
            const p = this.procs.get(ev.execution_id);
            if (p) p.pid = ev.pid;
            const w = p ? undefined : this.workers.get(ev.execution_id);
            if (w) w.pid = ev.pid;
            if (this.stopping) this.killPid(ev.pid); // see stop()
          } else if (ev.event === 'exited') {
            const p = this.procs.get(ev.execution_id);
            if (p) {
              const signal = ev.signal ? (SIGNAL_NAMES[ev.signal] ?? String(ev.signal)) : null;
              this.procGone(p, { code: ev.code, signal });
              return;
            }
            const w = this.workers.get(ev.execution_id);
            if (w)
              this.gone(w, {
                processGone: true,
                exit: {
                  code: ev.code,
                  signal: ev.signal ? (SIGNAL_NAMES[ev.signal] ?? String(ev.signal)) : null,
                },
              });
          } else {
            this.opts.log(`fork server: ${ev.message}`);
            const p = ev.execution_id ? this.procs.get(ev.execution_id) : undefined;
            if (p && p.pid === undefined) return this.procGone(p, { code: null, signal: null });
            // An error about one spawn (a job it cannot read, a failed fork): nothing was forked.
            const w = ev.execution_id ? this.workers.get(ev.execution_id) : undefined;
            if (w && w.forkServer === child && w.pid === undefined && !w.socket) {
              this.fail(w, `the Python fork server could not start this execution: ${ev.message}`);
            }
          }
        },
        (err) => this.opts.log(`fork server: ${err.message}`),
      );
    });
    await ready;
  }

  /**
   * A fork server that served is replaced at once; one that died on its way up (a broken
   * interpreter, say) is tried again after a growing delay rather than in a tight loop. Spawns
   * in between fail at once (see spawn()).
   */
  private restartForkServer(wasReady: boolean, why: string): void {
    // Not before start() succeeded: a runner whose first fork server fails does not start.
    if (this.stopping || !this.started || this.restartTimer) return;
    const restart = () => {
      this.restartTimer = undefined;
      if (this.stopping || this.forkServer) return;
      this.startForkServer().catch((err: Error) =>
        this.opts.log(`cannot restart the fork server: ${err.message}`),
      );
    };
    // Started synchronously, so that spawn commands from now on queue in the new one's stdin.
    if (wasReady) return restart();
    this.forkServerDown = why;
    this.restartTimer = setTimeout(restart, this.restartDelay);
    this.restartDelay = Math.min(this.restartDelay * 2, MAX_RESTART_DELAY_MS);
  }

  private probePython(): Promise<string> {
    return new Promise((resolve, reject) => {
      const child = spawn(this.opts.python, ['-c', 'import sys; print("%d.%d.%d" % sys.version_info[:3])']);
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.once('error', (err) =>
        reject(new Error(`cannot start Python (${this.opts.python}): ${err.message}`)),
      );
      child.once('exit', (code) =>
        code === 0 ? resolve(out.trim()) : reject(new Error(`${this.opts.python} exited with ${code}`)),
      );
    });
  }

  spawn(job: WorkerJob): void {
    const w: Worker = { executionId: job.execution_id, outbox: [], processGone: false, socketGone: false };
    this.workers.set(job.execution_id, w);
    // Failures are reported in a later turn: the caller is still launching this execution.
    const failSoon = (reason: string): void => void setImmediate(() => this.fail(w, reason));
    // Inputs were checked where they came in; this guards what the runner put together itself.
    const tooDeep = checkJsonDepth(job, MAX_WIRE_DEPTH - 1);
    if (tooDeep) return failSoon(`this execution's job cannot be sent to Python: ${tooDeep.message}`);
    if (this.mode === 'fork') {
      if (this.poolSize > 0 && this.poolable(job)) {
        w.job = job;
        const idle = this.idleProc();
        if (idle) return this.assign(idle, w);
        // A pooled worker that will be ready in a moment (it is restoring after an execution, or
        // starting) beats a fork; past those, a fresh fork does not wait for anyone.
        if (this.waitingCount() < this.soonAvailable()) {
          w.pending = true;
          this.pending.push(w);
          return;
        }
        w.job = undefined;
      }
      this.forkFresh(w, job);
      return;
    }
    let arg: string;
    try {
      arg = JSON.stringify(job);
    } catch (err) {
      return failSoon(`this execution's job cannot be sent to Python: ${(err as Error).message}`);
    }
    const script = path.join(this.opts.pythonDir, 'flows_worker', 'worker.py');
    const child = spawn(this.opts.python, ['-u', script, arg], {
      env: this.env(),
      stdio: 'ignore',
      detached: DETACHED,
    });
    w.child = child;
    w.pid = child.pid;
    child.once('exit', (code, signal) => {
      // What the flow left running ends with it. Node has reaped the worker already, so (unlike
      // the fork server's way) its pid could in principle have been reused; a group id is not
      // reused while any process of the group lives, which is the case that matters.
      if (DETACHED && child.pid) signalGroup(child.pid, 'SIGKILL', false);
      this.gone(w, { processGone: true, exit: { code, signal } });
    });
    child.once('error', () =>
      this.gone(w, { processGone: true, socketGone: true, exit: { code: null, signal: null } }),
    );
  }

  /** Fork a process for this execution alone (fork mode). */
  private forkFresh(w: Worker, job: WorkerJob): void {
    const failSoon = (reason: string): void => void setImmediate(() => this.fail(w, reason));
    let line: string;
    try {
      line = jsonLine({ cmd: 'spawn', execution_id: job.execution_id, job });
    } catch (err) {
      return failSoon(`this execution's job cannot be sent to Python: ${(err as Error).message}`);
    }
    if (!this.forkServer?.stdin?.writable) {
      const down = this.forkServerDown ? `: ${this.forkServerDown}` : '';
      return failSoon(`no Python fork server is running${down}; this execution was not started`);
    }
    this.counts.forked++;
    w.forkServer = this.forkServer;
    this.forkServer.stdin.write(line);
  }

  // ----- the pool ---------------------------------------------------------------------------

  /** Whether `job` may run in a pooled worker (see WorkerJob.isolation). */
  private poolable(job: WorkerJob): boolean {
    if (job.debug || job.isolation === 'process') return false;
    if (job.kind === 'script') return !ISOLATED_MARKER.test(job.script ?? '');
    if (job.kind === 'flow' && job.flow_path) return !this.markedIsolated(job.flow_path);
    return true;
  }

  /** flow path → its file's version and whether it has the isolation marker. */
  private readonly markers = new Map<string, { mtimeMs: number; size: number; isolated: boolean }>();

  private markedIsolated(file: string): boolean {
    let st: fs.Stats;
    try {
      st = fs.statSync(file);
    } catch {
      return false; // the worker reports what is wrong with it
    }
    const known = this.markers.get(file);
    if (known && known.mtimeMs === st.mtimeMs && known.size === st.size) return known.isolated;
    let isolated = false;
    try {
      isolated = ISOLATED_MARKER.test(fs.readFileSync(file, 'utf8'));
    } catch {
      // unreadable: the worker reports it
    }
    if (this.markers.size > 4096) this.markers.clear();
    this.markers.set(file, { mtimeMs: st.mtimeMs, size: st.size, isolated });
    return isolated;
  }

  private idleProc(): PoolProc | undefined {
    for (const p of this.procs.values()) if (p.state === 'idle' && !p.orphan) return p;
    return undefined;
  }

  private waitingCount(): number {
    let n = 0;
    for (const w of this.pending) if (!w.held) n++;
    return n;
  }

  /** Pooled workers that are ready, or will be in a moment, for a waiting execution. */
  private soonAvailable(): number {
    let alive = 0;
    let soon = 0;
    for (const p of this.procs.values()) {
      if (p.orphan) continue;
      alive++;
      if (p.state === 'idle' || p.state === 'starting' || (p.state === 'busy' && p.current?.ended)) soon++;
      // retiring: replaced once its exit is reported
      else if (p.state === 'retiring') soon++;
    }
    // Replacements still to be started (none while the pool fails to start).
    if (this.poolFailures === 0 && this.forkServer) soon += Math.max(0, this.poolSize - alive);
    return soon;
  }

  /** Start pooled workers until there are poolSize. */
  private fillPool(): void {
    if (this.stopping || this.poolSize === 0 || this.poolTimer) return;
    const fsrv = this.forkServer;
    if (!fsrv?.stdin?.writable) return;
    let alive = 0;
    for (const p of this.procs.values()) if (!p.orphan) alive++;
    if (alive >= this.poolSize) return;
    if (this.poolFailures > 0) {
      // Workers die before they are ready (a broken site-packages, say): one at a time, slower.
      const delay = Math.min(MAX_RESTART_DELAY_MS, RESTART_DELAY_MS * 2 ** (this.poolFailures - 1));
      this.poolTimer = setTimeout(() => {
        this.poolTimer = undefined;
        if (this.startingCount() === 0) this.startProc();
      }, delay);
      this.poolTimer.unref();
      return;
    }
    for (; alive < this.poolSize; alive++) this.startProc();
  }

  private startingCount(): number {
    let n = 0;
    for (const p of this.procs.values()) if (p.state === 'starting' && !p.orphan) n++;
    return n;
  }

  private startProc(): void {
    const fsrv = this.forkServer;
    if (this.stopping || !fsrv?.stdin?.writable) return;
    const id = `pool-${++this.procSeq}`;
    this.procs.set(id, {
      id,
      forkServer: fsrv,
      state: 'starting',
      frozen: false,
      everReady: false,
      orphan: false,
    });
    const options = {
      max_executions: this.opts.maxExecutions ?? DEFAULT_MAX_EXECUTIONS,
      max_rss_mb: this.opts.maxRssMb ?? DEFAULT_MAX_RSS_MB,
    };
    fsrv.stdin.write(jsonLine({ cmd: 'pool', execution_id: id, options }));
  }

  private assign(p: PoolProc, w: Worker): void {
    const job = w.job!;
    w.job = undefined;
    w.pending = false;
    let line: string;
    try {
      line = jsonLine({ type: 'job', job });
    } catch (err) {
      setImmediate(() =>
        this.fail(w, `this execution's job cannot be sent to Python: ${(err as Error).message}`),
      );
      return;
    }
    p.state = 'busy';
    p.current = w;
    w.proc = p;
    w.pid = p.pid;
    w.forkServer = p.forkServer;
    this.counts.pooled++;
    p.control!.write(line);
  }

  /** Hand waiting executions to ready workers; fork those that no worker will take soon. */
  private drainPending(): void {
    if (this.pending.length === 0) return;
    let i = 0;
    while (i < this.pending.length) {
      const w = this.pending[i];
      if (w.held) {
        i++;
        continue;
      }
      const p = this.idleProc();
      if (!p) break;
      this.pending.splice(i, 1);
      this.assign(p, w);
    }
    const excess = this.waitingCount() - this.soonAvailable();
    for (let n = 0; n < excess; n++) {
      let idx = this.pending.length - 1;
      while (idx >= 0 && this.pending[idx].held) idx--;
      if (idx < 0) break;
      const [w] = this.pending.splice(idx, 1);
      const job = w.job!;
      w.job = undefined;
      w.pending = false;
      this.forkFresh(w, job);
    }
  }

  private onPoolMessage(p: PoolProc, msg: PoolWorkerMessage): void {
    if (msg.type === 'retire') {
      this.opts.log(`pooled worker ${p.id} retires: ${msg.reason}`);
      this.counts.retired++;
      p.state = 'retiring';
      p.current = undefined;
      return;
    }
    p.everReady = true;
    if (this.poolFailures > 0) {
      // Workers start again: the rest of the pool, at once.
      this.poolFailures = 0;
      clearTimeout(this.poolTimer);
      this.poolTimer = undefined;
      setImmediate(() => this.fillPool());
    }
    p.current = undefined;
    p.frozen = false;
    if (p.orphan || p.state === 'retiring') {
      if (p.pid !== undefined) this.killPid(p.pid);
      return;
    }
    p.state = 'idle';
    this.drainPending();
  }

  /** Kill a pooled worker that cannot be trusted with another job; its exit is reported. */
  private retireProc(p: PoolProc): void {
    p.state = 'retiring';
    if (p.pid !== undefined) this.killPid(p.pid);
    else p.control?.destroy();
  }

  private controlClosed(p: PoolProc): void {
    // The fork server reports the exit of its own workers; nobody reports an orphan's.
    if (p.orphan) this.procGone(p, { code: null, signal: null });
    else if (p.state !== 'retiring' && p.pid !== undefined) this.killPid(p.pid);
  }

  /** A pooled worker's process is gone: its execution (if any) ends, the pool refills. */
  private procGone(p: PoolProc, exit: WorkerExit): void {
    if (!this.procs.has(p.id)) return;
    this.procs.delete(p.id);
    p.control?.destroy();
    if (!p.everReady) this.poolFailures++;
    const w = p.current;
    p.current = undefined;
    if (w && this.workers.get(w.executionId) === w) this.gone(w, { processGone: true, exit });
    if (this.stopping) return;
    this.fillPool();
    this.drainPending();
  }

  /** The fork server `fsrv` is gone: its pooled workers finish what they run, then end. */
  private orphanPool(fsrv: ChildProcess): void {
    for (const p of [...this.procs.values()]) {
      if (p.forkServer !== fsrv || p.orphan) continue;
      p.orphan = true;
      if (!p.control) {
        if (p.pid !== undefined) this.killPid(p.pid);
        this.procs.delete(p.id);
      } else if (p.state !== 'busy' && p.pid !== undefined) this.killPid(p.pid);
    }
    this.drainPending();
  }

  /**
   * End a worker for a reason of the runner's (see WorkerExit.reason): its process is killed,
   * its connection closed, and its exit reported with the reason once both are gone.
   */
  private fail(w: Worker, reason: string): void {
    if (!this.workers.has(w.executionId)) return;
    w.failure ??= reason;
    this.opts.log(`execution ${w.executionId}: ${reason}`);
    if (w.pending) {
      this.pending.splice(this.pending.indexOf(w), 1);
      w.pending = false;
    }
    if (w.proc) {
      // Its pooled worker is killed only while it runs this execution; its exit then ends it.
      const p = w.proc;
      const running = p.current === w && p.pid !== undefined && !w.processGone;
      if (running) this.killPid(p.pid!);
      w.socket?.destroy();
      this.gone(w, { processGone: !running || p.orphan, socketGone: !w.socket });
      return;
    }
    const hasProcess = w.pid !== undefined && !w.processGone;
    if (hasProcess) this.killPid(w.pid!);
    w.child?.kill('SIGKILL');
    w.socket?.destroy();
    // No process (never forked) or none we can learn the end of: report now.
    const noExitNews = this.mode === 'fork' && w.forkServer !== this.forkServer;
    this.gone(w, {
      processGone: !hasProcess || noExitNews,
      socketGone: !w.socket,
    });
  }

  private gone(w: Worker, what: { processGone?: boolean; socketGone?: boolean; exit?: WorkerExit }): void {
    if (what.processGone) w.processGone = true;
    if (what.socketGone) w.socketGone = true;
    if (what.exit) w.exit = what.exit;
    // A worker that exits before connecting has no socket to wait for. But a fast one may have
    // connected, written everything and exited while the fork server's news of its exit
    // overtook the connection: give the connection a moment to be accepted first.
    if (w.processGone && !w.socket && !w.socketGone) {
      w.fallbackTimer ??= setTimeout(() => this.noConnection(w, 10), CONNECT_GRACE_MS);
      return;
    }
    // The process is gone but its connection is open: a process the flow forked, which left
    // the worker's process group (the group itself is killed), still holds it. Its last
    // messages are read first (setImmediate runs after pending I/O); then the execution ends.
    if (w.processGone && w.socket && !w.socketGone && !w.socketTimer) {
      const socket = w.socket;
      w.socketTimer = setTimeout(() => setImmediate(() => socket.destroy()), SOCKET_GRACE_MS);
    }
    this.maybeExit(w);
  }

  /**
   * The grace for `w` to connect is over. After a busy stretch the timer runs before pending
   * connections are accepted, so look once more after the next poll phase, and wait longer
   * while sockets that have not said hello yet (one may be `w`'s) are open.
   */
  private noConnection(w: Worker, retries: number): void {
    setImmediate(() => {
      if (w.socket || w.socketGone) return;
      if (this.unidentified.size > 0 && retries > 0) {
        w.fallbackTimer = setTimeout(() => this.noConnection(w, retries - 1), CONNECT_GRACE_MS);
        return;
      }
      this.gone(w, { socketGone: true });
    });
  }

  /** Report the end once both the process and its socket are gone, so no message is lost. */
  private maybeExit(w: Worker): void {
    if (!w.processGone || !w.socketGone || !this.workers.has(w.executionId)) return;
    clearTimeout(w.fallbackTimer);
    clearTimeout(w.socketTimer);
    this.workers.delete(w.executionId);
    const p = w.proc;
    if (p?.current === w && p.frozen && p.pid !== undefined) {
      // Paused just as it ended: the worker must go on to restore itself.
      p.frozen = false;
      signalGroup(p.pid, 'SIGCONT');
    }
    const exit = w.exit ?? { code: null, signal: null };
    this.emit('exit', w.executionId, w.failure ? { ...exit, reason: w.failure } : exit);
  }

  send(executionId: string, msg: unknown): void {
    const w = this.workers.get(executionId);
    if (!w) return;
    let line: string;
    try {
      line = jsonLine(msg);
    } catch (err) {
      this.fail(w, `the runner could not send this execution a message: ${(err as Error).message}`);
      return;
    }
    if (w.socket && !w.socket.destroyed) w.socket.write(line);
    else w.outbox.push(line);
  }

  /** Worker processes alive or being started (each until its exit is reported). */
  get size(): number {
    return this.workers.size;
  }

  /** Pooled workers alive (not counting orphans of a dead fork server), and how many are idle. */
  poolStats(): { workers: number; idle: number; pids: number[] } {
    let workers = 0;
    let idle = 0;
    const pids: number[] = [];
    for (const p of this.procs.values()) {
      if (p.orphan) continue;
      workers++;
      if (p.state === 'idle') idle++;
      if (p.pid !== undefined) pids.push(p.pid);
    }
    return { workers, idle, pids };
  }

  has(executionId: string): boolean {
    return this.workers.has(executionId);
  }

  pid(executionId: string): number | undefined {
    return this.workers.get(executionId)?.pid;
  }

  /** Send a signal to an execution's process. Returns false when there is no such process. */
  signal(executionId: string, sig: NodeJS.Signals): boolean {
    const w = this.workers.get(executionId);
    if (w?.pending) {
      // Not handed to a worker yet: a kill ends it there, a pause holds it back.
      if (sig === 'SIGKILL') {
        this.pending.splice(this.pending.indexOf(w), 1);
        w.pending = false;
        w.job = undefined;
        setImmediate(() =>
          this.gone(w, { processGone: true, socketGone: true, exit: { code: null, signal: sig } }),
        );
        return true;
      }
      if (sig === 'SIGSTOP') w.held = true;
      else if (sig === 'SIGCONT' && w.held) {
        w.held = false;
        this.drainPending();
      }
      return true;
    }
    if (w?.proc) {
      // A pooled worker that has moved on to another execution is no longer this one's.
      const p = w.proc;
      if (p.current !== w || p.pid === undefined || w.processGone) return false;
      if (sig === 'SIGSTOP') p.frozen = true;
      else if (sig === 'SIGCONT') p.frozen = false;
      return signalGroup(p.pid, sig);
    }
    if (!w?.pid || w.processGone) return false;
    return signalGroup(w.pid, sig);
  }

  private killPid(pid: number): void {
    signalGroup(pid, 'SIGCONT');
    signalGroup(pid, 'SIGKILL');
  }

  /** Kill every worker and the fork server. */
  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.poolTimer);
    for (const w of this.workers.values()) if (w.pid && !w.processGone && !w.proc) this.killPid(w.pid);
    for (const p of this.procs.values()) if (p.pid !== undefined) this.killPid(p.pid);
    for (const w of this.pending.splice(0)) {
      w.pending = false;
      this.gone(w, { processGone: true, socketGone: true });
    }
    if (this.forkServer) {
      // A worker forked just before this has no pid yet: its 'spawned' event is still in the
      // fork server's stdout, and is killed as it is read. So wait for the end of that, too.
      const fsrv = this.forkServer;
      const exited = new Promise<void>((r) => (fsrv.exitCode !== null ? r() : fsrv.once('exit', () => r())));
      const drained = new Promise<void>((r) =>
        !fsrv.stdout || fsrv.stdout.readableEnded || fsrv.stdout.destroyed
          ? r()
          : fsrv.stdout.once('close', () => r()),
      );
      fsrv.stdin?.end();
      const t = setTimeout(() => fsrv.kill('SIGKILL'), 2000);
      await exited;
      clearTimeout(t);
      await Promise.race([drained, new Promise((r) => setTimeout(r, 1000).unref())]);
    }
    // Close the workers' connections, or server.close() would wait for them.
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
    if (this.socketDir) fs.rmSync(this.socketDir, { recursive: true, force: true });
  }
}
