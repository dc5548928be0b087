/**
 * The debug adapter's line to the runner (docs/debug-protocol.md): one WebSocket, requests
 * matched to their answers by request_id, everything else emitted as events. It knows nothing of
 * DAP; FlowDebugSession translates.
 */
import { EventEmitter } from 'node:events';
import WebSocket from 'ws';
import { ServerMessage, WS_PATH, type ClientMessage, type ExecutionRecord, type LogLine } from '../protocol';
import { RunnerApi } from '../protocol/runnerApi';

type DebugClientMessage = Extract<ClientMessage, { type: `debug.${string}` }>;
type WithoutId<M> = M extends unknown ? Omit<M, 'request_id'> : never;
/** A debug.* message to send; the connection numbers it. */
export type DebugCall = WithoutId<DebugClientMessage>;
export type DebugLaunched = Extract<ServerMessage, { type: 'debug.launched' }>;
export type DebugResponse = Extract<ServerMessage, { type: 'debug.response' }>;
export type DebugEvent = Extract<ServerMessage, { type: 'debug.event' }>;

interface RunnerConnectionEvents {
  execution: [record: ExecutionRecord];
  log: [line: LogLine];
  debug: [event: DebugEvent];
  /** The connection went away without close() being called; the argument says how. */
  lost: [reason: string];
}

interface Pending {
  resolve: (answer: DebugLaunched | DebugResponse) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

/** Longer than the runner's own 30 s limit for a worker's answer, so that one is reported first. */
const REQUEST_TIMEOUT_MS = 40_000;
const CONNECT_TIMEOUT_MS = 15_000;

export class RunnerConnection extends EventEmitter<RunnerConnectionEvents> {
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closing = false;

  private constructor(
    private readonly ws: WebSocket,
    /** http://127.0.0.1:PORT, for the REST calls. */
    readonly baseUrl: string,
    private readonly token: string,
    /** The runner's flows folder, as its hello message says. */
    readonly flowsDir: string | undefined,
    private readonly log: (msg: string) => void,
  ) {
    super();
    ws.on('message', (data) => this.onMessage(data.toString()));
    ws.on('error', (err) => log(`runner WebSocket error: ${err.message}`));
    ws.on('close', (code, reason) => {
      const why = `the connection closed (code ${code}${reason.length ? `, ${reason.toString()}` : ''})`;
      this.failPending(this.closing ? 'the debug session has ended' : `lost the runner: ${why}`);
      if (!this.closing) this.emit('lost', why);
    });
  }

  /**
   * Connect to the runner at `url` (http:// or ws://), wait for its hello, and subscribe to
   * execution and log events (awaited with a ping, so no event after this resolves is missed).
   */
  static async connect(url: string, token: string, log: (msg: string) => void): Promise<RunnerConnection> {
    const baseUrl = url
      .replace(/^ws/, 'http')
      .replace(/\/+$/, '')
      .replace(new RegExp(`${WS_PATH}$`), '');
    const ws = new WebSocket(`${baseUrl.replace(/^http/, 'ws')}${WS_PATH}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    const hello = await new Promise<Extract<ServerMessage, { type: 'hello' }>>((resolve, reject) => {
      const fail = (why: string) => {
        clearTimeout(timer);
        ws.terminate();
        reject(new Error(`Cannot connect to the Flows runner at ${baseUrl}: ${why}`));
      };
      const timer = setTimeout(() => fail('no answer'), CONNECT_TIMEOUT_MS);
      ws.once('unexpected-response', (_req, res) =>
        fail(
          res.statusCode === 401 || res.statusCode === 403
            ? `it refused the token (HTTP ${res.statusCode})`
            : `HTTP ${res.statusCode}`,
        ),
      );
      ws.once('error', (err) => fail(err.message));
      ws.once('close', () => fail('the connection closed'));
      ws.once('message', (data) => {
        const m = ServerMessage.safeParse(JSON.parse(data.toString()));
        if (!m.success || m.data.type !== 'hello') return fail('it did not say hello');
        clearTimeout(timer);
        ws.removeAllListeners();
        resolve(m.data);
      });
    });
    const conn = new RunnerConnection(ws, baseUrl, token, hello.flows_dir, log);
    await conn.subscribe();
    return conn;
  }

  private subscribe(): Promise<void> {
    return new Promise((resolve, reject) => {
      const id = this.nextId++;
      const timer = setTimeout(
        () => reject(new Error('the runner did not confirm the subscription')),
        10_000,
      );
      const onPong = (raw: WebSocket.RawData) => {
        const m = JSON.parse(raw.toString()) as { type?: string; id?: number };
        if (m.type !== 'pong' || m.id !== id) return;
        clearTimeout(timer);
        this.ws.off('message', onPong);
        resolve();
      };
      this.ws.on('message', onPong);
      this.send({ type: 'subscribe', topics: ['executions', 'logs'] });
      this.send({ type: 'ping', id });
    });
  }

  /** Send a debug.* message and resolve with the runner's answer (successful or not). */
  request(call: DebugCall): Promise<DebugLaunched | DebugResponse> {
    if (this.closing || this.ws.readyState !== WebSocket.OPEN) {
      return Promise.reject(new Error('not connected to the Flows runner'));
    }
    const requestId = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(requestId);
        reject(new Error(`the runner did not answer '${call.type}' in time`));
      }, REQUEST_TIMEOUT_MS);
      this.pending.set(requestId, { resolve, reject, timer });
      this.send({ ...call, request_id: requestId } as ClientMessage);
    });
  }

  /** Like request, for the calls answered by debug.response: the body, or an Error with its message. */
  async call(call: DebugCall): Promise<unknown> {
    const answer = await this.request(call);
    if (answer.type !== 'debug.response') return answer;
    if (!answer.success) throw new Error(answer.message ?? `${call.type} failed`);
    return answer.body;
  }

  /** The executions of one tree, over REST (for attach: the tree exists before we subscribe). */
  async listTree(topId: string): Promise<ExecutionRecord[]> {
    const api = new RunnerApi(this.baseUrl, this.token);
    return (await api.listExecutions({ top_execution_id: topId, limit: 1000 })).items;
  }

  close(): void {
    if (this.closing) return;
    this.closing = true;
    this.failPending('the debug session has ended');
    this.ws.close();
  }

  private send(msg: ClientMessage): void {
    this.ws.send(JSON.stringify(msg));
  }

  private failPending(why: string): void {
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new Error(why));
      this.pending.delete(id);
    }
  }

  private onMessage(text: string): void {
    let parsed;
    try {
      parsed = ServerMessage.safeParse(JSON.parse(text));
    } catch {
      return this.log('the runner sent something that is not JSON');
    }
    if (!parsed.success) return this.log(`ignored a runner message: ${parsed.error.issues[0]?.message}`);
    const m = parsed.data;
    switch (m.type) {
      case 'execution':
        return void this.emit('execution', m.record);
      case 'log':
        return void this.emit('log', m.line);
      case 'debug.event':
        return void this.emit('debug', m);
      case 'debug.launched':
      case 'debug.response': {
        const p = this.pending.get(m.request_id);
        if (!p) return;
        this.pending.delete(m.request_id);
        clearTimeout(p.timer);
        return p.resolve(m);
      }
      case 'error':
        return this.log(`the runner reported: ${m.message}`);
      default:
        return;
    }
  }
}
