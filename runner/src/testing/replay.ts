/**
 * Replay mode: the ReplayHooks (engine/recording.ts) of one test case. A connector call (and a
 * child flow the case replays) is matched against the recorded calls by connector or flow and
 * inputs; the first unused match ends the new child as the recorded one ended. A call with no
 * match ends FAILED and is a problem of the test, named with the closest recorded call and shown
 * at the line of the flow that made it.
 *
 * The case's virtual clock is kept here too: each execution's clock starts at its parent's time
 * when it was made (the top's at the recorded start), or at its `scheduled_for` when that is
 * later (a scheduled child is due at once), and moves on by what the execution sleeps. The
 * worker's clock (runner/python/flows_worker/replay_clock.py) moves the same way.
 */
import { isDeepStrictEqual } from 'node:util';
import type { ExecutionRecord } from '@flows/protocol';
import type { NewExecution, ReplayedEnd, ReplayedRecord, ReplayHooks } from '../engine/executions';
import type { RecordingKind } from '../store/store';
import type { ExpectedChild, RecordedCall, TestCase } from './testFile';

/** A line of a flow file (1-based). */
export interface FlowLine {
  file: string;
  line: number;
}

/** What went wrong in a case, and where in the flow when that is known. */
export interface Problem {
  message: string;
  at?: FlowLine;
}

/** A child the replayed run made, in the order it made them. */
export interface MadeChild {
  id: string;
  parentId: string;
  ref: ExpectedChild;
  caller?: FlowLine;
}

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
  readonly problems: Problem[] = [];
  /** Every child made, by id. */
  readonly made = new Map<string, MadeChild>();
  private readonly used = new Set<number>();
  /** Each execution's virtual time (ms), once it has a job. */
  private readonly clocks = new Map<string, number>();
  private readonly start: number;

  constructor(private readonly testCase: TestCase) {
    this.start = testCase.started_at ? Date.parse(testCase.started_at) : Date.now();
  }

  clockOf(rec: ReplayedRecord): number {
    const from = rec.parent_execution_id ? this.clocks.get(rec.parent_execution_id) : undefined;
    const due = rec.scheduled_for ? Date.parse(rec.scheduled_for) : 0;
    const at = Math.max(from ?? this.start, Number.isNaN(due) ? 0 : due);
    this.clocks.set(rec.id, at);
    return at / 1000;
  }

  now(rec: ReplayedRecord): number | undefined {
    return this.clocks.get(rec.id);
  }

  recorded(rec: ReplayedRecord, kind: RecordingKind, _name: string, value: unknown): void {
    const seconds = (value as { seconds?: unknown } | null)?.seconds;
    const at = this.clocks.get(rec.id);
    if (kind === 'sleep' && typeof seconds === 'number' && at !== undefined)
      this.clocks.set(rec.id, at + Math.max(0, seconds) * 1000);
  }

  child(spec: NewExecution, parent: ExecutionRecord, rec: ExecutionRecord): ReplayedEnd | undefined {
    const caller = spec.caller ?? undefined;
    const ref: ExpectedChild =
      spec.type === 'CONNECTION'
        ? { connector: spec.connector_name ?? spec.connector_type ?? '?', inputs: normal(spec.input_value) }
        : { flow: spec.flow_name ?? '?', inputs: normal(spec.input_value) };
    this.made.set(rec.id, { id: rec.id, parentId: parent.id, ref, caller });
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
    this.problems.push({ message: problem, at: caller });
    return { status: 'FAILED', message: `replay: ${problem}` };
  }
}
