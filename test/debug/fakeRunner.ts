/**
 * A stand-in for the runner's WebSocket side of docs/debug-protocol.md, scripted by the test:
 * it answers the adapter's messages through handlers the test sets, records every message it
 * got, and lets the test push execution, log and debug events. With it the adapter's own logic
 * (threads, id mapping, event translation) is checked independently of the Python debugger.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import {
  ClientMessage,
  WS_PATH,
  type ExecutionRecord,
  type LogLine,
  type ServerMessage,
} from '../../protocol';
import { executionRecord } from '../support/records';

type DebugMessage = Extract<ClientMessage, { type: `debug.${string}` }>;
export type Answer = { success: boolean; body?: unknown; message?: string };

export class FakeRunner {
  readonly token = 'fake-token';
  readonly received: DebugMessage[] = [];
  /** How debug.request commands are answered: by command name. */
  readonly answers = new Map<string, (msg: Extract<DebugMessage, { type: 'debug.request' }>) => Answer>();
  onLaunch: (msg: Extract<DebugMessage, { type: 'debug.launch' }>) => void = () => undefined;
  private socket?: WebSocket;
  private waiters = new Set<() => void>();

  private constructor(
    private readonly server: http.Server,
    private readonly wss: WebSocketServer,
    readonly flowsDir: string,
  ) {}

  static async start(flowsDir: string): Promise<FakeRunner> {
    const server = http.createServer((_req, res) => res.writeHead(404).end());
    const wss = new WebSocketServer({ noServer: true });
    const fake = new FakeRunner(server, wss, flowsDir);
    server.on('upgrade', (req, socket, head) => {
      if (req.url !== WS_PATH || req.headers.authorization !== `Bearer ${fake.token}`) {
        socket.end('HTTP/1.1 401 Unauthorized\r\n\r\n');
        return;
      }
      wss.handleUpgrade(req, socket, head, (ws) => fake.attach(ws));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return fake;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  private attach(ws: WebSocket): void {
    this.socket = ws;
    ws.on('message', (data) => {
      const msg = ClientMessage.parse(JSON.parse(data.toString()));
      if (msg.type === 'ping') return this.send({ type: 'pong', id: msg.id });
      if (msg.type === 'subscribe' || msg.type === 'unsubscribe') return;
      this.received.push(msg);
      for (const w of [...this.waiters]) w();
      this.answer(msg);
    });
    this.send({ type: 'hello', version: 'fake', pid: process.pid, flows_dir: this.flowsDir });
  }

  private answer(msg: DebugMessage): void {
    const reply = (a: Answer) => this.send({ type: 'debug.response', request_id: msg.request_id, ...a });
    switch (msg.type) {
      case 'debug.launch':
        return this.onLaunch(msg);
      case 'debug.request': {
        const answer = this.answers.get(msg.command);
        return reply(answer ? answer(msg) : { success: true, body: {} });
      }
      case 'debug.setBreakpoints':
        return reply({
          success: true,
          body: { breakpoints: msg.breakpoints.map((b) => ({ verified: true, line: b.line })) },
        });
      default:
        return reply({ success: true, body: {} });
    }
  }

  send(msg: ServerMessage): void {
    this.socket?.send(JSON.stringify(msg));
  }

  record(rec: ExecutionRecord, event: 'created' | 'updated' = 'updated'): void {
    this.send({ type: 'execution', event, record: rec });
  }

  log(line: Omit<LogLine, 'seq' | 'ts'>): void {
    this.send({ type: 'log', line: { seq: 1, ts: new Date().toISOString(), ...line } });
  }

  event(sessionId: string, executionId: string, event: string, body: Record<string, unknown>): void {
    this.send({ type: 'debug.event', session_id: sessionId, execution_id: executionId, event, body });
  }

  /** The first received message matching `pred` (past or future). */
  waitFor<T extends DebugMessage>(pred: (m: DebugMessage) => m is T): Promise<T>;
  waitFor(pred: (m: DebugMessage) => boolean): Promise<DebugMessage>;
  waitFor(pred: (m: DebugMessage) => boolean): Promise<DebugMessage> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const m = this.received.find(pred);
        if (!m) return false;
        this.waiters.delete(check);
        clearTimeout(timer);
        resolve(m);
        return true;
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`the fake runner did not get the message; it got ${JSON.stringify(this.received)}`));
      }, 10_000);
      if (!check()) this.waiters.add(check);
    });
  }

  /** Drop the client's connection, as a dying runner would. */
  drop(): void {
    this.socket?.terminate();
  }

  async stop(): Promise<void> {
    this.socket?.terminate();
    this.wss.close();
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

/** An execution record with test defaults. */
export const record = executionRecord;
