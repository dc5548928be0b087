/**
 * The execution record and its vocabulary: the one definition the runner stores, the REST API
 * returns, the WebSocket carries and the extension shows. Field names follow the platform's
 * `flow_api.execution.Execution` class reference (seed 003).
 */
import { z } from 'zod';
// The vocabulary is generated from runner/python/flow_api/statuses.py (`npm run generate`).
import {
  ENDED_EXECUTION_STATUSES,
  EXECUTION_STATUSES,
  EXECUTION_TYPES,
  PLATFORM_STATUS as GENERATED_PLATFORM_STATUS,
} from './generated/statuses';

export { EXECUTION_STATUSES, EXECUTION_TYPES };
export const ExecutionStatus = z.enum(EXECUTION_STATUSES);
export type ExecutionStatus = z.infer<typeof ExecutionStatus>;

/** Statuses after which nothing more happens to an execution. */
export const ENDED_STATUSES: ReadonlySet<ExecutionStatus> = new Set(ENDED_EXECUTION_STATUSES);
export const isEnded = (s: ExecutionStatus): boolean => ENDED_STATUSES.has(s);

/** The platform's older names, kept so flows and API users that use them keep working. */
export const PLATFORM_STATUS: Readonly<Record<string, ExecutionStatus>> = GENERATED_PLATFORM_STATUS;

export const ExecutionType = z.enum(EXECUTION_TYPES);
export type ExecutionType = z.infer<typeof ExecutionType>;

const Timestamp = z.string().describe('ISO 8601 timestamp, UTC');

export const ExecutionRecord = z
  .object({
    id: z.string(),
    name: z.string(),
    type: ExecutionType,
    status: ExecutionStatus,
    flow_name: z.string().nullable(),
    script: z.string().nullable(),
    connector_name: z.string().nullable(),
    connector_type: z.string().nullable(),
    input_value: z.unknown(),
    output_value: z.unknown(),
    message: z.string().nullable(),
    is_productive: z.boolean(),
    priority: z.number().int(),
    max_runtime_minutes: z.number().min(0),
    parent_execution_id: z.string().nullable(),
    top_execution_id: z.string(),
    schedule_id: z.string().nullable(),
    webhook_id: z.string().nullable(),
    scheduled_for: Timestamp.nullable(),
    created_at: Timestamp,
    started_at: Timestamp.nullable(),
    ended_at: Timestamp.nullable(),
    updated_at: Timestamp,
    started_by: z
      .string()
      .nullable()
      .optional()
      .describe(
        'who started it: the user name of the token used ("local" for the runner\'s own token), "schedule <name>" or "webhook <name>"; children inherit their parent\'s. null for executions stored before runners recorded it',
      ),
    has_children: z
      .boolean()
      .optional()
      .describe(
        'whether it has child executions: in list answers, and in the event of its end where the runner knows',
      ),
  })
  .meta({ id: 'Execution' });
export type ExecutionRecord = z.infer<typeof ExecutionRecord>;

export const LOG_STREAMS = ['log', 'stdout', 'stderr', 'system'] as const;
export const LogLine = z
  .object({
    execution_id: z.string(),
    seq: z.number().int().describe('position of the line within its execution, from 1'),
    ts: Timestamp,
    stream: z.enum(LOG_STREAMS),
    text: z.string(),
  })
  .meta({ id: 'LogLine' });
export type LogLine = z.infer<typeof LogLine>;

export const MessageRecord = z
  .object({
    id: z.string(),
    execution_id: z.string(),
    subject: z.string(),
    body: z.unknown(),
    message_type: z.string(),
    response: z.unknown(),
    created_at: Timestamp,
    responded_at: Timestamp.nullable(),
  })
  .meta({ id: 'Message' });
export type MessageRecord = z.infer<typeof MessageRecord>;
