/**
 * The `flow` debug adapter: translates DAP to the runner's debug sessions
 * (docs/debug-protocol.md). Each execution of the debugged tree is a DAP thread; requests for a
 * thread go to that execution's worker through the runner, and the worker's frame ids and
 * variable references are mapped to session-unique ones. The runner connection is a
 * RunnerConnection; this class only translates.
 *
 * Used two ways: inline in the extension host (the client's DebugAdapterDescriptorFactory gives
 * the runner it manages as runnerUrl/runnerToken) and over stdio (dist/debugAdapter.js), where
 * without a runnerUrl it starts a runner of its own in this process.
 */
import fs from 'node:fs';
import path from 'node:path';
import {
  BreakpointEvent,
  Event,
  ExitedEvent,
  InitializedEvent,
  LoggingDebugSession,
  OutputEvent,
  TerminatedEvent,
  ThreadEvent,
} from '@vscode/debugadapter';
import type { DebugProtocol } from '@vscode/debugprotocol';
import {
  DEBUGGED_EXECUTION_EVENT,
  EXCEPTION_FILTERS,
  type DebugConfig,
  type ExecutionRecord,
  type LogLine,
} from '@flows/protocol';
import { Breakpoints } from './breakpoints';
import { ExecutionThreads, type FlowThread, type ThreadChange } from './executionThreads';
import { IdMap } from './idMap';
import { ConfigError, parseAttachArgs, parseLaunchArgs } from './launchConfig';
import { RunnerConnection, type DebugEvent } from './runnerConnection';

export interface FlowDebugSessionOptions {
  /** The runner to use when launch.json names none (the extension's own runner). */
  runnerUrl?: string;
  runnerToken?: string;
  /**
   * Where neither launch.json nor the host names a runner: start one on `flowsDir` (the
   * standalone adapter passes the bundled runner). Given by the host, so that the adapter's
   * own code never imports the runner and the extension's bundle carries none of it.
   */
  startRunner?: (flowsDir: string, log: (msg: string) => void) => Promise<OwnRunner>;
  log?: (msg: string) => void;
}

/** A runner the session started for itself, and stops when it ends. */
export interface OwnRunner {
  url: string;
  token: string;
  stop(): Promise<void>;
}

type ExceptionFilter = (typeof EXCEPTION_FILTERS)[number];
type Body = Record<string, unknown>;

/** How long launch waits for configurationDone before starting the flow anyway. */
const CONFIGURATION_WAIT_MS = 10_000;

const LOG_CATEGORY: Record<LogLine['stream'], string> = {
  log: 'stdout',
  stdout: 'stdout',
  stderr: 'stderr',
  system: 'console',
};

export class FlowDebugSession extends LoggingDebugSession {
  private readonly log: (msg: string) => void;
  private conn?: RunnerConnection;
  private ownRunner?: OwnRunner;
  private sessionId?: string;
  private tree?: ExecutionThreads;
  /** Runner events that came before the launch answer said which tree is ours. */
  private early: (() => void)[] = [];
  private isLaunch = true;
  private ended = false;
  private closed?: Promise<void>;
  private readonly breakpoints = new Breakpoints();
  private exceptionFilters: ExceptionFilter[] = [];
  private readonly frames = new IdMap();
  private readonly vars = new IdMap();
  private readonly sources = new IdMap();
  /** The execution that stopped last: where a REPL evaluate without a frame runs. */
  private lastStopped?: string;
  /** Set when launch or attach sends its request (with the breakpoints known by then). */
  private asked = false;
  /** Settled once launch or attach has its answer and follows the tree (or has failed). */
  private started?: Promise<void>;
  private configurationDone!: () => void;
  private readonly configured = new Promise<void>((resolve) => (this.configurationDone = resolve));

  constructor(private readonly options: FlowDebugSessionOptions = {}) {
    super();
    this.log = options.log ?? ((msg) => process.stderr.write(`[flow debug] ${msg}\n`));
    this.setDebuggerLinesStartAt1(true);
    this.setDebuggerColumnsStartAt1(true);
  }

  // ---- lifecycle ------------------------------------------------------------------------

