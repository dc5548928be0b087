/**
 * The open debug sessions (docs/debug-protocol.md): each covers one execution tree, by the id of
 * its top execution. Made before the engine, which asks `configFor` what debugger settings an
 * execution about to start gets; the debug relay opens and closes them.
 */
import crypto from 'node:crypto';
import type { DebugConfig, ExecutionRecord, ServerMessage } from '@flows/protocol';

export interface DebugSession {
  id: string;
  topId: string;
  config: DebugConfig;
  send: (msg: ServerMessage) => void;
  /** The client connection this session belongs to (detached when it goes away). */
  owner: object;
}

export class DebugSessions {
  private readonly byId = new Map<string, DebugSession>();
  private readonly byTop = new Map<string, DebugSession>();

  open(topId: string, config: DebugConfig, send: DebugSession['send'], owner: object): DebugSession {
    const session: DebugSession = { id: crypto.randomUUID(), topId, config, send, owner };
    this.byId.set(session.id, session);
    this.byTop.set(topId, session);
    return session;
  }

  close(s: DebugSession): void {
    this.byId.delete(s.id);
    if (this.byTop.get(s.topId) === s) this.byTop.delete(s.topId);
  }

  get(id: string): DebugSession | undefined {
    return this.byId.get(id);
  }

  /** The session covering the tree under `topId`, if any. */
  ofTree(topId: string): DebugSession | undefined {
    return this.byTop.get(topId);
  }

  all(): DebugSession[] {
    return [...this.byId.values()];
  }

  /**
   * The debugger settings of an execution about to start: those of the session covering its
   * tree (stopping on entry only at the top execution), or null when none does.
   */
  configFor(rec: Pick<ExecutionRecord, 'id' | 'top_execution_id'>): unknown {
    const s = this.byTop.get(rec.top_execution_id);
    return s
      ? { session_id: s.id, ...s.config, stop_on_entry: s.config.stop_on_entry && rec.id === s.topId }
      : null;
  }
}
