/**
 * A seeded fuzz run over every operation of the runner's OpenAPI document and every WebSocket
 * ClientMessage type, against one real runner (real HTTP, SQLite and Python workers) started in
 * this process. See oracle.ts for what every answer must satisfy.
 *
 *   FUZZ_SEED   the seed (printed at the start; default fixed), so a failure replays exactly
 *   FUZZ_CASES  how many cases (default 10,000)
 *   FUZZ_ONLY   comma-separated case indices: run only those (a failure prints its index)
 */
import assert from 'node:assert/strict';
import { isEnded, type ExecutionRecord } from '../../protocol';
import { startTestRunner, type TestRunner } from '../runner/harness';
import { httpCase, wsCase, type FuzzCase, type HttpCase, type WsCase } from './cases';
import { closeAgent, send, type RawAnswer } from './httpClient';
import { httpOperations, wsOperations, type Operation } from './operations';
import { checkHttpAnswer, checkWsError, type FieldContext } from './oracle';
import { Prng } from './prng';
import { World, writeFlows } from './world';
import { FuzzSocket, type WsMessage } from './wsClient';

const SEED = process.env.FUZZ_SEED ?? '20250101';
const CASES = Number(process.env.FUZZ_CASES ?? 10_000);
const ONLY = process.env.FUZZ_ONLY
  ? new Set(process.env.FUZZ_ONLY.split(',').map((s) => Number(s.trim())))
  : undefined;
/** Longer than any valid request here takes (a live run or a webhook call of a trivial flow). */
const ANSWER_TIMEOUT_MS = 60_000;

interface Failure {
  index: number;
  op: string;
  variant: string;
  target?: string;
  problem: string;
  request: string;
  answer: string;
  /** The case itself, to minimize its body. */
  httpCase?: HttpCase;
  minimized?: string;
}

/**
 * Failures of one kind: the same problem (whatever the names in it) on the same operation, or on
 * any WebSocket message type (one socket handles them all).
 */
const kindOf = (f: Failure) =>
  `${f.op.startsWith('WS ') ? 'WS' : f.op}|${f.problem.replace(/"[^"]*"/g, '…')}`;
const clip = (s: string, n: number) => (s.length > n ? `${s.slice(0, n)}… (${s.length} chars)` : s);
const show = (v: string | Buffer | undefined, n = 600) =>
  v === undefined
    ? '(none)'
    : Buffer.isBuffer(v)
      ? `<${v.length} bytes> ${clip(v.toString('latin1'), n)}`
      : clip(v, n);

/** The top-level keys of a sent JSON document: fields of the request, known to the schema or not. */
function sentKeys(doc: string | Buffer | undefined): string[] {
  try {
    const v: unknown = doc === undefined ? undefined : JSON.parse(doc.toString());
    return v && typeof v === 'object' && !Array.isArray(v) ? Object.keys(v) : [];
  } catch {
    return [];
  }
}

/** The fields an HTTP case's 400 may name (oracle R2). */
function httpRoots(c: HttpCase): Set<string> {
  return new Set([
    'body',
    'query',
    'path',
    ...Object.keys(c.op.body?.properties ?? {}),
    ...c.op.query.map((q) => q.name),
    ...c.op.pathParams,
    ...sentKeys(c.body),
  ]);
}

function sendCase(port: number, c: HttpCase): Promise<RawAnswer> {
  const { method, path, headers, body, expectContinue } = c;
  return send(port, { method, path, headers, body, expectContinue }, ANSWER_TIMEOUT_MS);
}

/** The oracle's verdict on one HTTP answer (undefined: fine). */
function judgeHttp(c: HttpCase, a: RawAnswer): string | undefined {
  const ctx: FieldContext = { roots: httpRoots(c), target: c.target, aliases: c.aliases, whole: 'body' };
  const problem = checkHttpAnswer(a.status, a.json, ctx);
  if (problem) return problem;
  // Every error the runner answers is JSON (a webhook call's flow may answer anything, but ours do not).
  if (a.status >= 400 && c.method !== 'HEAD' && a.json === undefined)
    return `a ${a.status} whose body is not JSON`;
  return undefined;
}

/**
 * A smaller request that fails the same way: top-level body fields the failure does not need
 * are left out one at a time. `undefined` when nothing could be left out.
 */