  protected override initializeRequest(response: DebugProtocol.InitializeResponse): void {
    response.body = {
      supportsConfigurationDoneRequest: true,
      supportsConditionalBreakpoints: true,
      supportsHitConditionalBreakpoints: true,
      supportsLogPoints: true,
      supportsEvaluateForHovers: true,
      supportsSetVariable: true,
      supportsTerminateRequest: true,
      supportTerminateDebuggee: true,
      supportsDelayedStackTraceLoading: true,
      exceptionBreakpointFilters: [
        {
          filter: 'raised',
          label: 'Raised Exceptions',
          description: 'Stop where any exception is raised, even one the flow catches.',
          default: false,
        },
        {
          filter: 'uncaught',
          label: 'Uncaught Exceptions',
          description: 'Stop where an exception that will fail the execution is raised.',
          default: true,
        },
      ],
    };
    this.sendResponse(response);
    // Breakpoints come before the flow starts: launch waits for configurationDone.
    this.sendEvent(new InitializedEvent());
  }

  protected override configurationDoneRequest(response: DebugProtocol.ConfigurationDoneResponse): void {
    this.configurationDone();
    this.sendResponse(response);
  }

  protected override launchRequest(response: DebugProtocol.LaunchResponse, raw: unknown): void {
    this.isLaunch = true;
    this.begin(response, async () => {
      const args = parseLaunchArgs(raw, this.options);
      if (!fs.existsSync(args.program)) throw new ConfigError(`'program': there is no file ${args.program}`);
      const conn = await this.connect(args.runnerUrl, args.runnerToken, () =>
        path.resolve(args.flowsFolder ?? path.dirname(args.program)),
      );
      const flowsDir = args.runnerUrl
        ? (conn.flowsDir ?? args.flowsFolder ?? path.dirname(args.program))
        : path.resolve(args.flowsFolder ?? path.dirname(args.program));
      const rel = path.relative(flowsDir, args.program);
      if (rel.startsWith('..') || path.isAbsolute(rel)) {
        throw new ConfigError(`'program' ${args.program} is not inside the flows folder ${flowsDir}`);
      }
      await this.waitForConfiguration();
      this.asked = true;
      return conn.request({
        type: 'debug.launch',
        flow_name: rel.replace(/\\/g, '/').replace(/\.py$/i, ''),
        input_value: args.input,
        config: this.debugConfig(args.stopOnEntry),
      });
    });
  }

  protected override attachRequest(response: DebugProtocol.AttachResponse, raw: unknown): void {
    this.isLaunch = false;
    this.begin(response, async () => {
      const args = parseAttachArgs(raw, this.options);
      const conn = await this.connect(args.runnerUrl, args.runnerToken);
      await this.waitForConfiguration();
      this.asked = true;
      return conn.request({
        type: 'debug.attach',
        execution_id: args.executionId,
        config: this.debugConfig(false),
      });
    });
  }

  /**
   * Launch and attach: connect, ask the runner for a session, answer, then follow the tree,
   * beginning with the runner events that came before the answer said which tree is ours.
   */
  private begin(
    response: DebugProtocol.Response,
    ask: () => Promise<Awaited<ReturnType<RunnerConnection['request']>>>,
  ): void {
    this.started = ask()
      .then(async (answer) => {
        if (answer.type !== 'debug.launched') {
          throw new Error(answer.message ?? `the runner refused to ${response.command}`);
        }
        const tree = new ExecutionThreads(answer.execution.top_execution_id);
        // Attach: the tree was running before we subscribed; its records come over REST.
        const known = this.isLaunch ? [answer.execution] : await this.conn!.listTree(tree.topId);
        this.sendResponse(response);
        this.sendEvent(new Event(DEBUGGED_EXECUTION_EVENT, { execution: answer.execution }));
        this.sessionId = answer.session_id;
        this.tree = tree;
        for (const rec of known) this.apply(tree.update(rec));
        const early = this.early;
        this.early = [];
        for (const replay of early) replay();
      })
      .catch((err: Error) => {
        this.early = [];
        this.fail(response, err, true);
        void this.close();
      });
  }

  protected override terminateRequest(response: DebugProtocol.TerminateResponse): void {
    this.handle(response, async () => {
      if (this.sessionId && !this.ended) {
        // The runner cancels the tree; its top ending STOPPED ends this session.
        await this.conn!.call({ type: 'debug.end', session_id: this.sessionId, terminate: true });
      } else if (!this.ended) {
        this.ended = true;
        this.sendEvent(new TerminatedEvent());
      }
    });
  }

