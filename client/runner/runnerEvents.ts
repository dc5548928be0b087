/**
 * The runner's WebSocket, as typed VS Code events. One connection per window (the shared
 * runner-client socket); it reconnects while the runner is meant to be up, and fires
 * `onDidConnect` each time so views reload what they may have missed in between.
 */
import * as vscode from 'vscode';
import type { LogLine, ServerMessage } from '../../protocol';
import { RunnerSocket } from '../../runner-client/runnerSocket';
import { log } from '../log';

type Event<T extends ServerMessage['type']> = Extract<ServerMessage, { type: T }>;

export class RunnerEvents implements vscode.Disposable {
  private readonly socket: RunnerSocket;
  private readonly connected = new vscode.EventEmitter<void>();
  private readonly disconnected = new vscode.EventEmitter<void>();
  private readonly executionEmitter = new vscode.EventEmitter<Event<'execution'>>();
  private readonly logEmitter = new vscode.EventEmitter<LogLine>();
  private readonly messageEmitter = new vscode.EventEmitter<Event<'message'>>();
  private readonly scheduleEmitter = new vscode.EventEmitter<Event<'schedule'>>();

  /** Fired on every (re)connection, after the subscriptions are confirmed. */
  readonly onDidConnect = this.connected.event;
  /** Fired when an open connection drops (not on dispose); reconnecting goes on. */
  readonly onDidDisconnect = this.disconnected.event;
  readonly onExecution = this.executionEmitter.event;
  readonly onLog = this.logEmitter.event;
  readonly onMessage = this.messageEmitter.event;
  readonly onSchedule = this.scheduleEmitter.event;

  constructor(url: string, token: string) {
    this.socket = RunnerSocket.background({
      url,
      token,
      topics: ['executions', 'messages', 'schedules'],
      log: (msg) => log.debug(msg),
    });
    this.socket.on('connected', () => this.connected.fire());
    this.socket.on('disconnected', () => this.disconnected.fire());
    this.socket.on('execution', (m) => this.executionEmitter.fire(m));
    this.socket.on('log', (m) => this.logEmitter.fire(m.line));
    this.socket.on('message', (m) => this.messageEmitter.fire(m));
    this.socket.on('schedule', (m) => this.scheduleEmitter.fire(m));
    this.socket.on('runnerError', (m) => log.warn(`runner WebSocket: ${m.message}`));
  }

  get isConnected(): boolean {
    return this.socket.isConnected;
  }

  /** Receive log lines of these executions only (the runner filters); `undefined` = none. */
  followLogs(executionIds: string[] | undefined): void {
    this.socket.followLogs(executionIds);
  }

  dispose(): void {
    this.socket.close();
    this.connected.dispose();
    this.disconnected.dispose();
    this.executionEmitter.dispose();
    this.logEmitter.dispose();
    this.messageEmitter.dispose();
    this.scheduleEmitter.dispose();
  }
}
