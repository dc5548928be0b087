/**
 * Flow tests: the file format (`tests/<flow>.flowtest.yaml`, next to the flow).
 *
 * YAML because the file is meant to be read and edited by hand: inputs, outputs and recorded
 * connector results are JSON values, which YAML shows without braces and quotes, and YAML keeps
 * comments (the ones `flows test create` writes say what each part does, and a user's own stay
 * when another case is added). The file is plain data: the runner (`flows test`) and an
 * editor read it without running Python.
 *
 * ```yaml
 * flow: order-pipeline
 * tests:
 *   - name: order 42 ships
 *     input: {order_id: 42}
 *     replay: {connectors: true, flows: []}   # child flows listed here are replayed too
 *     settings: {limit: {value: 3}}          # what the flow read, as it saw it
 *     files: {reports/today.txt: "done"}
 *     forms: [{subject: Approve?, answer: {ok: true}}]
 *     calls:                                 # recorded children, replayed by inputs
 *       - {connector: REST, inputs: {url: …}, status: SUCCEEDED, output: {…}}
 *     expect:                                # delete a key to stop checking it
 *       status: SUCCEEDED
 *       message: order 42 is ready to ship
 *       output: {order_id: 42}
 *       children: [{flow: checks/validate-address, inputs: {…}}, {connector: REST, inputs: {…}}]
 * ```
 */
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { z } from 'zod';
import { TEST_FILE_SUFFIX } from '@flows/protocol';

export { TEST_FILE_SUFFIX };

const ENDED = ['SUCCEEDED', 'FAILED', 'STOPPED', 'INVALID', 'PARTIAL_SUCCEEDED'] as const;

/** A child as a test names it: a connector (by name or type) or a flow, and its inputs. */
const ChildShape = {
  connector: z.string().min(1).optional(),
  flow: z.string().min(1).optional(),
  inputs: z.unknown().optional(),
};
const oneKind = (c: { connector?: string; flow?: string }) =>
  (c.connector === undefined) !== (c.flow === undefined);
const ONE_KIND = { message: 'give either connector or flow' };

export const ExpectedChild = z.object(ChildShape).refine(oneKind, ONE_KIND);
export type ExpectedChild = z.infer<typeof ExpectedChild>;

/** A recorded child with how it ended: what a replayed call returns. */
export const RecordedCall = z
  .object({
    ...ChildShape,
    status: z.enum(ENDED).default('SUCCEEDED'),
    output: z.unknown().optional(),
    message: z.string().nullish(),
  })
  .refine(oneKind, ONE_KIND);
export type RecordedCall = z.infer<typeof RecordedCall>;

export const TestCase = z.object({
  name: z.string().min(1),
  /** The execution the case was made from (for people; not used). */
  recorded_from: z.string().optional(),
  /**
   * When the recorded run started: the replay's clock starts there (`time.time()`,
   * `datetime.now()` in the flow), and moves only by what the flow sleeps. Default: now.
   */
  started_at: z.iso.datetime({ offset: true }).optional(),
  input: z.unknown().optional(),
  replay: z
    .object({
      /** Connector calls return their recorded result (default); false: they run for real. */
      connectors: z.boolean().default(true),
      /** Child flows (by name) that return their recorded result instead of running. */
      flows: z.array(z.string()).default([]),
    })
    .default({ connectors: true, flows: [] }),
  /** Settings by name: their fields as the flow read them (`{value: …}`); null: did not exist. */
  settings: z.record(z.string(), z.record(z.string(), z.unknown()).nullable()).default({}),
  /** Files of `system.file` by name: text content, `{base64: …}`, or null: did not exist. */
  files: z.record(z.string(), z.union([z.string(), z.object({ base64: z.string() }), z.null()])).default({}),
  /** Answers to the forms the flow shows (`system.message`), in order, matched by subject. */
  forms: z.array(z.object({ subject: z.string(), answer: z.record(z.string(), z.unknown()) })).default([]),
  calls: z.array(RecordedCall).default([]),
  expect: z
    .object({
      status: z.enum(ENDED).optional(),
      message: z.string().nullish(),
      output: z.unknown().optional(),
      /** The top execution's children in the order it made them. */
      children: z.array(ExpectedChild).optional(),
    })
    .default({}),
  /** Wall-clock limit of the case (sleeps take no time: they are on a virtual clock). */
  timeout_seconds: z.number().positive().default(60),
});
export type TestCase = z.infer<typeof TestCase>;

