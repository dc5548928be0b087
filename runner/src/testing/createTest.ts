/**
 * `flows test create <execution-id>`: a test case made from a run that ended. It gathers what
 * the run did from its record (children with inputs and outputs, forms with answers) and its
 * recording (settings and files it read: engine/recording.ts), and writes it as a case of the
 * flow's test file (testFile.ts).
 */
import { isEnded, type ExecutionRecord, type ListExecutionsQuery, type MessageRecord } from '@flows/protocol';
import type { Executions } from '../engine/executions';
import { resolveFlow } from '../engine/flowFiles';
import type { ListPage, RecordingEntry, Store } from '../store/store';
import { addTestCase, replaceTestCase, testFileFor, type ExpectedChild, type RecordedCall } from './testFile';

/** Where a recorded run is read from: the store of the data folder, or a serving runner. */
export interface RunSource {
  execution(id: string): Promise<ExecutionRecord | undefined>;
  /** Children of an execution, oldest first. */
  children(id: string): Promise<ExecutionRecord[]>;
  messages(executionId: string): Promise<MessageRecord[]>;
  recording(executionId: string): Promise<RecordingEntry[]>;
}

/** Every child of `id`, oldest first, read a page of 1,000 at a time from `list`. */
export async function allChildren(
  list: (q: ListExecutionsQuery) => Promise<ListPage<ExecutionRecord>>,
  id: string,
): Promise<ExecutionRecord[]> {
  const out: ExecutionRecord[] = [];
  for (let offset = 0; ; offset += 1000) {
    const page = await list({ parent_execution_id: id, sort: 'created_at', limit: 1000, offset });
    out.push(...page.items);
    if (page.items.length < 1000) return out;
  }
}

/** A RunSource over a store (the CLI's, with no runner serving the folder; tests). */
export function storeSource(store: Store): RunSource {
  return {
    execution: (id) => store.getExecution(id),
    children: (id) => allChildren((q) => store.listExecutions(q), id),
    messages: (id) => store.listMessages({ execution_id: id }),
    recording: (id) => store.getRecording(id),
  };
}

/** What a run did, as the engine knows it (active executions included), and its recording. */
export function engineSource(
  executions: Pick<Executions, 'get' | 'list' | 'messages'>,
  store: Pick<Store, 'getRecording'>,
): RunSource {
  return {
    execution: (id) => executions.get(id),
    children: (id) => allChildren((q) => executions.list(q), id),
    messages: (id) => executions.messages({ execution_id: id }),
    recording: (id) => store.getRecording(id),
  };
}

export class CreateTestError extends Error {}

/** A child as the test file names it. */
export function childRef(
  rec: Pick<ExecutionRecord, 'type' | 'flow_name' | 'connector_name' | 'connector_type' | 'input_value'>,
): ExpectedChild {
  const inputs = rec.input_value ?? null;
  if (rec.type === 'CONNECTION')
    return { connector: rec.connector_name ?? rec.connector_type ?? '?', inputs };
  return { flow: rec.flow_name ?? '?', inputs };
}

/** Runner fields of a record a flow read: not part of what it saw. */
const RUNNER_FIELDS = new Set(['id', 'name', 'archived', 'created_at', 'modified_at']);

export interface CreatedTest {
  file: string;
  name: string;
  flow: string;
}

