/**
 * A DebugClient (from @vscode/debugadapter-testsupport) on the bundled adapter
 * (dist/debugAdapter.js, over stdio), with an event log the tests can await: every event is
 * kept, and `next` hands out each matching one once, whether it came before or after the call.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { DebugClient } from '@vscode/debugadapter-testsupport';
import type { DebugProtocol } from '@vscode/debugprotocol';
import {
  DEBUGGED_EXECUTION_EVENT,
  isEnded,
  type ExecutionRecord,
  type SourceBreakpoint,
} from '../../protocol';

export const ADAPTER = path.resolve(__dirname, '../../dist/debugAdapter.js');
export const DEBUG_FLOWS = path.resolve(__dirname, '../fixtures/debug');
export const flowFile = (name: string): string => path.join(DEBUG_FLOWS, `${name}.py`);

const EVENTS = [
  'initialized',
  'stopped',
  'continued',
  'output',
  'thread',
  'breakpoint',
  'exited',
  'terminated',
  DEBUGGED_EXECUTION_EVENT,
];
const WAIT_MS = 20_000;

export interface LaunchSetup {
  breakpoints?: Record<string, (SourceBreakpoint | number)[]>;
  exceptionFilters?: string[];
}

export class FlowDebugClient {
  readonly dc: DebugClient;
  readonly events: DebugProtocol.Event[] = [];
  private readonly taken = new Set<DebugProtocol.Event>();
  private readonly waiters = new Set<() => void>();

  constructor() {
    if (!fs.existsSync(ADAPTER)) throw new Error(`${ADAPTER} is missing: build it with 'node esbuild.js'`);
    this.dc = new DebugClient(process.execPath, ADAPTER, 'flow', {}, Boolean(process.env.FLOWS_DEBUG_STDERR));
    this.dc.defaultTimeout = WAIT_MS;
    for (const name of EVENTS) {
      this.dc.on(name, (e: DebugProtocol.Event) => {
        this.events.push(e);
        for (const w of [...this.waiters]) w();
      });
    }
  }

  start(): Promise<void> {
    return this.dc.start();
  }

  async stop(): Promise<void> {
    // A session that already ended may not answer a second disconnect (seen once in ~10 full
    // runs); the adapter process is gone either way, so do not let the hook hang on it.
    await Promise.race([this.dc.stop(), new Promise<void>((resolve) => setTimeout(resolve, 10_000).unref())]);
  }

  /** The first `name` event matching `pred` that no earlier `next` returned. */
  next<T extends DebugProtocol.Event = DebugProtocol.Event>(
    name: string,
    pred: (e: T) => boolean = () => true,
  ): Promise<T> {
    return new Promise((resolve, reject) => {
      const find = () =>
        this.events.find((e) => e.event === name && !this.taken.has(e) && pred(e as T)) as T | undefined;
      const check = () => {
        const e = find();
        if (!e) return false;
        this.taken.add(e);
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve(e);
        return true;
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        const seen = this.events.map((e) => `${e.event} ${JSON.stringify(e.body ?? {}).slice(0, 160)}`);
        reject(new Error(`no '${name}' event came in ${WAIT_MS} ms; events so far:\n  ${seen.join('\n  ')}`));
      }, WAIT_MS);
      if (!check()) this.waiters.add(check);
    });
  }

  /** The first output event whose text matches. */
  output(match: RegExp, category?: string): Promise<DebugProtocol.OutputEvent> {
    return this.next<DebugProtocol.OutputEvent>(
      'output',
      (e) => match.test(e.body.output) && (category === undefined || e.body.category === category),
    );
  }

  /** initialize → launch (or attach), with breakpoints set between `initialized` and configurationDone. */
  async launch(
    args: Record<string, unknown>,
    setup: LaunchSetup = {},
    request: 'launch' | 'attach' = 'launch',
  ) {
    const configure = this.next('initialized').then(async () => {
      for (const [file, bps] of Object.entries(setup.breakpoints ?? {})) {
        await this.setBreakpoints(file, bps);
      }
      await this.dc.setExceptionBreakpointsRequest({ filters: setup.exceptionFilters ?? [] });
      await this.dc.configurationDoneRequest();
    });
    const init = await this.dc.initializeRequest();
    const started = request === 'launch' ? this.dc.launchRequest(args) : this.dc.attachRequest(args);
    await Promise.all([configure, started]);
    return init.body!;
  }

  setBreakpoints(file: string, bps: (SourceBreakpoint | number)[]) {
    return this.dc.setBreakpointsRequest({
      source: { path: file },
      breakpoints: bps.map((b) => (typeof b === 'number' ? { line: b } : b)),
    });
  }

  /** Awaits the next stop, checks its reason, and returns its thread and top frame. */
  async stopped(reason?: string) {
    const e = await this.next<DebugProtocol.StoppedEvent>('stopped');
    if (reason) assert.equal(e.body.reason, reason, `stopped for ${e.body.reason}, not ${reason}`);
    const threadId = e.body.threadId!;
    const trace = await this.dc.stackTraceRequest({ threadId });
    const frame = trace.body.stackFrames[0];
    return { threadId, frame, frames: trace.body.stackFrames, event: e };
  }

  /** The variables of one scope of a frame, by name. */
  async scopeVariables(frameId: number, scopeName: RegExp = /local/i) {
    const scopes = (await this.dc.scopesRequest({ frameId })).body.scopes;
    const scope = scopes.find((s) => scopeName.test(s.name));
    assert.ok(scope, `no scope like ${scopeName} in ${scopes.map((s) => s.name).join(', ')}`);
    const vars = (await this.dc.variablesRequest({ variablesReference: scope.variablesReference })).body
      .variables;
    return { scope, vars: Object.fromEntries(vars.map((v) => [v.name, v])) };
  }

  async evaluate(expression: string, frameId?: number, context = 'repl'): Promise<string> {
    return (await this.dc.evaluateRequest({ expression, frameId, context })).body.result;
  }

  /**
   * The session's end: its report, exit code and terminated event, and the final record it
   * announced (the extension tells the end from it, in the words of a Run's end).
   */
  async ended(): Promise<{ report: string; exitCode: number; execution: ExecutionRecord }> {
    const exited = await this.next<DebugProtocol.ExitedEvent>('exited');
    await this.next('terminated');
    const outputs = this.events.filter((e): e is DebugProtocol.OutputEvent => e.event === 'output');
    const report = outputs.map((e) => e.body.output).join('');
    // 'important' output is a toast of VS Code's own, unlike the one a Run ends with.
    assert.deepEqual(
      outputs.filter((e) => e.body.category === 'important').map((e) => e.body.output),
      [],
      'no output for a toast of its own',
    );
    const told = this.events.find(
      (e) => e.event === DEBUGGED_EXECUTION_EVENT && isEnded(e.body.execution.status),
    );
    assert.ok(told, `the ended execution was announced:\n${report}`);
    const execution = told.body.execution as ExecutionRecord;
    assert.equal(exited.body.exitCode, execution.status === 'SUCCEEDED' ? 0 : 1);
    return { report, exitCode: exited.body.exitCode, execution };
  }

  /** The session ends with the flow SUCCEEDED (exit code 0); returns the session's output. */
  async succeeded(): Promise<string> {
    const { report, exitCode } = await this.ended();
    assert.equal(exitCode, 0, `the flow did not succeed:\n${report}`);
    return report;
  }

  /** The session ends with the flow not SUCCEEDED (exit code 1); returns the session's output. */
  async failed(): Promise<string> {
    const { report, exitCode } = await this.ended();
    assert.equal(exitCode, 1, `the flow did not fail:\n${report}`);
    return report;
  }
}
