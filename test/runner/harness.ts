/**
 * Starts a real runner (SQLite file in a temp folder, real Python workers, real HTTP and
 * WebSocket) on the fixture flows, and gives tests a REST helper and an event log they can await.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import WebSocket from 'ws';
import { isEnded, ServerMessage, WS_PATH, type ExecutionRecord, type WorkerLimits } from '../../protocol';
import type { HttpLimits } from '../../runner/src/http/httpServer';
import { startRunner, type Runner } from '../../runner/src/runner';
import type { Clock } from '../../runner/src/schedules/clock';
import { until } from '../support/until';

export const FIXTURE_FLOWS = path.resolve(__dirname, '../fixtures/flows');

export interface TestRunner {
  runner: Runner;
  dataDir: string;
  messages: ServerMessage[];
  logs: string[];
  api<T = any>(
    method: string,
    urlPath: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<{ status: number; body: T }>;
  /** Resolves with the first WebSocket message (past or future) that matches. */
  waitFor<T extends ServerMessage>(pred: (m: ServerMessage) => m is T, what?: string): Promise<T>;
  waitFor(pred: (m: ServerMessage) => boolean, what?: string): Promise<ServerMessage>;
  /** Resolves when the execution has reached `status` (seen on the WebSocket). */
  waitForStatus(id: string, status: ExecutionRecord['status'] | 'ENDED'): Promise<ExecutionRecord>;
  run(body: Record<string, unknown>): Promise<ExecutionRecord>;
  stop(): Promise<void>;
}

