/**
 * WebSocket messages between the runner and its clients (the extension's views, the CLI and,
 * later, the debug adapter). One connection per client at ws://127.0.0.1:PORT/api/ws.
 */
import { z } from 'zod';
import { DebugClientMessages, DebugServerMessages } from './debug';
import { ExecutionRecord, LogLine, MessageRecord } from './records';
import { ScheduleServerMessages } from './schedules';

export const WS_PATH = '/api/ws';

export const TOPICS = ['executions', 'logs', 'messages', 'schedules'] as const;

/** client → runner */
export const ClientMessage = z.discriminatedUnion('type', [
  /** Start receiving events of these topics; `execution_ids` narrows `logs` to some executions. */
  z.strictObject({
    type: z.literal('subscribe'),
    topics: z.array(z.enum(TOPICS)).min(1),
    execution_ids: z.array(z.string()).optional(),
  }),
  z.strictObject({ type: z.literal('unsubscribe'), topics: z.array(z.enum(TOPICS)).min(1) }),
  /** Answered by a `pong` with the same id: lets a client await that its subscriptions hold. */
  z.strictObject({ type: z.literal('ping'), id: z.number().int() }),
  ...DebugClientMessages,
]);
export type ClientMessage = z.infer<typeof ClientMessage>;

/** runner → client */
export const ServerMessage = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('hello'),
    version: z.string(),
    pid: z.number().int(),
    /** The runner's flows folder: flow names are paths relative to it (the debug adapter needs it). */
    flows_dir: z.string().optional(),
  }),
  z.object({ type: z.literal('pong'), id: z.number().int() }),
  /** An execution was created or any of its fields changed; `record` is the whole new state. */
  z.object({ type: z.literal('execution'), event: z.enum(['created', 'updated']), record: ExecutionRecord }),
  z.object({ type: z.literal('log'), line: LogLine }),
  z.object({ type: z.literal('message'), event: z.enum(['created', 'answered']), message: MessageRecord }),
  z.object({ type: z.literal('error'), message: z.string() }),
  ...DebugServerMessages,
  ...ScheduleServerMessages,
]);
export type ServerMessage = z.infer<typeof ServerMessage>;
