/**
 * The runner's WebSocket: each client subscribes to topics and receives engine events as
 * ServerMessage JSON. A slow client is cut off rather than let its queue grow without bound:
 * past MAX_WS_CLIENT_BUFFER_BYTES unsent for it, or past MAX_WS_BUFFER_BYTES for all clients
 * together (then the one furthest behind goes first). It can reconnect and catch up over REST.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import {
  ClientMessage,
  MAX_JSON_DEPTH,
  MAX_WS_BUFFER_BYTES,
  MAX_WS_CLIENT_BUFFER_BYTES,
  MAX_WS_MESSAGE_BYTES,
  WS_CLOSE_GRACE_MS,
  WS_CLOSE_TOO_SLOW,
  checkJsonDepth,
  type ServerMessage,
} from '@flows/protocol';
import type { DebugRelay } from '../debug/debugRelay';
import type { EngineEventSource } from '../engine/events';

const MB = 1024 * 1024;

interface Client {
  ws: WebSocket;
  /** The connection under `ws`, corked while events of this turn gather (see broadcast()). */
  socket: Duplex;
  corked: boolean;
  /** host:port of the peer, to tell which program was cut off. */
  peer: string;
  topics: Set<string>;
  executionIds?: Set<string>;
  /** The user of the token it connected with (what it starts records them: started_by). */
  user: string;
}