  protected override disconnectRequest(
    response: DebugProtocol.DisconnectResponse,
    args: DebugProtocol.DisconnectArguments | undefined,
  ): void {
    const terminate = args?.terminateDebuggee ?? this.isLaunch;
    const leave = async () => {
      if (this.conn && this.sessionId && !this.ended) {
        this.ended = true;
        await this.conn
          .call({ type: 'debug.end', session_id: this.sessionId, terminate })
          .catch((err: Error) => this.log(`ending the runner session: ${err.message}`));
      }
      await this.close();
    };
    void leave().then(() => {
      this.sendResponse(response);
      this.shutdown();
    });
  }

  override shutdown(): void {
    void this.close().finally(() => super.shutdown());
  }

  /** Inline use: VS Code disposes the adapter when the session is over. */
  override dispose(): void {
    void this.close();
    super.dispose();
  }

  // ---- breakpoints ----------------------------------------------------------------------

  protected override setBreakPointsRequest(
    response: DebugProtocol.SetBreakpointsResponse,
    args: DebugProtocol.SetBreakpointsArguments,
  ): void {
    this.handle(response, async () => {
      const file = args.source.path;
      if (!file) return { breakpoints: [] };
      const wanted = Breakpoints.fromDap(args);
      const answer = await this.whenStarted(() =>
        this.conn!.call({
          type: 'debug.setBreakpoints',
          session_id: this.sessionId!,
          source: file,
          breakpoints: wanted,
        }),
      );
      return { breakpoints: this.breakpoints.set(file, wanted, answer) };
    });
  }

  protected override setExceptionBreakPointsRequest(
    response: DebugProtocol.SetExceptionBreakpointsResponse,
    args: DebugProtocol.SetExceptionBreakpointsArguments,
  ): void {
    this.handle(response, async () => {
      const filters = args.filters.filter((f): f is ExceptionFilter =>
        (EXCEPTION_FILTERS as readonly string[]).includes(f),
      );
      this.exceptionFilters = filters;
      await this.whenStarted(() =>
        this.conn!.call({ type: 'debug.setExceptionBreakpoints', session_id: this.sessionId!, filters }),
      );
      return { breakpoints: args.filters.map((f) => ({ verified: filters.includes(f as ExceptionFilter) })) };
    });
  }

  /**
   * Until launch asks the runner, the settings only go into its DebugConfig; while the request
   * is on its way they wait for the answer; afterwards they go to the runner's session at once.
   */
  private async whenStarted(send: () => Promise<unknown>): Promise<unknown> {
    if (!this.asked) return undefined;
    await this.started;
    if (!this.sessionId || this.ended) return undefined;
    return send();
  }

  private debugConfig(stopOnEntry: boolean): DebugConfig {
    return {
      breakpoints: this.breakpoints.config(),
      exception_filters: this.exceptionFilters,
      stop_on_entry: stopOnEntry,
    };
  }

  // ---- threads, stack, variables --------------------------------------------------------

  protected override threadsRequest(response: DebugProtocol.ThreadsResponse): void {
    response.body = {
      threads: (this.tree?.threads() ?? []).map((t) => ({ id: t.id, name: t.name })),
    };
    this.sendResponse(response);
  }

  protected override stackTraceRequest(
    response: DebugProtocol.StackTraceResponse,
    args: DebugProtocol.StackTraceArguments,
  ): void {
    this.handle(response, async () => {
      const exec = this.thread(args.threadId).executionId;
      const body = (await this.toWorker(exec, 'stackTrace', {
        startFrame: args.startFrame,
        levels: args.levels,
        format: args.format,
      })) as { stackFrames?: Body[]; totalFrames?: number };
      const stackFrames = (body.stackFrames ?? []).map((f) => ({
        ...f,
        id: this.frames.session(exec, f.id),
        source: this.mapSource(exec, f.source),
      })) as unknown as DebugProtocol.StackFrame[];
      return { stackFrames, totalFrames: body.totalFrames };
    });
  }

