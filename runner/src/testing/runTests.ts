/**
 * `flows test`: each case of a test file runs on an embedded runner of its own, in a fresh data
 * folder, in replay mode: connectors (and the child flows the case names) return their recorded
 * results (replay.ts), settings and files are the recorded ones, forms are answered with the
 * recorded answers, and sleeps and time are on a virtual clock. Then the end is compared with
 * `expect`. The cases of one `flows test` share the Python worker processes (workerLease.ts):
 * a case's runner starts in milliseconds instead of the ~1.7 s of a fork server and pool.
 *
 * A case can also be debugged (`flows test --debug`): its runner serves HTTP and waits for a
 * debugger to launch the flow (debug.launch over the WebSocket), then replays that run.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { EXECUTION_STATUSES, isEnded, type ExecutionRecord, type MessageRecord } from '@flows/protocol';
import { resolveFlow } from '../engine/flowFiles';
import { pythonDir, startRunnerOn, type Runner } from '../runner';
import { PythonWorkers } from '../workers/pythonWorkers';
import type { WorkerPool } from '../workers/workerPool';
import { childRef } from './createTest';
import { handlerLines } from './handlerLines';
import { normal, ReplaySession, short, type FlowLine, type Problem } from './replay';
import { flowsDirOf, readTestFile, type ExpectedChild, type TestCase } from './testFile';
import { expectedTree, treeText, type TreeRun } from './treeText';
import { WorkerLease } from './workerLease';

export interface CaseResult {
  file: string;
  flow: string;
  name: string;
  passed: boolean;
  /** Why it failed, one line each (empty when it passed). */
  failures: string[];
  /** The whole case, the runner's start included. */
  ms: number;
  /** The replayed run alone: from its start to its end (sleeps take no time on the virtual clock). */
  runMs?: number;
  /** The replayed run's top execution (its data folder is gone when the case ends). */
  actual?: Pick<ExecutionRecord, 'id' | 'status' | 'message' | 'output_value'> & {
    children: ExpectedChild[];
  };
  /** The line of the flow each failure (by index in `failures`) comes from, where known. */
  at?: Array<FlowLine & { failure: number }>;
  /** A failed case's expected and actual execution trees as text (treeText.ts). */
  trees?: { expected: string; actual: string };
}

/** Where a debugged case's runner is, and what to launch on it (`flows test --debug`). */
export interface DebugTarget {
  /** The case. */
  file: string;
  name: string;
  url: string;
  token: string;
  /** The flow file to launch and its input. */
  program: string;
  input: unknown;
}

export interface RunOptions {
  /** The flows folder; default: worked out from where each test file sits. */
  flowsDir?: string;
  python?: string;
  /** Each result as soon as it is known. */
  onResult?: (r: CaseResult) => void;
  /** Only cases whose name is one of these. */
  names?: readonly string[];
  /** Debug each case: its runner serves HTTP and waits for a debugger to launch the flow. */
  debug?: (target: DebugTarget) => void;
}

/**
 * The worker processes the cases of one run share, started with the first case that needs
 * them; `lease()` gives a case its view of them.
 */
export class SharedWorkers {
  private workers?: Promise<PythonWorkers>;
  /** Where the shared processes' log lines go: the case running now. */
  log: (msg: string) => void = () => undefined;

  constructor(private readonly python?: string) {}

  async lease(): Promise<WorkerLease> {
    this.workers ??= (async () => {
      const workers = new PythonWorkers({
        python:
          this.python ?? process.env.FLOWS_PYTHON ?? (process.platform === 'win32' ? 'python' : 'python3'),
        pythonDir: pythonDir(),
        poolSize: 2,
        log: (m) => this.log(m),
      });
      await workers.start();
      return workers;
    })();
    try {
      return new WorkerLease(await this.workers);
    } catch (err) {
      this.workers = undefined; // the next case tries again (and says why it cannot)
      throw err;
    }
  }