/** The test case of execution `id` (which must have ended), without writing it. */
export async function buildTestCase(
  source: RunSource,
  id: string,
): Promise<{ flow: string; testCase: Record<string, unknown> & { name: string } }> {
  const top = await source.execution(id);
  if (!top) throw new CreateTestError(`no execution ${id}`);
  if (top.type !== 'FLOW' || !top.flow_name) {
    throw new CreateTestError(`execution ${id} is a ${top.type}: tests are made from runs of flows`);
  }
  if (!isEnded(top.status)) {
    throw new CreateTestError(
      `execution ${id} is ${top.status}: make a test from an execution that has ended`,
    );
  }
  // The whole tree, parents before children, each level oldest first.
  const tree: ExecutionRecord[] = [top];
  const direct = await source.children(top.id);
  for (let i = 0; i < tree.length; i++) {
    const kids = i === 0 ? direct : await source.children(tree[i].id);
    tree.push(...kids);
  }
  const calls: RecordedCall[] = tree
    .slice(1)
    .filter((r) => r.type === 'CONNECTION' || r.type === 'FLOW')
    .sort((a, b) => (a.created_at < b.created_at ? -1 : a.created_at > b.created_at ? 1 : 0))
    .map((r) => {
      const call: RecordedCall = { ...childRef(r), status: r.status as RecordedCall['status'] };
      if (r.output_value !== null && r.output_value !== undefined) call.output = r.output_value;
      if (r.message) call.message = r.message;
      return call;
    });

  const readings: RecordingEntry[] = [];
  const forms: Array<{ subject: string; answer: Record<string, unknown>; at: string }> = [];
  for (const r of tree) {
    readings.push(...(await source.recording(r.id)));
    for (const m of await source.messages(r.id)) {
      if (m.response)
        forms.push({ subject: m.subject, answer: m.response as Record<string, unknown>, at: m.created_at });
    }
  }
  readings.sort((a, b) => (a.ts < b.ts ? -1 : a.ts > b.ts ? 1 : a.seq - b.seq));
  forms.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));
  // The first value each setting and file had is what the run started from; later reads see
  // what the run itself wrote, which a replay writes again.
  const settings: Record<string, Record<string, unknown> | null> = {};
  const files: Record<string, string | { base64: string } | null> = {};
  for (const e of readings) {
    if (e.kind === 'setting' && !(e.name in settings)) {
      const v = e.value as Record<string, unknown> | null;
      settings[e.name] = v && Object.fromEntries(Object.entries(v).filter(([k]) => !RUNNER_FIELDS.has(k)));
    } else if (e.kind === 'file' && !(e.name in files)) {
      const v = e.value as { content?: string; is_binary?: boolean; too_large?: boolean } | null;
      if (v?.too_large) continue; // too large to keep: the replay finds no such file
      files[e.name] = v === null ? null : v.is_binary ? { base64: v.content ?? '' } : (v.content ?? '');
    }
  }

  const expect: Record<string, unknown> = { status: top.status, message: top.message ?? null };
  if (top.output_value !== undefined) expect.output = top.output_value ?? null;
  expect.children = direct.map(childRef);
  const testCase: Record<string, unknown> & { name: string } = {
    name: `${top.flow_name} ${top.status.toLowerCase()}${top.message ? `: ${top.message}` : ''}`.slice(0, 80),
    recorded_from: top.id,
    ...(top.started_at ? { started_at: top.started_at } : {}),
    input: top.input_value ?? null,
    replay: { connectors: true, flows: [] },
  };
  if (Object.keys(settings).length) testCase.settings = settings;
  if (Object.keys(files).length) testCase.files = files;
  if (forms.length) testCase.forms = forms.map(({ subject, answer }) => ({ subject, answer }));
  if (calls.length) testCase.calls = calls;
  testCase.expect = expect;
  return { flow: top.flow_name, testCase };
}

/**
 * Make a test case of execution `id` and add it to its flow's test file (created when missing)
 * next to the flow in `flowsDir`, or to `out`; with `replace`, rewrite the case of that name with
 * it instead ("Update Recording": testFile.ts replaceTestCase).
 */
export async function createTest(
  source: RunSource,
  id: string,
  flowsDir: string,
  out?: string,
  replace?: string,
): Promise<CreatedTest> {
  const { flow, testCase } = await buildTestCase(source, id);
  let file = out;
  if (!file) {
    const found = resolveFlow(flowsDir, flow);
    if (!found.ok) throw new CreateTestError(found.reason);
    file = testFileFor(found.path);
  }
  if (replace !== undefined) {
    replaceTestCase(file, replace, testCase);
    return { file, name: replace, flow };
  }
  const name = addTestCase(file, flow, testCase);
  return { file, name, flow };
}
