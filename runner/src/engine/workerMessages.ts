/**
 * What each message a worker sends means for its execution (docs/worker-protocol.md): its log,
 * the calls of its flow (answered with a reply), the status its flow reports, its end, and what
 * its debugger says (passed on to the debug relay).
 */
import type { WorkerMessage } from '@flows/protocol';
import type { Changes } from './changes';
import type { Control } from './control';
import type { ExecutionPort } from './dispatcher';
import type { EngineEventSink } from './events';
import type { ExecutionLog } from './executionLog';
import type { Active } from './executionTable';
import { handleWorkerCall, replyError, type CallContext } from './workerCalls';

export interface WorkerMessagesDeps {
  events: EngineEventSink;
  logs: ExecutionLog;
  changes: Changes;
  control: Control;
  port: Pick<ExecutionPort, 'tell'>;
  calls: CallContext;
}

export class WorkerMessages {
  constructor(private readonly deps: WorkerMessagesDeps) {}

  /** A message from the process of `a`, which has not ended. */
  handle(a: Active, msg: WorkerMessage): void {
    const { events, logs, changes, control, port } = this.deps;
    const id = a.rec.id;
    switch (msg.type) {
      case 'started':
        events.emit('started', id);
        break;
      case 'log':
        logs.append(a, msg.stream, msg.text);
        break;
      case 'call':
        handleWorkerCall(this.deps.calls, a, msg.method, msg.params).then(
          (result) => port.tell(id, { type: 'reply', id: msg.id, result: result ?? null }),
          (err: unknown) => port.tell(id, { type: 'reply', id: msg.id, error: replyError(err) }),
        );
        break;
      case 'status':
        if (msg.status === 'PAUSED') control.pausedByFlow(a, msg.message);
        else if (msg.status === 'BLOCKED') control.block(a, msg.message ?? null);
        else control.unblock(a);
        break;
      case 'end': {
        const e = msg.error;
        // An exception's message names its type and line, so the tree alone says what broke.
        const message = e
          ? `${e.type}: ${e.message}${e.line ? ` (line ${e.line})` : ''}`
          : (msg.message ?? null);
        if (e?.traceback) {
          for (const line of e.traceback.replace(/\n$/, '').split('\n')) logs.append(a, 'stderr', line);
        }
        changes.finish(a, msg.status, { message, output_value: msg.output_value });
        break;
      }
      case 'recording':
        this.deps.calls.recorded(a, msg.kind, msg.name, msg.value);
        break;
      case 'debug': {
        const { type: _type, ...payload } = msg;
        events.emit('debug', id, payload);
        break;
      }
    }
  }
}
