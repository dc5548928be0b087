/**
 * The one WebSocket client of the runner (protocol/ws.ts), for the extension, the debug adapter
 * and `flows run` on a serving runner: the token, the hello, subscriptions confirmed by a ping
 * (so no event after `connect()` resolves is missed), every server message as a typed event,
 * debug requests matched to their answers, and — where asked — reconnecting with backoff.
 */
import { EventEmitter } from 'node:events';
import WebSocket from 'ws';
import { ServerMessage, WS_PATH, type ClientMessage } from '@flows/protocol';

export type Topic = Extract<ClientMessage, { type: 'subscribe' }>['topics'][number];
export type Hello = Extract<ServerMessage, { type: 'hello' }>;
type DebugClientMessage = Extract<ClientMessage, { type: `debug.${string}` }>;
type WithoutId<M> = M extends unknown ? Omit<M, 'request_id'> : never;
/** A debug.* message to send; the socket numbers it. */
export type DebugCall = WithoutId<DebugClientMessage>;
export type DebugAnswer = Extract<ServerMessage, { type: 'debug.launched' | 'debug.response' }>;

/**
 * Each server message type is an event carrying that message, except `error` (an EventEmitter
 * 'error' without a listener throws), which is `runnerError`; plus the connection's own.
 */
export type RunnerSocketEvents = {
  [K in Exclude<ServerMessage['type'], 'error'>]: [msg: Extract<ServerMessage, { type: K }>];
} & {
  runnerError: [msg: Extract<ServerMessage, { type: 'error' }>];
  /** After each (re)connection's subscriptions are confirmed. */
  connected: [hello: Hello];
  /** An open connection dropped without close(); with `reconnect` a new one is being made. */
  disconnected: [reason: string];
};

export interface RunnerSocketOptions {
  /** The runner's base URL (http://127.0.0.1:PORT; ws:// and a trailing WS_PATH are fine too). */
  url: string;
  token: string;
  topics: Topic[];
  /** Log lines of these executions only (the runner filters); all when absent. */
  logExecutionIds?: string[];
  /** Keep reconnecting (200 ms doubling to 5 s) until close(): the runner may restart. */
  reconnect?: boolean;
  log?: (msg: string) => void;
}

const CONNECT_TIMEOUT_MS = 15_000;
/** Longer than the runner's own 30 s limit for a worker's answer, so that one is reported first. */
const REQUEST_TIMEOUT_MS = 40_000;

interface Pending {
  resolve: (answer: DebugAnswer) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

/** http://host:port from whatever form of the runner's address was given. */
export function runnerBaseUrl(url: string): string {
  return url
    .replace(/^ws/, 'http')
    .replace(/\/+$/, '')
    .replace(new RegExp(`${WS_PATH}$`), '');
}

export class RunnerSocket extends EventEmitter<RunnerSocketEvents> {
  readonly baseUrl: string;
  private ws?: WebSocket;
  private hello_?: Hello;
  private closed = false;
  private retries = 0;
  private retryTimer?: NodeJS.Timeout;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly log: (msg: string) => void;
  private topics: Set<Topic>;
  private logIds?: string[];

  private constructor(private readonly opts: RunnerSocketOptions) {
    super();
    this.setMaxListeners(0);
    this.baseUrl = runnerBaseUrl(opts.url);
    this.log = opts.log ?? (() => undefined);
    this.topics = new Set(opts.topics);
    this.logIds = opts.logExecutionIds;
  }

  /** Connect once and resolve when subscribed; rejects with the reason (refused token, …). */
  static async connect(opts: RunnerSocketOptions): Promise<RunnerSocket> {
    const socket = new RunnerSocket(opts);
    await socket.open();
    return socket;
  }

  /**
   * A socket that connects in the background and keeps reconnecting (`reconnect` implied):
   * listen for `connected` to learn when it is up.
   */
  static background(opts: RunnerSocketOptions): RunnerSocket {
    const socket = new RunnerSocket({ ...opts, reconnect: true });
    socket.open().catch((err: Error) => socket.retry(err.message));
    return socket;
  }

  /** The runner's hello of the current connection (version, pid, flows folder). */
  get hello(): Hello | undefined {
    return this.hello_;
  }

  get isConnected(): boolean {
    return this.ws?.readyState === WebSocket.OPEN && this.hello_ !== undefined;
  }

  /** Receive log lines of these executions only; `undefined` or empty: no log lines. */
  followLogs(executionIds: string[] | undefined): void {
    this.logIds = executionIds;
    if (executionIds?.length) {
      this.topics.add('logs');
      this.send({ type: 'subscribe', topics: ['logs'], execution_ids: executionIds });
    } else {
      this.topics.delete('logs');
      this.send({ type: 'unsubscribe', topics: ['logs'] });
    }
  }

