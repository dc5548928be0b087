/**
 * Debug sessions in the runner (docs/debug-protocol.md): a session covers one execution tree.
 * The relay opens and closes sessions (debugSessions.ts, which the engine asks for the debugger
 * settings of new development-mode executions of that tree), passes DAP-shaped requests to the
 * right worker, and passes worker events back to the adapter.
 */
import { isEnded, WorkerDebugPayload, type ClientMessage, type ServerMessage } from '@flows/protocol';
import type { DebugTargets, Executions } from '../engine/executions';
import type { StoredExecution } from '../store/store';
import type { DebugSession as Session, DebugSessions } from './debugSessions';

type DebugRequest = Extract<ClientMessage, { type: `debug.${string}` }>;
type Send = (msg: ServerMessage) => void;

export interface DebugRelayOptions {
  executions: Executions & DebugTargets;
  /** The sessions the engine was given (EngineOptions.debugConfigFor asks them). */
  sessions: DebugSessions;
  log: (msg: string) => void;
}

interface Pending {
  resolve: (r: { success: boolean; body?: unknown; message?: string }) => void;
}

/** How long a worker may take to answer one debug request before the adapter hears an error. */
const REQUEST_TIMEOUT_MS = 30_000;

export class DebugRelay {
  private readonly executions: Executions & DebugTargets;
  private readonly sessions: DebugSessions;
  private readonly pending = new Map<number, Pending>();
  private seq = 0;

  constructor(private readonly opts: DebugRelayOptions) {
    this.executions = opts.executions;
    this.sessions = opts.sessions;
    this.executions.on('debug', (executionId, payload) => this.onWorker(executionId, payload));
    this.executions.on('ended', (rec) => {
      const s = this.sessions.ofTree(rec.id);
      if (s) this.sessions.close(s);
    });
  }

  /**
   * Handle one debug.* message from a client; `owner` identifies its connection, `user` is who
   * it connected as (an execution it launches records them as started_by).
   */
  async handle(msg: DebugRequest, send: Send, owner: object, user?: string): Promise<void> {
    const reply = (success: boolean, body?: unknown, message?: string) =>
      send({ type: 'debug.response', request_id: msg.request_id, success, body, message });
    try {
      switch (msg.type) {
        case 'debug.launch': {
          // Team mode: a flow deployed through another node just before is seen here.
          await this.executions.refreshFlows();
          const rec = this.executions.create({
            type: 'FLOW',
            flow_name: msg.flow_name,
            input_value: msg.input_value,
            is_productive: false,
            start: false,
            started_by: user,
          });
          const session = this.sessions.open(rec.id, msg.config, send, owner);
          send({
            type: 'debug.launched',
            request_id: msg.request_id,
            session_id: session.id,
            execution: rec,
          });
          // A flow that cannot be found is INVALID already: there is nothing to debug.
          if (isEnded(rec.status)) this.sessions.close(session);
          // Registered before it starts, so its very first line can stop.
          else this.executions.start(rec.id);
          return;
        }
        case 'debug.attach': {
          const rec = await this.executions.get(msg.execution_id);
          if (!rec) return reply(false, undefined, `no execution ${msg.execution_id}`);
          if (isEnded(rec.status))
            return reply(false, undefined, `execution ${rec.name} has already ended (${rec.status})`);
          if (rec.is_productive) {
            return reply(
              false,
              undefined,
              `execution ${rec.name} runs in productive mode (Run); only Try executions can be debugged`,
            );
          }
          const session =
            this.sessions.ofTree(rec.top_execution_id) ??
            this.sessions.open(rec.top_execution_id, msg.config, send, owner);
          session.config = msg.config;
          for (const a of this.liveWorkers(session))
            this.toWorker(a, 'attach', { ...msg.config, session_id: session.id });
          send({
            type: 'debug.launched',
            request_id: msg.request_id,
            session_id: session.id,
            execution: rec,
          });
          return;
        }
        case 'debug.request': {
          const session = this.mustSession(msg.session_id);
          const a = this.executions.processOf(msg.execution_id);
          if (!a || a.top_execution_id !== session.topId) {
            return reply(false, undefined, 'that execution is not running');
          }
          const r = await this.toWorker(a, msg.command, msg.arguments);
          return reply(r.success, r.body, r.message);
        }
        case 'debug.setBreakpoints': {
          const session = this.mustSession(msg.session_id);
          session.config.breakpoints[msg.source] = msg.breakpoints;
          const args = { source: { path: msg.source }, breakpoints: msg.breakpoints };
          const answers = await Promise.all(
            this.liveWorkers(session).map((a) => this.toWorker(a, 'setBreakpoints', args)),
          );
          const first = answers.find((r) => r.success);
          // With no worker to ask yet, accept the lines as given; a worker that loads the file
          // later reports moved lines with a `breakpoint` event.
          return reply(
            true,
            first?.body ?? { breakpoints: msg.breakpoints.map((b) => ({ verified: true, line: b.line })) },
          );
        }
        case 'debug.setExceptionBreakpoints': {
          const session = this.mustSession(msg.session_id);
          session.config.exception_filters = msg.filters;
          await Promise.all(
            this.liveWorkers(session).map((a) =>
              this.toWorker(a, 'setExceptionBreakpoints', { filters: msg.filters }),
            ),
          );
          return reply(true, {});
        }
        case 'debug.end': {
          const session = this.sessions.get(msg.session_id);
          if (session) {
            if (msg.terminate) await this.executions.cancel(session.topId, 'terminated by the debugger');
            else for (const a of this.liveWorkers(session)) void this.toWorker(a, 'detach', {});
            this.sessions.close(session);
          }
          return reply(true, {});
        }
      }
    } catch (err) {
      reply(false, undefined, (err as Error).message);
    }
  }