  protected override scopesRequest(
    response: DebugProtocol.ScopesResponse,
    args: DebugProtocol.ScopesArguments,
  ): void {
    this.handle(response, async () => {
      const frame = this.local(this.frames, args.frameId, 'frame');
      const body = (await this.toWorker(frame.executionId, 'scopes', { frameId: frame.local })) as {
        scopes?: Body[];
      };
      const scopes = (body.scopes ?? []).map((s) => ({
        ...s,
        variablesReference: this.vars.session(frame.executionId, s.variablesReference),
        ...(s.source ? { source: this.mapSource(frame.executionId, s.source) } : {}),
      })) as unknown as DebugProtocol.Scope[];
      return { scopes };
    });
  }

  protected override variablesRequest(
    response: DebugProtocol.VariablesResponse,
    args: DebugProtocol.VariablesArguments,
  ): void {
    this.handle(response, async () => {
      const ref = this.local(this.vars, args.variablesReference, 'variable');
      const body = (await this.toWorker(ref.executionId, 'variables', {
        ...args,
        variablesReference: ref.local,
      })) as { variables?: Body[] };
      const variables = (body.variables ?? []).map((v) => ({
        ...v,
        variablesReference: this.vars.session(ref.executionId, v.variablesReference),
      })) as unknown as DebugProtocol.Variable[];
      return { variables };
    });
  }

  protected override evaluateRequest(
    response: DebugProtocol.EvaluateResponse,
    args: DebugProtocol.EvaluateArguments,
  ): void {
    this.handle(response, async () => {
      let exec: string;
      let frameId: number | undefined;
      if (args.frameId !== undefined) {
        const frame = this.local(this.frames, args.frameId, 'frame');
        exec = frame.executionId;
        frameId = frame.local;
      } else if (this.lastStopped) {
        exec = this.lastStopped;
      } else {
        throw new Error('The flow is running: stop it at a breakpoint (or pause it) to evaluate.');
      }
      const body = (await this.toWorker(exec, 'evaluate', { ...args, frameId })) as Body;
      return {
        ...body,
        result: String(body.result ?? ''),
        variablesReference: this.vars.session(exec, body.variablesReference),
      } as DebugProtocol.EvaluateResponse['body'];
    });
  }

  protected override setVariableRequest(
    response: DebugProtocol.SetVariableResponse,
    args: DebugProtocol.SetVariableArguments,
  ): void {
    this.handle(response, async () => {
      const ref = this.local(this.vars, args.variablesReference, 'variable');
      const body = (await this.toWorker(ref.executionId, 'setVariable', {
        ...args,
        variablesReference: ref.local,
      })) as Body;
      return {
        ...body,
        value: String(body.value ?? ''),
        variablesReference: this.vars.session(ref.executionId, body.variablesReference),
      } as DebugProtocol.SetVariableResponse['body'];
    });
  }

  protected override sourceRequest(
    response: DebugProtocol.SourceResponse,
    args: DebugProtocol.SourceArguments,
  ): void {
    this.handle(response, async () => {
      const ref = this.local(this.sources, args.source?.sourceReference ?? args.sourceReference, 'source');
      const body = (await this.toWorker(ref.executionId, 'source', {
        source: { ...args.source, sourceReference: ref.local },
        sourceReference: ref.local,
      })) as Body;
      return { ...body, content: String(body.content ?? '') } as DebugProtocol.SourceResponse['body'];
    });
  }

  // ---- execution control ----------------------------------------------------------------

  protected override continueRequest(
    response: DebugProtocol.ContinueResponse,
    args: DebugProtocol.ContinueArguments,
  ): void {
    this.resume(response, args.threadId, 'continue', {}, { allThreadsContinued: false });
  }

  protected override nextRequest(
    response: DebugProtocol.NextResponse,
    args: DebugProtocol.NextArguments,
  ): void {
    this.resume(response, args.threadId, 'next', { granularity: args.granularity });
  }

  protected override stepInRequest(
    response: DebugProtocol.StepInResponse,
    args: DebugProtocol.StepInArguments,
  ): void {
    this.resume(response, args.threadId, 'stepIn', { granularity: args.granularity });
  }

