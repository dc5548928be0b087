/**
 * WebSocket clients that stop reading are cut off (protocol/limits.ts MAX_WS_CLIENT_BUFFER_BYTES,
 * MAX_WS_BUFFER_BYTES) instead of making the runner hold everything they have not read, and a
 * client that reads on is not affected.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { once } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import WebSocket from 'ws';
import {
  MAX_WS_BUFFER_BYTES,
  MAX_WS_CLIENT_BUFFER_BYTES,
  ServerMessage,
  WS_CLOSE_TOO_SLOW,
  WS_PATH,
  isEnded,
  type ExecutionRecord,
} from '../../protocol';
import { flowsFolder, startTestRunner, tempDir, type TestRunner } from '../runner/harness';

/** Bursts of lines (count, width), each followed by a wait for a file the test creates. */
const FLOWS: Record<string, string> = {
  'chatty.py': `
import os
import time


def handler(system, this, inputs):
    n = 0
    for (lines, width), gate in zip(inputs['bursts'], inputs['gates']):
        pad = 'x' * width
        for _ in range(lines):
            print(f'{n:08d} {pad}')
            n += 1
        while not os.path.exists(gate):
            time.sleep(0.01)
    return {'printed': n}
`,
};
/**
 * About 15 and 20 MB of log events for each client, past what the limits and a connection's
 * kernel buffers (some MB on loopback) hold. Burst 1 has the short lines of the report (issue 12),
 * whose per-frame bookkeeping costs as much as their bytes; burst 2's longer lines are quicker.
 */
const BURSTS: Array<[lines: number, width: number]> = [
  [65_000, 90],
  [20_000, 1000],
];
const LINES = BURSTS[0][0] + BURSTS[1][0];
/** As many as in the report that found the problem (issue 12). */
const NEVER_READERS = 20;
const LATE_READERS = 4;
const MB = 1024 * 1024;
const SUBSCRIBE = { type: 'subscribe', topics: ['logs', 'executions'] };
const REASON =
  /^too slow: \d+\.\d MB of events not read( \(all clients: over \d+ MB\))?; reconnect and catch up over REST$/;

/** One masked client text frame (payload < 126 bytes). */
function frame(text: string): Buffer {
  const payload = Buffer.from(text);
  const mask = crypto.randomBytes(4);
  const masked = payload.map((b, i) => b ^ mask[i % 4]);
  return Buffer.concat([Buffer.from([0x81, 0x80 | payload.length]), mask, masked]);
}

/** Walks the server's frames (unmasked) as they arrive, keeping no more than a frame header. */
class FrameScanner {
  closeFrame = false;
  private rest = Buffer.alloc(0);
  /** Bytes of the current frame's payload still to come. */
  private skip = 0;

  push(data: Buffer): void {
    const n = Math.min(this.skip, data.length);
    this.skip -= n;
    let buf = Buffer.concat([this.rest, data.subarray(n)]);
    while (buf.length >= 2) {
      let len = buf[1] & 0x7f;
      let head = 2;
      if (len === 126 && buf.length >= 4) [len, head] = [buf.readUInt16BE(2), 4];
      else if (len === 127 && buf.length >= 10) [len, head] = [Number(buf.readBigUInt64BE(2)), 10];
      else if (len >= 126) break;
      if ((buf[0] & 0x0f) === 0x8) this.closeFrame = true;
      this.skip = Math.max(0, head + len - buf.length);
      buf = buf.subarray(Math.min(buf.length, head + len));
    }
    this.rest = Buffer.from(buf);
  }
}

interface NeverReader {
  sock: net.Socket;
  localPort: number;
  frames: FrameScanner;
}

/** A WebSocket that subscribes, sees its pong, and then reads nothing (a raw TCP socket, paused). */
async function neverReader(port: number, token: string): Promise<NeverReader> {
  const sock = net.connect(port, '127.0.0.1');
  await once(sock, 'connect');
  const key = crypto.randomBytes(16).toString('base64');
  sock.write(
    `GET ${WS_PATH} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\nAuthorization: Bearer ${token}\r\n\r\n`,
  );
  sock.write(frame(JSON.stringify(SUBSCRIBE)));
  sock.write(frame(JSON.stringify({ type: 'ping', id: 1 })));
  let got = Buffer.alloc(0);
  await new Promise<void>((resolve, reject) => {
    const onData = (d: Buffer) => {
      got = Buffer.concat([got, d]);
      if (!got.includes('"type":"pong"')) return;
      assert.match(got.toString('latin1'), /^HTTP\/1\.1 101 /);
      sock.off('data', onData);
      sock.pause();
      resolve();
    };
    sock.on('data', onData);
    sock.once('error', reject);
  });
  const frames = new FrameScanner();
  frames.push(got.subarray(got.indexOf('\r\n\r\n') + 4));
  return { sock, localPort: sock.localPort!, frames };
}

