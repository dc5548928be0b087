/**
 * What the engine tells its listeners (WebSocket hub, batches, scheduler, runs, webhooks, the
 * debug relay, the CLI, tests): one typed map, so a listener's arguments are checked against what
 * is emitted. Only the engine emits; everyone else gets the subscribe-only view.
 */
import type { EventEmitter } from 'node:events';
import type { ExecutionRecord, LogLine, MessageRecord } from '@flows/protocol';

/** What a flow set with `this.webhook_response(…)`: the answer to the webhook call that ran it. */
export interface WebhookResponse {
  status_code: number;
  headers?: Record<string, string> | null;
  body?: string | null;
  content_type?: string | null;
  encoding: 'text' | 'base64';
}

export interface EngineEvents {
  /** Created, or changed in any field (an end too: 'updated' comes before 'ended'). */
  execution: [event: 'created' | 'updated', rec: ExecutionRecord];
  log: [line: LogLine];
  message: [event: 'created' | 'answered', msg: MessageRecord];
  /** Its process is up and about to run the flow. */
  started: [executionId: string];
  /** Ended, once the end is committed. */
  ended: [rec: ExecutionRecord, webhook: WebhookResponse | undefined];
  /** A worker's debugger spoke (docs/debug-protocol.md); the debug relay listens. */
  debug: [executionId: string, payload: Record<string, unknown>];
}

/** Listening to the engine without being able to speak for it. */
export type EngineEventSource = Pick<EventEmitter<EngineEvents>, 'on' | 'once' | 'off'>;

/** Speaking for the engine: given to the parts of the engine that announce something. */
export type EngineEventSink = Pick<EventEmitter<EngineEvents>, 'emit'>;
