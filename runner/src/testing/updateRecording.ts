/**
 * "Update Recording" (`flows test update <file> [--case NAME]`): when a flow changed on purpose,
 * each case is recorded again from a new run of the live flow with the case's input — real
 * connectors, real child flows, the data folder's settings and files — and that case of the file
 * is rewritten in place (testFile.ts replaceTestCase: the name, input, replay choices, comments
 * and the other cases stay). The forms the run shows are answered with the case's recorded
 * answers, as a replay does; a form it has none for stops the run.
 *
 * The runner serving the data folder makes the runs when there is one (the editor's, say): it
 * holds the database. Otherwise an embedded runner opens the data folder for the update.
 */
import fs from 'node:fs';
import path from 'node:path';
import { isEnded, type ExecutionRecord, type MessageRecord } from '@flows/protocol';
import { ownerConnection } from '@flows/runner-client/discovery';
import { RunnerApi } from '@flows/runner-client/runnerApi';
import { startRunner } from '../runner';
import { lockOwner } from '../store/dataDirLock';
import { createTest, engineSource } from './createTest';
import { answerForms, waitForTree } from './runTests';
import { flowsDirOf, readTestFile, TestFileError, type TestCase } from './testFile';

export interface UpdateOptions {
  /** Only the cases of these names (each must be in the file); default all. */
  names?: readonly string[];
  flowsDir?: string;
  /** The data folder whose settings, files and connections the new run uses; default <flows>/.flows. */
  dataDir?: string;
  python?: string;
  /** Each case as soon as it is rewritten. */
  onUpdated?: (u: UpdatedCase) => void;
}

export interface UpdatedCase {
  name: string;
  /** The new run the case was recorded from. */
  executionId: string;
  status: ExecutionRecord['status'];
}

/** Re-record the cases of test file `file`; resolves with each case updated, in file order. */
export async function updateRecordings(file: string, opts: UpdateOptions = {}): Promise<UpdatedCase[]> {
  const doc = readTestFile(file);
  const flowsDir = opts.flowsDir ? path.resolve(opts.flowsDir) : flowsDirOf(file, doc.flow);
  if (!flowsDir)
    throw new TestFileError(
      `cannot find the flow '${doc.flow}' of ${file}: keep the file in tests/ next to the flow, or give --flows`,
    );
  for (const name of opts.names ?? [])
    if (!doc.tests.some((t) => t.name === name))
      throw new TestFileError(`${file} has no test case named '${name}'`);
  const cases = doc.tests.filter((t) => !opts.names || opts.names.includes(t.name));
  const dataDir = path.resolve(opts.dataDir ?? path.join(flowsDir, '.flows'));
  const owner = fs.existsSync(dataDir) ? lockOwner(dataDir) : undefined;
  const serving = owner && ownerConnection(owner);
  if (owner && !serving)
    throw new Error(
      `${dataDir} is in use by a runner without an API (pid ${owner.pid}): let it end, then update again`,
    );
  const updated: UpdatedCase[] = [];
  const done = (u: UpdatedCase) => {
    updated.push(u);
    opts.onUpdated?.(u);
  };
  if (serving) {
    const api = new RunnerApi(serving.url, serving.token);
    const out = path.relative(flowsDir, path.resolve(file));
    for (const tc of cases) {
      const rec = await liveRunOn(api, doc.flow, tc);
      await api.createTest(rec.id, { out, replace: tc.name });
      done({ name: tc.name, executionId: rec.id, status: rec.status });
    }
    return updated;
  }
  const runner = await startRunner({ flowsDir, dataDir, python: opts.python, log: () => undefined });
  try {
    for (const tc of cases) {
      const problems: string[] = [];
      const stopAnswering = answerForms(runner, tc.forms, (p) => problems.push(p));
      let top: ExecutionRecord;
      try {
        top = runner.executions.create({
          type: 'FLOW',
          flow_name: doc.flow,
          input_value: tc.input ?? undefined,
          is_productive: true,
        });
        await waitForTree(runner, top.id);
      } finally {
        stopAnswering();
      }
      if (problems.length) throw new Error(`case '${tc.name}': ${problems.join('; ')}`);
      await runner.executions.durable();
      await createTest(engineSource(runner.executions, runner.engine.store), top.id, flowsDir, file, tc.name);
      const ended = (await runner.executions.get(top.id))!;
      done({ name: tc.name, executionId: top.id, status: ended.status });
    }
  } finally {
    await runner.stop();
  }
  return updated;
}

/**
 * A live run of `flow` with the case's input on a serving runner, its forms answered with the
 * case's recorded answers; resolves once it has ended. The runner's API has no long-poll for one
 * execution, so this asks every 100 ms (a CLI waiting for a run, not a test).
 */
async function liveRunOn(api: RunnerApi, flow: string, tc: TestCase): Promise<ExecutionRecord> {
  const top = await api.createExecution({
    flow_name: flow,
    input_value: tc.input ?? undefined,
    is_productive: true,
  });
  const answered = new Set<string>();
  const used = new Set<number>();
  for (;;) {
    const rec = await api.getExecution(top.id);
    if (isEnded(rec.status)) return rec;
    for (const msg of await api.openMessages()) {
      if (answered.has(msg.id) || !(await inTree(api, msg, top.id))) continue;
      answered.add(msg.id);
      const i = tc.forms.findIndex((f, n) => !used.has(n) && f.subject === msg.subject);
      if (i < 0) {
        await api.act(top.id, 'cancel');
        throw new Error(
          `case '${tc.name}': the new run shows the form ${JSON.stringify(msg.subject)}, which the case has no answer for`,
        );
      }
      used.add(i);
      await api.answerMessage(msg.id, tc.forms[i].answer);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function inTree(api: RunnerApi, msg: MessageRecord, topId: string): Promise<boolean> {
  if (msg.execution_id === topId) return true;
  const rec = await api.getExecution(msg.execution_id).catch(() => undefined);
  return rec?.top_execution_id === topId;
}
