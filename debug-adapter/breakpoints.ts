/**
 * Source breakpoints of the session: what the user set (the runner keeps them session-wide and
 * gives them to every worker of the tree), and the DAP ids the client knows them by. Workers do
 * not know those ids, so a worker's `breakpoint` event (a line moved to the next line that holds
 * code, once the file is loaded) is matched to a breakpoint by file and line.
 */
import type { DebugProtocol } from '@vscode/debugprotocol';
import { z } from 'zod';
import type { SourceBreakpoint } from '@flows/protocol';

interface Placed {
  id: number;
  requested: number;
  line: number;
  verified: boolean;
}

const WorkerBreakpoint = z.looseObject({
  verified: z.boolean().optional(),
  line: z.number().int().optional(),
  message: z.string().optional(),
  source: z.looseObject({ path: z.string().optional() }).optional(),
});
const SetBreakpointsBody = z.looseObject({ breakpoints: z.array(WorkerBreakpoint) });
const BreakpointEventBody = z.looseObject({ reason: z.string().optional(), breakpoint: WorkerBreakpoint });

export class Breakpoints {
  private readonly bySource = new Map<string, { wanted: SourceBreakpoint[]; placed: Placed[] }>();
  private nextId = 1;

  /** The runner's form of a DAP setBreakpoints request (empty condition strings dropped). */
  static fromDap(args: DebugProtocol.SetBreakpointsArguments): SourceBreakpoint[] {
    const given: DebugProtocol.SourceBreakpoint[] =
      args.breakpoints ?? args.lines?.map((line) => ({ line })) ?? [];
    return given.map((b) => {
      const bp: SourceBreakpoint = { line: b.line };
      if (b.column !== undefined) bp.column = b.column;
      if (b.condition?.trim()) bp.condition = b.condition;
      if (b.hitCondition?.trim()) bp.hitCondition = b.hitCondition;
      if (b.logMessage) bp.logMessage = b.logMessage;
      return bp;
    });
  }

  /** Every file's breakpoints, as DebugConfig.breakpoints. */
  config(): Record<string, SourceBreakpoint[]> {
    return Object.fromEntries([...this.bySource].map(([file, s]) => [file, s.wanted]));
  }

  /**
   * Store the breakpoints of `file` and return their DAP form, from the runner's answer (a DAP
   * setBreakpoints body) or, with no answer yet, as requested.
   */
  set(file: string, wanted: SourceBreakpoint[], answer?: unknown): DebugProtocol.Breakpoint[] {
    const parsed = SetBreakpointsBody.safeParse(answer);
    const answered =
      parsed.success && parsed.data.breakpoints.length === wanted.length
        ? parsed.data.breakpoints
        : undefined;
    const placed = wanted.map((bp, i) => ({
      id: this.nextId++,
      requested: bp.line,
      line: answered?.[i].line ?? bp.line,
      verified: answered?.[i].verified ?? true,
      message: answered?.[i].message,
    }));
    this.bySource.set(file, { wanted, placed });
    return placed.map((p) => ({
      id: p.id,
      verified: p.verified,
      line: p.line,
      source: { path: file },
      ...(p.message ? { message: p.message } : {}),
    }));
  }

  /** The DAP breakpoint a worker's `breakpoint` event is about, updated; undefined if unknown. */
  changed(body: unknown): DebugProtocol.Breakpoint | undefined {
    const parsed = BreakpointEventBody.safeParse(body);
    if (!parsed.success) return undefined;
    const bp = parsed.data.breakpoint;
    const file = bp.source?.path;
    const entry = file === undefined ? undefined : this.bySource.get(file);
    if (!entry || bp.line === undefined) return undefined;
    const line = bp.line;
    // The breakpoint asked for this line, else the nearest one above it (moved down to code).
    const match =
      entry.placed.find((p) => p.requested === line) ??
      entry.placed
        .filter((p) => p.requested < line)
        .sort((a, b) => b.requested - a.requested)
        .at(0);
    if (!match) return undefined;
    match.line = line;
    match.verified = bp.verified ?? match.verified;
    return {
      id: match.id,
      verified: match.verified,
      line,
      source: { path: file },
      ...(bp.message ? { message: bp.message } : {}),
    };
  }
}
