/**
 * The fuzzer's own WebSocket to the runner. Each case is one frame followed by a ping: the pong
 * proves the connection still works, and what arrived in between is the runner's answer to the
 * frame (its `error` messages are checked).
 */
import WebSocket from 'ws';
import { WS_PATH } from '../../protocol';

export interface WsMessage {
  type: string;
  [k: string]: unknown;
}

export interface Exchange {
  /** Everything that arrived after the frame, up to and without the pong. */
  received: WsMessage[];
  /** Set when the runner closed the connection instead of answering. */
  closed?: { code: number; reason: string };
  /** The pong did not come in time. */
  timedOut?: boolean;
}

/** Ids of the fuzzer's own pings, far from those fuzzed `ping` messages carry. */
const SYNC_BASE = 7_000_000_000;

export class FuzzSocket {
  private messages: WsMessage[] = [];
  private waiters = new Set<() => void>();
  private closedWith?: { code: number; reason: string };
  private seq = 0;

  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (data) => {
      let m: WsMessage;
      try {
        m = JSON.parse(data.toString()) as WsMessage;
      } catch {
        m = { type: '(not JSON)', text: data.toString().slice(0, 200) };
      }
      this.messages.push(m);
      for (const w of [...this.waiters]) w();
    });
    ws.on('close', (code, reason) => {
      this.closedWith = { code, reason: reason.toString() };
      for (const w of [...this.waiters]) w();
    });
    ws.on('error', () => undefined); // a close follows
  }

  static async open(port: number, token: string): Promise<FuzzSocket> {
    const ws = new WebSocket(`ws://127.0.0.1:${port}${WS_PATH}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    // Listening before the socket opens: the hello may come in the same read as the upgrade.
    const s = new FuzzSocket(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    if ((await s.until((m) => m.type === 'hello', 5_000)) < 0) throw new Error('no hello from the runner');
    return s;
  }

  get isOpen(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  /** Resolves with the index of the first message from `from` on that matches, or -1 (closed/timeout). */
  private until(pred: (m: WsMessage) => boolean, timeoutMs: number, from = 0): Promise<number> {
    return new Promise((resolve) => {
      const check = () => {
        const i = this.messages.findIndex((m, j) => j >= from && pred(m));
        if (i >= 0 || this.closedWith) {
          clearTimeout(timer);
          this.waiters.delete(check);
          resolve(i);
        }
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        resolve(-1);
      }, timeoutMs);
      this.waiters.add(check);
      check();
    });
  }

  /** Send one frame, then a ping; what came back before the pong. */
  async exchange(frame: string | Buffer, binary: boolean, timeoutMs = 15_000): Promise<Exchange> {
    const from = this.messages.length;
    const id = SYNC_BASE + ++this.seq;
    this.ws.send(frame, { binary });
    this.ws.send(JSON.stringify({ type: 'ping', id }));
    const at = await this.until((m) => m.type === 'pong' && m.id === id, timeoutMs, from);
    const received = this.messages.slice(from, at >= 0 ? at : undefined);
    this.trim();
    if (at >= 0) return { received };
    if (this.closedWith) return { received, closed: this.closedWith };
    return { received, timedOut: true };
  }

  /** Wait for a message (e.g. the late debug.response to a request); undefined after `timeoutMs`. */
  async waitFor(pred: (m: WsMessage) => boolean, timeoutMs: number): Promise<WsMessage | undefined> {
    const i = await this.until(pred, timeoutMs, Math.max(0, this.messages.length - 50));
    return i >= 0 ? this.messages[i] : undefined;
  }

  /** For a frame the runner must refuse by closing: the close code, or undefined if it stayed open. */
  async sendExpectingClose(
    frame: string | Buffer,
    binary: boolean,
    timeoutMs = 30_000,
  ): Promise<number | undefined> {
    this.ws.send(frame, { binary });
    await this.until(() => false, timeoutMs);
    const code = this.closedWith?.code;
    if (code === undefined) this.ws.terminate();
    return code;
  }

  send(msg: unknown): void {
    if (this.isOpen) this.ws.send(JSON.stringify(msg));
  }

  /** Keep the message log short: broadcasts of every execution arrive here too. */
  private trim(): void {
    if (this.messages.length > 2_000) this.messages = this.messages.slice(-200);
  }

  close(): Promise<void> {
    if (this.closedWith) return Promise.resolve();
    return new Promise((resolve) => {
      this.ws.once('close', () => resolve());
      this.ws.close();
    });
  }
}
