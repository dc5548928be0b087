/**
 * `flows test`: each case of a test file runs on an embedded runner of its own, in a fresh data
 * folder, in replay mode: connectors (and the child flows the case names) return their recorded
 * results (replay.ts), settings and files are the recorded ones, forms are answered with the
 * recorded answers, and sleeps are on a virtual clock. Then the end is compared with `expect`.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { EXECUTION_STATUSES, isEnded, type ExecutionRecord, type MessageRecord } from '@flows/protocol';
import { startRunner, type Runner } from '../runner';
import { childRef } from './createTest';
import { normal, ReplaySession, short } from './replay';
import { flowsDirOf, readTestFile, type ExpectedChild, type TestCase } from './testFile';

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
}

export interface RunOptions {
  /** The flows folder; default: worked out from where each test file sits. */
  flowsDir?: string;
  python?: string;
  /** Each result as soon as it is known. */
  onResult?: (r: CaseResult) => void;
  /** Only cases whose name is one of these. */
  names?: readonly string[];
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

function compareChildren(expected: readonly ExpectedChild[], actual: readonly ExpectedChild[]): string[] {
  const out: string[] = [];
  const n = Math.max(expected.length, actual.length);
  for (let i = 0; i < n; i++) {
    const e = expected[i];
    const a = actual[i];
    if (!a)
      out.push(
        `child ${i + 1}: expected ${childName(e)} with inputs ${short(e.inputs)}, but the run made only ${actual.length}`,
      );
    else if (!e)
      out.push(`child ${i + 1}: not expected, the run made ${childName(a)} with inputs ${short(a.inputs)}`);
    else if (childName(e).toUpperCase() !== childName(a).toUpperCase())
      out.push(
        `child ${i + 1}: expected ${childName(e)}, got ${childName(a)} with inputs ${short(a.inputs)}`,
      );
    else {
      const d = differences(e.inputs, a.inputs, `child ${i + 1} (${childName(a)}) inputs`);
      out.push(...d);
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

function seedSettings(runner: Runner, settings: TestCase['settings']): void {
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
function answerForms(runner: Runner, forms: TestCase['forms'], problem: (text: string) => void): () => void {
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

async function waitForTree(runner: Runner, topId: string): Promise<void> {
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

/** Run one case of `flow` on a runner of its own; never throws (a broken case fails). */
export async function runTestCase(
  file: string,
  flow: string,
  testCase: TestCase,
  opts: { flowsDir: string; python?: string },
): Promise<CaseResult> {
  const started = Date.now();
  const failures: string[] = [];
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'flows-test-'));
  const session = new ReplaySession(testCase);
  const runnerLog: string[] = [];
  let runner: Runner | undefined;
  let actual: CaseResult['actual'];
  let runMs: number | undefined;
  try {
    seedFiles(path.join(dataDir, 'files'), testCase.files);
    runner = await startRunner({
      flowsDir: opts.flowsDir,
      dataDir,
      python: opts.python,
      concurrency: 2,
      replay: session,
      virtualClock: true,
      log: (m) => runnerLog.push(m),
    });
    seedSettings(runner, testCase.settings);
    const stopAnswering = answerForms(runner, testCase.forms, (p) => session.problems.push(p));
    try {
      const top = runner.executions.create({
        type: 'FLOW',
        flow_name: flow,
        input_value: testCase.input,
        is_productive: true,
      });
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), testCase.timeout_seconds * 1000);
      });
      const ended = await Promise.race([waitForTree(runner, top.id), timedOut]);
      clearTimeout(timer);
      if (ended === 'timeout') {
        failures.push(`did not end within ${testCase.timeout_seconds} s (timeout_seconds); cancelled`);
        await runner.executions.cancel(top.id, 'test timed out');
        await runner.executions.waitForEnd(top.id);
      }
      const rec = (await runner.executions.get(top.id))!;
      if (rec.started_at && rec.ended_at) runMs = Date.parse(rec.ended_at) - Date.parse(rec.started_at);
      const children = (
        await runner.executions.list({
          parent_execution_id: top.id,
          sort: 'created_at',
          limit: 1000,
          offset: 0,
        })
      ).items.map(childRef);
      actual = {
        id: rec.id,
        status: rec.status,
        message: rec.message,
        output_value: rec.output_value,
        children,
      };
      failures.push(...session.problems);
      const expect = testCase.expect;
      if (expect.status !== undefined && rec.status !== expect.status) {
        failures.push(
          `status: expected ${expect.status}, got ${rec.status}${rec.message ? ` (${rec.message})` : ''}`,
        );
      }
      if (expect.message !== undefined && (rec.message ?? null) !== (expect.message ?? null)) {
        failures.push(
          `message: expected ${JSON.stringify(expect.message)}, got ${JSON.stringify(rec.message)}`,
        );
      }
      if (expect.output !== undefined)
        failures.push(...differences(expect.output, rec.output_value, 'output_value'));
      if (expect.children !== undefined) failures.push(...compareChildren(expect.children, children));
    } finally {
      stopAnswering();
    }
  } catch (err) {
    failures.push(
      `could not run: ${(err as Error).message}${runnerLog.length ? ` (runner: ${runnerLog.slice(-3).join('; ')})` : ''}`,
    );
  } finally {
    await runner?.stop().catch(() => undefined);
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
  return {
    file,
    flow,
    name: testCase.name,
    passed: failures.length === 0,
    failures,
    ms: Date.now() - started,
    runMs,
    actual,
  };
}

/** Run every case of these test files, one after another. */
export async function runTestFiles(files: readonly string[], opts: RunOptions = {}): Promise<CaseResult[]> {
  const results: CaseResult[] = [];
  const report = (r: CaseResult) => {
    results.push(r);
    opts.onResult?.(r);
  };
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
      report(await runTestCase(file, doc.flow, tc, { flowsDir, python: opts.python }));
    }
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