export function tempDir(prefix = 'flows-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** A temporary flows folder holding `flows` (file name → source). */
export function flowsFolder(flows: Record<string, string>, prefix = 'flows-test-'): string {
  const dir = tempDir(prefix);
  for (const [name, text] of Object.entries(flows)) fs.writeFileSync(path.join(dir, name), text);
  return dir;
}

export async function startTestRunner(
  opts: {
    concurrency?: number;
    maxWaiting?: number;
    limits?: WorkerLimits;
    dataDir?: string;
    flowsDir?: string;
    clock?: Clock;
    httpLimits?: Partial<HttpLimits>;
  } = {},
): Promise<TestRunner> {
  const dataDir = opts.dataDir ?? tempDir();
  const logs: string[] = [];
  const runner = await startRunner({
    flowsDir: opts.flowsDir ?? FIXTURE_FLOWS,
    dataDir,
    concurrency: opts.concurrency ?? 4,
    maxWaiting: opts.maxWaiting,
    limits: opts.limits,
    http: { port: 0, limits: opts.httpLimits },
    clock: opts.clock,
    log: (m) => logs.push(m),
  });
  const messages: ServerMessage[] = [];
  const listeners = new Set<() => void>();
  const ws = new WebSocket(`ws://127.0.0.1:${runner.port}${WS_PATH}`, {
    headers: { authorization: `Bearer ${runner.token}` },
  });
  ws.on('message', (data) => {
    messages.push(ServerMessage.parse(JSON.parse(data.toString())));
    for (const l of [...listeners]) l();
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  ws.send(JSON.stringify({ type: 'subscribe', topics: ['executions', 'logs', 'messages', 'schedules'] }));
  ws.send(JSON.stringify({ type: 'ping', id: 1 }));

  const waitFor = (pred: (m: ServerMessage) => boolean, what = 'event'): Promise<ServerMessage> =>
    new Promise((resolve, reject) => {
      const found = messages.find(pred);
      if (found) return resolve(found);
      const timer = setTimeout(() => {
        listeners.delete(check);
        reject(new Error(`timed out waiting for ${what}; runner log:\n${logs.join('\n')}`));
      }, 20_000);
      // Only messages that came since the last look: a run of 60,000 children sends as many
      // events, and scanning them all for each would be quadratic.
      let from = messages.length;
      const check = () => {
        let m: ServerMessage | undefined;
        for (; from < messages.length && !m; from++) if (pred(messages[from])) m = messages[from];
        if (m) {
          clearTimeout(timer);
          listeners.delete(check);
          resolve(m);
        }
      };
      listeners.add(check);
    });
  await waitFor((m) => m.type === 'pong', 'subscription');

  const api = async (
    method: string,
    urlPath: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ) => {
    const res = await fetch(`${runner.url}${urlPath}`, {
      method,
      headers: { authorization: `Bearer ${runner.token}`, 'content-type': 'application/json', ...headers },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  };

  const waitForStatus = async (id: string, status: ExecutionRecord['status'] | 'ENDED') => {
    const m = await waitFor(
      (m) =>
        m.type === 'execution' &&
        m.record.id === id &&
        (status === 'ENDED' ? isEnded(m.record.status) : m.record.status === status),
      `execution ${id} to be ${status}`,
    );
    return (m as Extract<ServerMessage, { type: 'execution' }>).record;
  };

  return {
    runner,
    dataDir,
    messages,
    logs,
    api,
    waitFor: waitFor as TestRunner['waitFor'],
    waitForStatus,
    async run(body) {
      const created = await api('POST', '/api/latest/execution', body);
      if (created.status !== 201) throw new Error(`create failed: ${JSON.stringify(created.body)}`);
      return waitForStatus(created.body.id, 'ENDED');
    },
    async stop() {
      ws.close();
      await runner.stop();
    },
  };
}

/** Records of one tree, by flow name. */
export async function treeOf(t: TestRunner, topId: string): Promise<ExecutionRecord[]> {
  const res = await t.api('GET', `/api/latest/execution?top_execution_id=${topId}&sort=created_at&limit=100`);
  return res.body.items;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The runner's CLI, as built by `npm run build`. */
export const RUNNER_JS = path.resolve(__dirname, '../../dist/runner.js');

/** `flows …` as a child process, awaited to its exit (spawnSync would block the test's timeout). */
export function runCli(
  args: string[],
  cwd?: string,
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [RUNNER_JS, ...args], { stdio: ['ignore', 'pipe', 'pipe'], cwd });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (status) => resolve({ status, stdout, stderr }));
  });
}

/** A `flows serve` process, its ready line and a REST helper with its token. */
export interface ServedRunner {
  child: ChildProcess;
  ready: { url: string; token_file: string };
  token: string;
  api(method: string, urlPath: string, body?: unknown): Promise<{ status: number; body: any }>;
}

/** Execution `id` as a `flows serve` process's REST API shows it. */
export async function servedExecution(s: ServedRunner, id: string): Promise<any> {
  return (await s.api('GET', `/api/latest/execution/${id}`)).body;
}

/** Waits (up to `ms`) until a `flows serve` process's REST API shows execution `id` in `status`. */
export function servedStatusIs(s: ServedRunner, id: string, status: string, ms?: number): Promise<any> {
  return until(
    () => servedExecution(s, id),
    (e) => e.status === status,
    `${id} to be ${status}`,
    ms,
  );
}

/** Sends `signal` to a `flows serve` process and waits for its exit (nothing if it is gone). */
export async function endServed(s: ServedRunner, signal: NodeJS.Signals): Promise<void> {
  if (s.child.exitCode !== null || s.child.signalCode !== null) return;
  const exited = new Promise((r) => s.child.once('exit', r));
  s.child.kill(signal);
  await exited;
}

/** A node of a cluster on PostgreSQL `url`: `flows serve` on its own data folder (which names it). */
export function serveNode(opts: {
  url: string;
  flows: string;
  data: string;
  concurrency: number;
}): Promise<ServedRunner> {
  return serveRunner([
    '--flows',
    opts.flows,
    '--data',
    opts.data,
    '--database',
    opts.url,
    '--concurrency',
    String(opts.concurrency),
  ]);
}

/** The name a node on `data` has in the cluster (`host:dataDir`, as `flows serve` names it). */
export const nodeName = (data: string): string => `${os.hostname()}:${path.resolve(data)}`;

/** Starts `flows serve --port 0 …args` as its own process and waits for its ready line. */
export async function serveRunner(args: string[]): Promise<ServedRunner> {
  const child = spawn(process.execPath, [RUNNER_JS, 'serve', '--port', '0', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const lines = readline.createInterface({ input: child.stdout! });
  const ready = await new Promise<{ url: string; token_file: string }>((resolve, reject) => {
    lines.once('line', (l) => resolve(JSON.parse(l)));
    child.once('exit', (code) => reject(new Error(`flows serve exited with ${code}: ${stderr}`)));
  });
  const token = fs.readFileSync(ready.token_file, 'utf8');
  const api = async (method: string, urlPath: string, body?: unknown) => {
    const res = await fetch(`${ready.url}${urlPath}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as any };
  };
  return { child, ready, token, api };
}
