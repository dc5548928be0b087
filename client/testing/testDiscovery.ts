/**
 * What the Testing view shows of a flow test file (`*.flowtest.yaml`, runner/src/testing/
 * testFile.ts has the format): the flow, each case's name and line, the lines of its
 * expectations (where a failure is shown) and the expected values (the left side of a diff).
 * Read leniently: a file being edited still shows the cases that can be read, and a broken one
 * says where. No vscode here, so it is tested in plain Node.
 */
import YAML, { LineCounter } from 'yaml';

/** The expectations a failure can be about, each shown at its own line. */
export const EXPECT_KEYS = ['status', 'message', 'output', 'children'] as const;
export type ExpectKey = (typeof EXPECT_KEYS)[number];

export interface DiscoveredCase {
  name: string;
  /** 0-based line of the case's `- name:` (the gutter icon). */
  line: number;
  /** 0-based line of each expectation the case has. */
  expectLines: Partial<Record<ExpectKey, number>>;
  /** The case's `expect`, as written. */
  expect: Partial<Record<ExpectKey, unknown>>;
}

export interface DiscoveredFile {
  /** The flow tested, when the file names one. */
  flow?: string;
  cases: DiscoveredCase[];
  /** Why (some of) the file cannot be read, and where (0-based line). */
  problem?: { message: string; line: number };
}

export function discoverTests(text: string): DiscoveredFile {
  const lines = new LineCounter();
  const doc = YAML.parseDocument(text, { lineCounter: lines, prettyErrors: false });
  const lineOf = (node: unknown): number => {
    const range = (node as { range?: [number, number, number] } | null)?.range;
    return range ? lines.linePos(range[0]).line - 1 : 0;
  };
  const out: DiscoveredFile = { cases: [] };
  if (doc.errors.length) {
    const err = doc.errors[0];
    out.problem = { message: err.message.split('\n')[0], line: lines.linePos(err.pos[0]).line - 1 };
  }
  const flow = doc.get('flow');
  if (typeof flow === 'string' && flow) out.flow = flow;
  else out.problem ??= { message: 'the file names no flow (a `flow:` key)', line: 0 };
  const tests = doc.get('tests', true);
  if (!YAML.isSeq(tests)) {
    out.problem ??= { message: 'the file has no list of `tests`', line: 0 };
    return out;
  }
  const seen = new Set<string>();
  for (const item of tests.items) {
    if (!YAML.isMap(item)) continue;
    const name = item.get('name');
    if (typeof name !== 'string' || !name || seen.has(name)) continue;
    seen.add(name);
    const c: DiscoveredCase = { name, line: lineOf(item), expectLines: {}, expect: {} };
    const expect = item.get('expect', true);
    if (YAML.isMap(expect)) {
      for (const pair of expect.items) {
        const key = YAML.isScalar(pair.key) ? String(pair.key.value) : '';
        if (!(EXPECT_KEYS as readonly string[]).includes(key)) continue;
        c.expectLines[key as ExpectKey] = lineOf(pair.key);
        // (toJS with the document: an alias is the value it names)
        c.expect[key as ExpectKey] = YAML.isNode(pair.value) ? pair.value.toJS(doc) : pair.value;
      }
    }
    out.cases.push(c);
  }
  return out;
}