export const TestFile = z.object({
  flow: z.string().min(1),
  tests: z.array(TestCase).min(1),
});
export type TestFile = z.infer<typeof TestFile>;

export class TestFileError extends Error {}

/** Read and check a test file; a broken one is a TestFileError naming the file and the field. */
export function readTestFile(file: string): TestFile {
  let raw: unknown;
  try {
    raw = YAML.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new TestFileError(`${file}: ${(err as Error).message}`);
  }
  const parsed = TestFile.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new TestFileError(`${file}: ${issue.path.join('.') || 'the file'}: ${issue.message}`);
  }
  return parsed.data;
}

/** Where the tests of the flow file `flowFile` go: `<its folder>/tests/<name>.flowtest.yaml`. */
export function testFileFor(flowFile: string): string {
  return path.join(path.dirname(flowFile), 'tests', `${path.basename(flowFile, '.py')}${TEST_FILE_SUFFIX}`);
}

/**
 * The flows folder of a test file of `flow` (`<flows>/<dir of flow>/tests/x.flowtest.yaml`),
 * or undefined when the file does not sit where `flows test create` puts it.
 */
export function flowsDirOf(testFile: string, flow: string): string | undefined {
  const flowDir = path.dirname(path.dirname(path.resolve(testFile)));
  const depth = flow.split('/').length - 1;
  let dir = flowDir;
  for (let i = 0; i < depth; i++) dir = path.dirname(dir);
  return fs.existsSync(path.join(dir, `${flow}.py`)) ? dir : undefined;
}

/** The test files under `paths` (files as given; folders searched, skipping data and VCS folders). */
export function findTestFiles(paths: readonly string[]): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      if (e.isDirectory()) {
        if (!['node_modules', '.git', '.flows', '__pycache__'].includes(e.name)) walk(path.join(dir, e.name));
      } else if (e.name.endsWith(TEST_FILE_SUFFIX)) out.push(path.join(dir, e.name));
    }
  };
  for (const p of paths) {
    const abs = path.resolve(p);
    if (fs.statSync(abs).isDirectory()) walk(abs);
    else out.push(abs);
  }
  return out;
}

const CASE_COMMENTS: Record<string, string> = {
  started_at: " The replay's clock (time.time(), datetime.now()) starts here and moves only by sleeps.",
  input: ' The input_value the flow runs with.',
  replay:
    ' Connector calls return the results recorded under `calls` (connectors: false runs them for real).\n' +
    ' Child flows run for real, except those named under `flows`, which return their recorded result.',
  settings: ' Settings the flow read, as it saw them (null: it did not exist).',
  files: ' Files (system.file) the flow read, as it saw them.',
  forms: ' Answers to the forms the flow showed, in order, matched by subject.',
  calls:
    ' Recorded children: a replayed call with the same connector (or flow) and inputs returns this.\n' +
    ' A call that is not here fails the test, naming the closest one that is.',
  expect: ' What the run must end with. Delete a key to stop checking it.',
};

// No anchors and aliases (`&a1` … `*a1`) where a value repeats: each reads plainly where it is.
const plainNode = (doc: YAML.Document, v: unknown) => doc.createNode(v, { aliasDuplicateObjects: false });

/** One case as a YAML node with the comments that explain it. */
function caseNode(doc: YAML.Document, c: Record<string, unknown>): YAML.Node {
  const node = plainNode(doc, c) as YAML.YAMLMap;
  for (const pair of node.items) {
    const key = pair.key as YAML.Scalar;
    const comment = CASE_COMMENTS[String(key.value)];
    if (comment) key.commentBefore = comment;
  }
  return node;
}

