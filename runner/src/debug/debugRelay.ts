/**
 * Debug sessions in the runner (docs/debug-protocol.md): a session covers one execution tree;
 * the relay gives new development-mode executions of that tree their debugger settings, passes
 * DAP-shaped requests to the right worker, and passes worker events back to the adapter.
 */
import crypto from 'node:crypto';
import {
  isEnded,
  WorkerDebugPayload,
  type ClientMessage,
  type DebugConfig,
  type ServerMessage,
} from '../../../protocol';
import type { Active, Engine } from '../engine/engine';

type DebugRequest = Extract<ClientMessage, { type: `debug.${string}` }>;
type Send = (msg: ServerMessage) => void;

interface Session {
  id: string;
  topId: string;
  config: DebugConfig;
  send: Send;
  /** The client connection this session belongs to (detached when it goes away). */
  owner: object;
}

interface Pending {
  resolve: (r: { success: boolean; body?: unknown; message?: string }) => void;
}

/** How long a worker may take to answer one debug request before the adapter hears an error. */
const REQUEST_TIMEOUT_MS = 30_000;

export class DebugRelay {
  private readonly sessions = new Map<string, Session>();
  private readonly byTop = new Map<string, Session>();
  private readonly pending = new Map<number, Pending>();
  private seq = 0;

  constructor(private readonly engine: Engine) {
    engine.debugConfigFor = (rec) => {
      const s = this.byTop.get(rec.top_execution_id);
      return s
        ? { session_id: s.id, ...s.config, stop_on_entry: s.config.stop_on_entry && rec.id === s.topId }
        : null;
    };
    engine.on('debug', (executionId, payload) => this.onWorker(executionId, payload));
    engine.on('ended', (rec) => {
      const s = this.byTop.get(rec.id);
      if (s) this.close(s);
    });
  }

  /** Handle one debug.* message from a client; `owner` identifies its connection. */
  async handle(msg: DebugRequest, send: Send, owner: object): Promise<void> {
    const reply = (success: boolean, body?: unknown, message?: string) =>
      send({ type: 'debug.response', request_id: msg.request_id, success, body, message });
    try {
      switch (msg.type) {
        case 'debug.launch': {
          const rec = this.engine.create({
            type: 'FLOW',
            flow_name: msg.flow_name,
            input_value: msg.input_value,
            is_productive: false,
            start: false,
          });
          const session = this.open(rec.id, msg.config, send, owner);
          send({
            type: 'debug.launched',
            request_id: msg.request_id,
            session_id: session.id,
            execution: rec,
          });
          // A flow that cannot be found is INVALID already: there is nothing to debug.
          if (isEnded(rec.status)) this.close(session);
          // Registered before it starts, so its very first line can stop.
          if (this.engine.active.has(rec.id)) this.engine.start(rec.id);
          return;
        }
        case 'debug.attach': {
          const rec = await this.engine.get(msg.execution_id);
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
            this.byTop.get(rec.top_execution_id) ?? this.open(rec.top_execution_id, msg.config, send, owner);
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
          const a = this.engine.active.get(msg.execution_id);
          if (!a || a.rec.top_execution_id !== session.topId || !a.hasProcess) {
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
            if (msg.terminate) await this.engine.cancel(session.topId, 'terminated by the debugger');
            else for (const a of this.liveWorkers(session)) void this.toWorker(a, 'detach', {});
            this.close(session);
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
    for (const s of [...this.sessions.values()]) {
      if (s.owner !== owner) continue;
      for (const a of this.liveWorkers(s)) void this.toWorker(a, 'detach', {});
      this.close(s);
    }
  }

  private open(topId: string, config: DebugConfig, send: Send, owner: object): Session {
    const session: Session = { id: crypto.randomUUID(), topId, config, send, owner };
    this.sessions.set(session.id, session);
    this.byTop.set(topId, session);
    return session;
  }

  private close(s: Session): void {
    this.sessions.delete(s.id);
    if (this.byTop.get(s.topId) === s) this.byTop.delete(s.topId);
  }

  private mustSession(id: string): Session {
    const s = this.sessions.get(id);
    if (!s) throw new Error(`no debug session ${id} (it has ended)`);
    return s;
  }

  private liveWorkers(s: Session): Active[] {
    return [...this.engine.active.values()].filter(
      (a) => a.rec.top_execution_id === s.topId && a.hasProcess && !a.rec.is_productive,
    );
  }

  private toWorker(
    a: Active,
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
      this.engine.opts.workers.send(a.rec.id, { type: 'debug', seq, command, arguments: args });
    });
  }

  private onWorker(executionId: string, raw: Record<string, unknown>): void {
    const parsed = WorkerDebugPayload.safeParse(raw);
    if (!parsed.success) {
      this.engine.opts.log(`worker ${executionId} sent an invalid debug message`);
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
    const a = this.engine.active.get(executionId);
    if (!a) return;
    const { event, body } = p.event;
    if (event === 'stopped') this.engine.debugStopped(a, String(body.reason ?? 'breakpoint'));
    else if (event === 'continued') this.engine.debugContinued(a);
    const session = this.byTop.get(a.rec.top_execution_id);
    session?.send({ type: 'debug.event', session_id: session.id, execution_id: executionId, event, body });
  }
}