  async stop(): Promise<void> {
    const workers = await this.workers?.catch(() => undefined);
    this.workers = undefined;
    await workers?.stop();
  }
}

/** Differences of two JSON values, by path: `output_value.total: expected 59.97, got 60`. */
export function differences(expected: unknown, actual: unknown, at: string, out: string[] = []): string[] {
  const e = normal(expected);
  const a = normal(actual);
  if (isDeepStrictEqual(e, a)) return out;
  const isObj = (v: unknown): v is Record<string, unknown> =>
    !!v && typeof v === 'object' && !Array.isArray(v);
  if (isObj(e) && isObj(a)) {
    for (const k of [...new Set([...Object.keys(e), ...Object.keys(a)])]) {
      if (!(k in a)) out.push(`${at}.${k}: expected ${short(e[k], 80)}, but it is missing`);
      else if (!(k in e)) out.push(`${at}.${k}: not expected, got ${short(a[k], 80)}`);
      else differences(e[k], a[k], `${at}.${k}`, out);
    }
    return out;
  }
  if (Array.isArray(e) && Array.isArray(a) && e.length === a.length) {
    e.forEach((v, i) => differences(v, a[i], `${at}[${i}]`, out));
    return out;
  }
  out.push(`${at}: expected ${short(e, 100)}, got ${short(a, 100)}`);
  return out;
}

const childName = (c: ExpectedChild) =>
  c.connector !== undefined ? `connector ${c.connector}` : `flow ${c.flow}`;

/** How the children differ; `child` is the index of the actual child a difference is about. */
function compareChildren(
  expected: readonly ExpectedChild[],
  actual: readonly ExpectedChild[],
): Array<{ message: string; child?: number }> {
  const out: Array<{ message: string; child?: number }> = [];
  const n = Math.max(expected.length, actual.length);
  for (let i = 0; i < n; i++) {
    const e = expected[i];
    const a = actual[i];
    if (!a)
      out.push({
        message: `child ${i + 1}: expected ${childName(e)} with inputs ${short(e.inputs)}, but the run made only ${actual.length}`,
      });
    else if (!e)
      out.push({
        message: `child ${i + 1}: not expected, the run made ${childName(a)} with inputs ${short(a.inputs)}`,
        child: i,
      });
    else if (childName(e).toUpperCase() !== childName(a).toUpperCase())
      out.push({
        message: `child ${i + 1}: expected ${childName(e)}, got ${childName(a)} with inputs ${short(a.inputs)}`,
        child: i,
      });
    else {
      const d = differences(e.inputs, a.inputs, `child ${i + 1} (${childName(a)}) inputs`);
      out.push(...d.map((message) => ({ message, child: i })));
    }
    if (out.length >= 5) break; // the first differences say enough; the rest follow from them
  }
  return out;
}

/** Write the recorded files into the replay's files folder; a name leading outside it is refused. */
function seedFiles(filesDir: string, files: TestCase['files']): void {
  for (const [name, content] of Object.entries(files)) {
    if (content === null) continue;
    const file = path.resolve(filesDir, name);
    if (path.relative(filesDir, file).startsWith('..'))
      throw new Error(`files: '${name}' leads outside the files folder`);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, typeof content === 'string' ? content : Buffer.from(content.base64, 'base64'));
  }
}

function seedSettings(runner: Runner<WorkerPool>, settings: TestCase['settings']): void {
  const ts = new Date().toISOString();
  for (const [name, data] of Object.entries(settings)) {
    if (data === null) continue;
    runner.engine.store.putRecord({
      id: crypto.randomUUID(),
      type: 'setting',
      name,
      data,
      archived: false,
      created_at: ts,
      modified_at: ts,
    });
  }
}