async function minimize(
  port: number,
  c: HttpCase,
  problem: string,
  world: World,
): Promise<HttpCase | undefined> {
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(String(c.body)) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  if (!body || typeof body !== 'object' || Array.isArray(body)) return undefined;
  const kindOf = (p: string) => p.replace(/"[^"]*"/g, '…');
  let best: HttpCase | undefined;
  for (const key of Object.keys(body)) {
    if (c.target === key || c.target?.startsWith(`${key}.`)) continue;
    const { [key]: _dropped, ...rest } = body;
    const smaller: HttpCase = { ...c, body: JSON.stringify(rest) };
    const a = await sendCase(port, smaller).catch(() => undefined);
    if (!a) continue;
    await world.restore(c.op.template, c.method, c.params, a.status, a.json);
    const p = judgeHttp(smaller, a);
    if (p && kindOf(p) === kindOf(problem)) {
      body = rest;
      best = smaller;
    }
  }
  return best;
}

function describeRequest(c: HttpCase): string {
  const headers = Object.entries(c.headers)
    .map(([k, v]) => `${k}: ${k === 'authorization' ? v.replace(/Bearer \S+/, 'Bearer <token>') : v}`)
    .join('; ');
  return `${c.method} ${clip(c.path, 400)}\n    headers: ${headers || '(none)'}\n    body: ${show(c.body)}`;
}