  /** The client went away: its sessions end and their flows run on without a debugger. */
  disconnected(owner: object): void {
    for (const s of this.sessions.all()) {
      if (s.owner !== owner) continue;
      for (const a of this.liveWorkers(s)) void this.toWorker(a, 'detach', {});
      this.sessions.close(s);
    }
  }

  private mustSession(id: string): Session {
    const s = this.sessions.get(id);
    if (!s) throw new Error(`no debug session ${id} (it has ended)`);
    return s;
  }

  /** The development-mode executions of the session's tree that have a process. */
  private liveWorkers(s: Session): Array<Readonly<StoredExecution>> {
    return this.executions.processesOf(s.topId).filter((a) => !a.is_productive);
  }

  private toWorker(
    a: Readonly<StoredExecution>,
    command: string,
    args: unknown,
  ): Promise<{ success: boolean; body?: unknown; message?: string }> {
    const seq = ++this.seq;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(seq);
        resolve({ success: false, message: `the flow did not answer '${command}' in time` });
      }, REQUEST_TIMEOUT_MS);
      this.pending.set(seq, {
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
      });
      this.executions.tellWorker(a.id, { type: 'debug', seq, command, arguments: args });
    });
  }

  private onWorker(executionId: string, raw: Record<string, unknown>): void {
    const parsed = WorkerDebugPayload.safeParse(raw);
    if (!parsed.success) {
      this.opts.log(`worker ${executionId} sent an invalid debug message`);
      return;
    }
    const p = parsed.data;
    if ('response' in p) {
      const pending = this.pending.get(p.response.seq);
      this.pending.delete(p.response.seq);
      pending?.resolve({
        success: p.response.success,
        body: p.response.body,
        message: p.response.message ?? undefined,
      });
      return;
    }
    const a = this.executions.processOf(executionId);
    if (!a) return;
    const { event, body } = p.event;
    if (event === 'stopped') this.executions.debugStopped(executionId, String(body.reason ?? 'breakpoint'));
    else if (event === 'continued') this.executions.debugContinued(executionId);
    const session = this.sessions.ofTree(a.top_execution_id);
    session?.send({ type: 'debug.event', session_id: session.id, execution_id: executionId, event, body });
  }
}