/** Answers each form the run shows with the next recorded answer of the same subject. */
export function answerForms(
  runner: Pick<Runner<WorkerPool>, 'executions'>,
  forms: TestCase['forms'],
  problem: (text: string) => void,
): () => void {
  const used = new Set<number>();
  const onMessage = (event: 'created' | 'answered', msg: MessageRecord) => {
    if (event !== 'created') return;
    const i = forms.findIndex((f, n) => !used.has(n) && f.subject === msg.subject);
    if (i < 0) {
      const recorded = forms.map((f) => JSON.stringify(f.subject)).join(', ') || 'none';
      problem(`form ${JSON.stringify(msg.subject)} is not in the recording (recorded forms: ${recorded})`);
      void runner.executions
        .cancel(msg.execution_id, 'replay: a form with no recorded answer')
        .catch(() => undefined);
      return;
    }
    used.add(i);
    runner.executions
      .answerMessage(msg.id, forms[i].answer)
      .catch((err: unknown) => problem(`answering form ${JSON.stringify(msg.subject)}: ${String(err)}`));
  };
  runner.executions.on('message', onMessage);
  return () => runner.executions.off('message', onMessage);
}

/** Resolves when `topId` and everything below it have ended. */
export async function waitForTree(
  runner: Pick<Runner<WorkerPool>, 'executions'>,
  topId: string,
): Promise<void> {
  await runner.executions.waitForEnd(topId);
  for (;;) {
    const rest = await runner.executions.list({
      top_execution_id: topId,
      status: EXECUTION_STATUSES.filter((s) => !isEnded(s)),
      limit: 1000,
      offset: 0,
      sort: 'created_at',
    });
    if (rest.items.length === 0) return;
    await Promise.all(rest.items.map((r) => runner.executions.waitForEnd(r.id)));
  }
}

/** The first top execution of `flow` made on `runner` (a debugger's launch), once it is made. */
function launched(runner: Runner<WorkerPool>, flow: string): Promise<ExecutionRecord> {
  return new Promise((resolve) => {
    const onExecution = (event: string, rec: ExecutionRecord) => {
      if (event !== 'created' || rec.parent_execution_id || rec.flow_name !== flow) return;
      runner.executions.off('execution', onExecution);
      resolve(rec);
    };
    runner.executions.on('execution', onExecution);
  });
}

export interface CaseOptions {
  flowsDir: string;
  python?: string;
  /** Worker processes shared with the other cases of the run; default: processes of its own. */
  workers?: SharedWorkers;
  debug?: RunOptions['debug'];
}

