/**
 * Replay mode: the ReplayHooks (engine/recording.ts) of one test case. A connector call (and a
 * child flow the case replays) is matched against the recorded calls by connector or flow and
 * inputs; the first unused match ends the new child as the recorded one ended. A call with no
 * match ends FAILED and is a problem of the test, named with the closest recorded call.
 */
import { isDeepStrictEqual } from 'node:util';
import type { ExecutionRecord } from '@flows/protocol';
import type { NewExecution, ReplayedEnd, ReplayHooks } from '../engine/executions';
import type { RecordedCall, TestCase } from './testFile';

/** JSON as stored: undefined (absent) and null are the same, key order does not matter. */
export function normal(v: unknown): unknown {
  return v === undefined ? null : JSON.parse(JSON.stringify(v) ?? 'null');
}

export function short(v: unknown, max = 120): string {
  const s = JSON.stringify(normal(v));
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

const what = (c: { connector?: string; flow?: string }) =>
  c.connector !== undefined ? `connector call ${c.connector}` : `child flow ${c.flow}`;

export function describeCall(c: { connector?: string; flow?: string; inputs?: unknown }): string {
  return `${what(c)} with inputs ${short(c.inputs)}`;
}

/** How inputs differ, by top-level key: `url: "…" (recorded "…")`. */
export function inputDifference(got: unknown, recorded: unknown): string {
  const a = normal(got);
  const b = normal(recorded);
  const isObj = (v: unknown): v is Record<string, unknown> =>
    !!v && typeof v === 'object' && !Array.isArray(v);
  if (!isObj(a) || !isObj(b)) return `inputs ${short(a)} (recorded ${short(b)})`;
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
  const diffs = keys
    .filter((k) => !isDeepStrictEqual(a[k], b[k]))
    .map((k) =>
      k in b
        ? k in a
          ? `${k}: ${short(a[k], 60)} (recorded ${short(b[k], 60)})`
          : `${k} missing (recorded ${short(b[k], 60)})`
        : `${k}: ${short(a[k], 60)} (not recorded)`,
    );
  return diffs.join(', ');
}

/** How far `got` is from a recorded call: another connector or flow counts most, then each differing input. */
function distance(got: { kind: string; name: string; inputs: unknown }, c: RecordedCall): number {
  const kind = c.connector !== undefined ? 'connector' : 'flow';
  const name = c.connector ?? c.flow ?? '';
  let d = kind === got.kind ? 0 : 1000;
  if (name.toUpperCase() !== got.name.toUpperCase()) d += 100;
  const a = normal(got.inputs);
  const b = normal(c.inputs);
  if (a && b && typeof a === 'object' && typeof b === 'object' && !Array.isArray(a) && !Array.isArray(b)) {
    const ra = a as Record<string, unknown>;
    const rb = b as Record<string, unknown>;
    for (const k of new Set([...Object.keys(ra), ...Object.keys(rb)]))
      if (!isDeepStrictEqual(ra[k], rb[k])) d += 1;
  } else if (!isDeepStrictEqual(a, b)) d += 10;
  return d;
}

export class ReplaySession implements ReplayHooks {
  /** What went wrong that the flow may not show: calls the recording does not have. */
  readonly problems: string[] = [];
  private readonly used = new Set<number>();

  constructor(private readonly testCase: TestCase) {}

  child(spec: NewExecution, _parent: ExecutionRecord): ReplayedEnd | undefined {
    let kind: 'connector' | 'flow';
    let name: string;
    if (spec.type === 'CONNECTION') {
      if (!this.testCase.replay.connectors) return undefined;
      kind = 'connector';
      name = spec.connector_name ?? spec.connector_type ?? '';
    } else if (
      spec.type === 'FLOW' &&
      spec.flow_name &&
      this.testCase.replay.flows.includes(spec.flow_name)
    ) {
      kind = 'flow';
      name = spec.flow_name;
    } else {
      return undefined;
    }
    const inputs = normal(spec.input_value);
    const calls = this.testCase.calls;
    const same = (c: RecordedCall) =>
      (kind === 'connector' ? c.connector?.toUpperCase() === name.toUpperCase() : c.flow === name) &&
      isDeepStrictEqual(normal(c.inputs), inputs);
    const i = calls.findIndex((c, n) => !this.used.has(n) && same(c));
    if (i >= 0) {
      this.used.add(i);
      const c = calls[i];
      return { status: c.status, output_value: c.output ?? null, message: c.message ?? null };
    }
    const got = kind === 'connector' ? { connector: name, inputs } : { flow: name, inputs };
    let problem = `${describeCall(got)} is not in the recording`;
    const again = calls.filter(same).length;
    if (again) problem += ` (it was recorded ${again} time${again === 1 ? '' : 's'}, and is made once more)`;
    else {
      const ranked = calls
        .map((c) => ({ c, d: distance({ kind, name, inputs }, c) }))
        .sort((a, b) => a.d - b.d);
      const closest = ranked[0]?.c;
      problem += closest
        ? `; the closest recorded one is ${describeCall(closest)}, which differs in ${
            (closest.connector ?? closest.flow ?? '').toUpperCase() !== name.toUpperCase()
              ? `${closest.connector !== undefined ? 'connector' : 'flow'} (${closest.connector ?? closest.flow})`
              : inputDifference(inputs, closest.inputs)
          }`
        : '; the recording has no calls';
    }
    this.problems.push(problem);
    return { status: 'FAILED', message: `replay: ${problem}` };
  }
}
