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
import { ForkServerEvent, WorkerMessage, type WorkerJob } from '../../../protocol';
import { jsonLine, readJsonLines } from './jsonLines';

/**
 * Python processes get a process group of their own (POSIX): Ctrl-C in the terminal of
 * `flows run` or `flows serve` goes to the whole foreground group, and would otherwise raise
 * KeyboardInterrupt in every running flow (FAILED instead of STOPPED) and kill the fork server
 * with a traceback. The runner alone decides: it cancels or stops them. (On Windows `detached`
 * opens a console window per process, so there they stay attached.)
 */
const DETACHED = process.platform !== 'win32';

export interface WorkerExit {
  code: number | null;
  signal: string | null;
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
  fallbackTimer?: NodeJS.Timeout;
}

export interface PythonWorkersEvents {
  message: [executionId: string, msg: WorkerMessage];
  exit: [executionId: string, exit: WorkerExit];
}

/** How long a worker whose process is gone may still take to connect (see gone()). */
const CONNECT_GRACE_MS = 1000;

const SIGNAL_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(os.constants.signals).map(([name, num]) => [num, name]),
);

export class PythonWorkers extends EventEmitter<PythonWorkersEvents> {
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
        this.emit('message', worker.executionId, msg);
      },
      (err) => {
        this.opts.log(`worker ${worker?.executionId ?? '?'}: ${err.message}`);
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
        worker.fallbackTimer = setTimeout(() => this.gone(worker!, { processGone: true }), 3000);
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
    // A write racing the fork server's exit fails with EPIPE; the exit handler deals with that.
    child.stdin!.on('error', (err) => this.opts.log(`fork server stdin: ${err.message}`));
    const ready = new Promise<void>((resolve, reject) => {
      let stderr = '';
      child.stderr!.on('data', (d: Buffer) => {
        stderr += d.toString();
        if (stderr.length > 20000) stderr = stderr.slice(-20000);
      });
      child.once('error', (err) =>
        reject(
          new Error(
            `cannot start Python (${this.opts.python}): ${err.message}. Set flows.pythonPath or --python.`,
          ),
        ),
      );
      child.once('exit', (code, signal) => {
        if (this.stopping) return;
        const why = `Python fork server exited (${signal ?? `code ${code}`})${stderr ? `: ${stderr.trim()}` : ''}`;
        reject(new Error(why));
        this.opts.log(why);
        // Workers it forked live on; their sockets tell when they end. Start a new one.
        this.forkServer = undefined;
        this.startForkServer().catch((err: Error) =>
          this.opts.log(`cannot restart the fork server: ${err.message}`),
        );
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
          }
        },
        (err) => this.opts.log(`fork server: ${err.message}`),
      );
    });
    await ready;
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
    if (this.mode === 'fork') {
      if (!this.forkServer?.stdin?.writable) {
        this.gone(w, { processGone: true, socketGone: true, exit: { code: null, signal: null } });
        return;
      }
      this.forkServer.stdin.write(jsonLine({ cmd: 'spawn', execution_id: job.execution_id, job }));
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
    child.once('exit', (code, signal) => this.gone(w, { processGone: true, exit: { code, signal } }));
    child.once('error', () =>
      this.gone(w, { processGone: true, socketGone: true, exit: { code: null, signal: null } }),
    );
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
    this.workers.delete(w.executionId);
    this.emit('exit', w.executionId, w.exit ?? { code: null, signal: null });
  }

  send(executionId: string, msg: unknown): void {
    const w = this.workers.get(executionId);
    if (!w) return;
    const line = jsonLine(msg);
    if (w.socket && !w.socket.destroyed) w.socket.write(line);
    else w.outbox.push(line);
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
    try {
      process.kill(w.pid, sig);
      return true;
    } catch {
      return false;
    }
  }

  private killPid(pid: number): void {
    try {
      process.kill(pid, 'SIGCONT');
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
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
