/**
 * The runner's WebSocket: each client subscribes to topics and receives engine events as
 * ServerMessage JSON. A slow client is cut off rather than let its queue grow without bound.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import {
  ClientMessage,
  MAX_JSON_DEPTH,
  MAX_WS_MESSAGE_BYTES,
  checkJsonDepth,
  type ServerMessage,
} from '../../../protocol';
import type { DebugRelay } from '../debug/debugRelay';
import type { Engine } from '../engine/engine';

const MAX_BUFFERED = 64 * 1024 * 1024;

interface Client {
  ws: WebSocket;
  topics: Set<string>;
  executionIds?: Set<string>;
}

export class WsHub {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: MAX_WS_MESSAGE_BYTES });
  private readonly clients = new Set<Client>();

  constructor(
    private readonly engine: Engine,
    private readonly version: string,
    private readonly debug?: DebugRelay,
  ) {
    engine.on('execution', (event, record) =>
      this.broadcast('executions', { type: 'execution', event, record }),
    );
    engine.on('log', (line) => this.broadcast('logs', { type: 'log', line }, line.execution_id));
    engine.on('message', (event, message) => this.broadcast('messages', { type: 'message', event, message }));
  }

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    this.wss.handleUpgrade(req, socket, head, (ws) => this.attach(ws));
  }

  private attach(ws: WebSocket): void {
    const client: Client = { ws, topics: new Set() };
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
      } catch {
        return this.send(client, { type: 'error', message: 'not JSON' });
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
          .handle(msg, (m) => this.send(client, m), client)
          .catch((err: Error) =>
            this.send(client, { type: 'error', message: `${msg.type}: ${err.message}` }),
          );
      } else {
        this.send(client, { type: 'error', message: 'debugging is not available on this runner' });
      }
    });
    this.send(client, {
      type: 'hello',
      version: this.version,
      pid: process.pid,
      flows_dir: this.engine.opts.flowsDir,
    });
  }

  private send(client: Client, msg: ServerMessage): void {
    if (client.ws.readyState !== client.ws.OPEN) return;
    if (client.ws.bufferedAmount > MAX_BUFFERED) {
      client.ws.close(1008, 'client too slow');
      return;
    }
    client.ws.send(JSON.stringify(msg));
  }

  private broadcast(topic: string, msg: ServerMessage, executionId?: string): void {
    if (this.clients.size === 0) return;
    let text: string | undefined;
    for (const c of this.clients) {
      if (!c.topics.has(topic)) continue;
      if (executionId && c.executionIds && !c.executionIds.has(executionId)) continue;
      if (c.ws.readyState !== c.ws.OPEN) continue;
      if (c.ws.bufferedAmount > MAX_BUFFERED) {
        c.ws.close(1008, 'client too slow');
        continue;
      }
      c.ws.send((text ??= JSON.stringify(msg)));
    }
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
