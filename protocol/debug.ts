/**
 * Debug sessions between the debug adapter and the runner (docs/debug-protocol.md). The adapter
 * speaks DAP to VS Code; over the runner's WebSocket it sends these, and the runner relays
 * DAP-shaped requests to the Python worker of each execution in the debugged tree.
 */
import { z } from 'zod';
import { ExecutionRecord } from './records';

export const SourceBreakpoint = z.object({
  line: z.number().int().min(1),
  column: z.number().int().optional(),
  condition: z.string().optional(),
  hitCondition: z.string().optional(),
  logMessage: z.string().optional(),
});
export type SourceBreakpoint = z.infer<typeof SourceBreakpoint>;

export const EXCEPTION_FILTERS = ['raised', 'uncaught'] as const;

export const DebugConfig = z.object({
  /** Absolute file path → breakpoints in it. */
  breakpoints: z.record(z.string(), z.array(SourceBreakpoint)).default({}),
  exception_filters: z.array(z.enum(EXCEPTION_FILTERS)).default([]),
  stop_on_entry: z.boolean().default(false),
});
export type DebugConfig = z.infer<typeof DebugConfig>;

/**
 * adapter → VS Code, a custom DAP event sent once a launch or attach has its execution (the
 * extension selects it in the Executions view), and again with its final record when it ended
 * (the extension tells how, as it does for a Run).
 */
export const DEBUGGED_EXECUTION_EVENT = 'flows.debuggedExecution';
export const DebuggedExecutionBody = z.object({ execution: ExecutionRecord });

/** adapter → runner */
export const DebugClientMessages = [
  /** Start a flow in development mode with its whole tree debugged. */
  z.strictObject({
    type: z.literal('debug.launch'),
    request_id: z.number().int(),
    flow_name: z.string(),
    input_value: z.unknown().optional(),
    config: DebugConfig,
  }),
  /** Debug a running (or paused) execution tree. */
  z.strictObject({
    type: z.literal('debug.attach'),
    request_id: z.number().int(),
    execution_id: z.string(),
    config: DebugConfig,
  }),
  /** A DAP request for one execution (thread): stackTrace, variables, next, continue, … */
  z.strictObject({
    type: z.literal('debug.request'),
    request_id: z.number().int(),
    session_id: z.string(),
    execution_id: z.string(),
    command: z.string(),
    arguments: z.record(z.string(), z.unknown()).default({}),
  }),
  /** Session-wide: every live worker of the tree, and every one started later. */
  z.strictObject({
    type: z.literal('debug.setBreakpoints'),
    request_id: z.number().int(),
    session_id: z.string(),
    source: z.string(),
    breakpoints: z.array(SourceBreakpoint),
  }),
  z.strictObject({
    type: z.literal('debug.setExceptionBreakpoints'),
    request_id: z.number().int(),
    session_id: z.string(),
    filters: z.array(z.enum(EXCEPTION_FILTERS)),
  }),
  /** Leave the session: detach (the flow runs on) or terminate (cancel the tree). */
  z.strictObject({
    type: z.literal('debug.end'),
    request_id: z.number().int(),
    session_id: z.string(),
    terminate: z.boolean(),
  }),
] as const;

/** runner → adapter */
export const DebugServerMessages = [
  z.object({
    type: z.literal('debug.launched'),
    request_id: z.number().int(),
    session_id: z.string(),
    execution: ExecutionRecord,
  }),
  z.object({
    type: z.literal('debug.response'),
    request_id: z.number().int(),
    success: z.boolean(),
    body: z.unknown().optional(),
    message: z.string().optional(),
  }),
  /** A DAP event of one execution: stopped, continued, output, breakpoint. */
  z.object({
    type: z.literal('debug.event'),
    session_id: z.string(),
    execution_id: z.string(),
    event: z.string(),
    body: z.record(z.string(), z.unknown()).default({}),
  }),
] as const;

/** What a worker sends inside a `{"type":"debug"}` message. */
export const WorkerDebugPayload = z.union([
  z.object({
    response: z.object({
      seq: z.number().int(),
      success: z.boolean(),
      body: z.unknown().optional(),
      message: z.string().nullish(),
    }),
  }),
  z.object({ event: z.object({ event: z.string(), body: z.record(z.string(), z.unknown()).default({}) }) }),
]);