export class WsHub {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: MAX_WS_MESSAGE_BYTES });
  private readonly clients = new Set<Client>();
  /** Clients corked in this turn, uncorked together in its check phase. */
  private corked: Client[] = [];

  private readonly debug?: DebugRelay;

  /** `events`: what the engine announces; the rest is what the hello and the log need. */
  constructor(
    events: EngineEventSource,
    private readonly opts: {
      version: string;
      flowsDir: string;
      log: (msg: string) => void;
      debug?: DebugRelay;
    },
  ) {
    this.debug = opts.debug;
    events.on('execution', (event, record) =>
      this.broadcast('executions', { type: 'execution', event, record }),
    );
    events.on('log', (line) => this.broadcast('logs', { type: 'log', line }, line.execution_id));
    events.on('message', (event, message) => this.broadcast('messages', { type: 'message', event, message }));
  }

  /** `user`: who the token of the upgrade request belongs to (security.ts admit). */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, user: string): void {
    this.wss.handleUpgrade(req, socket, head, (ws) => this.attach(ws, req, socket, user));
  }

  private attach(ws: WebSocket, req: IncomingMessage, socket: Duplex, user: string): void {
    const client: Client = {
      ws,
      socket,
      corked: false,
      peer: `${req.socket.remoteAddress ?? '?'}:${req.socket.remotePort ?? '?'}`,
      topics: new Set(),
      user,
    };
    this.clients.add(client);
    ws.on('close', () => {
      this.clients.delete(client);
      this.debug?.disconnected(client);
    });
    ws.on('error', () => ws.terminate());
    ws.on('message', (data) => {
      let raw: unknown;
      try {
        raw = JSON.parse(data.toString());
      } catch (err) {
        // Named like HTTP's `body: not valid JSON (…)`: the whole message is the field.
        return this.send(client, {
          type: 'error',
          message: `message: not valid JSON (${(err as Error).message})`,
        });
      }
      // Before zod or anything else walks it recursively; the connection stays (limits.ts).
      const tooDeep = checkJsonDepth(raw, MAX_JSON_DEPTH);
      if (tooDeep) {
        // A debug request is answered as such, so the adapter waiting for it hears the reason.
        const r = raw as { type?: unknown; request_id?: unknown };
        if (typeof r.type === 'string' && r.type.startsWith('debug.') && Number.isInteger(r.request_id)) {
          return this.send(client, {
            type: 'debug.response',
            request_id: r.request_id as number,
            success: false,
            message: tooDeep.message,
          });
        }
        return this.send(client, { type: 'error', message: tooDeep.message });
      }
      const parsed = ClientMessage.safeParse(raw);
      if (!parsed.success) {
        const i = parsed.error.issues[0];
        return this.send(client, {
          type: 'error',
          message: `${i.path.join('.') || 'message'}: ${i.message}`,
        });
      }
      const msg = parsed.data;
      if (msg.type === 'subscribe') {
        msg.topics.forEach((t) => client.topics.add(t));
        if (msg.execution_ids) client.executionIds = new Set(msg.execution_ids);
      } else if (msg.type === 'unsubscribe') {
        msg.topics.forEach((t) => client.topics.delete(t));
      } else if (msg.type === 'ping') {
        this.send(client, { type: 'pong', id: msg.id });
      } else if (this.debug) {
        this.debug
          .handle(msg, (m) => this.send(client, m), client, client.user)
          .catch((err: Error) =>
            this.send(client, { type: 'error', message: `${msg.type}: ${err.message}` }),
          );
      } else {
        this.send(client, { type: 'error', message: 'debugging is not available on this runner' });
      }
    });
    this.send(client, {
      type: 'hello',
      version: this.opts.version,
      pid: process.pid,
      flows_dir: this.opts.flowsDir,
    });
  }

  private send(client: Client, msg: ServerMessage): void {
    if (!this.writable(client)) return;
    client.ws.send(JSON.stringify(msg));
    this.enforceTotal();
  }

  private broadcast(topic: string, msg: ServerMessage, executionId?: string): void {
    if (this.clients.size === 0) return;
    let text: string | undefined;
    let sent = false;
    for (const c of this.clients) {
      if (!c.topics.has(topic)) continue;
      if (executionId && c.executionIds && !c.executionIds.has(executionId)) continue;
      if (!this.writable(c)) continue;
      this.cork(c);
      c.ws.send((text ??= JSON.stringify(msg)));
      sent = true;
    }
    if (sent) this.enforceTotal();
  }

  /**
   * Hold `c`'s writes until the I/O callbacks of this turn have run: under load a turn announces
   * many executions' changes and log lines, and one socket write for all of them costs a
   * fraction of one per frame. (ws corks around each frame itself; corks nest.) What is held
   * counts in bufferedAmount, so the limits above see it.
   */
  private cork(c: Client): void {
    if (c.corked) return;
    c.corked = true;
    c.socket.cork();
    if (this.corked.push(c) > 1) return;
    setImmediate(() => {
      const clients = this.corked;
      this.corked = [];
      for (const k of clients) {
        k.corked = false;
        k.socket.uncork();
      }
    });
  }

  /** Open and within its own limit; a client being closed gets nothing more. */
  private writable(c: Client): boolean {
    if (c.ws.readyState !== c.ws.OPEN) return false;
    const buffered = c.ws.bufferedAmount;
    if (buffered <= MAX_WS_CLIENT_BUFFER_BYTES) return true;
    this.cutOff(c, buffered, '');
    return false;
  }

  /**
   * Past the cap for all connections (those being closed too: their bytes are held as well), the
   * one furthest behind is cut off, or dropped at once if it already was.
   */
  private enforceTotal(): void {
    let total = 0;
    for (const c of this.clients) total += c.ws.bufferedAmount;
    while (total > MAX_WS_BUFFER_BYTES) {
      let worst: Client | undefined;
      let worstBytes = 0;
      for (const c of this.clients) {
        const b = c.ws.bufferedAmount;
        if (b > worstBytes) [worst, worstBytes] = [c, b];
      }
      if (!worst) return;
      if (worst.ws.readyState === worst.ws.OPEN)
        this.cutOff(worst, worstBytes, ` (all clients: over ${MAX_WS_BUFFER_BYTES / MB} MB)`);
      else this.drop(worst, `the runner held over ${MAX_WS_BUFFER_BYTES / MB} MB for all clients`);
      total -= worstBytes;
    }
  }

  private cutOff(c: Client, buffered: number, why: string): void {
    const reason = `too slow: ${(buffered / MB).toFixed(1)} MB of events not read${why}; reconnect and catch up over REST`;
    this.opts.log(`WebSocket client ${c.peer} cut off: ${reason}`);
    c.ws.close(WS_CLOSE_TOO_SLOW, reason);
    // The close frame waits behind what the client has not read. One that reads on gets to it
    // (ws's own timer ends the wait after 30 s); one that reads nothing never answers it, so
    // its unsent bytes would be held all that time.
    let last = buffered;
    const timer = setInterval(() => {
      const now = c.ws.bufferedAmount;
      if (now > 0 && now >= last)
        this.drop(c, `it read nothing for ${WS_CLOSE_GRACE_MS / 1000} s after being cut off`);
      last = now;
    }, WS_CLOSE_GRACE_MS);
    timer.unref();
    c.ws.once('close', () => clearInterval(timer));
  }

  /** Destroy the socket, and with it what it holds unsent; the client's close event follows. */
  private drop(c: Client, why: string): void {
    if (!this.clients.delete(c)) return;
    this.opts.log(`WebSocket client ${c.peer} dropped: ${why}`);
    c.ws.terminate();
  }

  /** Whether a client is subscribed to `topic` (team mode reads other nodes' changes only then). */
  wants(topic: string): boolean {
    for (const c of this.clients) if (c.topics.has(topic)) return true;
    return false;
  }

  /** Send an event of `topic` to the clients subscribed to it (schedules, from the scheduler). */
  publish(topic: string, msg: ServerMessage): void {
    this.broadcast(topic, msg);
  }

  close(): void {
    for (const c of this.clients) c.ws.terminate();
    this.wss.close();
  }
}
