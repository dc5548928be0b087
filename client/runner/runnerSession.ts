/**
 * The window's one view of "the runner", whichever runner that is at the moment: its events keep
 * flowing across reconnects and runner restarts, so views subscribe once. `onDidConnect` fires
 * on every (re)connection with the connection to use, after which a view reloads what it may
 * have missed; the log subscription is carried over to each new connection.
 */
import * as vscode from 'vscode';
import type { ExecutionRecord, LogLine, MessageRecord, ScheduleRecord } from '../../protocol';
import type { RunnerConnection } from './runnerService';

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
      ev.onExecution((m) => this.executions.fire({ event: m.event, record: m.record })),
      ev.onLog((line) => this.logs.fire(line)),
      ev.onMessage((m) => this.messages.fire({ event: m.event, message: m.message })),
      ev.onSchedule((m) => this.schedules.fire({ event: m.event, schedule: m.schedule })),
      ev.onDidConnect(() => this.connected.fire(conn)),
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