/** Run one case of `flow` on a runner of its own; never throws (a broken case fails). */
export async function runTestCase(
  file: string,
  flow: string,
  testCase: TestCase,
  opts: CaseOptions,
): Promise<CaseResult> {
  const started = Date.now();
  const problems: Problem[] = [];
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'flows-test-'));
  const session = new ReplaySession(testCase);
  const runnerLog: string[] = [];
  const workers = opts.workers ?? new SharedWorkers(opts.python);
  let runner: Runner<WorkerPool> | undefined;
  let actual: CaseResult['actual'];
  let actualTree: TreeRun | undefined;
  let runMs: number | undefined;
  try {
    seedFiles(path.join(dataDir, 'files'), testCase.files);
    workers.log = (m) => runnerLog.push(m);
    runner = await startRunnerOn(
      {
        flowsDir: opts.flowsDir,
        dataDir,
        concurrency: 2,
        replay: session,
        virtualClock: true,
        log: (m) => runnerLog.push(m),
        ...(opts.debug ? { http: { port: 0 } } : {}),
      },
      () => workers.lease(),
    );
    seedSettings(runner, testCase.settings);
    const stopAnswering = answerForms(runner, testCase.forms, (message) => problems.push({ message }));
    try {
      let topId: string;
      if (opts.debug) {
        const found = resolveFlow(opts.flowsDir, flow);
        if (!found.ok) throw new Error(found.reason);
        const top = launched(runner, flow);
        opts.debug({
          file,
          name: testCase.name,
          url: runner.url!,
          token: runner.token!,
          program: found.path,
          input: testCase.input ?? {},
        });
        topId = (await top).id;
        // A debugged run takes as long as the person at the breakpoints likes: no timeout.
        await waitForTree(runner, topId);
      } else {
        topId = runner.executions.create({
          type: 'FLOW',
          flow_name: flow,
          input_value: testCase.input,
          is_productive: true,
        }).id;
        let timer: NodeJS.Timeout | undefined;
        const timedOut = new Promise<'timeout'>((resolve) => {
          timer = setTimeout(() => resolve('timeout'), testCase.timeout_seconds * 1000);
        });
        const ended = await Promise.race([waitForTree(runner, topId), timedOut]);
        clearTimeout(timer);
        if (ended === 'timeout') {
          problems.push({
            message: `did not end within ${testCase.timeout_seconds} s (timeout_seconds); cancelled. (Time in a replay moves only by this.sleep: a loop that waits for the clock with time.sleep never sees it move.)`,
          });
          await runner.executions.cancel(topId, 'test timed out');
          await runner.executions.waitForEnd(topId);
        }
      }
      const rec = (await runner.executions.get(topId))!;
      if (rec.started_at && rec.ended_at) runMs = Date.parse(rec.ended_at) - Date.parse(rec.started_at);
      const childRecs = (
        await runner.executions.list({
          parent_execution_id: topId,
          sort: 'created_at',
          limit: 1000,
          offset: 0,
        })
      ).items;
      const children = childRecs.map(childRef);
      actual = {
        id: rec.id,
        status: rec.status,
        message: rec.message,
        output_value: rec.output_value,
        children,
      };
      const expect = testCase.expect;
      actualTree = {
        flow,
        input: testCase.input,
        children: childRecs.map((r, i) => ({
          ...children[i],
          status: r.status,
          output: r.output_value ?? null,
          message: r.message ?? null,
        })),
        status: rec.status,
        message: rec.message,
        // Only what the case checks, so that the two trees differ only where the case failed.
        output: expect.output === undefined ? undefined : rec.output_value,
      };
      problems.push(...session.problems);
      const ends = flowEnds(opts.flowsDir, flow);
      if (expect.status !== undefined && rec.status !== expect.status) {
        problems.push({
          message: `status: expected ${expect.status}, got ${rec.status}${rec.message ? ` (${rec.message})` : ''}`,
          at: ends?.end,
        });
      }
      if (expect.message !== undefined && (rec.message ?? null) !== (expect.message ?? null)) {
        problems.push({
          message: `message: expected ${JSON.stringify(expect.message)}, got ${JSON.stringify(rec.message)}`,
          at: ends?.end,
        });
      }
      if (expect.output !== undefined)
        for (const message of differences(expect.output, rec.output_value, 'output_value'))
          problems.push({ message, at: ends?.output });
      if (expect.children !== undefined) {
        for (const d of compareChildren(expect.children, children)) {
          const made = d.child === undefined ? undefined : session.made.get(childRecs[d.child].id);
          problems.push({ message: d.message, at: made?.caller ?? ends?.def });
        }
      }
    } finally {
      stopAnswering();
    }
  } catch (err) {
    problems.push({
      message: `could not run: ${(err as Error).message}${runnerLog.length ? ` (runner: ${runnerLog.slice(-3).join('; ')})` : ''}`,
    });
  } finally {
    await runner?.stop().catch(() => undefined);
    if (!opts.workers) await workers.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
  const result: CaseResult = {
    file,
    flow,
    name: testCase.name,
    passed: problems.length === 0,
    failures: problems.map((p) => p.message),
    ms: Date.now() - started,
    runMs,
    actual,
  };
  const at = problems.flatMap((p, failure) => (p.at ? [{ failure, ...p.at }] : []));
  if (at.length) result.at = at;
  if (!result.passed && actualTree)
    result.trees = { expected: treeText(expectedTree(flow, testCase)), actual: treeText(actualTree) };
  return result;
}

