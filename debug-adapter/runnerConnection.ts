/**
 * The debug adapter's line to the runner (docs/debug-protocol.md): the shared runner socket
 * (runner-client/runnerSocket.ts) subscribed to executions and logs, plus REST for a tree that
 * existed before the session. It knows nothing of DAP; FlowDebugSession translates.
 */
import { EventEmitter } from 'node:events';
import type { ExecutionRecord, LogLine, ServerMessage } from '@flows/protocol';
import { RunnerApi } from '@flows/runner-client/runnerApi';
import { RunnerSocket, type DebugAnswer, type DebugCall } from '@flows/runner-client/runnerSocket';

export type { DebugCall };
export type DebugEvent = Extract<ServerMessage, { type: 'debug.event' }>;

interface RunnerConnectionEvents {
  execution: [record: ExecutionRecord];
  log: [line: LogLine];
  debug: [event: DebugEvent];
  /** The connection went away without close() being called; the argument says how. */
  lost: [reason: string];
}

export class RunnerConnection extends EventEmitter<RunnerConnectionEvents> {
  private closing = false;

  private constructor(
    private readonly socket: RunnerSocket,
    private readonly token: string,
  ) {
    super();
    socket.on('execution', (m) => this.emit('execution', m.record));
    socket.on('log', (m) => this.emit('log', m.line));
    socket.on('debug.event', (m) => this.emit('debug', m));
    socket.on('disconnected', (why) => {
      if (!this.closing) this.emit('lost', why);
    });
  }

  /** http://127.0.0.1:PORT, for the REST calls. */
  get baseUrl(): string {
    return this.socket.baseUrl;
  }

  /** The runner's flows folder, as its hello message says. */
  get flowsDir(): string | undefined {
    return this.socket.hello?.flows_dir;
  }

  /**
   * Connect to the runner at `url` (http:// or ws://), wait for its hello, and subscribe to
   * execution and log events (confirmed, so no event after this resolves is missed).
   */
  static async connect(url: string, token: string, log: (msg: string) => void): Promise<RunnerConnection> {
    const socket = await RunnerSocket.connect({ url, token, topics: ['executions', 'logs'], log });
    return new RunnerConnection(socket, token);
  }

  /** Send a debug.* message and resolve with the runner's answer (successful or not). */
  request(call: DebugCall): Promise<DebugAnswer> {
    if (this.closing) return Promise.reject(new Error('the debug session has ended'));
    return this.socket.request(call);
  }

  /** Like request, for the calls answered by debug.response: the body, or an Error with its message. */
  async call(call: DebugCall): Promise<unknown> {
    const answer = await this.request(call);
    if (answer.type !== 'debug.response') return answer;
    if (!answer.success) throw new Error(answer.message ?? `${call.type} failed`);
    return answer.body;
  }

  /** The executions of one tree, over REST (for attach: the tree exists before we subscribe). */
  async listTree(topId: string): Promise<ExecutionRecord[]> {
    const api = new RunnerApi(this.baseUrl, this.token);
    return (await api.listExecutions({ top_execution_id: topId, limit: 1000 })).items;
  }

  close(): void {
    if (this.closing) return;
    this.closing = true;
    this.socket.close('the debug session has ended');
  }
}