function readDocument(file: string): YAML.Document {
  const doc = YAML.parseDocument(fs.readFileSync(file, 'utf8'));
  if (doc.errors.length) throw new TestFileError(`${file}: ${doc.errors[0].message}`);
  return doc;
}

const writeDocument = (file: string, doc: YAML.Document) =>
  fs.writeFileSync(file, doc.toString({ lineWidth: 100 }));

/** What "Update Recording" leaves as the user wrote it: the case's name and how it replays. */
const KEPT_ON_UPDATE = new Set(['name', 'input', 'replay', 'timeout_seconds']);

/**
 * Rewrite the case `name` of `file` with what a new recording `c` holds, in place: the other
 * cases, the comments (on the file, on each key of the case) and the case's name, input, replay
 * choices and timeout stay as they are. An `expect` that checks only some keys (the user
 * loosened it) goes on checking only those, with the new values.
 */
export function replaceTestCase(file: string, name: string, c: Record<string, unknown>): void {
  const doc = readDocument(file);
  const tests = doc.get('tests');
  const node = YAML.isSeq(tests)
    ? tests.items.find((n): n is YAML.YAMLMap => YAML.isMap(n) && n.get('name') === name)
    : undefined;
  if (!node) throw new TestFileError(`${file} has no test case named '${name}'`);
  const oldExpect = node.get('expect');
  const expect = c.expect as Record<string, unknown> | undefined;
  if (expect && YAML.isMap(oldExpect) && oldExpect.items.length) {
    for (const pair of oldExpect.items) {
      const key = String(YAML.isScalar(pair.key) ? pair.key.value : pair.key);
      if (key in expect) pair.value = plainNode(doc, expect[key]);
    }
  } else if (expect) node.set('expect', caseNode(doc, expect));
  for (const [key, value] of Object.entries(c)) {
    if (KEPT_ON_UPDATE.has(key) || key === 'expect') continue;
    const pair = node.items.find((p) => YAML.isScalar(p.key) && p.key.value === key);
    if (pair) pair.value = plainNode(doc, value);
    else {
      const added = (caseNode(doc, { [key]: value }) as YAML.YAMLMap).items[0];
      // Before `expect`, where a new case has it.
      const at = node.items.findIndex((p) => YAML.isScalar(p.key) && p.key.value === 'expect');
      node.items.splice(at < 0 ? node.items.length : at, 0, added);
    }
  }
  // What the new run did not do at all (no settings read now, say) is no longer in the case.
  for (const key of ['settings', 'files', 'forms', 'calls'])
    if (!(key in c) && node.has(key)) node.delete(key);
  writeDocument(file, doc);
}

/**
 * Write `c` as a new case of the tests of `flow` in `file`: a new file, or appended to the
 * cases already there (keeping their comments and edits). Returns the case's name, made
 * unique in the file.
 */
export function addTestCase(
  file: string,
  flow: string,
  c: Record<string, unknown> & { name: string },
): string {
  let doc: YAML.Document;
  if (fs.existsSync(file)) {
    doc = readDocument(file);
    const existing = doc.get('flow');
    if (existing !== flow)
      throw new TestFileError(`${file} holds tests of '${String(existing)}', not of '${flow}'`);
  } else {
    doc = new YAML.Document({ flow, tests: [] });
    doc.commentBefore =
      ` Tests of the flow '${flow}', made from recorded runs by \`flows test create\`.\n` +
      ' Run them with `flows test`. Edit freely: change an input, loosen an expectation, copy a\n' +
      ' case to add one.';
  }
  const names = new Set(
    ((doc.toJS() as { tests?: Array<{ name?: string }> }).tests ?? []).map((t) => t.name),
  );
  let name = c.name;
  for (let i = 2; names.has(name); i++) name = `${c.name} (${i})`;
  const tests = doc.get('tests') as YAML.YAMLSeq | undefined;
  const node = caseNode(doc, { ...c, name });
  if (tests && YAML.isSeq(tests)) tests.items.push(node);
  else doc.set('tests', doc.createNode([node]));
  fs.mkdirSync(path.dirname(file), { recursive: true });
  writeDocument(file, doc);
  return name;
}
