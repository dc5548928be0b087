/**
 * The Python processes behind the engine: one warm fork server per runner and one OS process per
 * execution, forked from it (a start costs a fork, not an interpreter launch). Where fork does
 * not exist (Windows) each execution spawns its own interpreter instead.
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
  WorkerMessage,
  checkJsonDepth,
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
  log: (msg: string) => void;
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

  constructor(private readonly opts: PythonWorkersOptions) {
    super();
    this.mode = opts.mode ?? (process.platform === 'win32' ? 'spawn' : 'fork');
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
    this.unidentified.add(socket);
    this.sockets.add(socket);
    readJsonLines(
      socket,
      (raw) => {
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
      if (!worker) return;
      worker.socketGone = true;
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
          } else if (ev.event === 'spawned') {
            const w = this.workers.get(ev.execution_id);
            if (w) w.pid = ev.pid;
            if (this.stopping) this.killPid(ev.pid); // see stop()
          } else if (ev.event === 'exited') {
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
    let line: string;
    try {
      line = jsonLine({ cmd: 'spawn', execution_id: job.execution_id, job });
    } catch (err) {
      return failSoon(`this execution's job cannot be sent to Python: ${(err as Error).message}`);
    }
    if (this.mode === 'fork') {
      if (!this.forkServer?.stdin?.writable) {
        const down = this.forkServerDown ? `: ${this.forkServerDown}` : '';
        return failSoon(`no Python fork server is running${down}; this execution was not started`);
      }
      w.forkServer = this.forkServer;
      this.forkServer.stdin.write(line);
      return;
    }
    const script = path.join(this.opts.pythonDir, 'flows_worker', 'worker.py');
    const child = spawn(this.opts.python, ['-u', script, JSON.stringify(job)], {
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

  /**
   * End a worker for a reason of the runner's (see WorkerExit.reason): its process is killed,
   * its connection closed, and its exit reported with the reason once both are gone.
   */
  private fail(w: Worker, reason: string): void {
    if (!this.workers.has(w.executionId)) return;
    w.failure ??= reason;
    this.opts.log(`execution ${w.executionId}: ${reason}`);
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

  has(executionId: string): boolean {
    return this.workers.has(executionId);
  }

  pid(executionId: string): number | undefined {
    return this.workers.get(executionId)?.pid;
  }

  /** Send a signal to an execution's process. Returns false when there is no such process. */
  signal(executionId: string, sig: NodeJS.Signals): boolean {
    const w = this.workers.get(executionId);
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
    for (const w of this.workers.values()) if (w.pid && !w.processGone) this.killPid(w.pid);
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