describe('fuzz: every OpenAPI operation and WebSocket message type', function () {
  this.timeout(600_000);

  let t: TestRunner;
  const crashes: string[] = [];
  const onCrash = (origin: string) => (err: unknown) =>
    crashes.push(`${origin}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  const onUncaught = onCrash('uncaughtException');
  const onUnhandled = onCrash('unhandledRejection');

  before(async () => {
    process.on('uncaughtException', onUncaught);
    process.on('unhandledRejection', onUnhandled);
    t = await startTestRunner({ flowsDir: writeFlows(), concurrency: 4 });
  });

  after(async () => {
    closeAgent();
    await t?.stop();
    process.off('uncaughtException', onUncaught);
    process.off('unhandledRejection', onUnhandled);
  });

  it(`${CASES} seeded cases: no 5xx, no crash, the socket keeps working, every 400 names its field`, async () => {
    const started = Date.now();
    console.log(
      `      fuzz seed ${SEED}, ${CASES} cases — replay: FUZZ_SEED=${SEED} FUZZ_CASES=${CASES} npm run test:fuzz`,
    );
    const port = t.runner.port!;
    const token = t.runner.token!;
    const docAnswer = await send(
      port,
      { method: 'GET', path: '/api/openapi.json', headers: { authorization: `Bearer ${token}` } },
      10_000,
    );
    assert.equal(docAnswer.status, 200);
    // The document's own route is served but not documented: fuzz it too.
    const ops: Operation[] = [
      ...httpOperations(docAnswer.json as Parameters<typeof httpOperations>[0]),
      {
        kind: 'http',
        id: 'GET /api/openapi.json',
        method: 'GET',
        template: '/api/openapi.json',
        pathParams: [],
        multiSegment: [],
        query: [],
        bearer: true,
      },
      ...wsOperations(),
    ];
    const world = new World(t);
    await world.setup();
    let socket = await FuzzSocket.open(port, token);

    const failures: Failure[] = [];
    const perOp = new Map<string, Map<string, number>>();
    const statuses = new Map<string, number>();
    const variants = new Map<string, number>();
    const count = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);
    const fail = (index: number, c: FuzzCase, problem: string, request: string, answer: string) =>
      failures.push({ index, op: c.op.id, variant: c.variant, target: c.target, problem, request, answer });

    const runHttp = async (index: number, c: HttpCase): Promise<void> => {
      let a: RawAnswer;
      try {
        a = await sendCase(port, c);
      } catch (err) {
        count(perOp.get(c.op.id)!, 'no answer');
        count(statuses, 'no answer');
        return void fail(index, c, `no answer: ${(err as Error).message}`, describeRequest(c), '(none)');
      }
      count(perOp.get(c.op.id)!, String(a.status));
      count(statuses, String(a.status));
      const problem = judgeHttp(c, a);
      if (problem) {
        fail(index, c, problem, describeRequest(c), `${a.status} ${clip(a.text, 1500)}`);
        failures[failures.length - 1].httpCase = c;
      }
      await world.restore(c.op.template, c.method, c.params, a.status, a.json);
    };

    const sessions = new Set<string>();
    const closing: Array<Promise<void>> = [];
    const runWs = async (index: number, c: WsCase): Promise<void> => {
      const request = `${c.binary ? 'binary' : 'text'} frame: ${show(c.frame)}`;
      if (c.oversize) {
        // On a socket of its own, checked at the end: the closing handshake behind a megabyte
        // the runner no longer reads takes seconds.
        const own = await FuzzSocket.open(port, token);
        closing.push(
          own.sendExpectingClose(c.frame, c.binary).then((code) => {
            count(perOp.get(c.op.id)!, `close ${code}`);
            count(statuses, `ws close ${code}`);
            if (code !== 1009)
              fail(index, c, `a frame past the size limit: closed with ${code}, not 1009`, request, '');
          }),
        );
        return;
      }
      const ex = await socket.exchange(c.frame, c.binary);
      if (ex.closed || ex.timedOut) {
        count(perOp.get(c.op.id)!, ex.closed ? `close ${ex.closed.code}` : 'no pong');
        count(statuses, 'ws broken');
        fail(
          index,
          c,
          ex.closed
            ? `the runner closed the socket (${ex.closed.code} ${ex.closed.reason})`
            : 'no pong: the socket stopped answering',
          request,
          JSON.stringify(ex.received).slice(0, 1500),
        );
        socket = await FuzzSocket.open(port, token);
        return;
      }
      const errors = ex.received.filter((m) => m.type === 'error');
      const answers: WsMessage[] = [...errors];
      // Debug requests may be answered after the pong (they wait for the store or a worker).
      let requestId: unknown;
      try {
        requestId = (JSON.parse(c.frame.toString()) as { request_id?: unknown })?.request_id;
      } catch {
        requestId = undefined;
      }
      const isReply = (m: WsMessage) =>
        (m.type === 'debug.response' || m.type === 'debug.launched') && m.request_id === requestId;
      if (c.op.type.startsWith('debug.') && Number.isInteger(requestId) && !errors.length) {
        const reply = ex.received.find(isReply) ?? (await socket.waitFor(isReply, 3_000));
        // A debug request the runner took must be answered: the adapter waits for it.
        if (reply) answers.push(reply);
        else fail(index, c, `no debug.response to request_id ${String(requestId)}`, request, '(none in 3 s)');
      }
      for (const m of [...ex.received, ...answers]) {
        if (m.type === 'debug.launched' && typeof m.session_id === 'string' && !sessions.has(m.session_id)) {
          // Leave nothing paused for a debugger that is not there.
          sessions.add(m.session_id);
          socket.send({ type: 'debug.end', request_id: 0, session_id: m.session_id, terminate: true });
        }
      }
      const kinds = answers.map((m) =>
        m.type === 'debug.response' ? `debug.response ${m.success ? 'ok' : 'refused'}` : m.type,
      );
      count(perOp.get(c.op.id)!, kinds.length ? kinds.join('+') : 'no reply');
      count(statuses, `ws ${kinds[0] ?? 'no reply'}`);
      const ctx: FieldContext = {
        roots: new Set(['type', ...Object.keys(c.op.schema.properties ?? {}), ...sentKeys(c.frame)]),
        target: c.target,
        whole: 'message',
      };
      for (const e of errors) {
        const problem = checkWsError(String(e.message), ctx);
        if (problem)
          fail(
            index,
            c,
            `an error message that does not name its field: ${problem}`,
            request,
            JSON.stringify(e),
          );
      }
    };

    for (const op of ops) perOp.set(op.id, new Map());
    const opMs = new Map<string, number>();
    let ran = 0;
    for (let index = 0; index < CASES; index++) {
      if (ONLY && !ONLY.has(index)) continue;
      const op = ops[index % ops.length];
      const rng = new Prng(SEED, 'case', index);
      const c: FuzzCase =
        op.kind === 'http' ? httpCase(rng, op, world.pools, token) : wsCase(rng, op, world.pools);
      count(variants, c.variant);
      const t0 = Date.now();
      if (c.kind === 'http') await runHttp(index, c);
      else await runWs(index, c);
      opMs.set(op.id, (opMs.get(op.id) ?? 0) + Date.now() - t0);
      ran++;
    }
    await Promise.all(closing);
    // The first failures of each kind, made smaller where the body allows.
    const minimizedKinds = new Set<string>();
    for (const f of failures) {
      if (!f.httpCase || minimizedKinds.has(kindOf(f)) || minimizedKinds.size >= 10) continue;
      minimizedKinds.add(kindOf(f));
      const smaller = await minimize(port, f.httpCase, f.problem, world);
      if (smaller) f.minimized = describeRequest(smaller);
    }
    const fuzzMs = Date.now() - started;
    await socket.close();

    // The runner still serves, and nothing it started is left running.
    const health = await t.api('GET', '/api/latest/execution?limit=1');
    assert.equal(health.status, 200, 'GET /api/latest/execution after the run');
    await world.teardown();
    const stuck = await settle(t);
    const total = (await t.api('GET', '/api/latest/execution?limit=1')).body.total as number;
    const flowRuns = (await t.api('GET', '/api/latest/execution?limit=1&type=FLOW,SCRIPT')).body
      .total as number;

    // Errors the runner only logged: a request that failed inside (the 500's log line), an
    // exception caught by its last resort.
    const internal = t.logs.filter((l) => /internal error|keeps serving/.test(l));

    printSummary({ ops, perOp, opMs, statuses, variants, ran, fuzzMs, total, flowRuns, started });
    const problems: string[] = [];
    if (failures.length) {
      problems.push(`${failures.length} failing case(s); seed ${SEED}. The first of each kind:`);
      const printed = new Set<string>();
      for (const f of failures) {
        if (printed.has(kindOf(f)) || printed.size >= 25) continue;
        printed.add(kindOf(f));
        const what = `${f.op} [${f.variant}${f.target ? ` → ${f.target}` : ''}]`;
        problems.push(
          `  case ${f.index} (FUZZ_SEED=${SEED} FUZZ_ONLY=${f.index}) ${what}: ${f.problem}\n` +
            `    ${f.request}\n    answer: ${f.answer}` +
            (f.minimized ? `\n    minimized, fails the same way: ${f.minimized}` : ''),
        );
      }
      const byKind = new Map<string, number>();
      for (const f of failures)
        count(byKind, `${f.op} [${f.variant}]: ${f.problem.replace(/"[^"]*"/g, '…').slice(0, 120)}`);
      problems.push('  failures by operation and kind:');
      for (const [k, n] of [...byKind].sort((a, b) => b[1] - a[1])) problems.push(`    ${n} × ${k}`);
    }
    if (crashes.length) problems.push(`uncaught in the runner's process:\n${crashes.slice(0, 5).join('\n')}`);
    if (internal.length)
      problems.push(
        `the runner logged internal errors:\n${internal
          .slice(0, 5)
          .map((l) => clip(l, 800))
          .join('\n')}`,
      );
    if (stuck.length)
      problems.push(
        `executions still unfinished after the run:\n${stuck.map((r) => `  ${r.id} ${r.type} ${r.flow_name} ${r.status}`).join('\n')}`,
      );
    if (problems.length) assert.fail(problems.join('\n'));
    if (!ONLY) assert.ok(ran >= CASES, `ran ${ran} cases`);
  });
});

