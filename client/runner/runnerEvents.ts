/**
 * The runner's WebSocket, as typed VS Code events. One connection per window; it reconnects
 * while the runner is meant to be up, and fires `onDidConnect` each time so views reload what
 * they may have missed in between.
 */
import * as vscode from 'vscode';
import WebSocket from 'ws';
import { ServerMessage, WS_PATH, type ClientMessage, type LogLine } from '../../protocol';
import { log } from '../log';

type Event<T extends ServerMessage['type']> = Extract<ServerMessage, { type: T }>;

export class RunnerEvents implements vscode.Disposable {
  private ws: WebSocket | undefined;
  private disposed = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private retries = 0;
  private logIds: string[] | undefined;

  private readonly connected = new vscode.EventEmitter<void>();
  private readonly disconnected = new vscode.EventEmitter<void>();
  private readonly executionEmitter = new vscode.EventEmitter<Event<'execution'>>();
  private readonly logEmitter = new vscode.EventEmitter<LogLine>();
  private readonly messageEmitter = new vscode.EventEmitter<Event<'message'>>();
  private readonly scheduleEmitter = new vscode.EventEmitter<Event<'schedule'>>();

  /** Fired on every (re)connection, after the subscriptions are sent. */
  readonly onDidConnect = this.connected.event;
  /** Fired when an open connection drops (not on dispose); reconnecting goes on. */
  readonly onDidDisconnect = this.disconnected.event;
  readonly onExecution = this.executionEmitter.event;
  readonly onLog = this.logEmitter.event;
  readonly onMessage = this.messageEmitter.event;
  readonly onSchedule = this.scheduleEmitter.event;

  constructor(
    private readonly url: string,
    private readonly token: string,
  ) {
    this.connect();
  }

  get isConnected(): boolean {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  /** Receive log lines of these executions only (the runner filters); `undefined` = none. */
  followLogs(executionIds: string[] | undefined): void {
    this.logIds = executionIds;
    this.sendLogSubscription();
  }

  private sendLogSubscription(): void {
    if (this.logIds?.length) this.send({ type: 'subscribe', topics: ['logs'], execution_ids: this.logIds });
    else this.send({ type: 'unsubscribe', topics: ['logs'] });
  }

  private send(msg: ClientMessage): void {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(msg));
  }

  private connect(): void {
    if (this.disposed) return;
    const wsUrl = `${this.url.replace(/^http/, 'ws')}${WS_PATH}`;
    const ws = new WebSocket(wsUrl, { headers: { authorization: `Bearer ${this.token}` } });
    this.ws = ws;
    ws.on('open', () => {
      this.retries = 0;
      this.send({ type: 'subscribe', topics: ['executions', 'messages', 'schedules'] });
      this.sendLogSubscription();
      this.connected.fire();
    });
    ws.on('message', (data) => this.dispatch(data.toString()));
    ws.on('error', (err) => log.debug(`runner WebSocket: ${err.message}`));
    let opened = false;
    ws.on('open', () => (opened = true));
    ws.on('close', () => {
      if (this.ws !== ws || this.disposed) return;
      if (opened) this.disconnected.fire();
      if (this.disposed) return; // a listener gave this connection up
      // Back off up to 5 s: the runner may be restarting, or a slow window was cut off.
      const delay = Math.min(5000, 200 * 2 ** this.retries++);
      this.retryTimer = setTimeout(() => this.connect(), delay);
    });
  }

  private dispatch(text: string): void {
    let parsed;
    try {
      parsed = ServerMessage.safeParse(JSON.parse(text));
    } catch {
      log.warn('runner WebSocket sent something that is not JSON');
      return;
    }
    if (!parsed.success) {
      // Newer runners may send message types this version does not know; they are not errors.
      log.debug(`runner WebSocket: ignored message (${parsed.error.issues[0]?.message})`);
      return;
    }
    const msg = parsed.data;
    switch (msg.type) {
      case 'execution':
        this.executionEmitter.fire(msg);
        break;
      case 'log':
        this.logEmitter.fire(msg.line);
        break;
      case 'message':
        this.messageEmitter.fire(msg);
        break;
      case 'schedule':
        this.scheduleEmitter.fire(msg);
        break;
      case 'error':
        log.warn(`runner WebSocket: ${msg.message}`);
        break;
    }
  }

  dispose(): void {
    this.disposed = true;
    clearTimeout(this.retryTimer);
    this.ws?.close();
    this.ws = undefined;
    this.connected.dispose();
    this.disconnected.dispose();
    this.executionEmitter.dispose();
    this.logEmitter.dispose();
    this.messageEmitter.dispose();
    this.scheduleEmitter.dispose();
  }
}