  protected override stepOutRequest(
    response: DebugProtocol.StepOutResponse,
    args: DebugProtocol.StepOutArguments,
  ): void {
    this.resume(response, args.threadId, 'stepOut', { granularity: args.granularity });
  }

  protected override pauseRequest(
    response: DebugProtocol.PauseResponse,
    args: DebugProtocol.PauseArguments,
  ): void {
    this.handle(response, async () => {
      await this.toWorker(this.thread(args.threadId).executionId, 'pause', {});
    });
  }

  /** continue / next / stepIn / stepOut: the thread's frame and variable ids die as it runs. */
  private resume(
    response: DebugProtocol.Response,
    threadId: number,
    command: string,
    args: Body,
    body?: Body,
  ): void {
    this.handle(response, async () => {
      const exec = this.thread(threadId).executionId;
      this.forgetIds(exec);
      await this.toWorker(exec, command, args);
      return body;
    });
  }

  // ---- runner events --------------------------------------------------------------------

  private onRecord(rec: ExecutionRecord): void {
    if (!this.tree) return void this.early.push(() => this.onRecord(rec));
    this.apply(this.tree.update(rec));
  }

  private apply(changes: ThreadChange[]): void {
    for (const c of changes) {
      if (c.kind === 'started') this.sendEvent(new ThreadEvent('started', c.thread.id));
      else if (c.kind === 'exited') this.threadExited(c.thread);
      else this.finish(c.record);
    }
  }

  private threadExited(thread: FlowThread): void {
    this.forgetIds(thread.executionId);
    this.sendEvent(new ThreadEvent('exited', thread.id));
  }

  private onLog(line: LogLine): void {
    if (!this.tree) return void this.early.push(() => this.onLog(line));
    if (this.ended) return;
    const rec = this.tree.record(line.execution_id);
    if (!rec) return;
    const from = rec.id === this.tree.topId ? '' : `[${rec.flow_name ?? rec.name}] `;
    this.sendEvent(new OutputEvent(`${from}${line.text}\n`, LOG_CATEGORY[line.stream]));
  }

  private onDebugEvent(ev: DebugEvent): void {
    if (!this.tree) return void this.early.push(() => this.onDebugEvent(ev));
    if (ev.session_id !== this.sessionId || this.ended) return;
    const { thread, started } = this.tree.threadOf(ev.execution_id);
    if (started) this.sendEvent(new ThreadEvent('started', started.id));
    const body: Body = { ...ev.body };
    switch (ev.event) {
      case 'stopped':
        if (!thread) return;
        this.lastStopped = ev.execution_id;
        // The worker's breakpoint ids are not the ones the client knows.
        delete body.hitBreakpointIds;
        this.sendEvent(new Event('stopped', { ...body, threadId: thread.id, allThreadsStopped: false }));
        return;
      case 'continued':
        if (!thread) return;
        this.forgetIds(ev.execution_id);
        this.sendEvent(new Event('continued', { ...body, threadId: thread.id, allThreadsContinued: false }));
        return;
      case 'output':
        this.sendEvent(new Event('output', { category: 'console', ...body }));
        return;
      case 'breakpoint': {
        const bp = this.breakpoints.changed(body);
        if (bp) this.sendEvent(new BreakpointEvent('changed', bp));
        return;
      }
      default:
        this.log(`ignored a '${ev.event}' event from the flow's debugger`);
    }
  }

  /** The top execution ended: report how, and end the session. */
  private finish(rec: ExecutionRecord): void {
    if (this.ended) return;
    this.ended = true;
    for (const t of this.tree?.exitAll() ?? []) this.threadExited(t);
    let report = `${rec.flow_name ?? rec.name} ${rec.status}${rec.message ? `: ${rec.message}` : ''}\n`;
    if (rec.output_value !== null && rec.output_value !== undefined) {
      report += `output_value: ${JSON.stringify(rec.output_value, null, 2)}\n`;
    }
    // Not 'important' (VS Code's own toast, worded and iconed unlike a Run's): the extension
    // tells the end from the record announced here, as it tells a Run's.
    this.sendEvent(new OutputEvent(report, rec.status === 'SUCCEEDED' ? 'console' : 'stderr'));
    this.sendEvent(new Event(DEBUGGED_EXECUTION_EVENT, { execution: rec }));
    this.sendEvent(new ExitedEvent(rec.status === 'SUCCEEDED' ? 0 : 1));
    this.sendEvent(new TerminatedEvent());
  }