/**
 * Stop what cases parked on purpose (created but not started, scheduled for 2099, paused, forms
 * waiting for an answer), then wait for everything else to end on its own. What is still
 * unfinished after that is returned.
 */
async function settle(t: TestRunner): Promise<ExecutionRecord[]> {
  const list = async (status: string) =>
    (await t.api('GET', `/api/latest/execution?status=${status}&limit=1000`)).body.items as ExecutionRecord[];
  const parked = await list('CREATED,SCHEDULED,PAUSED');
  const forms = (await t.api('GET', '/api/latest/message?open=true')).body.items as Array<{
    execution_id: string;
  }>;
  for (const id of new Set([...parked.map((r) => r.id), ...forms.map((m) => m.execution_id)])) {
    await t.api('POST', `/api/latest/execution/${id}/cancel`);
  }
  const deadline = Date.now() + 30_000;
  for (;;) {
    const left = (await list('CREATED,QUEUED,SCHEDULED,BLOCKED,RUNNING,PAUSED')).filter(
      (r) => !isEnded(r.status),
    );
    if (left.length === 0 || Date.now() > deadline) return left;
    await new Promise((r) => setTimeout(r, 250));
  }
}

function printSummary(s: {
  ops: Operation[];
  perOp: Map<string, Map<string, number>>;
  opMs: Map<string, number>;
  statuses: Map<string, number>;
  variants: Map<string, number>;
  ran: number;
  fuzzMs: number;
  total: number;
  flowRuns: number;
  started: number;
}): void {
  const hist = (m: Map<string, number>) =>
    [...m]
      .sort((a, b) => a[0].localeCompare(b[0]))
      .map(([k, n]) => `${k}:${n}`)
      .join(' ');
  const lines = [
    '',
    `      ${s.ran} cases in ${(s.fuzzMs / 1000).toFixed(1)} s (${((Date.now() - s.started) / 1000).toFixed(1)} s with the checks after); ${s.total} executions created, ${s.flowRuns} of them flows/scripts`,
    `      answers: ${hist(s.statuses)}`,
    '      cases, time and answers per operation:',
  ];
  for (const op of s.ops) {
    const m = s.perOp.get(op.id)!;
    const n = [...m.values()].reduce((a, b) => a + b, 0);
    const secs = ((s.opMs.get(op.id) ?? 0) / 1000).toFixed(1).padStart(5);
    lines.push(`        ${String(n).padStart(4)} ${secs} s  ${op.id.padEnd(44)} ${hist(m)}`);
  }
  lines.push(`      variants: ${hist(s.variants)}`);
  console.log(lines.join('\n'));
}
