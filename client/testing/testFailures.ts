/**
 * A failed case's report (`flows test --reporter json`) as what the Testing view shows: one
 * message per expectation that failed, at that expectation's line, with the expected and the
 * actual value side by side (YAML, as the test file writes them); failures that are no
 * expectation's (a call the recording does not have, a run that could not start) at the case.
 * Besides, each failure the runner traced to a line of the flow (the call that differs or is
 * new, the child called with other inputs, the `return` of a changed output) is shown there too.
 */
import YAML from 'yaml';
import type { TestReportLine } from '@flows/protocol';
import type { DiscoveredCase, ExpectKey } from './testDiscovery';

type Result = Extract<TestReportLine, { event: 'result' }>;

export interface FailureView {
  message: string;
  /** 0-based line in the test file, or in `file`. */
  line: number;
  /** A flow file the failure is shown in, instead of the test file. */
  file?: string;
  /** Present for a difference of values: the two sides of the diff. */
  expected?: string;
  actual?: string;
}

/** Which expectation a failure line of runTests.ts is about. */
export function expectationOf(failure: string): ExpectKey | undefined {
  if (failure.startsWith('status: ')) return 'status';
  if (failure.startsWith('message: ')) return 'message';
  if (/^output_value[.[:]/.test(failure)) return 'output';
  if (/^child \d+/.test(failure)) return 'children';
  return undefined;
}

const asText = (v: unknown): string =>
  typeof v === 'string' ? v : v === undefined ? '' : YAML.stringify(v, { lineWidth: 100 }).trimEnd();

export function failureViews(result: Result, testCase: DiscoveredCase | undefined): FailureView[] {
  const caseLine = testCase?.line ?? 0;
  const byKey = new Map<ExpectKey, string[]>();
  const views: FailureView[] = [];
  for (const f of result.failures) {
    const key = expectationOf(f);
    if (key && testCase?.expectLines[key] !== undefined) byKey.set(key, [...(byKey.get(key) ?? []), f]);
    else views.push({ message: f, line: caseLine });
  }
  const actual = result.actual;
  const actualOf: Record<ExpectKey, unknown> = {
    status: actual?.status,
    message: actual?.message ?? null,
    output: actual?.output_value ?? null,
    children: actual?.children,
  };
  for (const [key, failures] of byKey) {
    const view: FailureView = { message: failures.join('\n'), line: testCase!.expectLines[key]! };
    if (actual) {
      view.expected = asText(testCase!.expect[key] ?? null);
      view.actual = asText(actualOf[key]);
    }
    views.push(view);
  }
  for (const at of result.at ?? []) {
    const failure = result.failures[at.failure];
    if (failure !== undefined)
      views.push({ message: failure, file: at.file, line: Math.max(0, at.line - 1) });
  }
  return views;
}
