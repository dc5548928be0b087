/**
 * The window's one view of "the runner", whichever runner that is at the moment: its events keep
 * flowing across reconnects and runner restarts, so views subscribe once. `onDidConnect` fires
 * on every (re)connection with the connection to use, after which a view reloads what it may
 * have missed; the log subscription is carried over to each new connection.
 */
import * as vscode from 'vscode';
import type { ExecutionRecord, LogLine, MessageRecord, ScheduleRecord } from '@flows/protocol';
import type { RunnerSocket, RunnerSocketEvents } from '@flows/runner-client/runnerSocket';
import type { RunnerConnection } from './runnerService';

/** A listener on the runner socket (a Node emitter) as a VS Code disposable. */
function listen<K extends keyof RunnerSocketEvents>(
  socket: RunnerSocket,
  event: K,
  fn: (...args: RunnerSocketEvents[K]) => void,
): vscode.Disposable {
  const on = socket.on as (e: K, f: typeof fn) => RunnerSocket;
  const off = socket.off as (e: K, f: typeof fn) => RunnerSocket;
  on.call(socket, event, fn);
  return new vscode.Disposable(() => off.call(socket, event, fn));
}

export class RunnerSession implements vscode.Disposable {
  private conn: RunnerConnection | undefined;
  private subs: vscode.Disposable[] = [];
  private logIds: string[] | undefined;

  private readonly connected = new vscode.EventEmitter<RunnerConnection>();
  private readonly executions = new vscode.EventEmitter<{
    event: 'created' | 'updated';
    record: ExecutionRecord;
  }>();
  private readonly logs = new vscode.EventEmitter<LogLine>();
  private readonly messages = new vscode.EventEmitter<{
    event: 'created' | 'answered';
    message: MessageRecord;
  }>();
  private readonly schedules = new vscode.EventEmitter<{
    event: 'created' | 'updated' | 'deleted';
    schedule: ScheduleRecord;
  }>();

  /** Each (re)connection, to this runner or a new one, once its events flow. */
  readonly onDidConnect = this.connected.event;
  readonly onExecution = this.executions.event;
  readonly onLog = this.logs.event;
  readonly onMessage = this.messages.event;
  readonly onSchedule = this.schedules.event;

  /** The connection of the runner in use (RunnerService calls this on every state change). */
  use(conn: RunnerConnection | undefined): void {
    if (conn === this.conn) return;
    this.subs.forEach((s) => s.dispose());
    this.subs = [];
    this.conn = conn;
    if (!conn) return;
    const ev = conn.events;
    this.subs.push(
      listen(ev, 'execution', (m) => this.executions.fire({ event: m.event, record: m.record })),
      listen(ev, 'log', (m) => this.logs.fire(m.line)),
      listen(ev, 'message', (m) => this.messages.fire({ event: m.event, message: m.message })),
      listen(ev, 'schedule', (m) => this.schedules.fire({ event: m.event, schedule: m.schedule })),
      listen(ev, 'connected', () => this.connected.fire(conn)),
    );
    ev.followLogs(this.logIds);
    // Its socket may have connected before this runner was handed over.
    if (ev.isConnected) this.connected.fire(conn);
  }

  /** Receive log lines of these executions only, on this and every later connection. */
  followLogs(executionIds: string[] | undefined): void {
    this.logIds = executionIds;
    this.conn?.events.followLogs(executionIds);
  }

  dispose(): void {
    this.subs.forEach((s) => s.dispose());
    this.connected.dispose();
    this.executions.dispose();
    this.logs.dispose();
    this.messages.dispose();
    this.schedules.dispose();
  }
}