/** The lines of the flow's handler where a failed end is shown (handlerLines.ts). */
function flowEnds(
  flowsDir: string,
  flow: string,
): { def?: FlowLine; end?: FlowLine; output?: FlowLine } | undefined {
  const found = resolveFlow(flowsDir, flow);
  if (!found.ok) return undefined;
  let source: string;
  try {
    source = fs.readFileSync(found.path, 'utf8');
  } catch {
    return undefined;
  }
  const lines = handlerLines(source);
  const at = (line?: number) => (line === undefined ? undefined : { file: found.path, line });
  return { def: at(lines.def), end: at(lines.end), output: at(lines.output) };
}

/**
 * Run every case of these test files, one after another, each on a runner of its own over one
 * shared set of worker processes.
 */
export async function runTestFiles(files: readonly string[], opts: RunOptions = {}): Promise<CaseResult[]> {
  const results: CaseResult[] = [];
  const report = (r: CaseResult) => {
    results.push(r);
    opts.onResult?.(r);
  };
  const workers = new SharedWorkers(opts.python);
  try {
    for (const file of files) {
      let doc;
      try {
        doc = readTestFile(file);
      } catch (err) {
        report({
          file,
          flow: path.basename(file),
          name: '(the test file)',
          passed: false,
          failures: [(err as Error).message],
          ms: 0,
        });
        continue;
      }
      const flowsDir = opts.flowsDir ? path.resolve(opts.flowsDir) : flowsDirOf(file, doc.flow);
      if (!flowsDir) {
        report({
          file,
          flow: doc.flow,
          name: '(the test file)',
          passed: false,
          failures: [
            `cannot find the flow '${doc.flow}' of ${file}: keep the file in tests/ next to the flow, or give --flows`,
          ],
          ms: 0,
        });
        continue;
      }
      for (const tc of doc.tests) {
        if (opts.names && !opts.names.includes(tc.name)) continue;
        report(await runTestCase(file, doc.flow, tc, { flowsDir, workers, debug: opts.debug }));
      }
    }
  } finally {
    await workers.stop();
  }
  return results;
}

const xml = (s: string) =>
  s
    .replace(
      /[<>&"']/g,
      (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!,
    )
    // Characters XML 1.0 cannot hold at all.
    .split('')
    .filter((c) => c >= ' ' || c === '\t' || c === '\n' || c === '\r')
    .join('');

/** JUnit XML of the results: one testsuite per test file, one testcase per case. */
export function junitXml(results: readonly CaseResult[]): string {
  const byFile = new Map<string, CaseResult[]>();
  for (const r of results) byFile.set(r.file, [...(byFile.get(r.file) ?? []), r]);
  const secs = (ms: number) => (ms / 1000).toFixed(3);
  const failed = results.filter((r) => !r.passed).length;
  const total = results.reduce((n, r) => n + r.ms, 0);
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="flows test" tests="${results.length}" failures="${failed}" time="${secs(total)}">`,
  ];
  for (const [file, rs] of byFile) {
    const f = rs.filter((r) => !r.passed).length;
    const t = rs.reduce((n, r) => n + r.ms, 0);
    lines.push(
      `  <testsuite name="${xml(rs[0].flow)}" file="${xml(file)}" tests="${rs.length}" failures="${f}" time="${secs(t)}">`,
    );
    for (const r of rs) {
      const head = `    <testcase name="${xml(r.name)}" classname="${xml(r.flow)}" file="${xml(file)}" time="${secs(r.ms)}"`;
      if (r.passed) lines.push(`${head}/>`);
      else {
        lines.push(`${head}>`);
        lines.push(
          `      <failure message="${xml(r.failures[0] ?? 'failed')}">${xml(r.failures.join('\n'))}</failure>`,
        );
        lines.push('    </testcase>');
      }
    }
    lines.push('  </testsuite>');
  }
  lines.push('</testsuites>');
  return `${lines.join('\n')}\n`;
}