  private onLost(reason: string): void {
    if (this.ended) return;
    this.ended = true;
    for (const t of this.tree?.exitAll() ?? []) this.threadExited(t);
    this.sendEvent(
      new OutputEvent(
        `Lost the connection to the Flows runner (${reason}). The debug session has ended; the flow may still be running there.\n`,
        'stderr',
      ),
    );
    this.sendEvent(new TerminatedEvent());
  }

  // ---- plumbing -------------------------------------------------------------------------

  /** Connect to the given runner, or start one in this process on `ownFlowsDir()`. */
  private async connect(
    url: string | undefined,
    token: string | undefined,
    ownFlowsDir?: () => string,
  ): Promise<RunnerConnection> {
    if (!url || !token) {
      const start = this.options.startRunner;
      if (!ownFlowsDir || !start) {
        throw new ConfigError('no runner to connect to (runnerUrl and runnerToken)');
      }
      this.ownRunner = await start(ownFlowsDir(), (m) => this.log(`runner: ${m}`));
      ({ url, token } = this.ownRunner);
    }
    const conn = await RunnerConnection.connect(url, token, this.log);
    this.conn = conn;
    conn.on('execution', (rec) => this.onRecord(rec));
    conn.on('log', (line) => this.onLog(line));
    conn.on('debug', (ev) => this.onDebugEvent(ev));
    conn.on('lost', (reason) => this.onLost(reason));
    return conn;
  }

  private async waitForConfiguration(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        this.log(`no configurationDone after ${CONFIGURATION_WAIT_MS} ms; starting anyway`);
        resolve();
      }, CONFIGURATION_WAIT_MS);
    });
    await Promise.race([this.configured, late]);
    clearTimeout(timer);
  }

  private thread(threadId: number): FlowThread {
    const t = this.tree?.byThreadId(threadId);
    if (!t) throw new Error(`thread ${threadId} has ended`);
    return t;
  }

  private local(map: IdMap, id: number | undefined, what: string) {
    const l = id === undefined ? undefined : map.local(id);
    if (!l) throw new Error(`that ${what} is no longer valid (the flow has moved on)`);
    return l;
  }

  private toWorker(executionId: string, command: string, args: Body): Promise<unknown> {
    if (!this.conn || !this.sessionId) return Promise.reject(new Error('the flow has not started yet'));
    if (this.ended) return Promise.reject(new Error('the debug session has ended'));
    return this.conn
      .call({
        type: 'debug.request',
        session_id: this.sessionId,
        execution_id: executionId,
        command,
        arguments: args,
      })
      .then((body) => body ?? {});
  }

  private mapSource(exec: string, source: unknown): unknown {
    if (!source || typeof source !== 'object') return source;
    const s = source as Body;
    return typeof s.sourceReference === 'number' && s.sourceReference > 0
      ? { ...s, sourceReference: this.sources.session(exec, s.sourceReference) }
      : s;
  }

  private forgetIds(exec: string): void {
    this.frames.forget(exec);
    this.vars.forget(exec);
    if (this.lastStopped === exec) this.lastStopped = undefined;
  }

  /** Run an async handler; its result is the response body, a rejection an error response. */
  private handle(response: DebugProtocol.Response, work: () => Promise<unknown>): void {
    work().then(
      (body) => {
        if (body !== undefined) response.body = body;
        this.sendResponse(response);
      },
      (err: Error) => this.fail(response, err, false),
    );
  }

  private fail(response: DebugProtocol.Response, err: Error, showUser: boolean): void {
    const message = err instanceof Error ? err.message : String(err);
    if (showUser) this.log(`${response.command} failed: ${message}`);
    this.sendErrorResponse(response, { id: 1001, format: message, showUser });
  }

  /** Leave the runner: close the connection, and stop the runner if it is ours. Once. */
  private close(): Promise<void> {
    return (this.closed ??= (async () => {
      this.conn?.close();
      if (this.ownRunner) {
        await this.ownRunner.stop().catch((err: Error) => this.log(`stopping the runner: ${err.message}`));
      }
    })());
  }
}