/** A ws client that subscribes, sees its pong, then stops reading (its socket paused). */
async function pausedClient(url: string, token: string): Promise<WebSocket> {
  const ws = new WebSocket(url, { headers: { authorization: `Bearer ${token}` } });
  await once(ws, 'open');
  ws.send(JSON.stringify(SUBSCRIBE));
  ws.send(JSON.stringify({ type: 'ping', id: 1 }));
  await new Promise<void>((resolve) =>
    ws.on('message', (d) => {
      if ((JSON.parse(d.toString()) as ServerMessage).type === 'pong') resolve();
    }),
  );
  ws.removeAllListeners('message');
  ws.pause();
  return ws;
}

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

/** What is live after a full collection (heap and Buffers: garbage would blur it), and RSS. */
const memory = () => {
  gc();
  const m = process.memoryUsage();
  return { live: m.heapUsed + m.external + m.arrayBuffers, rss: m.rss };
};

describe('reliability: slow WebSocket clients', function () {
  this.timeout(120_000);
  let t: TestRunner;
  before(async () => {
    t = await startTestRunner({ flowsDir: flowsFolder(FLOWS, 'flows-slow-ws-') });
  });
  after(() => t?.stop());

  it('cuts off clients that do not read, keeps the one that does, and stays within its memory', async () => {
    const started = Date.now();
    const port = t.runner.port!;
    const token = t.runner.token!;
    const url = `ws://127.0.0.1:${port}${WS_PATH}`;
    const gates = [0, 1].map((i) => path.join(tempDir('flows-slow-ws-gate-'), `open${i}`));

    // The runner logs whom it cuts off and drops (by port); that, not a timer, drives the test.
    type Seen = (why: string) => void;
    const seen = { 'cut off': new Map<number, Seen>(), dropped: new Map<number, Seen>() };
    const logged = (what: keyof typeof seen, localPort: number) =>
      new Promise<string>((resolve) => seen[what].set(localPort, resolve));
    const push = t.logs.push.bind(t.logs);
    t.logs.push = (...lines: string[]) => {
      for (const l of lines) {
        const m = /^WebSocket client [^ ]*:(\d+) (cut off|dropped): (.*)$/.exec(l);
        if (m) seen[m[2] as keyof typeof seen].get(Number(m[1]))?.(m[3]);
      }
      return push(...lines);
    };

    // Clients that never read: the runner's buffers for them fill up.
    const never = await Promise.all(Array.from({ length: NEVER_READERS }, () => neverReader(port, token)));
    const neverCut = never.map((c) => logged('cut off', c.localPort));
    const neverDropped = never.map((c) => logged('dropped', c.localPort));

    const before = memory();
    let peak = before;
    const sample = () => {
      // The harness's own client keeps every message it gets; not needed here, and not the runner's.
      t.messages.length = 0;
      const m = memory();
      peak = { live: Math.max(peak.live, m.live), rss: Math.max(peak.rss, m.rss) };
    };

    // A client that reads everything, connected all along. Only one execution runs: its lines may
    // come before POST answers with its id.
    const reader = new WebSocket(url, { headers: { authorization: `Bearer ${token}` } });
    await once(reader, 'open');
    let readerClosed = false;
    reader.on('close', () => (readerClosed = true));
    let logLines = 0;
    let resolveEnd!: (r: ExecutionRecord) => void;
    const ended = new Promise<ExecutionRecord>((resolve) => (resolveEnd = resolve));
    await new Promise<void>((resolve) => {
      reader.on('message', (d) => {
        const msg = JSON.parse(d.toString()) as ServerMessage;
        if (msg.type === 'pong') resolve();
        else if (msg.type === 'log' && ++logLines % 10_000 === 0) sample();
        else if (msg.type === 'execution' && isEnded(msg.record.status)) resolveEnd(msg.record);
      });
      reader.send(JSON.stringify(SUBSCRIBE));
      reader.send(JSON.stringify({ type: 'ping', id: 1 }));
    });

    const created = await t.api('POST', '/api/latest/execution', {
      flow_name: 'chatty',
      input_value: { bursts: BURSTS, gates },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const id = created.body.id as string;

    // (1) Burst 1: every client that never reads is cut off, then dropped without waiting for an
    // answer to its close frame. What reached its socket ends without that frame: it was still
    // queued behind what the client had not read when the runner let go of the connection.
    for (const why of await Promise.all(neverCut)) assert.match(why, REASON);
    await Promise.all(neverDropped);
    sample();
    await Promise.all(
      never.map(async ({ sock, frames }) => {
        const closed = once(sock, 'close');
        sock.on('data', (d: Buffer) => frames.push(d)).resume();
        await closed;
        assert.equal(frames.closeFrame, false);
      }),
    );

    // (1) Burst 2: clients that stop reading, and read again once cut off, are told why.
    const late = await Promise.all(
      Array.from({ length: LATE_READERS }, async () => {
        const ws = await pausedClient(url, token);
        const localPort = (ws as unknown as { _socket: net.Socket })._socket.localPort!;
        const cut = { seen: false };
        void logged('cut off', localPort).then(() => {
          cut.seen = true;
          ws.resume();
        });
        return { cut, closed: once(ws, 'close') as Promise<[number, Buffer]> };
      }),
    );
    fs.writeFileSync(gates[0], '');
    for (const c of late) {
      const [code, reason] = await c.closed;
      assert.ok(c.cut.seen, 'closed before it was cut off');
      assert.equal(code, WS_CLOSE_TOO_SLOW);
      // Four of them are under the cap for all: each is cut at its own limit.
      const mb = (MAX_WS_CLIENT_BUFFER_BYTES / MB).toFixed(1);
      assert.equal(
        reason.toString(),
        `too slow: ${mb} MB of events not read; reconnect and catch up over REST`,
      );
    }
    sample();

    // (2) The reading client stayed, and saw every line and the end.
    fs.writeFileSync(gates[1], '');
    const rec = await ended;
    const runMs = Date.now() - started;
    sample();
    assert.equal(rec.id, id);
    assert.equal(rec.status, 'SUCCEEDED', rec.message ?? '');
    assert.equal(logLines, LINES);
    assert.equal(readerClosed, false);

    // (4) Bounded. Live: the cap on all connections' unsent bytes, about as much again of
    // per-frame bookkeeping, and a little for this test's own clients (in the same process). RSS,
    // which also has the garbage V8 has yet to collect: the cap and a generous 200 MB. (Without
    // limits, 20 such clients grew RSS by ~350 MB in 80,000 lines, and on with every line.)
    const bound = { live: 2 * MAX_WS_BUFFER_BYTES + 32 * MB, rss: MAX_WS_BUFFER_BYTES + 200 * MB };
    const growth = { live: peak.live - before.live, rss: peak.rss - before.rss };
    const mb = (n: number) => `${(n / MB).toFixed(0)} MB`;
    console.log(
      `      ${LINES} lines, ${NEVER_READERS + LATE_READERS} stalled clients, ${runMs} ms; peak growth: ` +
        `live ${mb(growth.live)} (bound ${mb(bound.live)}), rss ${mb(growth.rss)} (bound ${mb(bound.rss)})`,
    );
    assert.ok(growth.live < bound.live, `live memory grew ${mb(growth.live)}`);
    assert.ok(growth.rss < bound.rss, `rss grew ${mb(growth.rss)}`);

    // (3) REST has the whole log.
    const got = await t.api('GET', `/api/latest/execution/${id}`);
    assert.equal(got.body.status, 'SUCCEEDED');
    let seq = 0;
    for (;;) {
      const page = await t.api('GET', `/api/latest/execution/${id}/log?after=${seq}&limit=100000`);
      assert.equal(page.status, 200);
      if (page.body.items.length === 0) break;
      for (const line of page.body.items as Array<{ seq: number; text: string }>) {
        if (line.seq !== seq + 1 || !line.text.startsWith(String(seq).padStart(8, '0')))
          assert.fail(`line ${seq + 1} of the log: ${JSON.stringify(line).slice(0, 200)}`);
        seq = line.seq;
      }
    }
    assert.equal(seq, LINES);
    reader.close();
  });
});