  /** Send a debug.* message and resolve with the runner's answer (successful or not). */
  request(call: DebugCall): Promise<DebugAnswer> {
    if (this.closed || !this.isConnected) {
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

  close(why = 'closed'): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.failPending(why);
    this.ws?.close();
  }

  /** Like close(), without the closing handshake (a runner that is gone will not answer it). */
  terminate(why = 'closed'): void {
    this.close(why);
    this.ws?.terminate();
  }

  private send(msg: ClientMessage): void {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(msg));
  }

  /** One connection: hello, then the subscriptions, confirmed by a ping's pong. */
  private open(): Promise<void> {
    const ws = new WebSocket(`${this.baseUrl.replace(/^http/, 'ws')}${WS_PATH}`, {
      headers: { authorization: `Bearer ${this.opts.token}` },
    });
    this.ws = ws;
    this.hello_ = undefined;
    const pingId = this.nextId++;
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const fail = (why: string) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        ws.terminate();
        reject(new Error(`Cannot connect to the Flows runner at ${this.baseUrl}: ${why}`));
      };
      const timer = setTimeout(() => fail('no answer'), CONNECT_TIMEOUT_MS);
      ws.once('unexpected-response', (_req, res) =>
        fail(
          res.statusCode === 401 || res.statusCode === 403
            ? `it refused the token (HTTP ${res.statusCode})`
            : `HTTP ${res.statusCode}`,
        ),
      );
      ws.on('error', (err) => (settled ? this.log(`runner WebSocket: ${err.message}`) : fail(err.message)));
      ws.on('close', (code, reason) => {
        const why = `the connection closed (code ${code}${reason.length ? `, ${reason.toString()}` : ''})`;
        if (!settled) return fail(why);
        if (this.ws !== ws || this.closed) return;
        this.failPending(`lost the runner: ${why}`);
        this.hello_ = undefined;
        this.emit('disconnected', why);
        if (this.opts.reconnect && !this.closed) this.retry(why);
      });
      ws.on('message', (data) => {
        const msg = this.parse(data.toString());
        if (!msg) return;
        if (!settled) {
          if (!this.hello_) {
            if (msg.type !== 'hello') return fail('it did not say hello');
            this.hello_ = msg;
            this.sendSubscriptions();
            this.send({ type: 'ping', id: pingId });
            return;
          }
          if (msg.type === 'pong' && msg.id === pingId) {
            settled = true;
            clearTimeout(timer);
            this.retries = 0;
            resolve();
            this.emit('connected', this.hello_);
            return;
          }
        }
        this.dispatch(msg);
      });
    });
  }

  private sendSubscriptions(): void {
    const topics = [...this.topics].filter((t) => t !== 'logs');
    if (topics.length) this.send({ type: 'subscribe', topics });
    if (this.topics.has('logs')) {
      this.send({ type: 'subscribe', topics: ['logs'], execution_ids: this.logIds });
    }
  }

  private retry(why: string): void {
    if (this.closed) return;
    const delay = Math.min(5000, 200 * 2 ** this.retries++);
    this.log(`runner WebSocket: ${why}; trying again in ${delay} ms`);
    this.retryTimer = setTimeout(() => this.open().catch((err: Error) => this.retry(err.message)), delay);
  }

  private parse(text: string): ServerMessage | undefined {
    let parsed;
    try {
      parsed = ServerMessage.safeParse(JSON.parse(text));
    } catch {
      this.log('the runner sent something that is not JSON');
      return undefined;
    }
    if (!parsed.success) {
      // Newer runners may send message types this version does not know; they are not errors.
      this.log(`ignored a runner message: ${parsed.error.issues[0]?.message}`);
      return undefined;
    }
    return parsed.data;
  }

  private dispatch(msg: ServerMessage): void {
    if (msg.type === 'debug.launched' || msg.type === 'debug.response') {
      const p = this.pending.get(msg.request_id);
      if (p) {
        this.pending.delete(msg.request_id);
        clearTimeout(p.timer);
        p.resolve(msg);
      }
    } else if (msg.type === 'error') {
      this.log(`the runner reported: ${msg.message}`);
    }
    // Typed for listeners by RunnerSocketEvents; emitted by name here.
    (this.emit as (type: string, msg: ServerMessage) => boolean)(
      msg.type === 'error' ? 'runnerError' : msg.type,
      msg,
    );
  }

  private failPending(why: string): void {
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new Error(why));
      this.pending.delete(id);
    }
  }
}
