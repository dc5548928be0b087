/**
 * A failed case's two execution trees as text, for a side-by-side diff (the Testing view's
 * "Show Tree Diff"): what the recording expects, and what the replay did. One child a line
 * (its connector or flow and inputs), its end on the next, then the run's end. The same layout
 * on both sides, so a diff editor lines them up and marks only what differs.
 */
import type { ExpectedChild, TestCase } from './testFile';
import { normal, short } from './replay';

export interface TreeChild extends ExpectedChild {
  status?: string;
  output?: unknown;
  message?: string | null;
}

export interface TreeRun {
  flow: string;
  input: unknown;
  children: readonly TreeChild[];
  status?: string;
  message?: string | null;
  output?: unknown;
}

const MAX = 160;

export function treeText(run: TreeRun): string {
  const out = [`flow ${run.flow}`, `  input: ${short(run.input, MAX)}`];
  run.children.forEach((c, i) => {
    const what = c.connector !== undefined ? `connector ${c.connector}` : `flow ${c.flow}`;
    out.push(`  ${i + 1}. ${what} ${short(c.inputs, MAX)}`);
    if (c.status !== undefined) {
      const said = c.message ? ` "${c.message}"` : '';
      out.push(`       → ${c.status}${said}${c.output === undefined ? '' : ` ${short(c.output, MAX)}`}`);
    }
  });
  if (run.status !== undefined) out.push(`  end: ${run.status}${run.message ? ` "${run.message}"` : ''}`);
  if (run.output !== undefined) out.push(`  output: ${short(run.output, MAX)}`);
  return `${out.join('\n')}\n`;
}

/**
 * The expected tree of a case: its expected children (or, when it does not check them, the
 * recorded calls), each with the end of the recorded call it replays, and the expected end.
 */
export function expectedTree(flow: string, tc: TestCase): TreeRun {
  const used = new Set<number>();
  const endOf = (c: ExpectedChild): Partial<TreeChild> => {
    const i = tc.calls.findIndex(
      (r, n) =>
        !used.has(n) &&
        (r.connector ?? '').toUpperCase() === (c.connector ?? '').toUpperCase() &&
        r.flow === c.flow &&
        JSON.stringify(normal(r.inputs)) === JSON.stringify(normal(c.inputs)),
    );
    if (i < 0) return {};
    used.add(i);
    const r = tc.calls[i];
    return { status: r.status, output: r.output ?? null, message: r.message ?? null };
  };
  const children = (tc.expect.children ?? tc.calls).map((c) => ({
    ...(c.connector !== undefined ? { connector: c.connector } : { flow: c.flow }),
    inputs: c.inputs,
    ...endOf(c),
  }));
  return {
    flow,
    input: tc.input,
    children,
    status: tc.expect.status,
    message: tc.expect.message,
    output: tc.expect.output,
  };
}
